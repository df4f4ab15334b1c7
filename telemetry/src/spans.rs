//! The spans at kiln's process boundaries, built in one place: each has the OTel
//! semantic fields of its kind (`rpc.*` for gRPC, `messaging.*` for NATS), its status
//! fields, and the wasmCloud domain fields declared empty for the caller to record
//! (see [`Domain`]). A span's name is static (tracing keeps it in its callsite), so
//! there is one function per name.
//!
//! Every span is at debug level: at the default level they cost nothing, and the
//! OpenTelemetry layer sees them whenever traces are on (see `subscriber`).

use tracing::Span;
use tracing::field::Empty;

/// The side of a call a span stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The caller.
    Client,
    /// The callee.
    Server,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Client => "client",
            Kind::Server => "server",
        }
    }
}

/// `grpc_request`: a gRPC call of `service`/`method`.
#[must_use]
pub fn grpc_request(kind: Kind, service: &str, method: &str) -> Span {
    tracing::debug_span!(
        "grpc_request",
        otel.name = %format_args!("{service}/{method}"),
        otel.kind = kind.as_str(),
        otel.status_code = Empty,
        otel.status_description = Empty,
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        wasmcloud.actor.key = Empty,
        wasmbus.operation = Empty,
        wasmbus.invocation.id = Empty,
    )
}

/// `wasm_invoke`: the data plane running one invocation, the server side of
/// `service`/`method`.
#[must_use]
pub fn wasm_invoke(service: &str, method: &str) -> Span {
    tracing::debug_span!(
        "wasm_invoke",
        otel.name = %format_args!("{service}/{method}"),
        otel.kind = Kind::Server.as_str(),
        otel.status_code = Empty,
        otel.status_description = Empty,
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        wasmcloud.actor.key = Empty,
        wasmbus.operation = Empty,
        wasmbus.invocation.id = Empty,
    )
}

/// `host_call`: an actor's call out of its sandbox, on the `HostCalls.Open` stream of
/// `service`; the data plane is its client, the control plane its server.
#[must_use]
pub fn host_call(kind: Kind, service: &str, namespace: &str, operation: &str) -> Span {
    tracing::debug_span!(
        "host_call",
        otel.name = %format_args!("HostCall {namespace} {operation}"),
        otel.kind = kind.as_str(),
        otel.status_code = Empty,
        otel.status_description = Empty,
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = "Open",
        wasmcloud.actor.key = Empty,
        wasmcloud.link.name = Empty,
        wasmbus.namespace = namespace,
        wasmbus.operation = operation,
    )
}

/// `nats_message`: a message received on `subject` and processed.
#[must_use]
pub fn nats_message(subject: &str) -> Span {
    tracing::debug_span!(
        "nats_message",
        otel.name = %format_args!("process {subject}"),
        otel.kind = Kind::Server.as_str(),
        otel.status_code = Empty,
        otel.status_description = Empty,
        messaging.system = "nats",
        messaging.destination.name = subject,
        messaging.operation.type = "process",
        wasmcloud.actor.key = Empty,
        wasmcloud.provider.key = Empty,
        wasmcloud.link.name = Empty,
        wasmcloud.contract.id = Empty,
        wasmbus.origin.key = Empty,
        wasmbus.operation = Empty,
        wasmbus.invocation.id = Empty,
    )
}

/// `nats_request`: a request sent on `subject`, waiting for its reply.
#[must_use]
pub fn nats_request(subject: &str) -> Span {
    tracing::debug_span!(
        "nats_request",
        otel.name = %format_args!("send {subject}"),
        otel.kind = Kind::Client.as_str(),
        otel.status_code = Empty,
        otel.status_description = Empty,
        messaging.system = "nats",
        messaging.destination.name = subject,
        // The current semantic conventions' name for what older ones called "publish".
        messaging.operation.type = "send",
        wasmbus.origin.key = Empty,
        wasmbus.target.key = Empty,
        wasmbus.operation = Empty,
        wasmbus.invocation.id = Empty,
    )
}

/// The wasmCloud fields of a span, recorded once known; what a span does not declare
/// is left out.
#[derive(Debug, Default, Clone, Copy)]
pub struct Domain<'a> {
    /// `wasmcloud.actor.key`.
    pub actor: Option<&'a str>,
    /// `wasmcloud.provider.key`.
    pub provider: Option<&'a str>,
    /// `wasmcloud.link.name`.
    pub link: Option<&'a str>,
    /// `wasmcloud.contract.id`.
    pub contract: Option<&'a str>,
    /// `wasmbus.origin.key`.
    pub origin: Option<&'a str>,
    /// `wasmbus.target.key`.
    pub target: Option<&'a str>,
    /// `wasmbus.operation`.
    pub operation: Option<&'a str>,
    /// `wasmbus.invocation.id`.
    pub invocation: Option<&'a str>,
}

