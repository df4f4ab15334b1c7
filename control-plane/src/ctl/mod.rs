//! The NATS control interface, `{ctl}.{lattice}.…` with JSON bodies, as the wasmbus host
//! serves it: which host answers which subject (every host, one host of the queue
//! group, or the host named in the subject) and the reply shapes are the same, so
//! `wash` and the `wasmcloud-control-interface` crate drive this host unchanged.
//!
//! Every command goes through the control service ([`crate::control`]).

mod host;
mod lattice;

pub use host::inventory;

use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use tracing::Instrument as _;

use crate::host::Shared;
use crate::subjects;

/// Control requests handled at once at most (launches running in the background
/// included); past it a request is answered "busy" at once.
pub const CTL_IN_FLIGHT: usize = 256;

/// The common reply.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ack {
    /// Whether the command was accepted.
    pub accepted: bool,
    /// Why not; empty on success.
    pub error: String,
}

impl Ack {
    fn ok() -> Ack {
        Ack {
            accepted: true,
            error: String::new(),
        }
    }

    fn failed(error: impl ToString) -> Ack {
        Ack {
            accepted: false,
            error: error.to_string(),
        }
    }

    fn of<E: ToString>(result: Result<impl Sized, E>) -> Ack {
        match result {
            Ok(_) => Ack::ok(),
            Err(error) => Ack::failed(error),
        }
    }
}

/// Serves the control subjects of this host until shutdown.
///
/// # Errors
/// When NATS refuses a subscription.
pub async fn serve(host: Shared) -> anyhow::Result<()> {
    let config = &host.config;
    let (prefix, lattice) = (config.ctl_prefix.as_str(), config.lattice.as_str());
    let subject = |rest: &str| subjects::ctl(prefix, lattice, rest);
    let group = subjects::ctl_root(prefix, lattice);
    let host_id = config.host_id();
    let client = &host.ctl;
    let subscriptions = vec![
        // Every host answers these.
        client.subscribe(subject("ping.hosts")).await?,
        client.subscribe(subject("registries.put")).await?,
        client.subscribe(subject("auction.>")).await?,
        // One host of the lattice answers these.
        client
            .queue_subscribe(subject("get.*"), group.clone())
            .await?,
        client.queue_subscribe(subject("linkdefs.*"), group).await?,
        // Only this host.
        client
            .subscribe(subject(&format!("cmd.{host_id}.*")))
            .await?,
        client
            .subscribe(subject(&format!("get.{host_id}.inv")))
            .await?,
    ];
    kiln_wasmbus::roundtrip::server_has_read(client).await?;
    let mut messages = futures::stream::select_all(subscriptions);
    let root = format!("{}.", subjects::ctl_root(prefix, lattice));
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
        let root = root.clone();
        host.tasks.spawn(
            async move {
                let rest = message
                    .subject
                    .strip_prefix(root.as_str())
                    .unwrap_or_default()
                    .to_string();
                let work_host = task_host.clone();
                let work = task_host.tasks.spawn(
                    async move {
                        let body = dispatch(&work_host, &rest, &message.payload).await;
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
async fn dispatch(host: &Shared, rest: &str, payload: &[u8]) -> Option<Vec<u8>> {
    let parts: Vec<&str> = rest.split('.').collect();
    let reply = match parts.as_slice() {
        ["ping", "hosts"] => json(&lattice::ping(host)),
        ["get", "claims"] => json(&lattice::claims(host)),
        ["get", "links"] => json(&lattice::links(host)),
        ["get", _, "inv"] => json(&host::inventory(host)),
        ["linkdefs", "put"] => json(&lattice::put_link(host, payload).await),
        ["linkdefs", "del"] => json(&lattice::delete_link(host, payload).await),
        ["registries", "put"] => json(&lattice::put_registries(host, payload)),
        ["auction", "actor"] => return lattice::auction_actor(host, payload),
        ["auction", "provider"] => return lattice::auction_provider(host, payload),
        ["cmd", _, command] => json(&host::command(host, command, payload).await),
        _ => json(&Ack::failed(format!("unknown control subject {rest:?}"))),
    };
    Some(reply)
}

/// Parses a JSON request, bounded in size, depth and field lengths; a failure ack
/// that says what is wrong otherwise.
fn parse<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, Ack> {
    kiln_types::ctl::parse(payload).map_err(|e| Ack::failed(format!("invalid request: {e}")))
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("invariant: control replies always serialise")
}
