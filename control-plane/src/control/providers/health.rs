//! Health checks of a running provider, and the links it missed while it started.

use std::sync::Arc;
use std::time::Duration;

use kiln_wasmbus::subjects;
use tracing::Instrument as _;

use crate::host::Shared;
use crate::lattice::events::{data as eventdata, kind};
use crate::state::providers::{Entry, Health};

/// First health check after a start.
const FIRST_HEALTH_CHECK: Duration = Duration::from_millis(500);

/// Sends a provider that has just come up the link changes made between its host data
/// and its subscription, which it could not have received (the linkdef race of the
/// wasmbus host, wasmcloud-otp #361). A provider answering health checks is subscribed.
async fn catch_up_links(host: &Shared, entry: &Entry) {
    let known = entry
        .host_data_links
        .lock()
        .expect("invariant: host data lock is never poisoned")
        .clone();
    let current = host.links.for_provider(&entry.key, &entry.link_name);
    for link in &current {
        if !known.contains(&**link) {
            tracing::debug!(link = %link.id, "sending a link put while the provider started");
            crate::control::providers::links::notify_provider(host, link, true).await;
        }
    }
    for link in &known {
        if !current.iter().any(|c| c.id == link.id) {
            tracing::debug!(link = %link.id, "sending a link deleted while the provider started");
            crate::control::providers::links::notify_provider(host, link, false).await;
        }
    }
}

pub fn spawn_health_checks(host: &Shared, entry: &Arc<Entry>) {
    let (host, entry) = (host.clone(), entry.clone());
    let span = tracing::info_span!("health_check", provider = %entry.key, link = %entry.link_name);
    host.tasks.clone().spawn(
        async move {
            let subject =
                subjects::provider_health(&host.config.lattice, &entry.key, &entry.link_name);
            let body = rmp_serde::to_vec_named(&serde_json::json!({ "placeholder": true }))
                .expect("invariant: a constant map serialises");
            let mut wait = FIRST_HEALTH_CHECK;
            loop {
                tokio::select! {
                    () = entry.stop_checks.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
                wait = host.config.health_interval;
                // Any answer in time counts as healthy, as on every wasmbus host; a
                // built-in provider is asked in place.
                let healthy = match entry.builtin() {
                    Some(builtin) => builtin.healthy(),
                    None => matches!(
                        tokio::time::timeout(
                            host.config.rpc_timeout,
                            host.rpc.request(subject.clone(), body.clone().into())
                        )
                        .await,
                        Ok(Ok(_))
                    ),
                };
                let now = if healthy {
                    Health::Healthy
                } else {
                    Health::Unhealthy
                };
                let before = std::mem::replace(
                    &mut *entry
                        .health
                        .lock()
                        .expect("invariant: health lock is never poisoned"),
                    now,
                );
                let event = match (before, now) {
                    (Health::Healthy, Health::Healthy) | (Health::Unhealthy, Health::Unhealthy) => {
                        kind::HEALTH_CHECK_STATUS
                    }
                    (_, Health::Healthy) => kind::HEALTH_CHECK_PASSED,
                    _ => kind::HEALTH_CHECK_FAILED,
                };
                if before != now {
                    tracing::info!(health = ?now, "provider health changed");
                }
                // The first pass, however late (a provider slow to start fails its
                // first checks), proves it subscribed.
                if now == Health::Healthy
                    && entry
                        .catch_up_pending
                        .swap(false, std::sync::atomic::Ordering::Relaxed)
                {
                    catch_up_links(&host, &entry).await;
                }
                host.events.publish(event, eventdata::health(&entry)).await;
            }
        }
        .instrument(span),
    );
}