impl Domain<'_> {
    /// Records the fields given on `span`; nothing when the span is disabled.
    pub fn record(&self, span: &Span) {
        if span.is_disabled() {
            return;
        }
        for (field, value) in [
            ("wasmcloud.actor.key", self.actor),
            ("wasmcloud.provider.key", self.provider),
            ("wasmcloud.link.name", self.link),
            ("wasmcloud.contract.id", self.contract),
            ("wasmbus.origin.key", self.origin),
            ("wasmbus.target.key", self.target),
            ("wasmbus.operation", self.operation),
            ("wasmbus.invocation.id", self.invocation),
        ] {
            if let Some(value) = value {
                span.record(field, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing_subscriber::layer::{Context, SubscriberExt as _};
    use tracing_subscriber::registry::LookupSpan;

    use super::*;

    /// Every field value a span ended up with, as text.
    #[derive(Clone, Default)]
    struct Fields(Arc<Mutex<Vec<(String, String)>>>);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let value = format!("{value:?}").trim_matches('"').to_string();
            self.0
                .lock()
                .unwrap()
                .push((field.name().to_string(), value));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0
                .lock()
                .unwrap()
                .push((field.name().to_string(), value.to_string()));
        }
    }

    impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Fields {
        fn on_new_span(
            &self,
            attrs: &tracing::span::Attributes<'_>,
            _: &tracing::span::Id,
            _: Context<'_, S>,
        ) {
            attrs.record(&mut self.clone());
        }
        fn on_record(
            &self,
            _: &tracing::span::Id,
            values: &tracing::span::Record<'_>,
            _: Context<'_, S>,
        ) {
            values.record(&mut self.clone());
        }
    }

    fn fields_of(make: impl FnOnce() -> Span, domain: Domain<'_>) -> Vec<(String, String)> {
        let fields = Fields::default();
        let subscriber = tracing_subscriber::registry()
            .with(fields.clone())
            .with(tracing_subscriber::filter::LevelFilter::DEBUG);
        tracing::subscriber::with_default(subscriber, || {
            let span = make();
            domain.record(&span);
        });
        fields.0.lock().unwrap().clone()
    }

    fn value<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
        fields
            .iter()
            .rev()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }

    #[test]
    fn grpc_spans_carry_the_semantic_fields_and_the_recorded_domain() {
        let fields = fields_of(
            || grpc_request(Kind::Client, "kiln.dataplane.v1.DataPlane", "InvokeStream"),
            Domain {
                actor: Some("MACTOR"),
                operation: Some("Echo.Reply"),
                invocation: Some("id-1"),
                provider: Some("not declared: left out"),
                ..Domain::default()
            },
        );
        assert_eq!(
            value(&fields, "otel.name"),
            Some("kiln.dataplane.v1.DataPlane/InvokeStream")
        );
        assert_eq!(value(&fields, "otel.kind"), Some("client"));
        assert_eq!(value(&fields, "rpc.system"), Some("grpc"));
        assert_eq!(value(&fields, "rpc.method"), Some("InvokeStream"));
        assert_eq!(value(&fields, "wasmcloud.actor.key"), Some("MACTOR"));
        assert_eq!(value(&fields, "wasmbus.operation"), Some("Echo.Reply"));
        assert_eq!(value(&fields, "wasmbus.invocation.id"), Some("id-1"));
        assert_eq!(value(&fields, "wasmcloud.provider.key"), None);
    }

    #[test]
    fn nats_spans_name_the_subject_and_the_operation_type() {
        let received = fields_of(|| nats_message("wasmbus.rpc.d.MA"), Domain::default());
        assert_eq!(
            value(&received, "otel.name"),
            Some("process wasmbus.rpc.d.MA")
        );
        assert_eq!(value(&received, "otel.kind"), Some("server"));
        assert_eq!(
            value(&received, "messaging.operation.type"),
            Some("process")
        );
        let sent = fields_of(|| nats_request("wasmbus.rpc.d.MA"), Domain::default());
        assert_eq!(value(&sent, "otel.name"), Some("send wasmbus.rpc.d.MA"));
        assert_eq!(value(&sent, "otel.kind"), Some("client"));
        assert_eq!(value(&sent, "messaging.operation.type"), Some("send"));
        let call = fields_of(
            || {
                host_call(
                    Kind::Server,
                    "kiln.dataplane.v1.HostCalls",
                    "wasmcloud:keyvalue",
                    "Get",
                )
            },
            Domain {
                link: Some("default"),
                ..Domain::default()
            },
        );
        assert_eq!(
            value(&call, "otel.name"),
            Some("HostCall wasmcloud:keyvalue Get")
        );
        assert_eq!(value(&call, "wasmcloud.link.name"), Some("default"));
    }
}
