//! Inbound invocations: one queue subscription per actor on
//! `wasmbus.rpc.{lattice}.{actor}`, anti-forgery checks, then the data plane.
//!
//! Every refusal is answered with an `InvocationResponse` whose error says what failed;
//! nothing that fails a check reaches wasm.

use futures::StreamExt as _;
use kiln_types::invocation::{Entity, ForgeryError, Invocation, InvocationResponse};
use tracing::Instrument as _;

use crate::dataplane::link::InvokeFailure;
use crate::host::Shared;
use crate::lattice::events::data as eventdata;
use crate::state::actors::Entry as ActorEntry;
use kiln_wasmbus::subjects;

/// Largest response gathered with others: far below any lattice's maximum payload
/// (NATS's default is 1 MiB), so a gathered response is never refused for its size.
const GATHERED_BYTES: usize = 16 << 10;

/// Why an invocation was not run.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Refused before anything was done for it (decoding, target, signature,
    /// clocks, replays).
    #[error(transparent)]
    Refused(#[from] kiln_types::inbound::Refused),
    /// The payload is not what was signed.
    #[error("anti-forgery check failed: {0}")]
    Forgery(#[from] ForgeryError),
    /// The actor stopped.
    #[error("invocation received for actor {0} that is not running on this host")]
    NotRunning(String),
    /// The caller's contract is not in the actor's caps.
    #[error(
        "actor {actor} does not have the capability claim {contract} needed to receive calls from {origin}"
    )]
    MissingCapability {
        /// Receiving actor.
        actor: String,
        /// The caller's contract.
        contract: String,
        /// The caller's key.
        origin: String,
    },
    /// A chunked payload could not be fetched.
    #[error(transparent)]
    Chunk(#[from] kiln_wasmbus::chunks::ChunkError),
    /// The policy service said no (or did not answer).
    #[error("denied by policy: {0}")]
    Denied(String),
    /// The call failed in the data plane.
    #[error(transparent)]
    Failed(#[from] InvokeFailure),
}

/// Starts serving `actor` on the lattice, unless already serving. Returns once the NATS
/// server has registered the subscription, so a call sent after it returns arrives.
///
/// # Errors
/// When NATS refuses the subscription.
pub async fn subscribe(host: &Shared, actor: &str) -> anyhow::Result<()> {
    if let Some(listening) = listen(host, actor).await? {
        listening.serve(host, actor);
    }
    Ok(())
}

/// An actor's lattice subscription, registered with the NATS server but not served yet:
/// calls that come meanwhile wait in it. A start subscribes while the data plane brings
/// the actor up, and serves once it is up ([`Listening::serve`]) or answers what came
/// with the failure ([`Listening::refuse`]).
pub struct Listening {
    subscriber: async_nats::Subscriber,
    subject: String,
}

/// Subscribes for `actor`, unless it is served already (`None`). Returns once the NATS
/// server has registered the subscription.
///
/// # Errors
/// When NATS refuses the subscription.
pub async fn listen(host: &Shared, actor: &str) -> anyhow::Result<Option<Listening>> {
    if host.subscriptions.is_live(actor) {
        return Ok(None);
    }
    let subject = subjects::actor_rpc(&host.config.lattice, actor);
    let subscriber = host
        .rpc
        .queue_subscribe(subject.clone(), subject.clone())
        .await?;
    kiln_wasmbus::roundtrip::server_has_read(&host.rpc).await?;
    Ok(Some(Listening {
        subscriber,
        subject,
    }))
}

impl Listening {
    /// Serves the calls, those that came already first.
    pub fn serve(self, host: &Shared, actor: &str) {
        let Listening {
            mut subscriber,
            subject,
        } = self;
        let stop = host.shutdown.child_token();
        host.subscriptions.set_live(actor, stop.clone());
        let task_host = host.clone();
        let actor = actor.to_string();
        let bound = host.subscriptions.actor_bound();
        host.tasks.spawn(
            async move {
                loop {
                    tokio::select! {
                        () = stop.cancelled() => break,
                        message = subscriber.next() => {
                            let Some(message) = message else { break };
                            // Past the bounds the call is answered at once, so overload
                            // costs a reply, not a task and its memory.
                            let permits = match task_host.subscriptions.admit(&bound, message.payload.len()) {
                                Ok(permits) => permits,
                                Err(busy) => {
                                    refuse_busy(&task_host, &actor, message, busy).await;
                                    continue;
                                }
                            };
                            let host = task_host.clone();
                            let actor = actor.clone();
                            let span = invocation_span(&actor, &message);
                            task_host.calls.spawn(
                                async move {
                                    answer(&host, &actor, message).await;
                                    drop(permits);
                                }
                                .instrument(span),
                            );
                        }
                    }
                }
                let _ = subscriber.unsubscribe().await;
            }
            .instrument(tracing::info_span!("actor_rpc", %subject)),
        );
    }

    /// Ends the subscription and answers each call that came with `reason`: without an
    /// answer its caller would wait out its timeout.
    pub async fn refuse(mut self, host: &Shared, actor: &str, reason: &str) {
        let _ = self.subscriber.unsubscribe().await;
        // Closed, the subscription still gives what it holds, then ends.
        while let Some(message) = self.subscriber.next().await {
            fail(
                host,
                actor,
                message,
                format!("actor {actor} did not start: {reason}"),
            )
            .await;
        }
    }
}

/// Answers a call that found no place with a "busy" error.
async fn refuse_busy(host: &Shared, actor: &str, message: async_nats::Message, busy: String) {
    tracing::debug!(actor, "{busy}");
    host.metrics.busy(actor);
    fail(host, actor, message, busy).await;
}

/// Answers a call that is not run with `error` (under the invocation's id, when its
/// bytes are one).
async fn fail(host: &Shared, actor: &str, message: async_nats::Message, error: String) {
    let Some(reply) = message.reply else {
        return;
    };
    let id = Invocation::decode(&message.payload)
        .map(|invocation| invocation.id)
        .unwrap_or_default();
    let response = InvocationResponse::failure(id, error);
    if let Err(error) = host.rpc.publish(reply, response.encode().into()).await {
        tracing::debug!(actor, %error, "could not answer a call that was not run");
    }
}

/// The server span of one inbound invocation, a child of the caller's span when the
/// message's headers name one (a provider, another host, wasmbus-rpc), else a root.
fn invocation_span(actor: &str, message: &async_nats::Message) -> tracing::Span {
    let span = kiln_telemetry::spans::nats_message(&message.subject);
    kiln_telemetry::spans::Domain {
        actor: Some(actor),
        ..kiln_telemetry::spans::Domain::default()
    }
    .record(&span);
    kiln_wasmbus::tracecontext::set_parent(&span, message.headers.as_ref());
    span
}

fn record_failure(error: &str) {
    kiln_telemetry::record_error(&tracing::Span::current(), error);
}

/// What the metrics and the event of one call say, recorded after its reply so they
/// cost the caller nothing.
#[allow(
    clippy::large_enum_variant,
    reason = "one lives on the stack per call and is never stored; boxing would allocate per call"
)]
enum Outcome {
    /// Bytes that are no invocation.
    Undecodable(usize),
    /// An invocation that was checked and (unless refused) run; its payload was handed
    /// on, `bytes` says how large it was.
    Ran {
        invocation: Invocation,
        bytes: u64,
        ok: bool,
        /// Whether its signature was checked, so its operation may be a metric label.
        checked: bool,
    },
}

