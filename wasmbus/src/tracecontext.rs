//! W3C trace context in NATS message headers (`traceparent`, `tracestate`), as
//! wasmbus-rpc providers and the OTP host carry it on `wasmbus.rpc` messages.

use async_nats::HeaderMap;
use kiln_telemetry::TraceContext;
use kiln_telemetry::context::{TRACEPARENT, TRACESTATE};

/// Headers that make `span` the parent on the receiving side; `None` when there is
/// nothing to carry (traces off, span not exported), so the message goes without.
#[must_use]
pub fn headers(span: &tracing::Span) -> Option<HeaderMap> {
    let context = TraceContext::of(span);
    if context.is_empty() {
        return None;
    }
    let mut headers = HeaderMap::new();
    for (key, value) in context.pairs() {
        headers.insert(key, value);
    }
    Some(headers)
}

/// The trace context of a received message (empty when it has none).
#[must_use]
pub fn of_message(headers: Option<&HeaderMap>) -> TraceContext {
    let get = |key| {
        headers
            .and_then(|h| h.get(key))
            .map(async_nats::HeaderValue::as_str)
    };
    TraceContext::new(get(TRACEPARENT), get(TRACESTATE))
}

/// Makes the sender's span, named in `headers`, the parent of `span`. A missing or
/// malformed `traceparent` is ignored: `span` then starts a trace of its own.
pub fn set_parent(span: &tracing::Span, headers: Option<&HeaderMap>) {
    if span.is_disabled() {
        return;
    }
    of_message(headers).set_as_parent_of(span);
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn traced(test: impl FnOnce()) {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, test);
    }

    fn trace_id(headers: &HeaderMap) -> String {
        headers
            .get(TRACEPARENT)
            .unwrap()
            .as_str()
            .split('-')
            .nth(1)
            .unwrap()
            .to_string()
    }

    fn received(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (key, value) in pairs {
            headers.insert(*key, *value);
        }
        headers
    }

    #[test]
    fn a_valid_traceparent_header_makes_the_sender_the_parent() {
        traced(|| {
            let incoming = received(&[(TRACEPARENT, PARENT), (TRACESTATE, "kiln=1")]);
            let span = tracing::info_span!("process", otel.kind = "server");
            set_parent(&span, Some(&incoming));
            let outgoing = headers(&span).expect("an exported span has headers");
            assert_eq!(trace_id(&outgoing), TRACE);
            assert_ne!(
                outgoing.get(TRACEPARENT).unwrap().as_str(),
                PARENT,
                "the next hop's parent is this span, not the sender's"
            );
            assert_eq!(outgoing.get(TRACESTATE).unwrap().as_str(), "kiln=1");
        });
    }

    #[test]
    fn a_message_without_headers_starts_a_new_trace() {
        traced(|| {
            for incoming in [None, Some(received(&[("other", "x")]))] {
                let span = tracing::info_span!("process");
                set_parent(&span, incoming.as_ref());
                let outgoing = headers(&span).expect("an exported span has headers");
                assert_ne!(trace_id(&outgoing), TRACE);
                assert!(outgoing.get(TRACESTATE).is_none(), "no empty tracestate");
            }
        });
    }

    #[test]
    fn a_malformed_traceparent_is_ignored() {
        traced(|| {
            for bad in [
                "nonsense",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "00-4BF92F3577B34DA6A3CE929D0E0E473-00f067aa0ba902b7-01",
            ] {
                let span = tracing::info_span!("process");
                set_parent(&span, Some(&received(&[(TRACEPARENT, bad)])));
                let outgoing = headers(&span).expect("an exported span has headers");
                assert_ne!(trace_id(&outgoing), TRACE, "{bad}");
            }
        });
    }

    #[test]
    fn reads_what_a_message_carries() {
        let incoming = received(&[(TRACEPARENT, PARENT)]);
        let context = of_message(Some(&incoming));
        assert_eq!(context.traceparent, PARENT);
        assert_eq!(context.tracestate, "");
        assert!(of_message(None).is_empty());
    }

    #[test]
    fn nothing_is_injected_when_traces_are_off() {
        let span = tracing::info_span!("process");
        assert!(headers(&span).is_none());
    }
}
