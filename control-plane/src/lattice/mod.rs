//! The lattice side of the host over NATS: the control interface it serves, its events
//! and heartbeat, the lattice cache in JetStream and its watch, and its view of peers.

pub mod cache;
pub mod cache_watch;
pub mod connect;
pub mod ctl;
pub mod events;
pub mod gather;
pub mod heartbeat;
pub mod peers;
