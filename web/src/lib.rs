//! Views of the kiln dashboard, rendered with maud: data in, markup out.
//!
//! Nothing here does I/O or knows about NATS, gRPC or wasmtime: the control plane maps
//! its state into the structs of [`view`] and serves what [`pages`] renders. The one
//! script, `live.js`, keeps the main page current from server-sent events.
#![warn(missing_docs)]

pub mod layout;
pub mod pages;
pub mod view;
