//! The one `Linker` every actor module is pre-linked against: WASI preview 1 and the
//! wasmbus imports.

use wasmtime::{Engine, Linker};

use super::state::HostState;
use super::wasmbus;

/// Builds the linker with WASI preview 1 and the wasmbus imports.
///
/// # Errors
/// Only if wasmtime refuses a definition, which would be a bug here.
pub fn linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s: &mut HostState| &mut s.wasi)?;
    wasmbus::define(&mut linker)?;
    Ok(linker)
}
