//! What an actor instance's store holds: its WASI context, its memory limiter, the call
//! in progress and the deadline of that call.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use wasmtime::UpdateDeadline;
use wasmtime_wasi::p1::WasiP1Ctx;

use super::memory::MemoryLimiter;
use super::wasi;
use crate::hostcalls::Broker;

/// The state of one call in progress, reset before each.
#[derive(Debug, Default)]
pub struct CallState {
    /// Operation name.
    pub operation: String,
    /// Request payload.
    pub payload: Bytes,
    /// Lattice invocation id.
    pub invocation_id: String,
    /// Set by `__guest_response`.
    pub response: Option<Vec<u8>>,
    /// Set by `__guest_error`.
    pub guest_error: Option<String>,
    /// Pending result of the last host call.
    pub host_response: Option<Bytes>,
    /// Pending error of the last host call.
    pub host_error: Option<String>,
    /// The invocation's span: the parent of its host calls' spans.
    pub span: Option<tracing::Span>,
}

/// Store data of an actor instance.
pub struct HostState {
    /// WASI preview 1, with nothing granted.
    pub wasi: WasiP1Ctx,
    /// Memory limit of this instance.
    pub limiter: MemoryLimiter,
    /// The call in progress.
    pub call: CallState,
    /// The actor this instance belongs to.
    pub actor: Arc<str>,
    /// Where its host calls go.
    pub broker: Arc<Broker>,
    /// When the call in progress must end.
    pub deadline: Instant,
    /// Set when the epoch callback interrupted the call for its deadline.
    pub timed_out: bool,
}

impl HostState {
    /// Fresh state for an instance of `actor`.
    #[must_use]
    pub fn new(actor: Arc<str>, broker: Arc<Broker>, memory_limit: usize) -> HostState {
        HostState {
            wasi: wasi::context(),
            limiter: MemoryLimiter::new(memory_limit),
            call: CallState::default(),
            actor,
            broker,
            deadline: Instant::now(),
            timed_out: false,
        }
    }

    /// Called at each epoch tick while wasm runs: interrupt past the deadline,
    /// otherwise let other tasks run and check again at the next tick.
    pub fn on_epoch(&mut self) -> UpdateDeadline {
        if Instant::now() >= self.deadline {
            self.timed_out = true;
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::Yield(1)
        }
    }
}
