//! Generated gRPC types and services shared by the kiln planes.
//!
//! Only codegen lives here: `dataplane::v1` is the internal contract between a control
//! plane and its data plane. See `proto/README.md` for how it is built.
#![warn(missing_docs)]

/// The internal data-plane contract, version 1.
pub mod dataplane {
    /// Version 1 of `kiln.dataplane`.
    #[allow(missing_docs, reason = "generated code")]
    #[allow(clippy::all, reason = "generated code")]
    pub mod v1 {
        tonic::include_proto!("kiln.dataplane.v1");
    }
}
