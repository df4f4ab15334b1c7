//! Actors' modules and providers' archives: fetched from a file or an OCI registry
//! (with the credentials `registries.put` gave), bounded in size, their claims checked.

pub mod credentials;
pub mod fetch;
pub mod oci;
