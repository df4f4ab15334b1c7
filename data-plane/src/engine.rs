//! The one wasmtime `Engine` of the process, and the epoch ticker behind deadlines.
//!
//! Settings are narrowed here and nowhere else: async calls (so a host call awaits the
//! control plane without blocking a thread), epoch interruption (cheap deadlines), the
//! pooling allocator sized from explicit limits (instantiation in microseconds), and
//! wasmtime's on-disk code cache (a restart does not recompile).

use std::path::Path;
use std::time::Duration;

use wasmtime::{
    Cache, CacheConfig, Config as WasmConfig, Engine, InstanceAllocationStrategy,
    PoolingAllocationConfig,
};

/// The engine could not be built with the limits asked for.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The code cache directory could not be used.
    #[error("could not use compiled-code cache at {dir}: {reason}")]
    Cache {
        /// The directory.
        dir: String,
        /// What wasmtime said.
        reason: String,
    },
    /// wasmtime refused the configuration (the pool could not be reserved, usually).
    #[error(
        "could not create the wasm engine with a pool of {slots} instances of up to {memory_mib} MiB each: {reason}; lower --max-instances or --memory-limit-mib"
    )]
    Pool {
        /// Pool slots.
        slots: u32,
        /// Memory per slot.
        memory_mib: u64,
        /// What wasmtime said.
        reason: String,
    },
}

/// Limits the engine is sized for.
#[derive(Debug, Clone)]
pub struct Sizing {
    /// Instances alive at once over all actors.
    pub max_instances: u32,
    /// Largest linear memory of one instance, in bytes.
    pub max_memory: u64,
}

/// Stack for each async call; actors built with the wasmCloud SDK need far less.
const ASYNC_STACK_BYTES: usize = 1 << 20;
/// Wasm stack limit inside that stack.
const WASM_STACK_BYTES: usize = 512 << 10;

/// Builds the engine.
///
/// # Errors
/// When the cache directory cannot be used or the pool cannot be reserved: the error
/// says which, with the numbers, rather than falling back silently.
pub fn build(sizing: &Sizing, cache_dir: &Path) -> Result<Engine, EngineError> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(sizing.max_instances)
        .total_memories(sizing.max_instances)
        .total_tables(sizing.max_instances)
        .total_stacks(sizing.max_instances)
        .max_memories_per_module(1)
        .max_tables_per_module(1)
        .max_memory_size(usize::try_from(sizing.max_memory).unwrap_or(usize::MAX));

    let mut cache = CacheConfig::new();
    cache.with_directory(cache_dir.join("compiled"));
    let cache = Cache::new(cache).map_err(|e| EngineError::Cache {
        dir: cache_dir.display().to_string(),
        reason: format!("{e:#}"),
    })?;

    let mut config = WasmConfig::new();
    config
        .epoch_interruption(true)
        .async_stack_size(ASYNC_STACK_BYTES)
        .max_wasm_stack(WASM_STACK_BYTES)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .cache(Some(cache));
    Engine::new(&config).map_err(|e| EngineError::Pool {
        slots: sizing.max_instances,
        memory_mib: sizing.max_memory >> 20,
        reason: format!("{e:#}"),
    })
}

/// Advances the engine's epoch every tick on a thread of its own, until dropped.
///
/// Not a tokio task: wasm that never yields could occupy every runtime worker, and then
/// the tick that would interrupt it would never run.
pub struct EpochTicker {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts ticking `engine` every `tick`.
    ///
    /// # Errors
    /// When the OS refuses a thread.
    pub fn start(engine: Engine, tick: Duration) -> std::io::Result<EpochTicker> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                // The wait doubles as the sleep: a message or a dropped sender ends it.
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(tick)
                {
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_small_pool() {
        let dir = std::env::temp_dir().join(format!("kiln-engine-{}", std::process::id()));
        let sizing = Sizing {
            max_instances: 4,
            max_memory: 16 << 20,
        };
        let engine = build(&sizing, &dir).unwrap();
        let module = wasmtime::Module::new(&engine, wat::parse_str("(module)").unwrap()).unwrap();
        assert_eq!(module.imports().count(), 0);
        std::fs::remove_dir_all(dir).ok();
    }
}
