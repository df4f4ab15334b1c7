//! What the control plane knows, each part owning its data and doing no I/O: the actors
//! and providers it runs, the lattice's links, claims and hosts, its own readiness.

pub mod actors;
pub mod claims;
pub mod links;
pub mod peers;
pub mod providers;
pub mod readiness;
