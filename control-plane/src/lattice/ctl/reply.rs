//! Reading a control request and writing its reply.

use kiln_types::ctl::Ack;
use serde::{Deserialize, Serialize};

/// Parses a JSON request, bounded in size, depth and field lengths; a failure ack
/// that says what is wrong otherwise.
pub fn parse<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, Ack> {
    kiln_types::ctl::parse(payload).map_err(|e| Ack::failed(format!("invalid request: {e}")))
}

pub fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("invariant: control replies always serialise")
}
