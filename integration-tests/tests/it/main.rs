//! Integration tests: real nats-server, both planes as processes, real clients.
#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is a failed test, with its location"
)]

mod api;
mod builtin_http;
mod calls;
mod cli;
mod dashboard;
mod dashboard_lattice;
mod hostile;
mod hostile_input;
mod interop;
mod lattice;
mod links;
mod many_hosts;
mod metrics;
mod migration;
mod nats_cluster;
mod objects;
mod oci;
mod otp_clients;
mod policy;
mod providers;
mod refusals;
mod restart;
mod stop_host;
mod traces;
