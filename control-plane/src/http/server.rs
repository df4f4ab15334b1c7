//! The routes, and the dashboard page itself.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::response::Html;
use axum::routing::{get, post};

use super::web::Web;
use super::{actions, auth, feed, live, metrics_page, notice, probes, view};
use crate::control::remote::Remote;
use crate::host::Shared;

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
        .route("/api/livez", get(probes::live))
        .route("/api/readyz", get(probes::ready))
        .route("/api/hosts", get(probes::hosts))
        .route("/metrics", get(metrics_page::metrics))
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
        remote: Remote::new(host.clone()),
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
    /// The other host it was done on.
    on: Option<String>,
}

/// `GET /`: the dashboard.
async fn dashboard(State(web): State<Web>, Query(notice): Query<Notice>) -> Html<String> {
    let mut page = view::dashboard(&web);
    let on = notice.on.as_deref().map(|id| {
        page.lattice_hosts
            .iter()
            .find(|h| h.id == id)
            .map_or_else(|| id.to_string(), |h| h.name.clone())
    });
    page.notice = notice.done.as_deref().and_then(|done| {
        notice::notice(
            done,
            notice.key.as_deref().unwrap_or_default(),
            notice.n,
            on.as_deref(),
        )
    });
    Html(kiln_web::pages::dashboard(&page).into_string())
}
