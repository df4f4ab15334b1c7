//! How much control work a host takes on at once.

/// Control requests handled at once at most (launches running in the background
/// included); past it a request is answered "busy" at once.
pub const CTL_IN_FLIGHT: usize = 256;
