//! From the control interface's JSON shapes (which this host and every other wasmbus
//! host answer in) to the API's messages, so local and remote answers take one path.

use std::collections::HashMap;

use kiln_proto::control::v1 as pb;
use serde_json::Value;

use crate::state::claims::StoredClaims;

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn map(value: &Value) -> HashMap<String, String> {
    value
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default()
}

/// An inventory (`get.{host}.inv` JSON).
#[must_use]
pub fn inventory(json: &Value) -> pb::Inventory {
    let list = |key: &str| json[key].as_array().cloned().unwrap_or_default();
    pb::Inventory {
        host_id: text(&json["host_id"]),
        friendly_name: text(&json["friendly_name"]),
        labels: map(&json["labels"]),
        actors: list("actors")
            .iter()
            .map(|a| pb::ActorSummary {
                id: text(&a["id"]),
                name: text(&a["name"]),
                image_ref: text(&a["image_ref"]),
                instances: a["instances"]
                    .as_array()
                    .map(|all| {
                        all.iter()
                            .map(|i| pb::ActorInstance {
                                instance_id: text(&i["instance_id"]),
                                revision: i["revision"].as_i64().unwrap_or_default(),
                                annotations: map(&i["annotations"]),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect(),
        providers: list("providers")
            .iter()
            .map(|p| pb::ProviderSummary {
                id: text(&p["id"]),
                name: text(&p["name"]),
                image_ref: text(&p["image_ref"]),
                contract_id: text(&p["contract_id"]),
                link_name: text(&p["link_name"]),
                instance_id: text(&p["instance_id"]),
                revision: p["revision"].as_i64().unwrap_or_default(),
                annotations: map(&p["annotations"]),
            })
            .collect(),
    }
}

/// A host (`ping.hosts` JSON).
#[must_use]
pub fn host(json: &Value) -> pb::Host {
    pb::Host {
        id: text(&json["id"]),
        friendly_name: text(&json["friendly_name"]),
        labels: map(&json["labels"]),
        uptime_seconds: json["uptime_seconds"].as_u64().unwrap_or_default(),
        version: text(&json["version"]),
        lattice: text(&json["lattice_prefix"]),
        cluster_issuers: split(&text(&json["cluster_issuers"])),
    }
}

fn split(joined: &str) -> Vec<String> {
    joined
        .split(',')
        .filter(|s| !s.is_empty())
        .map(ToString::to_string)
        .collect()
}

/// Claims of the lattice cache.
#[must_use]
pub fn claims(stored: &StoredClaims) -> pb::Claims {
    pb::Claims {
        subject: stored.sub.clone(),
        issuer: stored.iss.clone(),
        name: stored.name.clone(),
        capabilities: split(&stored.caps),
        contract_id: stored.contract_id.clone(),
        revision: stored.revision(),
        version: stored.version.clone(),
        call_alias: stored.call_alias.clone(),
        tags: split(&stored.tags),
    }
}

/// A link definition.
#[must_use]
pub fn link(link: &kiln_types::link::LinkDefinition) -> pb::Link {
    pb::Link {
        id: link.id.clone(),
        actor_id: link.actor_id.clone(),
        provider_id: link.provider_id.clone(),
        contract_id: link.contract_id.clone(),
        link_name: link.link_name.clone(),
        values: link.values.clone(),
    }
}

/// A lattice event (CloudEvents JSON), or nothing when it is not one.
#[must_use]
pub fn event(json: &Value) -> Option<pb::Event> {
    let kind = json["type"]
        .as_str()?
        .strip_prefix(crate::lattice::events::TYPE_PREFIX)?
        .to_string();
    let time = json["time"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| prost_types::Timestamp {
            seconds: t.timestamp(),
            nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or_default(),
        });
    Some(pb::Event {
        id: text(&json["id"]),
        r#type: kind,
        source: text(&json["source"]),
        time,
        data: Some(structure(&json["data"])),
    })
}

/// JSON as a protobuf `Struct` (a non-object becomes `{"value": …}`).
#[must_use]
pub fn structure(json: &Value) -> prost_types::Struct {
    match json {
        Value::Object(fields) => prost_types::Struct {
            fields: fields.iter().map(|(k, v)| (k.clone(), value(v))).collect(),
        },
        other => prost_types::Struct {
            fields: [("value".to_string(), value(other))].into(),
        },
    }
}

fn value(json: &Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match json {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(value).collect(),
        }),
        Value::Object(_) => Kind::StructValue(structure(json)),
    };
    prost_types::Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_their_envelope_and_data() {
        let json = serde_json::json!({
            "specversion": "1.0", "id": "abc", "type": "com.wasmcloud.lattice.actor_started",
            "source": "NHOST", "time": "2026-11-24T10:00:00.5Z",
            "data": {"public_key": "MA", "count": 2, "claims": {"caps": ["x"]}},
        });
        let event = event(&json).unwrap();
        assert_eq!(event.r#type, "actor_started");
        assert_eq!(event.source, "NHOST");
        assert_eq!(event.time.unwrap().nanos, 500_000_000);
        let data = event.data.unwrap();
        assert_eq!(
            data.fields["public_key"].kind,
            Some(prost_types::value::Kind::StringValue("MA".into()))
        );
        assert_eq!(
            data.fields["count"].kind,
            Some(prost_types::value::Kind::NumberValue(2.0))
        );
        assert!(super::event(&serde_json::json!({"type": "other"})).is_none());
    }

    #[test]
    fn inventories_and_hosts_read_the_wasmbus_json() {
        let inventory = inventory(&serde_json::json!({
            "host_id": "NH", "friendly_name": "x", "labels": {"zone": "a"},
            "actors": [{"id": "MA", "name": "echo", "image_ref": "r",
                "instances": [{"instance_id": "i", "revision": 3, "annotations": {"k": "v"}}]}],
            "providers": [{"id": "VP", "contract_id": "wasmcloud:keyvalue", "link_name": "default"}],
        }));
        assert_eq!(inventory.actors[0].instances[0].revision, 3);
        assert_eq!(inventory.providers[0].contract_id, "wasmcloud:keyvalue");
        let host = host(
            &serde_json::json!({"id": "NH", "cluster_issuers": "CA,CB", "lattice_prefix": "l"}),
        );
        assert_eq!(host.cluster_issuers, vec!["CA", "CB"]);
        assert_eq!(host.lattice, "l");
    }
}
