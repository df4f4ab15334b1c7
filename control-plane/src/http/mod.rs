//! The control plane's HTTP server: the dashboard, health endpoints and `/metrics`.
//!
//! `/api/livez`, `/api/readyz`, `/api/hosts` and `/metrics` are open (probes and
//! scrapers); everything else is the dashboard, behind the API token when one is set.

mod actions;
mod auth;
mod feed;
mod live;
mod metrics_page;
mod upload;
mod view;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};

use crate::host::Shared;

/// What the handlers share.
#[derive(Clone)]
pub struct Web {
    host: Shared,
    feed: Arc<feed::Feed>,
}

/// The routes.
fn router(web: Web) -> Router {
    // Multipart bodies may carry a file up to the limit, plus the other fields.
    let upload_body =
        usize::try_from(web.host.config.upload_limit + (1 << 20)).unwrap_or(usize::MAX);
    let dashboard = Router::new()
        .route("/", get(dashboard))
        .route("/live", get(live::stream))
        .route("/host/metrics", get(metrics_page::page))
        .route(
            "/actors/start",
            post(actions::start_actor).layer(DefaultBodyLimit::max(upload_body)),
        )
        .route("/actors/scale", post(actions::scale_actor))
        .route("/actors/stop", post(actions::stop_actor))
        .route("/actors/update", post(actions::update_actor))
        .route(
            "/providers/start",
            post(actions::start_provider).layer(DefaultBodyLimit::max(upload_body)),
        )
        .route("/providers/stop", post(actions::stop_provider))
        .route("/links", post(actions::put_link))
        .route("/links/delete", post(actions::delete_link))
        .route_layer(axum::middleware::from_fn_with_state(
            web.clone(),
            auth::guard,
        ));
    Router::new()
        .merge(dashboard)
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/api/livez", get(live_probe))
        .route("/api/readyz", get(ready))
        .route("/api/hosts", get(hosts))
        .route("/metrics", get(metrics))
        .with_state(web)
}

/// Serves the routes on `listener` until shutdown.
///
/// # Errors
/// When the server fails.
pub async fn serve(listener: tokio::net::TcpListener, host: Shared) -> std::io::Result<()> {
    // Probes keep getting answers (not ready) while the host drains.
    let shutdown = host.drained.clone();
    let web = Web {
        feed: Arc::new(feed::Feed::default()),
        host,
    };
    web.host
        .tasks
        .spawn(feed::follow(web.host.clone(), web.feed.clone()));
    axum::serve(listener, router(web))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// What a redirect after an action says.
#[derive(Debug, serde::Deserialize)]
struct Notice {
    done: Option<String>,
    key: Option<String>,
    n: Option<u32>,
}

/// `GET /`: the dashboard.
async fn dashboard(State(web): State<Web>, Query(notice): Query<Notice>) -> Html<String> {
    let mut page = view::dashboard(&web);
    page.notice = notice.done.as_deref().and_then(|done| {
        actions::notice(done, notice.key.as_deref().unwrap_or_default(), notice.n)
    });
    Html(kiln_web::pages::dashboard(&page).into_string())
}

/// Prometheus text exposition of this host and its data plane.
async fn metrics(State(web): State<Web>) -> impl IntoResponse {
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

/// The lattice's hosts as this host sees them.
async fn hosts(State(web): State<Web>) -> impl IntoResponse {
    axum::Json(serde_json::json!({ "hosts": web.host.hosts.all() }))
}

async fn live_probe() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "live": true }))
}

/// Ready when NATS and the data plane are reachable, the workload found at start is
/// adopted, the boot workload started and no drain is under way; the body says which
/// check holds it back.
async fn ready(State(web): State<Web>) -> impl IntoResponse {
    let report = crate::readiness::report(&web.host);
    let code = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(report))
}
