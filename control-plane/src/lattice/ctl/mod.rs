//! The NATS control interface, `{ctl}.{lattice}.…` with JSON bodies, as the wasmbus host
//! serves it: which host answers which subject (every host, one host of the queue
//! group, or the host named in the subject) and the reply shapes are the same, so
//! `wash` and the `wasmcloud-control-interface` crate drive this host unchanged.
//!
//! `serve` takes the requests and hands each to `host_commands` (`cmd.{host}.*`, the
//! inventory) or `lattice_requests` (ping, claims, links, credentials, auctions);
//! every command goes through the control service ([`crate::control`]).

mod bounds;
mod host_commands;
mod lattice_requests;
mod reply;
mod serve;

pub use bounds::CTL_IN_FLIGHT;
pub use serve::serve;
