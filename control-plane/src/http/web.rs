//! What the dashboard's handlers share.

use std::sync::Arc;

use super::feed::Feed;
use crate::control::remote::Remote;
use crate::host::Shared;

/// What the handlers share.
#[derive(Clone)]
pub struct Web {
    /// The host.
    pub host: Shared,
    /// Lattice events for the pages.
    pub feed: Arc<Feed>,
    /// The control service over the lattice, for actions on any host.
    pub remote: Remote,
}
