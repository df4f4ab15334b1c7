//! Bringing the control plane up: its connections and stores, the shared [`Host`], its
//! background tasks and its listeners.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::config::Config;
use crate::host::{Host, Shared, friendly_name};
use crate::{api, artifacts, control, dataplane, gateway, http, lattice, metrics, state};

/// Connects to NATS, opens the lattice cache and the object store (each optional: a
/// host without JetStream still serves) and builds the host's shared state.
///
/// # Errors
/// When NATS cannot be reached or a setting cannot be used.
pub async fn open(config: Config, shutdown: CancellationToken) -> anyhow::Result<Shared> {
    let host_id = config.host_id();
    let metrics = Arc::new(metrics::Metrics::new());
    let signatures =
        crate::gateway::signatures::Signatures::new(metrics.signatures_batched.clone());
    let Lattice {
        rpc,
        ctl,
        lattice_data,
        chunks,
    } = Lattice::connect(&config, &metrics).await?;
    let data_plane = dataplane::link::Link::new(&config.data_plane, config.invoke_path)?;
    let issuers =
        kiln_types::invocation::Issuers::new(&config.cluster_issuers).context("cluster issuers")?;
    let caller = kiln_wasmbus::rpc::Caller::new(
        rpc.clone(),
        config.cluster_key.clone(),
        chunks.clone(),
        config.rpc_timeout,
        config.chunk_limit,
    );
    let tasks = TaskTracker::new();
    let calls = TaskTracker::new();
    let registry_credentials = Arc::new(artifacts::credentials::Credentials::default());
    let events = lattice::events::Events::new(ctl.clone(), &config.lattice, &host_id, &calls);
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
    Ok(Arc::new(Host {
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
        signatures,
        subscriptions: gateway::admission::Subscriptions::new(config.in_flight),
        ctl_slots: Arc::new(tokio::sync::Semaphore::new(lattice::ctl::CTL_IN_FLIGHT)),
        readiness: state::readiness::Readiness::new(
            config.autostart.len() + config.autostart_providers.len(),
        ),
        stop_grace_ms: std::sync::atomic::AtomicU64::new(0),
        stop_requested: std::sync::atomic::AtomicBool::new(false),
        chunks,
        caller,
        friendly_name: friendly_name(&host_id),
        config,
        replies: lattice::gather::Gather::new(rpc.clone(), calls.clone()),
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
        calls,
        drained: CancellationToken::new(),
        shutdown,
    }))
}

/// The host's NATS connections and the JetStream stores on them.
struct Lattice {
    rpc: async_nats::Client,
    ctl: async_nats::Client,
    lattice_data: Option<lattice::cache::LatticeData>,
    chunks: Option<kiln_wasmbus::chunks::Chunks>,
}

impl Lattice {
    /// Connects both NATS connections and opens the lattice cache and the object
    /// store (each optional: a host without JetStream still serves).
    async fn connect(config: &Config, metrics: &metrics::Metrics) -> anyhow::Result<Lattice> {
        let host_id = config.host_id();
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
        let lattice_data = optional(
            lattice::cache::LatticeData::open(
                ctl.clone(),
                &config.lattice,
                config.js_domain.as_deref(),
                config.lattice_replicas,
            )
            .await,
            "no lattice cache, links stay local to this host",
        );
        let chunks = optional(
            kiln_wasmbus::chunks::Chunks::open(
                rpc.clone(),
                &config.lattice,
                config.js_domain.as_deref(),
                config.lattice_replicas,
            )
            .await,
            "no object store, payloads over 900 KiB will fail",
        );
        Ok(Lattice {
            rpc,
            ctl,
            lattice_data,
            chunks,
        })
    }
}

/// The store `opened`, or none with a warning that says what is missing without it.
fn optional<T>(opened: anyhow::Result<T>, without: &str) -> Option<T> {
    match opened {
        Ok(store) => Some(store),
        Err(error) => {
            tracing::warn!("{without}: {error:#}");
            None
        }
    }
}

/// Starts the tasks that run until shutdown: the data-plane supervisor, the lattice
/// cache and peer watches, the heartbeat, policy changes and the control interface.
pub fn spawn_tasks(host: &Shared) {
    host.tasks.spawn(
        dataplane::supervisor::run(host.clone()).instrument(tracing::info_span!("data_plane")),
    );
    host.tasks.spawn(
        lattice::cache_watch::watch(host.clone()).instrument(tracing::info_span!("lattice_cache")),
    );
    host.tasks.spawn(
        lattice::peers::watch(host.clone()).instrument(tracing::info_span!("lattice_hosts")),
    );
    host.tasks
        .spawn(lattice::heartbeat::run(host.clone()).instrument(tracing::info_span!("heartbeat")));
    if host.policy.is_some() {
        let policy_host = host.clone();
        host.tasks.spawn(
            async move {
                if let Some(policy) = &policy_host.policy {
                    policy.watch_changes(policy_host.shutdown.clone()).await;
                }
            }
            .instrument(tracing::info_span!("policy")),
        );
    }
    let ctl_host = host.clone();
    host.tasks.spawn(
        async move {
            if let Err(error) = lattice::ctl::serve(ctl_host).await {
                tracing::error!("control interface stopped: {error:#}");
            }
        }
        .instrument(tracing::info_span!("ctl")),
    );
}

/// Binds the dashboard's and the control API's listeners when configured.
///
/// # Errors
/// When an address cannot be bound.
pub async fn listen(host: &Shared) -> anyhow::Result<()> {
    if let Some(addr) = host.config.http_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the status page on {addr}"))?;
        tracing::info!(%addr, "status page listening");
        let http_host = host.clone();
        host.tasks.spawn(
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
        host.tasks.spawn(
            async move {
                if let Err(error) = api::serve(listener, api_host).await {
                    tracing::error!("control API stopped: {error:#}");
                }
            }
            .instrument(tracing::info_span!("api")),
        );
    }
    Ok(())
}

/// Starts the actors and providers named at start, and those the config service hands
/// out when it is on, once adoption allows.
pub fn boot(host: &Shared) {
    let host = host.clone();
    host.tasks.clone().spawn(
        async move {
            let handed = control::config_service::prepare(&host).await;
            tokio::join!(
                control::boot::run(host.clone()),
                control::boot::start_workload(&host, &handed.actors, &handed.providers, false),
            );
        }
        .instrument(tracing::info_span!("boot")),
    );
}
