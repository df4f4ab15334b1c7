//! Payloads of the wasmCloud interfaces kiln's providers and tools speak, as structs of
//! the same shape as the `wasmcloud-interface-*` crates: encoded with rmp-serde's named
//! fields, they give the same bytes.

pub mod httpserver;
pub mod keyvalue;

/// Msgpack with named fields, as wasmbus-rpc encodes payloads.
#[must_use]
pub fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).expect("invariant: interface payloads always serialise")
}

/// Reads a msgpack payload, bounded in size and nesting.
///
/// # Errors
/// When the bytes are not a `T` within the limits.
pub fn decode<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
) -> Result<T, crate::decode::DecodeError> {
    crate::decode::msgpack("a payload", bytes, crate::limits::MESSAGE)
}
