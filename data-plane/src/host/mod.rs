//! What a guest's store holds and what it imports, one module per capability, as
//! wasmtime's embedders lay it out: `state` (the store data and the call in progress),
//! `wasmbus` (the actor ABI), `builtins` (logging and numbergen, answered here), `wasi`
//! (preview 1, nothing granted), `memory` (the limiter), `linker` (all of it on one
//! `Linker`).

pub mod builtins;
pub mod linker;
pub mod memory;
pub mod state;
pub mod wasi;
pub mod wasmbus;

pub use linker::linker;
pub use state::{CallState, HostState};
