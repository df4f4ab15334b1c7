//! Lattice events: CloudEvents 1.0 in structured JSON on `wasmbus.evt.{lattice}`, and
//! invocation results on `wasmbus.rpcevt.{lattice}`, with the types and data fields of
//! the wasmbus host. Local watchers (the gRPC API) follow the same NATS subject.

pub mod data;

use cloudevents::{Event, EventBuilder as _, EventBuilderV10};
use serde_json::Value;
use tokio_util::task::TaskTracker;

use crate::lattice::gather::Gather;

/// Prefix of every event type.
pub const TYPE_PREFIX: &str = "com.wasmcloud.lattice.";

/// The event types, by their suffix after [`TYPE_PREFIX`].
pub mod kind {
    pub const HOST_STARTED: &str = "host_started";
    pub const HOST_STOPPED: &str = "host_stopped";
    pub const HOST_HEARTBEAT: &str = "host_heartbeat";
    pub const ACTOR_STARTED: &str = "actor_started";
    pub const ACTORS_STARTED: &str = "actors_started";
    pub const ACTOR_START_FAILED: &str = "actor_start_failed";
    pub const ACTORS_START_FAILED: &str = "actors_start_failed";
    pub const ACTOR_STOPPED: &str = "actor_stopped";
    pub const ACTORS_STOPPED: &str = "actors_stopped";
    pub const ACTOR_UPDATED: &str = "actor_updated";
    pub const ACTOR_UPDATE_FAILED: &str = "actor_update_failed";
    pub const PROVIDER_STARTED: &str = "provider_started";
    pub const PROVIDER_START_FAILED: &str = "provider_start_failed";
    pub const PROVIDER_STOPPED: &str = "provider_stopped";
    pub const HEALTH_CHECK_PASSED: &str = "health_check_passed";
    pub const HEALTH_CHECK_FAILED: &str = "health_check_failed";
    pub const HEALTH_CHECK_STATUS: &str = "health_check_status";
    pub const LINKDEF_SET: &str = "linkdef_set";
    pub const LINKDEF_DELETED: &str = "linkdef_deleted";
    pub const REFMAP_SET: &str = "refmap_set";
    pub const INVOCATION_SUCCEEDED: &str = "invocation_succeeded";
    pub const INVOCATION_FAILED: &str = "invocation_failed";
}

/// Publishes this host's events.
pub struct Events {
    client: async_nats::Client,
    subject: String,
    rpc_subject: async_nats::Subject,
    /// The invocation events, gathered (on `client`).
    rpc: Gather,
    source: String,
    /// The full types of the invocation events, made once.
    succeeded_type: String,
    failed_type: String,
}

impl Events {
    /// Events of `host_id` on `lattice`, sent through `client`; the invocation events
    /// are gathered by tasks on `calls`.
    #[must_use]
    pub fn new(
        client: async_nats::Client,
        lattice: &str,
        host_id: &str,
        calls: &TaskTracker,
    ) -> Events {
        Events {
            rpc: Gather::new(client.clone(), calls.clone()),
            client,
            subject: kiln_wasmbus::subjects::events(lattice),
            rpc_subject: kiln_wasmbus::subjects::rpc_events(lattice).into(),
            source: host_id.to_string(),
            succeeded_type: format!("{TYPE_PREFIX}{}", kind::INVOCATION_SUCCEEDED),
            failed_type: format!("{TYPE_PREFIX}{}", kind::INVOCATION_FAILED),
        }
    }

    /// The lattice event subject.
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Publishes a lattice event of type `kind` (a [`kind`] constant).
    pub async fn publish(&self, kind: &str, data: Value) {
        self.send(self.subject.clone(), kind, data).await;
    }

    /// Publishes an invocation result on the RPC event subject. One goes out per call,
    /// so it is serialised straight from borrowed parts ([`Invocation`]), not built as a
    /// `Value` through the CloudEvents builder; the JSON is the same (a test holds them
    /// equal).
    pub fn publish_invocation(&self, succeeded: bool, data: &impl serde::Serialize) {
        let ty = if succeeded {
            &self.succeeded_type
        } else {
            &self.failed_type
        };
        match serde_json::to_vec(&Invocation::new(ty, &self.source, data)) {
            // After the reply, so it waits for the others of its moment.
            Ok(json) => self.rpc.later(self.rpc_subject.clone(), json.into()),
            Err(error) => tracing::error!(kind = ty, %error, "could not encode an event"),
        }
    }

