//! The wasmbus protocol over NATS, shared by the control plane, the `kiln` CLI and
//! kiln's own providers: what travels where. The bodies themselves (invocations,
//! claims, links, control requests) are `kiln_types`, pure and fuzzable without NATS.
//!
//! [`subjects`] builds every subject (nothing else in kiln formats one); [`ctl`] is the
//! client of the control interface; `oci` (feature `oci`) is the layout of actors and
//! providers in OCI registries;
//! [`chunks`] moves payloads too large for one NATS message through the JetStream
//! object store, as wasmbus-rpc does; [`rpc`] sends a signed invocation and reads the
//! response, chunking both ways; [`provider`] is the runtime of a capability provider:
//! host data from stdin, link definitions, health, shutdown and incoming calls;
//! [`tracecontext`] carries W3C trace context in NATS headers; [`roundtrip`] waits until
//! the server has registered a connection's subscriptions; `httpserver` (feature `http`)
//! serves the `wasmcloud:httpserver` contract over HTTP, for kiln's provider and the
//! control plane's built-in server.
#![warn(missing_docs)]

pub mod chunks;
pub mod ctl;
#[cfg(feature = "http")]
pub mod httpserver;
#[cfg(feature = "oci")]
pub mod oci;
pub mod provider;
pub mod roundtrip;
pub mod rpc;
pub mod subjects;
pub mod tracecontext;
