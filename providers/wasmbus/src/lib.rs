//! The wasmbus protocol over NATS, shared by the control plane and kiln's own providers.
//!
//! [`chunks`] moves payloads too large for one NATS message through the JetStream
//! object store, as wasmbus-rpc does; [`rpc`] sends a signed invocation and reads the
//! response, chunking both ways; [`provider`] is the runtime of a capability provider:
//! host data from stdin, link definitions, health, shutdown and incoming calls;
//! [`tracecontext`] carries W3C trace context in NATS headers; [`roundtrip`] waits until
//! the server has registered a connection's subscriptions.
#![warn(missing_docs)]

pub mod chunks;
pub mod provider;
pub mod roundtrip;
pub mod rpc;
pub mod tracecontext;
