//! The kiln control plane: the lattice-facing half of a kiln host.
//!
//! It holds the host and cluster keys, talks to NATS (invocations, the control
//! interface), verifies claims and invocations, and drives its data plane over gRPC.
//! It runs no wasm itself. Entry point: [`run`].

mod api;
mod artifacts;
pub mod config;
mod control;
mod dataplane;
mod gateway;
mod host;
mod http;
mod lattice;
mod metrics;
mod state;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

pub use config::Config;

/// Makes ring the process's TLS crypto provider (registry pulls and the API use rustls).
/// Call once at start; later calls change nothing.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// How long the last flush to NATS may take at exit.
const FLUSH_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs the control plane until `shutdown`, then drains: actor subscriptions end, calls
/// in flight get the grace period, NATS is flushed.
///
/// # Errors
/// When NATS cannot be reached or a subscription is refused at start.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let host_id = config.host_id();
    if config.cluster_key_generated {
        tracing::warn!(
            cluster = %config.cluster_key.public_key(),
            "no cluster seed configured; generated one for this run. Set WASMCLOUD_CLUSTER_SEED so other hosts and tools can sign calls this host trusts"
        );
    }
    let metrics = Arc::new(metrics::Metrics::new());
    let rpc = lattice::connect::connect(
        &config.rpc,
        &format!("kiln {host_id} rpc"),
        config.rpc_timeout,
        metrics.nats_callback("rpc"),
    )
    .await?;
    let ctl = lattice::connect::connect(
        &config.ctl,
        &format!("kiln {host_id} ctl"),
        config.rpc_timeout,
        metrics.nats_callback("ctl"),
    )
    .await?;
    let data_plane = dataplane::link::Link::new(&config.data_plane, config.invoke_path)?;
    let issuers =
        kiln_types::invocation::Issuers::new(&config.cluster_issuers).context("cluster issuers")?;
    let lattice_data = match lattice::cache::LatticeData::open(
        ctl.clone(),
        &config.lattice,
        config.js_domain.as_deref(),
        config.lattice_replicas,
    )
    .await
    {
        Ok(data) => Some(data),
        Err(error) => {
            tracing::warn!("no lattice cache, links stay local to this host: {error:#}");
            None
        }
    };
    let chunks = match kiln_wasmbus::chunks::Chunks::open(
        rpc.clone(),
        &config.lattice,
        config.js_domain.as_deref(),
        config.lattice_replicas,
    )
    .await
    {
        Ok(chunks) => Some(chunks),
        Err(error) => {
            tracing::warn!("no object store, payloads over 900 KiB will fail: {error:#}");
            None
        }
    };
    let caller = kiln_wasmbus::rpc::Caller::new(
        rpc.clone(),
        config.cluster_key.clone(),
        chunks.clone(),
        config.rpc_timeout,
        config.chunk_limit,
    );
    let tasks = TaskTracker::new();
    let registry_credentials = Arc::new(artifacts::credentials::Credentials::default());
    let events = lattice::events::Events::new(ctl.clone(), &config.lattice, &host_id);
    let policy = config.policy_topic.clone().map(|topic| {
        tracing::info!(%topic, "policy service enabled");
        gateway::policy::Policy::new(
            ctl.clone(),
            topic,
            config.policy_changes_topic.clone(),
            config.policy_timeout,
            &config,
        )
    });
    let host = Arc::new(host::Host {
        metrics,
        events,
        policy,
        claims: state::claims::ClaimsCache::default(),
        peers: state::peers::Peers::default(),
        registry_credentials: registry_credentials.clone(),
        fetcher: artifacts::fetch::Fetcher {
            allow_file_load: config.allow_file_load,
            oci: artifacts::oci::Puller::new(config.oci.clone(), registry_credentials),
            uploads: config.oci.cache_dir.join("uploads"),
            limits: config.fetch_limits,
        },
        replay: kiln_types::replay::Guard::new(config.replay, kiln_types::unix_now()),
        subscriptions: gateway::admission::Subscriptions::new(config.in_flight),
        ctl_slots: Arc::new(tokio::sync::Semaphore::new(lattice::ctl::CTL_IN_FLIGHT)),
        readiness: state::readiness::Readiness::new(
            config.autostart.len() + config.autostart_providers.len(),
        ),
        stop_grace_ms: std::sync::atomic::AtomicU64::new(0),
        stop_requested: std::sync::atomic::AtomicBool::new(false),
        chunks,
        caller,
        friendly_name: host::friendly_name(&host_id),
        config,
        rpc,
        ctl,
        data_plane,
        issuers,
        actors: state::actors::Actors::default(),
        links: state::links::Links::default(),
        providers: state::providers::Providers::default(),
        lattice_data,
        started: Instant::now(),
        tasks: tasks.clone(),
        calls: TaskTracker::new(),
        drained: CancellationToken::new(),
        shutdown: shutdown.clone(),
    });
    tasks.spawn(
        dataplane::supervisor::run(host.clone()).instrument(tracing::info_span!("data_plane")),
    );
    tasks.spawn(
        lattice::cache_watch::watch(host.clone()).instrument(tracing::info_span!("lattice_cache")),
    );
    tasks.spawn(
        lattice::peers::watch(host.clone()).instrument(tracing::info_span!("lattice_hosts")),
    );
    tasks.spawn(lattice::heartbeat::run(host.clone()).instrument(tracing::info_span!("heartbeat")));
    if host.policy.is_some() {
        let policy_host = host.clone();
        tasks.spawn(
            async move {
                if let Some(policy) = &policy_host.policy {
                    policy.watch_changes(policy_host.shutdown.clone()).await;
                }
            }
            .instrument(tracing::info_span!("policy")),
        );
    }
    let ctl_host = host.clone();
    tasks.spawn(
        async move {
            if let Err(error) = lattice::ctl::serve(ctl_host).await {
                tracing::error!("control interface stopped: {error:#}");
            }
        }
        .instrument(tracing::info_span!("ctl")),
    );
    if let Some(addr) = host.config.http_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the status page on {addr}"))?;
        tracing::info!(%addr, "status page listening");
        let http_host = host.clone();
        tasks.spawn(
            async move {
                if let Err(error) = http::serve(listener, http_host).await {
                    tracing::error!(%error, "status page stopped");
                }
            }
            .instrument(tracing::info_span!("http")),
        );
    }
    if let Some(addr) = host.config.api.addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the control API on {addr}"))?;
        if host.config.api.token.is_none() && !addr.ip().is_loopback() {
            tracing::warn!(%addr, "the control API listens beyond loopback without a token (KILN_CP_API_TOKEN)");
        }
        tracing::info!(%addr, tls = host.config.api.tls.is_some(), token = host.config.api.token.is_some(), "control API listening");
        let api_host = host.clone();
        tasks.spawn(
            async move {
                if let Err(error) = api::serve(listener, api_host).await {
                    tracing::error!("control API stopped: {error:#}");
                }
            }
            .instrument(tracing::info_span!("api")),
        );
    }
    tracing::info!(host = %host_id, lattice = %host.config.lattice, name = %host.friendly_name, "control plane started");
    lattice::heartbeat::started(&host).await;

    tasks.spawn(control::boot::run(host.clone()).instrument(tracing::info_span!("boot")));

    shutdown.cancelled().await;
    drain(&host, &tasks).await;
    // With NATS gone a flush would wait for a reconnect forever: bound it.
    for client in [&host.rpc, &host.ctl] {
        match tokio::time::timeout(FLUSH_GRACE, client.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "could not flush NATS before exit"),
            Err(_) => {
                tracing::warn!(grace = ?FLUSH_GRACE, "NATS unreachable; exiting without a final flush")
            }
        }
    }
    tracing::info!("control plane stopped");
    Ok(())
}

