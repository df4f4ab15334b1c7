//! Serving the control subjects: one task per request, bounded in number and time.

use futures::StreamExt as _;
use kiln_types::ctl::Ack;
use kiln_wasmbus::subjects;
use tracing::Instrument as _;

use super::bounds::CTL_IN_FLIGHT;
use super::reply::json;
use super::{host_commands, lattice_requests};
use crate::host::Shared;

/// Serves the control subjects of this host until shutdown.
///
/// # Errors
/// When NATS refuses a subscription.
pub async fn serve(host: Shared) -> anyhow::Result<()> {
    let config = &host.config;
    let ctl = subjects::Ctl::new(&config.ctl_prefix, &config.lattice);
    let client = &host.ctl;
    let mut subscriptions = Vec::new();
    for (subject, sharing) in ctl.host_subscriptions(&config.host_id())? {
        subscriptions.push(match sharing {
            subjects::Sharing::Every => client.subscribe(subject).await?,
            subjects::Sharing::One => {
                client
                    .queue_subscribe(subject, ctl.root().to_string())
                    .await?
            }
        });
    }
    kiln_wasmbus::roundtrip::server_has_read(client).await?;
    let mut messages = futures::stream::select_all(subscriptions);
    loop {
        let message = tokio::select! {
            () = host.shutdown.cancelled() => return Ok(()),
            message = messages.next() => match message {
                Some(message) => message,
                None => return Ok(()),
            },
        };
        let Some(reply) = message.reply.clone() else {
            continue;
        };
        // Each request is its own task, bounded in number and in time: a slow or
        // heavy request never holds up the others on a subject.
        let Ok(slot) = host.ctl_slots.clone().try_acquire_owned() else {
            let busy = Ack::failed(format!(
                "control interface busy: {CTL_IN_FLIGHT} requests already in progress on this host; try again later"
            ));
            if let Err(error) = host.ctl.publish(reply, json(&busy).into()).await {
                tracing::warn!(%error, "could not answer control request");
            }
            continue;
        };
        let task_host = host.clone();
        let span = tracing::info_span!("ctl", subject = %message.subject);
        let ctl = ctl.clone();
        host.tasks.spawn(
            async move {
                let work_host = task_host.clone();
                let work = task_host.tasks.spawn(
                    async move {
                        let body = dispatch(&work_host, &ctl, &message).await;
                        drop(slot);
                        body
                    }
                    .in_current_span(),
                );
                let timeout = task_host.config.ctl_timeout;
                let body = match tokio::time::timeout(timeout, work).await {
                    Ok(Ok(Some(body))) => body,
                    Ok(Ok(None)) => return,
                    Ok(Err(error)) => {
                        tracing::error!(%error, "control request failed");
                        json(&Ack::failed("the control request failed on this host"))
                    }
                    Err(_) => {
                        tracing::warn!(?timeout, "control request still running at its deadline");
                        json(&Ack::failed(format!(
                            "the control request did not finish within {} ms (KILN_CP_CTL_TIMEOUT_MS); it may still complete: watch the lattice events",
                            timeout.as_millis()
                        )))
                    }
                };
                if let Err(error) = task_host.ctl.publish(reply, body.into()).await {
                    tracing::warn!(%error, "could not answer control request");
                }
            }
            .instrument(span),
        );
    }
}

/// The reply to one control request, or none (an auction this host does not bid on).
async fn dispatch(
    host: &Shared,
    ctl: &subjects::Ctl,
    message: &async_nats::Message,
) -> Option<Vec<u8>> {
    use subjects::CtlSubject as S;
    let payload = &message.payload;
    let Some(which) = ctl.parse(&message.subject) else {
        return Some(json(&Ack::failed(format!(
            "unknown control subject {:?}",
            message.subject.as_str()
        ))));
    };
    let reply = match which {
        S::PingHosts => json(&lattice_requests::ping(host)),
        S::Claims => json(&lattice_requests::claims(&host.claims)),
        S::Links => json(&lattice_requests::links(&host.links)),
        S::Inventory(_) => json(&crate::control::inventory::of(host)),
        S::LinkPut => json(&lattice_requests::put_link(host, payload).await),
        S::LinkDel => json(&lattice_requests::delete_link(host, payload).await),
        S::RegistriesPut => json(&lattice_requests::put_registries(
            &host.registry_credentials,
            payload,
        )),
        S::ActorAuction => return lattice_requests::auction_actor(&host.config, payload),
        S::ProviderAuction => return lattice_requests::auction_provider(host, payload),
        S::Command(_, command) => json(&host_commands::command(host, command, payload).await),
    };
    Some(reply)
}
