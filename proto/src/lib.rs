//! Generated gRPC types and services of kiln.
//!
//! Only codegen lives here: `dataplane::v1` is the internal contract between a control
//! plane and its data plane; `control::v1` is the public control API. See
//! `proto/README.md` for how it is built.
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

/// The public control API, version 1.
pub mod control {
    /// Version 1 of `kiln.control`.
    #[allow(missing_docs, reason = "generated code")]
    #[allow(clippy::all, reason = "generated code")]
    pub mod v1 {
        tonic::include_proto!("kiln.control.v1");
    }
}

/// The largest message either plane sends or accepts on the data-plane channel: payloads
/// and artifact chunks fit well below it.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// Encoded descriptors of every kiln proto file, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("kiln_descriptor");
