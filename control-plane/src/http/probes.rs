//! The open endpoints for probes: liveness, readiness, the lattice's hosts.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::web::Web;

/// The lattice's hosts as this host sees them.
pub async fn hosts(State(web): State<Web>) -> impl IntoResponse {
    axum::Json(serde_json::json!({ "hosts": web.host.peers.all() }))
}

/// Alive: the process answers.
pub async fn live() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "live": true }))
}

/// Ready when NATS and the data plane are reachable, the workload found at start is
/// adopted, the boot workload started and no drain is under way; the body says which
/// check holds it back.
pub async fn ready(State(web): State<Web>) -> impl IntoResponse {
    let report = web.host.readiness_report();
    let code = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(report))
}
