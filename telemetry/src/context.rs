//! W3C trace context (`traceparent`, `tracestate`) of one message, to and from spans.
//!
//! Every hop between kiln processes carries it: NATS headers (as wasmbus-rpc and the
//! OTP host do), gRPC metadata for unary calls, and a field of each message on the
//! multiplexed streams between the planes. A missing or malformed value is ignored:
//! the receiving span simply keeps its local parent, or starts a new trace.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Header and metadata key of the parent span.
pub const TRACEPARENT: &str = "traceparent";
/// Header and metadata key of vendor trace state.
pub const TRACESTATE: &str = "tracestate";

/// The two W3C trace-context values; empty strings when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    /// `00-{trace id}-{span id}-{flags}`.
    pub traceparent: String,
    /// Vendor entries, often empty.
    pub tracestate: String,
}

impl TraceContext {
    /// Values as they arrived, e.g. from two header lookups.
    #[must_use]
    pub fn new(traceparent: Option<&str>, tracestate: Option<&str>) -> TraceContext {
        TraceContext {
            traceparent: traceparent.unwrap_or_default().to_string(),
            tracestate: tracestate.unwrap_or_default().to_string(),
        }
    }

    /// The context that makes `span` the parent on the other side. Empty when `span`
    /// is not exported (disabled, or traces are off), so nothing travels then.
    #[must_use]
    pub fn of(span: &tracing::Span) -> TraceContext {
        let mut out = TraceContext::default();
        if span.is_disabled() {
            return out;
        }
        TraceContextPropagator::new().inject_context(&span.context(), &mut out);
        out
    }

    /// Whether there is nothing to send.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.traceparent.is_empty()
    }

    /// The non-empty values as (key, value) pairs, to set as headers.
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            (TRACEPARENT, self.traceparent.as_str()),
            (TRACESTATE, self.tracestate.as_str()),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
    }

    /// Makes the remote span this context names the parent of `span`, which must not
    /// have been entered yet. Returns whether it did: not when the value is missing or
    /// malformed (then `span` keeps its local parent or starts a new trace), nor when
    /// `span` is not exported.
    pub fn set_as_parent_of(&self, span: &tracing::Span) -> bool {
        if self.traceparent.is_empty() || span.is_disabled() {
            return false;
        }
        let parent = TraceContextPropagator::new().extract(self);
        if !parent.span().span_context().is_valid() {
            return false;
        }
        span.set_parent(parent).is_ok()
    }
}

impl Injector for TraceContext {
    fn set(&mut self, key: &str, value: String) {
        match key {
            TRACEPARENT => self.traceparent = value,
            TRACESTATE => self.tracestate = value,
            _ => {}
        }
    }
}

impl Extractor for TraceContext {
    fn get(&self, key: &str) -> Option<&str> {
        let value = match key {
            TRACEPARENT => &self.traceparent,
            TRACESTATE => &self.tracestate,
            _ => return None,
        };
        (!value.is_empty()).then_some(value.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.pairs().map(|(key, _)| key).collect()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// Runs `test` under a subscriber with an OpenTelemetry layer (no exporter).
    fn traced(test: impl FnOnce()) {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, test);
    }

    #[test]
    fn a_valid_parent_continues_its_trace() {
        traced(|| {
            let span = tracing::info_span!("child");
            let incoming = TraceContext::new(Some(PARENT), Some("kiln=1"));
            assert!(incoming.set_as_parent_of(&span));
            let outgoing = TraceContext::of(&span);
            let parts: Vec<&str> = outgoing.traceparent.split('-').collect();
            assert_eq!(parts[1], "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_ne!(
                parts[2], "00f067aa0ba902b7",
                "the child has its own span id"
            );
            assert_eq!(outgoing.tracestate, "kiln=1");
        });
    }

    #[test]
    fn a_missing_or_malformed_parent_starts_a_new_trace() {
        traced(|| {
            for bad in [
                "",
                "garbage",
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-zzzzzzzzzzzzzzzz-01",
            ] {
                let span = tracing::info_span!("root");
                assert!(!TraceContext::new(Some(bad), None).set_as_parent_of(&span));
                let outgoing = TraceContext::of(&span);
                assert!(!outgoing.is_empty());
                assert!(
                    !outgoing
                        .traceparent
                        .contains("4bf92f3577b34da6a3ce929d0e0e4736")
                );
            }
        });
    }

    #[test]
    fn nothing_travels_without_an_opentelemetry_layer() {
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("untraced");
            assert!(!TraceContext::new(Some(PARENT), None).set_as_parent_of(&span));
            assert!(TraceContext::of(&span).is_empty());
            assert_eq!(TraceContext::of(&span).pairs().count(), 0);
        });
    }
}
