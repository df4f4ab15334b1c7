//! Calls from this host's built-in providers to its own actors. Nothing crosses the
//! lattice, so there is no signature to make or check: the control plane is the trust
//! boundary and the caller is part of it. The rest is as for an invocation from the
//! lattice: the actor's capability claim and the policy service are checked
//! ([`inbound::admit`]), and the call has its metrics and `invocation_*` event.

use kiln_types::invocation::Entity;

use super::inbound::{self, Refusal};
use crate::host::Shared;
use crate::lattice::events::data as eventdata;
use crate::state::actors::Entry;

/// Calls `operation` on `entry`, an actor of this host, for `origin`.
///
/// # Errors
/// A [`Refusal`]: the actor lacks the caller's contract in its claims, the policy
/// service said no, or the call failed.
pub async fn call(
    host: &Shared,
    origin: &Entity,
    entry: &Entry,
    operation: &str,
    payload: Vec<u8>,
) -> Result<Vec<u8>, Refusal> {
    let started = std::time::Instant::now();
    let bytes = payload.len() as u64;
    let actor = entry.key.as_ref();
    let target = Entity::actor(actor);
    let result = run(host, origin, entry, &target, operation, payload).await;
    let ok = result.is_ok();
    if let Err(refusal) = &result {
        tracing::warn!(actor, origin = %origin.public_key, operation, error = %refusal, "call failed");
    }
    host.metrics
        .invocation(actor, operation, ok, started.elapsed().as_secs_f64());
    host.events
        .publish_invocation(ok, &eventdata::call(origin, &target, operation, bytes));
    result
}

async fn run(
    host: &Shared,
    origin: &Entity,
    entry: &Entry,
    target: &Entity,
    operation: &str,
    payload: Vec<u8>,
) -> Result<Vec<u8>, Refusal> {
    inbound::admit(host, entry, origin, target).await?;
    let id = uuid::Uuid::new_v4().to_string();
    Ok(host
        .data_plane
        .invoke(&target.public_key, operation.to_string(), payload, id)
        .await?)
}
