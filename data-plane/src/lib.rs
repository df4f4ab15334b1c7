//! The kiln data plane: runs wasmbus actors in wasmtime for one control plane.
//!
//! It holds no lattice credentials and opens no network connection of its own (but
//! for span export to an OTLP collector, when traces are on): it serves the
//! `DataPlane` and `HostCalls` gRPC services (see `kiln-proto`) on a unix socket or
//! TCP port, and its control plane brings artifacts and commands. Entry point: [`run`].

pub mod artifacts;
pub mod config;
pub mod engine;
pub mod grpc;
pub mod host;
pub mod hostcalls;
pub mod plane;
pub mod probe;
pub mod providers;
pub mod workload;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use kiln_proto::dataplane::v1::data_plane_server::DataPlaneServer;
use kiln_proto::dataplane::v1::host_calls_server::HostCallsServer;
use kiln_types::endpoint::Endpoint;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

pub use config::Config;

/// Time a provider gets between SIGTERM and SIGKILL when the data plane stops.
const PROVIDER_GRACE: Duration = Duration::from_secs(2);

use kiln_proto::MAX_MESSAGE_BYTES;

/// Runs the data plane until `shutdown`, then drains: no new calls, calls in flight get
/// up to the grace period.
///
/// # Errors
/// When the engine cannot be built or the endpoint cannot be bound.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let sizing = engine::Sizing {
        max_instances: config.max_instances,
        max_memory: config.memory_limit,
    };
    let (sizing, smaller) = sizing.fitted();
    if let Some(warning) = smaller {
        tracing::warn!("{warning}");
    }
    let engine = engine::build(&sizing, &config.cache_dir)?;
    let linker = host::linker(&engine)
        .map_err(anyhow::Error::from)
        .context("linking the wasmbus imports")?;
    let runtime = workload::Runtime {
        linker,
        broker: Arc::new(hostcalls::Broker::default()),
        mode: config.instance_mode,
    };
    let artifacts = artifacts::Store::new(engine.clone(), config.cache_dir.join("artifacts"));
    let tasks = TaskTracker::new();
    let host = Arc::new(plane::Plane::new(
        runtime,
        artifacts,
        &config,
        tasks.clone(),
    ));

    let _ticker = engine::EpochTicker::start(engine.clone(), config.epoch_tick)
        .context("starting the epoch ticker")?;
    let service = grpc::Service::new(host.clone(), tasks.clone(), shutdown.clone());
    let router = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .trace_fn(grpc::request_span)
        .add_service(
            DataPlaneServer::new(service.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            HostCallsServer::new(service)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        );
    let stop_accepting = CancellationToken::new();
    let stopped = stop_accepting.clone().cancelled_owned();
    let serve: futures::future::BoxFuture<'static, Result<(), tonic::transport::Error>> =
        match &config.listen {
            Endpoint::Unix(path) => {
                let incoming = tokio_stream::wrappers::UnixListenerStream::new(bind_unix(path)?);
                Box::pin(router.serve_with_incoming_shutdown(incoming, stopped))
            }
            Endpoint::Tcp(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding {addr}"))?;
                let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
                Box::pin(router.serve_with_incoming_shutdown(incoming, stopped))
            }
        };
    let serving = tasks.spawn(serve.instrument(tracing::info_span!("grpc")));
    tracing::info!(endpoint = %config.listen, mode = ?config.instance_mode, "data plane listening");

    tokio::select! {
        () = shutdown.cancelled() => {}
        result = serving => {
            result.context("gRPC server task")?.context("serving gRPC")?;
        }
    }
    drain(&host, config.grace).await;
    host.providers().stop_all(PROVIDER_GRACE).await;
    stop_accepting.cancel();
    tasks.close();
    if let Endpoint::Unix(path) = &config.listen {
        let _ = std::fs::remove_file(path);
    }
    tracing::info!("data plane stopped");
    Ok(())
}

/// Waits for calls in flight to finish, up to `grace`.
async fn drain(host: &plane::Plane, grace: Duration) {
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        let busy = host.busy();
        if busy == 0 {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(busy, ?grace, "calls still running after the grace period");
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn bind_unix(path: &std::path::Path) -> anyhow::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // A socket left by a process that died would make bind fail.
    if path.exists() {
        std::fs::remove_file(path)
            .with_context(|| format!("removing stale socket {}", path.display()))?;
    }
    let listener = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("binding {}", path.display()))?;
    // Whoever can reach this socket can run code here: only our own user may.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))?;
    Ok(listener)
}
