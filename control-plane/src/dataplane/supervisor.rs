//! Keeps the data plane connected and in line with the desired state.
//!
//! The data plane is cattle: when its streams break, calls wait (briefly) while this
//! loop reconnects, gives it back every actor the registry holds (pushing modules it
//! lacks) and reopens the invoke and host-call streams. The control plane is not the
//! only memory of the workload: on the first connection of a control plane process,
//! whatever the data plane runs is adopted (see [`crate::dataplane::adoption`]), never stopped
//! for being unknown. At shutdown the streams stay open until the drain has let the
//! calls in flight finish.

use std::time::Duration;

use futures::StreamExt as _;
use tracing::Instrument as _;

use crate::gateway::hostcall;
use crate::host::Shared;

const FIRST_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Runs until shutdown.
pub async fn run(host: Shared) {
    let mut backoff = FIRST_BACKOFF;
    let mut boot_id: Option<String> = None;
    let mut reported_down = false;
    while !host.drained.is_cancelled() {
        match connect(&host, &mut boot_id).await {
            Ok(()) => {
                backoff = FIRST_BACKOFF;
                reported_down = false;
                if host.drained.is_cancelled() {
                    break;
                }
                tracing::warn!("lost the data plane; reconnecting");
            }
            Err(error) => {
                if !reported_down {
                    tracing::warn!(endpoint = %host.config.data_plane, "data plane unreachable: {error:#}");
                    reported_down = true;
                }
                tokio::select! {
                    () = host.drained.cancelled() => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    host.data_plane.set_ready(false);
}

/// How often an adoption that had to leave workloads for later tries again.
const ADOPTION_RETRY: Duration = Duration::from_secs(1);

/// One connection's life: sync (or, on the first connection of this process, adopt
/// what the data plane already runs), open streams, serve until they break.
async fn connect(host: &Shared, boot_id: &mut Option<String>) -> anyhow::Result<()> {
    let inventory = host.data_plane.inventory().await?;
    if boot_id.as_deref() != Some(inventory.boot_id.as_str()) {
        tracing::info!(boot = %inventory.boot_id, actors = inventory.actors.len(), providers = inventory.providers.len(), "data plane connected");
    }
    // A data plane met again after this process took over its workload is made to
    // match the registry; before that, the data plane's workload is what is adopted.
    if host.readiness.is_adopted() {
        sync(host, &inventory).await;
    }
    let (mut requests, replies) = host.data_plane.open_host_calls().await?;
    let invoke_pump = host.data_plane.open_invoke_stream().await?;
    *boot_id = Some(inventory.boot_id.clone());
    host.data_plane.set_ready(true);
    if !host.readiness.is_adopted() {
        adopt(host, &inventory).await;
    }

    let host_calls = async {
        while let Some(Ok(request)) = requests.next().await {
            let host = host.clone();
            let replies = replies.clone();
            let span = hostcall::span(&request);
            host.calls.clone().spawn(
                async move {
                    let reply = hostcall::answer(&host, request).await;
                    let _ = replies.send(reply).await;
                }
                .instrument(span),
            );
        }
    };
    let retries = async {
        while !host.readiness.is_adopted() {
            tokio::time::sleep(ADOPTION_RETRY).await;
            match host.data_plane.inventory().await {
                Ok(inventory) => adopt(host, &inventory).await,
                Err(status) => {
                    tracing::warn!(error = %status.message(), "could not read the inventory to adopt")
                }
            }
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = host.drained.cancelled() => {}
        () = invoke_pump => {}
        () = host_calls => {}
        () = retries => {}
    }
    host.data_plane.set_ready(false);
    Ok(())
}

/// Takes over what the data plane runs; done once nothing is left for later.
async fn adopt(host: &Shared, inventory: &kiln_proto::dataplane::v1::InventoryResponse) {
    let adopted = crate::dataplane::adoption::adopt(host, inventory).await;
    if adopted.actors + adopted.providers + adopted.refused.len() > 0 {
        tracing::info!(
            actors = adopted.actors,
            providers = adopted.providers,
            refused = adopted.refused.len(),
            postponed = adopted.postponed.len(),
            "took over the data plane's workload"
        );
    }
    if adopted.postponed.is_empty() {
        host.readiness.set_adopted();
        // Other hosts learn what this one runs from its heartbeat.
        crate::lattice::heartbeat::beat(host).await;
    }
}

/// Makes the data plane run exactly the registry's actors.
async fn sync(host: &Shared, inventory: &kiln_proto::dataplane::v1::InventoryResponse) {
    for entry in host.actors.all() {
        let key = entry.key.as_str();
        let current = inventory.actors.iter().find(|a| a.actor == key);
        let in_line = current
            .is_some_and(|a| a.digest == entry.digest.as_str() && a.instances == entry.count());
        if in_line {
            continue;
        }
        match host
            .data_plane
            .ensure_actor(
                key,
                entry.digest.as_str(),
                &entry.module,
                entry.count(),
                crate::dataplane::records::actor_record(&entry),
            )
            .await
        {
            Ok(()) => tracing::info!(actor = key, "actor restored on the data plane"),
            Err(status) => {
                tracing::error!(actor = key, error = %status.message(), "could not restore actor on the data plane")
            }
        }
    }
    for entry in host.providers.all() {
        // A built-in provider runs here, not there.
        let Some(process) = entry.process() else {
            continue;
        };
        let running = inventory.providers.iter().any(|p| {
            p.provider == entry.key
                && p.link_name == entry.link_name
                && p.digest == process.digest.as_str()
        });
        // Refreshing also gives a running provider the current links.
        if let Err(status) = crate::control::providers::deploy::deploy(host, &entry, process).await
        {
            tracing::error!(provider = %entry.key, error = %status.message(), "could not restore provider on the data plane");
        } else if !running {
            tracing::info!(provider = %entry.key, link = %entry.link_name, "provider restored on the data plane");
        }
    }
    for running in &inventory.providers {
        if host
            .providers
            .get(&running.provider, &running.link_name)
            .is_none()
        {
            let _ = host
                .data_plane
                .stop_provider(&running.provider, &running.link_name)
                .await;
        }
    }
    for running in &inventory.actors {
        if host.actors.get(&running.actor).is_none() {
            let _ = host.data_plane.stop(&running.actor).await;
        }
    }
}