    async fn send(&self, subject: String, kind: &str, data: Value) {
        let event = match build(&self.source, kind, data) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(kind, %error, "could not build an event");
                return;
            }
        };
        match serde_json::to_vec(&event) {
            Ok(json) => {
                if let Err(error) = self.client.publish(subject, json.into()).await {
                    tracing::warn!(kind, %error, "could not publish an event");
                }
            }
            Err(error) => tracing::error!(kind, %error, "could not encode an event"),
        }
    }
}

/// An invocation event in CloudEvents' structured JSON, its fields in the order the
/// CloudEvents SDK writes them.
#[derive(serde::Serialize)]
struct Invocation<'a, D> {
    specversion: &'static str,
    id: String,
    #[serde(rename = "type")]
    ty: &'a str,
    source: &'a str,
    datacontenttype: &'static str,
    time: String,
    data: &'a D,
}

impl<'a, D> Invocation<'a, D> {
    /// An event of the full type `ty` from `source`, with a new id and the time now.
    fn new(ty: &'a str, source: &'a str, data: &'a D) -> Invocation<'a, D> {
        Invocation {
            specversion: "1.0",
            id: uuid::Uuid::new_v4().to_string(),
            ty,
            source,
            datacontenttype: "application/json",
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            data,
        }
    }
}

/// A CloudEvent of type `com.wasmcloud.lattice.{kind}` from `source`.
///
/// # Errors
/// When the builder refuses an attribute (never for the values used here).
pub fn build(
    source: &str,
    kind: &str,
    data: Value,
) -> Result<Event, cloudevents::event::EventBuilderError> {
    EventBuilderV10::new()
        .id(uuid::Uuid::new_v4().to_string())
        .source(source)
        .ty(format!("{TYPE_PREFIX}{kind}"))
        .time(chrono::Utc::now())
        .data("application/json", data)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudevents::AttributesReader as _;

    /// The suffix of an event's type (`actor_started`), if it is a lattice event.
    fn kind_of(event: &Event) -> Option<&str> {
        event.ty().strip_prefix(TYPE_PREFIX)
    }

    #[test]
    fn events_are_structured_cloudevents_with_the_wasmbus_type() {
        let event = build(
            "NHOST",
            kind::ACTOR_STARTED,
            serde_json::json!({"public_key": "MA"}),
        )
        .unwrap();
        let json: Value = serde_json::to_value(&event).unwrap();
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["type"], "com.wasmcloud.lattice.actor_started");
        assert_eq!(json["source"], "NHOST");
        assert_eq!(json["datacontenttype"], "application/json");
        assert_eq!(json["data"]["public_key"], "MA");
        assert_eq!(json["id"].as_str().unwrap().len(), 36);
        assert!(json["time"].as_str().unwrap().ends_with('Z'), "{json}");
        assert_eq!(kind_of(&event), Some("actor_started"));
    }

    #[test]
    fn invocation_events_are_the_json_the_builder_makes() {
        let data = serde_json::json!({
            "source": {"public_key": "VA", "contract_id": "wasmcloud:httpserver", "link_name": "default"},
            "dest": {"public_key": "MA", "contract_id": "", "link_name": ""},
            "operation": "HttpServer.HandleRequest",
            "bytes": 3,
        });
        let ty = format!("{TYPE_PREFIX}{}", kind::INVOCATION_SUCCEEDED);
        let direct = serde_json::to_value(Invocation::new(&ty, "NHOST", &data)).unwrap();
        let built = build("NHOST", kind::INVOCATION_SUCCEEDED, data.clone()).unwrap();
        let built = serde_json::to_value(&built).unwrap();
        let fields = |v: &Value| {
            let mut names: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            names.sort();
            names
        };
        assert_eq!(fields(&direct), fields(&built));
        for same in ["specversion", "type", "source", "datacontenttype", "data"] {
            assert_eq!(direct[same], built[same], "{same}");
        }
        assert_eq!(direct["id"].as_str().unwrap().len(), 36);
        let time = direct["time"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(time).is_ok() && time.ends_with('Z'),
            "{time}"
        );
        // And the SDK reads it as the event it would have built.
        let read: Event = serde_json::from_value(direct).unwrap();
        assert_eq!(kind_of(&read), Some(kind::INVOCATION_SUCCEEDED));
        assert_eq!(read.source().as_str(), "NHOST");
    }
}
