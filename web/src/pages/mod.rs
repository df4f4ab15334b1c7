//! One function per page.

mod status;

pub use status::{ActorRow, HostView, LatticeHostRow, ProviderRow, status};
