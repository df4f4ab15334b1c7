//! Outbound host calls: an actor's `__host_call` that the data plane could not answer
//! itself, resolved to a target on the lattice, signed and sent.
//!
//! Resolution order is the wasmbus host's: a link definition for (actor, contract,
//! link name), then an actor public key, then a call alias. Provider targets arrive
//! with link definitions; until then only actor targets resolve.

use kiln_proto::dataplane::v1::{HostCallReply, HostCallRequest, host_call_reply};
use kiln_types::invocation::{Entity, Invocation, InvocationResponse};
use kiln_types::keys::KeyKind;

use crate::host::Shared;
use crate::subjects;

/// Answers one host call.
pub async fn answer(host: &Shared, request: HostCallRequest) -> HostCallReply {
    let id = request.id;
    let result = match call(host, request).await {
        Ok(payload) => host_call_reply::Result::Payload(payload),
        Err(error) => host_call_reply::Result::Error(error),
    };
    HostCallReply {
        id,
        result: Some(result),
    }
}

/// Resolves, signs and sends a host call; returns the target's response.
///
/// # Errors
/// Text for the guest's `__host_error`: what was missing, or what the target said.
pub async fn call(host: &Shared, request: HostCallRequest) -> Result<Vec<u8>, String> {
    if host.actors.get(&request.actor).is_none() {
        return Err(format!(
            "actor {} is not running on this host",
            request.actor
        ));
    }
    let target = resolve_actor(host, &request.namespace).ok_or_else(|| {
        format!(
            "invocation not authorized: missing link definition for {} on {}",
            request.namespace, host.config.lattice
        )
    })?;
    let invocation = Invocation::new_signed(
        &host.config.cluster_key,
        Entity::actor(&request.actor),
        Entity::actor(&target),
        request.operation,
        request.payload,
        kiln_types::unix_now(),
    )
    .map_err(|e| format!("could not sign the invocation: {e}"))?;
    let subject = subjects::actor_rpc(&host.config.lattice, &target);
    let message = host
        .rpc
        .request(subject, invocation.encode().into())
        .await
        .map_err(|e| match e.kind() {
            async_nats::RequestErrorKind::NoResponders => {
                format!("actor {target} is not running on the lattice")
            }
            async_nats::RequestErrorKind::TimedOut => format!("call to actor {target} timed out"),
            async_nats::RequestErrorKind::MaxPayloadExceeded => {
                format!(
                    "call to actor {target} failed: the payload is larger than the lattice allows"
                )
            }
            _ => format!("call to actor {target} failed: {e}"),
        })?;
    let response = InvocationResponse::decode(&message.payload)
        .map_err(|e| format!("bad response from actor {target}: {e}"))?;
    match response.error {
        Some(error) => Err(error),
        None => Ok(response.msg),
    }
}

/// An actor key as is, or the actor that claims `namespace` as its call alias.
fn resolve_actor(host: &Shared, namespace: &str) -> Option<String> {
    if KeyKind::of_public_key(namespace) == Some(KeyKind::Module) {
        Some(namespace.to_string())
    } else {
        host.actors.resolve_alias(namespace)
    }
}
