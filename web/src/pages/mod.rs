//! One function per page.

mod status;

pub use status::{ActorRow, HostView, ProviderRow, status};
