//! Providers the control plane serves itself, started and shown like any provider.

pub mod httpserver;
