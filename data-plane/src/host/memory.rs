//! The limits every store runs under: linear memory (the configured limit per
//! instance, recorded when it was the cause of a failure) and table size.

use wasmtime::ResourceLimiter;

/// Largest table a guest may grow to.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Caps linear memory growth and records that it was the cause of a failure.
#[derive(Debug)]
pub struct MemoryLimiter {
    max_bytes: usize,
    /// Set when a growth was refused.
    pub exceeded: bool,
}

impl MemoryLimiter {
    /// A limiter allowing `max_bytes` of linear memory.
    #[must_use]
    pub fn new(max_bytes: usize) -> MemoryLimiter {
        MemoryLimiter {
            max_bytes,
            exceeded: false,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.exceeded = true;
            wasmtime::bail!(
                "memory limit exceeded: the actor asked for {desired} bytes, the limit is {} bytes",
                self.max_bytes
            );
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