impl Outcome {
    fn record(self, host: &Shared, actor: &str, seconds: f64) {
        match self {
            Outcome::Undecodable(bytes) => {
                host.metrics.invocation(actor, "", false, seconds);
                host.events
                    .publish_invocation(false, &undecodable_event(actor, bytes));
            }
            Outcome::Ran {
                invocation,
                bytes,
                ok,
                checked,
            } => {
                // The operation of a call refused before its signature was checked is
                // the sender's word: it is not a label (labels must stay few).
                let label = if checked {
                    invocation.operation.as_str()
                } else {
                    ""
                };
                host.metrics.invocation(actor, label, ok, seconds);
                host.events
                    .publish_invocation(ok, &invocation_event(&invocation, bytes));
            }
        }
    }
}

async fn answer(host: &Shared, actor: &str, message: async_nats::Message) {
    let Some(reply) = message.reply else {
        tracing::debug!(actor, "invocation without a reply subject dropped");
        return;
    };
    let started = std::time::Instant::now();
    let (response, outcome) = respond(host, actor, &message.payload).await;
    publish(host, actor, reply, response).await;
    outcome.record(host, actor, started.elapsed().as_secs_f64());
}

/// The response to the bytes of one call, and what to record about it.
async fn respond(host: &Shared, actor: &str, payload: &[u8]) -> (InvocationResponse, Outcome) {
    let mut invocation = match Invocation::decode(payload) {
        Ok(invocation) => invocation,
        Err(error) => {
            tracing::warn!(actor, %error, "refused invocation");
            record_failure(&error.to_string());
            let response = InvocationResponse::failure("", error.to_string());
            return (response, Outcome::Undecodable(payload.len()));
        }
    };
    kiln_telemetry::spans::Domain {
        origin: Some(&invocation.origin.public_key),
        operation: Some(&invocation.operation),
        invocation: Some(&invocation.id),
        ..kiln_telemetry::spans::Domain::default()
    }
    .record(&tracing::Span::current());
    let bytes = invocation
        .content_length
        .unwrap_or(invocation.msg.len() as u64);
    let result = run(host, actor, &mut invocation).await;
    let checked = !matches!(&result, Err(Refusal::Refused(_) | Refusal::Forgery(_)));
    let ok = result.is_ok();
    let response = match result {
        // Large answers go through the object store.
        Ok(payload) => {
            kiln_wasmbus::rpc::respond(host.chunks.as_ref(), &invocation.id, Ok(payload)).await
        }
        Err(refusal) => {
            tracing::warn!(actor, invocation = %invocation.id, operation = %invocation.operation, error = %refusal, "invocation failed");
            record_failure(&refusal.to_string());
            InvocationResponse::failure(invocation.id.clone(), refusal.to_string())
        }
    };
    let outcome = Outcome::Ran {
        invocation,
        bytes,
        ok,
        checked,
    };
    (response, outcome)
}

