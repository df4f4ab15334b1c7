//! Control-plane configuration: flags, the wasmbus host's `WASMCLOUD_*` variables
//! (same names and defaults, so existing deployments carry over) and `KILN_CP_*`.
//!
//! `args` declares the flags, `build` turns them into the [`Config`] of `settings`,
//! reporting every problem at once (`checks` holds the checks that only read flags);
//! `files` reads the OTP host's `.env` and `host_config.*` and writes the effective
//! configuration back.

mod args;
mod build;
mod checks;
pub mod files;
mod settings;
#[cfg(test)]
mod tests;

pub use args::{Args, InvokePath};
pub use settings::{Api, BootProvider, Config, InFlight, Nats, Secret};
