//! The data plane as the control plane drives it: the gRPC link, the supervisor that
//! keeps it connected and in line, and the takeover of its workload after a restart.

pub mod adoption;
pub mod link;
pub mod records;
pub mod supervisor;
