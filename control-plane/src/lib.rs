//! The kiln control plane: the lattice-facing half of a kiln host.
//!
//! It holds the host and cluster keys, talks to NATS (invocations, the control
//! interface), verifies claims and invocations, and drives its data plane over gRPC.
//! It runs no wasm itself. Entry point: [`run`].

mod api;
mod artifacts;
mod builtin;
pub mod config;
mod control;
mod dataplane;
mod gateway;
mod host;
mod http;
mod lattice;
mod metrics;
mod start;
mod state;
mod stop;

use tokio_util::sync::CancellationToken;

pub use config::Config;

/// Makes ring the process's TLS crypto provider (registry pulls and the API use rustls).
/// Call once at start; later calls change nothing.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Runs the control plane until `shutdown`, then drains: actor subscriptions end, calls
/// in flight get the grace period, NATS is flushed.
///
/// # Errors
/// When NATS cannot be reached or a subscription is refused at start.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    if config.cluster_key_generated {
        tracing::warn!(
            cluster = %config.cluster_key.public_key(),
            "no cluster seed configured; generated one for this run. Set WASMCLOUD_CLUSTER_SEED so other hosts and tools can sign calls this host trusts"
        );
    }
    if config.enable_ipv6 {
        tracing::info!(
            "WASMCLOUD_ENABLE_IPV6 is set: NATS server names resolve to IPv6 and IPv4 alike here, and listen addresses take IPv6 literals ([::]:4000); nothing else changes"
        );
    }
    let host = start::open(config, shutdown.clone()).await?;
    start::spawn_tasks(&host);
    start::listen(&host).await?;
    tracing::info!(host = %host.config.host_id(), lattice = %host.config.lattice, name = %host.friendly_name, "control plane started");
    lattice::heartbeat::started(&host).await;
    start::boot(&host);

    shutdown.cancelled().await;
    stop::drain(&host).await;
    stop::flush(&host).await;
    tracing::info!("control plane stopped");
    Ok(())
}
