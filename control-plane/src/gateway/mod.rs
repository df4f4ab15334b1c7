//! The RPC gateway, the host's trust boundary: invocations from the lattice admitted,
//! checked and handed to the data plane; actors' host calls signed and sent out; the
//! policy service asked about both; calls from the built-in providers to this host's
//! actors checked and handed on.

pub mod admission;
pub mod hostcall;
pub mod inbound;
pub mod local;
pub mod policy;
pub mod signatures;
