//! The RPC gateway, the host's trust boundary: invocations from the lattice admitted,
//! checked and handed to the data plane; actors' host calls signed and sent out; the
//! policy service asked about both.

pub mod admission;
pub mod hostcall;
pub mod inbound;
pub mod policy;
pub mod signatures;
