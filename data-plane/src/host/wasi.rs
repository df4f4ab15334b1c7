//! WASI preview 1 for actors built for `wasm32-wasip1`: the imports resolve, and grant
//! nothing (no preopened directories, no environment, no stdio, no sockets).

use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

/// A WASI context with nothing granted.
#[must_use]
pub fn context() -> WasiP1Ctx {
    WasiCtxBuilder::new().arg("main.wasm").build_p1()
}