/// The drain after a stop: actor subscriptions have ended with the shutdown token, so
/// no new invocation is taken; calls in flight get the grace period (a stop-host
/// command may set it); then providers stop and `host_stopped` goes out.
async fn drain(host: &host::Shared, tasks: &TaskTracker) {
    let grace = match host
        .stop_grace_ms
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        0 => host.config.grace,
        ms => std::time::Duration::from_millis(ms),
    };
    tracing::info!(?grace, calls = host.calls.len(), "draining");
    host.calls.close();
    if tokio::time::timeout(grace, host.calls.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            calls = host.calls.len(),
            "calls still running after the grace period"
        );
    }
    host.drained.cancel();
    // A stop of the host stops its providers and its data plane too; a plain exit of
    // the control plane (an upgrade, a restart) leaves both running for the next one
    // to adopt.
    if host
        .stop_requested
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        // All at once: each stop may wait for an answer that never comes.
        let stops = host.providers.all().into_iter().map(|provider| {
            let host = host.clone();
            async move {
                if let Err(error) =
                    control::stop_provider(&host, &provider.key, &provider.link_name).await
                {
                    tracing::warn!(provider = %provider.key, "could not stop provider: {error}");
                }
            }
        });
        futures::future::join_all(stops).await;
        if let Err(status) = host.data_plane.shutdown().await {
            tracing::warn!(error = %status.message(), "could not stop the data plane");
        }
    } else {
        tracing::info!(
            actors = host.actors.all().len(),
            providers = host.providers.all().len(),
            "leaving the workload to the data plane for the next control plane"
        );
    }
    lattice::heartbeat::stopped(host).await;
    tasks.close();
    if tokio::time::timeout(FLUSH_GRACE, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("background tasks still running at exit");
    }
}
