//! The `data` of each lattice event, with the field names of the wasmbus host.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use kiln_types::invocation::Entity;

use crate::state::actors::{Entry as ActorEntry, Instance};
use crate::state::providers::Entry as ProviderEntry;

/// `claims` of actor events.
#[must_use]
pub fn actor_claims(entry: &ActorEntry) -> Value {
    let claims = &entry.claims;
    let meta = entry.meta();
    json!({
        "call_alias": meta.call_alias.clone().unwrap_or_default(),
        "caps": meta.caps(),
        "issuer": claims.issuer,
        "tags": meta.tags.clone().unwrap_or_default(),
        "name": meta.name.clone().unwrap_or_default(),
        "version": meta.ver.clone().unwrap_or_default(),
        "revision": kiln_types::claims::revision(claims),
        "not_before_human": human_time(claims.not_before, "immediately"),
        "expires_human": human_time(claims.expires, "never"),
    })
}

/// `actor_started`, one per instance.
#[must_use]
pub fn actor_started(entry: &ActorEntry, instance: &Instance) -> Value {
    json!({
        "public_key": entry.key.as_str(),
        "image_ref": entry.image_ref,
        "api_version": "n/a",
        "instance_id": instance.id,
        "annotations": instance.annotations,
        "claims": actor_claims(entry),
    })
}

/// `actors_started`, one per start request.
#[must_use]
pub fn actors_started(
    host_id: &str,
    entry: &ActorEntry,
    annotations: &BTreeMap<String, String>,
    count: usize,
) -> Value {
    json!({
        "public_key": entry.key.as_str(),
        "image_ref": entry.image_ref,
        "annotations": annotations,
        "host_id": host_id,
        "claims": actor_claims(entry),
        "count": count,
    })
}

/// `actor_start_failed`.
#[must_use]
pub fn actor_start_failed(reference: &str, error: &str) -> Value {
    json!({ "actor_ref": reference, "error": error })
}

/// `actors_start_failed`, with the actor's key when the failure came after its claims
/// were read ("N/A" before, as on the OTP host).
#[must_use]
pub fn actors_start_failed(
    host_id: &str,
    key: Option<&str>,
    reference: &str,
    annotations: &BTreeMap<String, String>,
    error: &str,
) -> Value {
    json!({
        "public_key": key.unwrap_or("N/A"),
        "image_ref": reference,
        "annotations": annotations,
        "host_id": host_id,
        "error": error,
    })
}

/// `actor_stopped`, one per instance.
#[must_use]
pub fn actor_stopped(key: &str, instance: &Instance) -> Value {
    json!({
        "public_key": key,
        "instance_id": instance.id,
        "annotations": instance.annotations,
    })
}

/// `actors_stopped`, one per stop request.
#[must_use]
pub fn actors_stopped(
    host_id: &str,
    key: &str,
    count: usize,
    remaining: u32,
    annotations: &BTreeMap<String, String>,
) -> Value {
    json!({
        "host_id": host_id,
        "public_key": key,
        "count": count,
        "remaining": remaining,
        "annotations": annotations,
    })
}

/// `actor_updated` (with `reason`: `actor_update_failed`), one per instance.
#[must_use]
pub fn actor_updated(key: &str, revision: i64, instance: &str, reason: Option<&str>) -> Value {
    let mut data = json!({ "public_key": key, "revision": revision, "instance_id": instance });
    if let Some(reason) = reason {
        data["reason"] = reason.into();
    }
    data
}

/// `provider_started`.
#[must_use]
pub fn provider_started(entry: &ProviderEntry) -> Value {
    let claims = &entry.claims;
    let meta = claims.metadata.clone().unwrap_or_default();
    json!({
        "public_key": entry.key,
        "image_ref": entry.image_ref,
        "link_name": entry.link_name,
        "contract_id": entry.contract_id(),
        "instance_id": entry.instance_id,
        "annotations": entry.annotations,
        "claims": {
            "issuer": claims.issuer,
            "tags": "",
            "name": meta.name.unwrap_or_default(),
            "version": meta.ver.unwrap_or_default(),
            "not_before_human": human_time(claims.not_before, "immediately"),
            "expires_human": human_time(claims.expires, "never"),
        },
    })
}

