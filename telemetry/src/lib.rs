//! Telemetry of the kiln processes (both planes and kiln's providers): logs on stderr,
//! and OpenTelemetry traces over OTLP/gRPC when the standard `OTEL_*` variables ask
//! for them.
//!
//! The spans at process boundaries come from [`spans`], with their semantic fields in
//! one place; other spans are made with `tracing` where they happen. It installs the subscriber
//! ([`init`], configured by [`Config::from_vars`]) and carries W3C trace context across
//! process boundaries ([`TraceContext`], [`grpc`] for tonic metadata).
#![warn(missing_docs)]

pub mod config;
pub mod context;
pub mod grpc;
pub mod logs;
pub mod spans;
mod subscriber;

pub use config::Config;
pub use context::TraceContext;
pub use logs::Logs;
pub use subscriber::{Guard, init};

/// Marks `span` as failed with `description`: the OpenTelemetry status the exporter
/// reads from the `otel.status_code` and `otel.status_description` fields, which the
/// span must declare (as `tracing::field::Empty`).
pub fn record_error(span: &tracing::Span, description: &str) {
    span.record("otel.status_code", "error");
    span.record("otel.status_description", description);
}
