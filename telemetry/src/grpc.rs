//! Trace context in gRPC metadata (and plain HTTP headers), for unary calls: the
//! client injects the current span's context, the server reads it back.

use tonic::metadata::{MetadataMap, MetadataValue};

use crate::context::{TRACEPARENT, TRACESTATE, TraceContext};

/// A tonic interceptor: adds the current span's trace context to the request metadata
/// (nothing when the current span is not exported).
///
/// # Errors
/// Never; the signature is tonic's.
pub fn inject(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    let context = TraceContext::of(&tracing::Span::current());
    for (key, value) in context.pairs() {
        // Values the propagator made are plain ASCII; anything else is skipped.
        if let Ok(value) = MetadataValue::try_from(value) {
            request.metadata_mut().insert(key, value);
        }
    }
    Ok(request)
}

/// The trace context in gRPC request metadata.
#[must_use]
pub fn from_metadata(metadata: &MetadataMap) -> TraceContext {
    let get = |key| metadata.get(key).and_then(|v| v.to_str().ok());
    TraceContext::new(get(TRACEPARENT), get(TRACESTATE))
}

/// The trace context in HTTP headers (what gRPC metadata is on the wire).
#[must_use]
pub fn from_headers(headers: &http::HeaderMap) -> TraceContext {
    let get = |key| headers.get(key).and_then(|v| v.to_str().ok());
    TraceContext::new(get(TRACEPARENT), get(TRACESTATE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_values_and_skips_what_is_not_text() {
        let mut headers = http::HeaderMap::new();
        headers.insert(TRACEPARENT, http::HeaderValue::from_static("00-a-b-01"));
        assert_eq!(
            from_headers(&headers),
            TraceContext::new(Some("00-a-b-01"), None)
        );
        headers.insert(
            TRACESTATE,
            http::HeaderValue::from_bytes(b"k=\xff").unwrap(),
        );
        assert_eq!(from_headers(&headers).tracestate, "");
        let metadata = MetadataMap::from_headers(headers);
        assert_eq!(from_metadata(&metadata).traceparent, "00-a-b-01");
    }

    #[test]
    fn the_interceptor_adds_nothing_outside_a_traced_span() {
        let request = inject(tonic::Request::new(())).unwrap();
        assert!(request.metadata().get(TRACEPARENT).is_none());
    }
}