/// `provider_start_failed`.
#[must_use]
pub fn provider_start_failed(reference: &str, link_name: &str, error: &str) -> Value {
    json!({ "provider_ref": reference, "link_name": link_name, "error": error })
}

/// `provider_stopped`.
#[must_use]
pub fn provider_stopped(entry: &ProviderEntry, reason: &str) -> Value {
    json!({
        "public_key": entry.key,
        "link_name": entry.link_name,
        "contract_id": entry.contract_id(),
        "instance_id": entry.instance_id,
        "annotations": entry.annotations,
        "reason": reason,
    })
}

/// `health_check_*`.
#[must_use]
pub fn health(entry: &ProviderEntry) -> Value {
    json!({
        "public_key": entry.key,
        "contract_id": entry.contract_id(),
        "link_name": entry.link_name,
    })
}

/// `refmap_set`.
#[must_use]
pub fn refmap_set(reference: &str, key: &str) -> Value {
    json!({ "oci_url": reference, "public_key": key })
}

/// A time as people read it, relative to now: "in 9 days", "2 hours ago"; `absent`
/// when there is none.
#[must_use]
pub fn human_time(at: Option<u64>, absent: &str) -> String {
    let Some(at) = at else {
        return absent.to_string();
    };
    let now = kiln_types::unix_now();
    let (seconds, future) = if at >= now {
        (at - now, true)
    } else {
        (now - at, false)
    };
    let span = human_span(seconds);
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// "3 days", "1 hour", "42 seconds".
#[must_use]
pub fn human_span(seconds: u64) -> String {
    let (amount, unit) = match seconds {
        s if s >= 86_400 => (s / 86_400, "day"),
        s if s >= 3_600 => (s / 3_600, "hour"),
        s if s >= 60 => (s / 60, "minute"),
        s => (s, "second"),
    };
    let plural = if amount == 1 { "" } else { "s" };
    format!("{amount} {unit}{plural}")
}

/// An entity in the data of invocation events.
#[derive(Debug, serde::Serialize)]
pub struct CallEntity<'a> {
    public_key: &'a str,
    contract_id: &'a str,
    link_name: &'a str,
}

impl<'a> From<&'a Entity> for CallEntity<'a> {
    fn from(entity: &'a Entity) -> CallEntity<'a> {
        CallEntity {
            public_key: &entity.public_key,
            contract_id: &entity.contract_id,
            link_name: &entity.link_name,
        }
    }
}

/// The data of `invocation_succeeded|failed`, borrowed: one is published per call.
#[derive(Debug, serde::Serialize)]
pub struct Call<'a> {
    source: CallEntity<'a>,
    dest: CallEntity<'a>,
    operation: &'a str,
    bytes: u64,
}

/// The data of the event of a call of `operation` from `origin` to `target` with a
/// payload of `bytes`.
#[must_use]
pub fn call<'a>(
    origin: &'a Entity,
    target: &'a Entity,
    operation: &'a str,
    bytes: u64,
) -> Call<'a> {
    Call {
        source: origin.into(),
        dest: target.into(),
        operation,
        bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_people_say_them() {
        assert_eq!(human_time(None, "never"), "never");
        let now = kiln_types::unix_now();
        assert_eq!(
            human_time(Some(now + 9 * 86_400 + 30), "never"),
            "in 9 days"
        );
        assert_eq!(human_time(Some(now - 3_700), "never"), "1 hour ago");
        assert_eq!(human_span(42), "42 seconds");
        assert_eq!(human_span(120), "2 minutes");
    }
}
