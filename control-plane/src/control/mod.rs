//! The control service: every front end (the NATS control interface, start-up flags,
//! the gRPC API and the dashboard) changes the host through these functions and
//! nothing else, so each change has the same checks, events and lattice-cache writes.
//! This file only names them; each lives in the module of what it changes.

mod actors;
pub mod boot;
pub mod config_service;
mod errors;
pub mod inventory;
mod lifecycle;
mod links;
pub mod providers;
pub mod remote;

pub use actors::{remember, scale_actor, start_actor, stop_actor, update_actor};
pub use errors::{ControlError, ProviderError};
pub use lifecycle::stop_host;
pub use links::{LinkError, delete_link, put_link};
pub use providers::{start_provider, stop_provider};
