//! Outbound host calls: an actor's `__host_call` that the data plane could not answer
//! itself, resolved to a target on the lattice, signed and sent.
//!
//! Resolution order is the wasmbus host's: a link definition for (actor, contract,
//! link name), then an actor public key, then a call alias. Provider targets arrive
//! with link definitions; until then only actor targets resolve.

use kiln_proto::dataplane::v1::{HostCallReply, HostCallRequest, host_call_reply};
use kiln_telemetry::TraceContext;
use kiln_types::invocation::Entity;
use kiln_types::keys::KeyKind;

use crate::host::Shared;
use crate::state::actors::Entry;
use kiln_wasmbus::subjects;

/// The control plane's server span of one host call, a child of the data plane's
/// client span named in the request.
pub fn span(request: &HostCallRequest) -> tracing::Span {
    use kiln_telemetry::spans;
    let span = spans::host_call(
        spans::Kind::Server,
        kiln_proto::dataplane::v1::host_calls_server::SERVICE_NAME,
        &request.namespace,
        &request.operation,
    );
    if !span.is_disabled() {
        spans::Domain {
            actor: Some(&request.actor),
            link: Some(kiln_types::link::name_or_default(&request.binding)),
            invocation: Some(&request.invocation_id),
            ..spans::Domain::default()
        }
        .record(&span);
        TraceContext::new(Some(&request.traceparent), Some(&request.tracestate))
            .set_as_parent_of(&span);
    }
    span
}

/// Answers one host call.
pub async fn answer(host: &Shared, request: HostCallRequest) -> HostCallReply {
    let id = request.id;
    let (actor, namespace, operation) = (
        request.actor.clone(),
        request.namespace.clone(),
        request.operation.clone(),
    );
    let result = match call(host, request).await {
        Ok(payload) => host_call_reply::Result::Payload(payload.into()),
        Err(error) => {
            tracing::error!(%actor, %namespace, %operation, %error, "host call failed");
            kiln_telemetry::record_error(&tracing::Span::current(), &error);
            host_call_reply::Result::Error(error)
        }
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
    let Some(caller) = host.actors.get(&request.actor) else {
        return Err(format!(
            "actor {} is not running on this host",
            request.actor
        ));
    };
    let (target, subject, name) = resolve(host, &caller, &request)?;
    let summary = serde_json::json!({
        "source": { "public_key": request.actor },
        "dest": {
            "public_key": target.public_key,
            "contract_id": target.contract_id,
            "link_name": target.link_name,
        },
        "operation": request.operation,
        "bytes": request.payload.len(),
    });
    let result = host
        .caller
        .call(
            Entity::actor(&request.actor),
            target,
            subject,
            &name,
            request.operation,
            request.payload.into(),
        )
        .await
        .map_err(|e| e.to_string());
    let operation = summary["operation"].as_str().unwrap_or_default();
    host.metrics
        .host_call(&request.actor, operation, result.is_ok());
    host.events.publish_invocation(result.is_ok(), &summary);
    result
}

/// The target entity, its subject and a name for errors. A provider target needs both a
/// link and the contract in the caller's claims; an actor target needs neither.
fn resolve(
    host: &Shared,
    caller: &Entry,
    request: &HostCallRequest,
) -> Result<(Entity, String, String), String> {
    let namespace = request.namespace.as_str();
    let link_name = kiln_types::link::name_or_default(&request.binding);
    let lattice = &host.config.lattice;
    let missing_claim =
        || format!("invocation not authorized: missing capability claim for {namespace}");
    if let Some(link) = host.links.find(&request.actor, namespace, link_name) {
        if !caller.meta().has_cap(namespace) {
            return Err(missing_claim());
        }
        let subject = subjects::provider_rpc(lattice, &link.provider_id, link_name);
        let name = format!(
            "provider {} ({namespace}, link {link_name})",
            link.provider_id
        );
        return Ok((
            Entity::provider(&link.provider_id, namespace, link_name),
            subject,
            name,
        ));
    }
    let actor = if KeyKind::of_public_key(namespace) == Some(KeyKind::Module) {
        Some(namespace.to_string())
    } else {
        host.claims.resolve_alias(namespace)
    };
    match actor {
        Some(key) => Ok((
            Entity::actor(&key),
            subjects::actor_rpc(lattice, &key),
            format!("actor {key}"),
        )),
        // A contract the actor does not even claim: that is the more useful error.
        None if namespace.contains(':') && !caller.meta().has_cap(namespace) => {
            Err(missing_claim())
        }
        None => Err(format!(
            "invocation not authorized: missing link definition for {namespace} (link {link_name}) on {lattice}"
        )),
    }
}
