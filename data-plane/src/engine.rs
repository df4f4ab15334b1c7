//! The one wasmtime `Engine` of the process, and the epoch ticker behind deadlines.
//!
//! Settings are narrowed here and nowhere else: async calls (so a host call awaits the
//! control plane without blocking a thread), epoch interruption (cheap deadlines), the
//! pooling allocator sized from explicit limits (instantiation in microseconds; each
//! slot reserves the memory limit and a guard, not wasmtime's default 4 GiB, so a pool
//! of tens of thousands fits), and wasmtime's on-disk code cache (a restart does not recompile).

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
        "could not create the wasm engine with a pool of {slots} instances of up to {memory_mib} MiB each (reserving {reserved_gib} GiB of address space): {reason}; lower --max-instances or --memory-limit-mib"
    )]
    Pool {
        /// Pool slots.
        slots: u32,
        /// Memory per slot.
        memory_mib: u64,
        /// Address space the pool's memories reserve, GiB.
        reserved_gib: u64,
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

/// Memory mappings one pool slot takes in use, as measured (docs/benchmarks.md): its
/// stack and the stack's guard page, 2; a live instance's memory image, the rest of its
/// memory, its reserve and its table, 4.
const MAPPINGS_PER_SLOT: u64 = 6;
/// Mappings the process takes besides the pool: libraries, threads, compiled modules.
const MAPPINGS_BESIDES: u64 = 1_000;
/// Where Linux keeps its cap on a process's memory mappings.
const MAX_MAP_COUNT: &str = "/proc/sys/vm/max_map_count";

impl Sizing {
    /// The pool to build: as asked when every slot of it can be in use under the
    /// kernel's cap on memory mappings (`vm.max_map_count`, read here), else the
    /// largest that can, with a warning that says so and how to get the pool asked for.
    /// Past the cap, instances would fail to come up with an out-of-memory error.
    #[must_use]
    pub fn fitted(self) -> (Sizing, Option<String>) {
        let cap = std::fs::read_to_string(MAX_MAP_COUNT)
            .ok()
            .and_then(|text| text.trim().parse().ok());
        self.fitted_to(cap)
    }

    /// [`Sizing::fitted`] under a known cap (`None`: no cap known, nothing changes).
    #[must_use]
    pub fn fitted_to(self, max_map_count: Option<u64>) -> (Sizing, Option<String>) {
        let Some(cap) = max_map_count else {
            return (self, None);
        };
        let fit = cap.saturating_sub(MAPPINGS_BESIDES) / MAPPINGS_PER_SLOT;
        if u64::from(self.max_instances) <= fit {
            return (self, None);
        }
        let slots = u32::try_from(fit).unwrap_or(u32::MAX).max(1);
        let needed = u64::from(self.max_instances) * MAPPINGS_PER_SLOT + MAPPINGS_BESIDES;
        let warning = format!(
            "a pool of {} instances needs about {needed} memory mappings and vm.max_map_count is {cap}: the pool holds {slots} instances instead; for {} raise it (sysctl -w vm.max_map_count={}) or lower --max-instances",
            self.max_instances,
            self.max_instances,
            needed.next_power_of_two(),
        );
        (
            Sizing {
                max_instances: slots,
                ..self
            },
            Some(warning),
        )
    }
}

/// Stack for each async call; actors built with the wasmCloud SDK need far less.
const ASYNC_STACK_BYTES: usize = 1 << 20;
/// Guard after each linear memory: wasm's constant offsets below it need no check.
const GUARD_BYTES: u64 = 32 << 20;
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
        // Wasm code then checks bounds against the limit where a 4 GiB reservation
        // would let it skip them: a few per cent on memory-heavy code, and the price
        // of a pool sized from the limits (10,000 slots of 64 MiB reserve under 1 TiB;
        // of 4 GiB, 40 TiB, a third of the address space).
        .memory_reservation(sizing.max_memory)
        .memory_guard_size(GUARD_BYTES)
        .memory_reservation_for_growth(0)
        .async_stack_size(ASYNC_STACK_BYTES)
        .max_wasm_stack(WASM_STACK_BYTES)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .cache(Some(cache));
    Engine::new(&config).map_err(|e| EngineError::Pool {
        slots: sizing.max_instances,
        memory_mib: sizing.max_memory >> 20,
        reserved_gib: (u64::from(sizing.max_instances) * (sizing.max_memory + GUARD_BYTES)) >> 30,
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

    #[test]
    fn a_pool_past_the_cap_on_mappings_is_made_smaller_with_a_warning() {
        let asked = Sizing {
            max_instances: 40_000,
            max_memory: 64 << 20,
        };
        let (fitted, warning) = asked.clone().fitted_to(Some(65_530));
        assert_eq!(fitted.max_instances, 10_755);
        assert_eq!(fitted.max_memory, 64 << 20);
        let warning = warning.unwrap();
        assert!(
            warning.contains("a pool of 40000 instances needs about 241000 memory mappings")
                && warning.contains("the pool holds 10755 instances instead")
                && warning.contains("sysctl -w vm.max_map_count=262144"),
            "{warning}"
        );
        let (same, none) = asked.clone().fitted_to(Some(1 << 20));
        assert_eq!((same.max_instances, none), (40_000, None));
        assert_eq!(asked.fitted_to(None).0.max_instances, 40_000);
    }

    #[test]
    fn slots_reserve_their_limit_so_tens_of_thousands_fit_and_too_many_are_refused() {
        let dir = std::env::temp_dir().join(format!("kiln-engine-big-{}", std::process::id()));
        // 30,000 slots of 4 GiB would be 120 TiB, more than the user address space
        // holds beside the process; of 64 MiB and the guard, under 3 TiB. Each stack
        // takes two mappings, so the pool is kept under this machine's cap.
        let cap = std::fs::read_to_string(MAX_MAP_COUNT)
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
            .unwrap_or(65_530);
        let fits = Sizing {
            max_instances: 30_000.min(cap.saturating_sub(4_000) / 2),
            max_memory: 64 << 20,
        };
        build(&fits, &dir).unwrap();
        let too_many = Sizing {
            max_instances: 2_000_000,
            max_memory: 64 << 20,
        };
        let error = build(&too_many, &dir).unwrap_err().to_string();
        assert!(
            error.contains("2000000 instances of up to 64 MiB")
                && error.contains("lower --max-instances"),
            "{error}"
        );
        std::fs::remove_dir_all(dir).ok();
    }
}
