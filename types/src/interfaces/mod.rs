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

/// Reads a msgpack payload.
///
/// # Errors
/// When the bytes are not a `T`.
pub fn decode<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
) -> Result<T, rmp_serde::decode::Error> {
    rmp_serde::from_slice(bytes)
}
