//! Bringing the control plane down: the drain of calls in flight, the providers and
//! data plane on a stop-host command, the last events and the final flush.

use crate::host::Shared;
use crate::{control, lattice};

/// How long the last flush to NATS may take at exit.
const FLUSH_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The drain after a stop: actor subscriptions have ended with the shutdown token, so
/// no new invocation is taken; calls in flight get the grace period (a stop-host
/// command may set it); then providers stop and `host_stopped` goes out.
pub async fn drain(host: &Shared) {
    let tasks = &host.tasks;
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

/// Flushes both NATS connections, bounded: with NATS gone a flush would wait for a
/// reconnect forever.
pub async fn flush(host: &Shared) {
    for client in [&host.rpc, &host.ctl] {
        match tokio::time::timeout(FLUSH_GRACE, client.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "could not flush NATS before exit"),
            Err(_) => {
                tracing::warn!(grace = ?FLUSH_GRACE, "NATS unreachable; exiting without a final flush")
            }
        }
    }
}
