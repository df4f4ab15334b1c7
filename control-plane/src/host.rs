//! The control plane's shared state: configuration, NATS clients, the data-plane link,
//! and the actors it runs.

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::artifacts::credentials::Credentials;
use crate::artifacts::fetch::Fetcher;
use crate::config::Config;
use crate::dataplane::link::Link;
use crate::gateway::admission::Subscriptions;
use crate::gateway::policy::Policy;
use crate::lattice::cache::LatticeData;
use crate::lattice::events::Events;
use crate::metrics::Metrics;
use crate::state::actors::Actors;
use crate::state::claims::ClaimsCache;
use crate::state::links::Links;
use crate::state::peers::Peers;
use crate::state::providers::Providers;
use crate::state::readiness::{Readiness, Report};

/// Everything the control plane's tasks share.
pub struct Host {
    /// Configuration.
    pub config: Config,
    /// The RPC connection: invocations in and host calls out.
    pub rpc: async_nats::Client,
    /// The invocation responses on `rpc`, gathered under load.
    pub replies: crate::lattice::gather::Gather,
    /// The control connection: control interface and events.
    pub ctl: async_nats::Client,
    /// The data plane.
    pub data_plane: Link,
    /// The object store for payloads too large for one message, when JetStream is on.
    pub chunks: Option<kiln_wasmbus::chunks::Chunks>,
    /// Sends signed invocations for host calls.
    pub caller: kiln_wasmbus::rpc::Caller,
    /// Cluster keys whose invocations this host accepts, decoded once.
    pub issuers: kiln_types::invocation::Issuers,
    /// Checks their signatures, in batches under load.
    pub signatures: crate::gateway::signatures::Signatures,
    /// Actors of this host.
    pub actors: Actors,
    /// Providers of this host.
    pub providers: Providers,
    /// Link definitions of the lattice.
    pub links: Links,
    /// The lattice cache, when JetStream is available.
    pub lattice_data: Option<LatticeData>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Lattice events.
    pub events: Events,
    /// Claims, call aliases and reference maps of the lattice.
    pub claims: ClaimsCache,
    /// The lattice's hosts as seen from here.
    pub peers: Peers,
    /// The policy service, when one is configured.
    pub policy: Option<Policy>,
    /// Registry credentials by server, from `registries.put`.
    pub registry_credentials: Arc<Credentials>,
    /// Fetches artifacts from files and registries.
    pub fetcher: Fetcher,
    /// Drain grace asked for by a stop-host command, in milliseconds (0: the default).
    pub stop_grace_ms: std::sync::atomic::AtomicU64,
    /// Set by a stop-host command: the data plane is stopped too.
    pub stop_requested: std::sync::atomic::AtomicBool,
    /// Actor RPC subscriptions and the bounds on calls in flight.
    pub subscriptions: Subscriptions,
    /// Places for control requests in progress (see `lattice::ctl::CTL_IN_FLIGHT`).
    pub ctl_slots: Arc<tokio::sync::Semaphore>,
    /// Adoption and boot progress, for readiness.
    pub readiness: Readiness,
    /// Refuses invocations seen before or issued outside their window.
    pub replay: kiln_types::replay::Guard,
    /// Friendly name, `adjective-noun-NNNN`.
    pub friendly_name: String,
    /// Start time.
    pub started: Instant,
    /// Every background task.
    pub tasks: TaskTracker,
    /// Invocations and host calls in flight, which a drain lets finish.
    pub calls: TaskTracker,
    /// Cancelled once the drain has let the calls in flight finish; the data-plane
    /// streams stay open until then.
    pub drained: CancellationToken,
    /// Cancelled at shutdown.
    pub shutdown: CancellationToken,
}

impl Host {
    /// Whether this host can serve now: what `/api/readyz` and the gRPC health
    /// service say.
    #[must_use]
    pub fn readiness_report(&self) -> Report {
        use async_nats::connection::State;
        let nats = [&self.rpc, &self.ctl]
            .iter()
            .all(|client| client.connection_state() == State::Connected);
        self.readiness.report(
            nats,
            self.data_plane.is_ready(),
            self.shutdown.is_cancelled(),
        )
    }
}

/// A friendly name derived from the host key, stable for a given key.
#[must_use]
pub fn friendly_name(host_id: &str) -> String {
    const ADJECTIVES: [&str; 16] = [
        "amber", "brisk", "calm", "dusty", "eager", "frosty", "gentle", "hollow", "icy", "jolly",
        "keen", "lively", "misty", "noble", "quiet", "rustic",
    ];
    const NOUNS: [&str; 16] = [
        "anvil", "brook", "cedar", "delta", "ember", "fjord", "grove", "harbor", "island", "jetty",
        "kiln", "lagoon", "meadow", "nebula", "orchard", "prairie",
    ];
    let hash = host_id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!(
        "{}-{}-{:04}",
        ADJECTIVES[(hash & 15) as usize],
        NOUNS[((hash >> 4) & 15) as usize],
        (hash >> 8) % 10_000
    )
}

/// Shared handle.
pub type Shared = Arc<Host>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_names_are_stable_and_shaped() {
        let name = friendly_name("NABC");
        assert_eq!(name, friendly_name("NABC"));
        let parts: Vec<&str> = name.split('-').collect();
        assert_eq!(parts.len(), 3, "{name}");
        assert_eq!(parts[2].len(), 4);
    }
}
