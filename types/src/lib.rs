//! Identity, claims and wasmbus invocation formats shared by the kiln binaries.
//!
//! Everything here is pure: no I/O, no async runtime. `claims` reads and writes the
//! `wascap` JWT format on nkeys and serde, `wasm` finds and embeds the token in a module,
//! `invocation` builds, signs and checks the msgpack RPC envelopes of the wasmbus
//! protocol. The control plane and the `kiln` CLI use it; the data plane does not.
#![warn(missing_docs)]

pub mod claims;
pub mod ctl;
pub mod decode;
pub mod endpoint;
pub mod flag;
pub mod hostdata;
pub mod ids;
pub mod inbound;
pub mod interfaces;
pub mod invocation;
pub mod jwt;
pub mod keys;
pub mod limits;
pub mod link;
pub mod par;
pub mod replay;
pub mod signature;
pub mod waiting;
pub mod wasm;

/// Seconds since the Unix epoch, the time unit of every JWT field.
#[must_use]
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