/// Publishes `response` to `reply`. While other calls are in flight a small one is
/// gathered with theirs into one write ([`crate::lattice::gather`]); alone it goes out
/// at once. One too large for the lattice is replaced by a failure that says so, since
/// without an answer the caller would wait out its timeout.
async fn publish(
    host: &Shared,
    actor: &str,
    reply: async_nats::Subject,
    response: InvocationResponse,
) {
    let bytes = response.encode();
    let size = bytes.len();
    // This call's own places count as one.
    if size <= GATHERED_BYTES && host.subscriptions.in_flight() > 1 {
        host.replies.later(reply, bytes.into());
        return;
    }
    match host.rpc.publish(reply.clone(), bytes.into()).await {
        Ok(()) => {}
        Err(error) if error.kind() == async_nats::client::PublishErrorKind::MaxPayloadExceeded => {
            let message = format!(
                "response of {size} bytes exceeds the lattice's maximum payload of {} bytes",
                host.rpc.server_info().max_payload
            );
            tracing::warn!(actor, "{message}");
            let failure = InvocationResponse::failure(response.invocation_id, message);
            if let Err(error) = host.rpc.publish(reply, failure.encode().into()).await {
                tracing::warn!(actor, %error, "could not publish invocation response");
            }
        }
        Err(error) => tracing::warn!(actor, %error, "could not publish invocation response"),
    }
}

/// The data of `invocation_failed` for bytes that are no invocation.
fn undecodable_event(actor: &str, bytes: usize) -> serde_json::Value {
    serde_json::json!({
        "source": { "public_key": "", "contract_id": "", "link_name": "" },
        "dest": { "public_key": actor, "contract_id": "", "link_name": "" },
        "operation": "",
        "bytes": bytes,
    })
}

/// The data of `invocation_succeeded|failed`, for a payload of `bytes`.
#[must_use]
pub fn invocation_event(invocation: &Invocation, bytes: u64) -> eventdata::Call<'_> {
    eventdata::call(
        &invocation.origin,
        &invocation.target,
        &invocation.operation,
        bytes,
    )
}

/// What every call to `entry`, an actor of this host, passes, wherever it comes from: a
/// provider caller's contract is in its claims, and the policy service (when there is
/// one) allows it.
///
/// # Errors
/// [`Refusal::MissingCapability`] or [`Refusal::Denied`].
pub async fn admit(
    host: &Shared,
    entry: &ActorEntry,
    origin: &Entity,
    target: &Entity,
) -> Result<(), Refusal> {
    if !origin.is_actor() && !entry.meta().has_cap(&origin.contract_id) {
        return Err(Refusal::MissingCapability {
            actor: entry.key.to_string(),
            contract: origin.contract_id.clone(),
            origin: origin.public_key.clone(),
        });
    }
    if let Some(policy) = &host.policy {
        policy
            .allow_invocation(&host.claims, origin, target)
            .await
            .map_err(Refusal::Denied)?;
    }
    Ok(())
}

/// Checks `invocation` and runs it on `actor`.
///
/// # Errors
/// A [`Refusal`].
pub async fn run(
    host: &Shared,
    actor: &str,
    invocation: &mut Invocation,
) -> Result<Vec<u8>, Refusal> {
    let (claims, signature) = kiln_types::inbound::unchecked(invocation, actor, &host.issuers)?;
    host.signatures
        .verify(signature)
        .await
        .map_err(|bad| ForgeryError::Token(bad.into()))?;
    let claims =
        kiln_types::inbound::checked(invocation, claims, &host.replay, kiln_types::unix_now())?;
    // A chunked payload is fetched first, then hashed whole: the signature covers it all.
    kiln_wasmbus::rpc::whole_request(host.chunks.as_ref(), invocation, host.config.chunk_limit)
        .await?;
    invocation.check_hash(&claims, &invocation.msg)?;
    let entry = host
        .actors
        .get(actor)
        .ok_or_else(|| Refusal::NotRunning(actor.to_string()))?;
    admit(host, &entry, &invocation.origin, &invocation.target).await?;
    // The payload is handed on, not copied; the rest stays for the event.
    let payload = std::mem::take(&mut invocation.msg);
    Ok(host
        .data_plane
        .invoke(
            actor,
            invocation.operation.clone(),
            payload,
            invocation.id.clone(),
        )
        .await?)
}
