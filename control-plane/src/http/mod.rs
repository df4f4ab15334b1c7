//! The control plane's HTTP server: the status page and health endpoints.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use crate::host::Shared;

/// The routes.
pub fn router(host: Shared) -> Router {
    Router::new()
        .route("/", get(status))
        .route("/api/livez", get(live))
        .route("/api/readyz", get(ready))
        .route("/api/hosts", get(hosts))
        .route("/metrics", get(metrics))
        .with_state(host)
}

/// Serves `router` on `listener` until shutdown.
///
/// # Errors
/// When the server fails.
pub async fn serve(listener: tokio::net::TcpListener, host: Shared) -> std::io::Result<()> {
    let shutdown = host.shutdown.clone();
    axum::serve(listener, router(host))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn status(State(host): State<Shared>) -> Html<String> {
    let uptime = host.started.elapsed().as_secs();
    let view = kiln_web::pages::HostView {
        id: host.config.host_id(),
        name: host.friendly_name.clone(),
        lattice: host.config.lattice.clone(),
        cluster: host.config.cluster_key.public_key(),
        uptime: format!("{}h {}m {}s", uptime / 3600, uptime / 60 % 60, uptime % 60),
        data_plane_ready: host.data_plane.is_ready(),
        actors: host
            .actors
            .all()
            .iter()
            .map(|entry| kiln_web::pages::ActorRow {
                name: entry.meta().name.clone().unwrap_or_default(),
                key: entry.key.to_string(),
                instances: entry.instances.len(),
                caps: entry.meta().caps().to_vec(),
                image_ref: entry.image_ref.clone(),
            })
            .collect(),
        providers: host
            .providers
            .all()
            .iter()
            .map(|p| kiln_web::pages::ProviderRow {
                name: p
                    .claims
                    .metadata
                    .as_ref()
                    .and_then(|m| m.name.clone())
                    .unwrap_or_default(),
                key: p.key.clone(),
                contract: p.contract_id().to_string(),
                link_name: p.link_name.clone(),
                health: match p.health() {
                    crate::providers::Health::Healthy => "healthy",
                    crate::providers::Health::Unhealthy => "unhealthy",
                    crate::providers::Health::Awaiting => "awaiting",
                },
            })
            .collect(),
        lattice_hosts: host
            .hosts
            .all()
            .into_iter()
            .map(|seen| kiln_web::pages::LatticeHostRow {
                local: seen.id == host.config.host_id(),
                labels: seen
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
                id: seen.id,
                name: seen.friendly_name,
                actors: seen.actors,
                providers: seen.providers,
                last_seen_seconds: seen.last_seen_seconds,
            })
            .collect(),
    };
    Html(kiln_web::pages::status(&view).into_string())
}

/// Prometheus text exposition of this host and its data plane.
async fn metrics(State(host): State<Shared>) -> impl IntoResponse {
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
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        host.metrics.render(&actors, inventory.as_ref()),
    )
}

/// The lattice's hosts as this host sees them.
async fn hosts(State(host): State<Shared>) -> impl IntoResponse {
    axum::Json(serde_json::json!({ "hosts": host.hosts.all() }))
}

async fn live() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "live": true }))
}

/// Ready once the data plane is connected and in line.
async fn ready(State(host): State<Shared>) -> impl IntoResponse {
    let ready = host.data_plane.is_ready();
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(serde_json::json!({ "ready": ready })))
}
