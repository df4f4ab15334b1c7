//! What the dashboard's handlers share.

use std::sync::Arc;

use super::feed::Feed;
use crate::host::Shared;

/// What the handlers share.
#[derive(Clone)]
pub struct Web {
    /// The host.
    pub host: Shared,
    /// Lattice events for the pages.
    pub feed: Arc<Feed>,
}
