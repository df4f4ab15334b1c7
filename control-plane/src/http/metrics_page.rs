//! `/host/metrics`: this host's Prometheus samples as a table.

use axum::extract::State;
use axum::response::{Html, IntoResponse};
use kiln_web::view::MetricRow;

use super::web::Web;
use crate::host::Shared;

/// The samples of an OpenMetrics text, without comments and histogram buckets.
fn samples(text: &str) -> Vec<MetricRow> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            (!name.ends_with("_bucket") && !name.ends_with("_created")).then(|| MetricRow {
                name: name.to_string(),
                labels: labels.to_string(),
                value: value.to_string(),
            })
        })
        .collect()
}

/// `GET /host/metrics`.
pub async fn page(State(web): State<Web>) -> Html<String> {
    let text = render_metrics(&web.host).await;
    Html(kiln_web::pages::metrics(&web.host.friendly_name, &samples(&text)).into_string())
}

/// Prometheus text exposition of this host and its data plane.
pub async fn metrics(State(web): State<Web>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        render_metrics(&web.host).await,
    )
}

/// The OpenMetrics text of this host and (when it answers in time) its data plane.
async fn render_metrics(host: &Shared) -> String {
    let actors: Vec<(String, usize)> = host
        .actors
        .all()
        .iter()
        .map(|a| (a.key.to_string(), a.instances.len()))
        .collect();
    let inventory = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        host.data_plane.inventory(),
    )
    .await
    .ok()
    .and_then(Result::ok);
    host.metrics.render(&actors, inventory.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_leave_out_comments_and_buckets() {
        let text = "# HELP kiln_invocations_total Calls.\n# TYPE kiln_invocations_total counter\n\
kiln_invocations_total{actor=\"MA\",operation=\"Echo\"} 7\n\
kiln_invocation_duration_seconds_bucket{le=\"0.1\"} 7\n\
kiln_invocation_duration_seconds_count 7\n\
kiln_actor_instances 3\n# EOF\n";
        let rows = samples(text);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "kiln_invocations_total",
                "kiln_invocation_duration_seconds_count",
                "kiln_actor_instances"
            ]
        );
        assert_eq!(rows[0].labels, "actor=\"MA\",operation=\"Echo\"");
        assert_eq!(rows[0].value, "7");
    }
}
