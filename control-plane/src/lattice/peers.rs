//! Follows the lattice's events into this host's view of its peers
//! ([`crate::state::peers`]), and expires the ones that fell silent.

use std::time::Duration;

use futures::StreamExt as _;
use kiln_types::limits;

use crate::host::Shared;

/// How often stale hosts are looked for.
const SWEEP_EVERY: Duration = Duration::from_millis(250);

/// Follows the lattice's events and expires silent hosts, until shutdown.
pub async fn watch(host: Shared) {
    let subject = host.events.subject().to_string();
    let mut events = match host.ctl.subscribe(subject.clone()).await {
        Ok(events) => events,
        Err(error) => {
            tracing::error!(%subject, %error, "could not follow lattice events; the lattice view stays empty");
            return;
        }
    };
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            () = host.shutdown.cancelled() => return,
            _ = sweep.tick() => {
                for id in host.peers.expire(host.config.host_expiry) {
                    tracing::info!(host = %id, expiry = ?host.config.host_expiry, "host left the lattice view: no heartbeat");
                }
            }
            message = events.next() => {
                let Some(message) = message else { return };
                match kiln_types::decode::json::<serde_json::Value>("an event", &message.payload, limits::JSON_BODY) {
                    Ok(event) => host.peers.apply(&event),
                    Err(error) => tracing::debug!(%error, "ignoring an event that is not JSON"),
                }
            }
        }
    }
}
