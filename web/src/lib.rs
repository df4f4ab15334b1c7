//! Views of the kiln dashboard, rendered with maud: data in, markup out.
//!
//! Nothing here does I/O or knows about NATS, gRPC or wasmtime: the control plane maps
//! its state into the view structs defined here and serves the pages. Entry points are
//! the functions in [`pages`].
#![warn(missing_docs)]

pub mod layout;
pub mod pages;
