//! This host's `host_started`, `host_heartbeat` (every interval and on each ping) and
//! `host_stopped` events.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::host::Shared;
use crate::lattice::events::kind;

/// The heartbeat's data: instance counts per actor and the providers, no more (it must
/// stay small whatever the host runs).
#[must_use]
pub fn data(host: &Shared) -> Value {
    let actors: BTreeMap<String, usize> = host
        .actors
        .all()
        .iter()
        .map(|a| (a.key.to_string(), a.instances.len()))
        .collect();
    let providers: Vec<Value> = host
        .providers
        .all()
        .iter()
        .map(|p| json!({"public_key": p.key, "link_name": p.link_name, "contract_id": p.contract_id()}))
        .collect();
    let uptime = host.started.elapsed().as_secs();
    json!({
        "actors": actors,
        "providers": providers,
        "labels": host.config.labels,
        "friendly_name": host.friendly_name,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": uptime,
        "uptime_human": crate::lattice::events::data::human_span(uptime),
    })
}

/// Publishes one heartbeat.
pub async fn beat(host: &Shared) {
    host.events.publish(kind::HOST_HEARTBEAT, data(host)).await;
}

/// `host_started`.
pub async fn started(host: &Shared) {
    host.events
        .publish(
            kind::HOST_STARTED,
            json!({
                "labels": host.config.labels,
                "friendly_name": host.friendly_name,
                "uptime_seconds": host.started.elapsed().as_secs(),
                "version": env!("CARGO_PKG_VERSION"),
            }),
        )
        .await;
}

/// `host_stopped`.
pub async fn stopped(host: &Shared) {
    host.events
        .publish(kind::HOST_STOPPED, json!({ "labels": host.config.labels }))
        .await;
}

/// Beats every interval until shutdown.
pub async fn run(host: Shared) {
    let mut every = tokio::time::interval(host.config.heartbeat_interval);
    every.tick().await;
    loop {
        tokio::select! {
            () = host.shutdown.cancelled() => return,
            _ = every.tick() => beat(&host).await,
        }
    }
}
