//! A running actor: its pre-linked module, its instances and how one call runs.
//!
//! `instances` is the number of calls the actor serves at once; each instance serves
//! one call at a time. In `Reuse` mode a finished instance waits for the next call; an
//! instance whose call trapped, timed out or overran its memory is thrown away and a
//! fresh one takes its place, so a failure never leaks into the next call.

use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kiln_proto::dataplane::v1::invoke_error::Kind;
use tokio::sync::Semaphore;
use wasmtime::{Engine, InstancePre, Module, Store, Trap, TypedFunc};

use crate::config::InstanceMode;
use crate::host::HostState;
use crate::hostcalls::Broker;

/// Limits of one actor's instances.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deadline of one call.
    pub deadline: Duration,
    /// Linear memory cap of one instance, bytes.
    pub memory: usize,
}

/// A failed call, with the kind the control plane reports.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct CallError {
    /// What failed.
    pub kind: Kind,
    /// For people.
    pub message: String,
}

impl CallError {
    fn new(kind: Kind, message: impl Into<String>) -> CallError {
        CallError {
            kind,
            message: message.into(),
        }
    }
}

/// An actor that could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The module imports something this host does not provide.
    #[error("actor cannot be linked: {0}")]
    Link(String),
    /// A required export is missing or has the wrong type.
    #[error("actor does not export {0}")]
    Export(&'static str),
    /// The first instance failed to come up.
    #[error("actor failed to instantiate: {0}")]
    Instantiate(String),
}

/// What every actor of a data plane shares.
pub struct Runtime {
    /// The linker with WASI and the wasmbus imports.
    pub linker: wasmtime::Linker<HostState>,
    /// Route of host calls to the control plane.
    pub broker: Arc<Broker>,
    /// Instance reuse policy.
    pub mode: InstanceMode,
}

struct Warm {
    store: Store<HostState>,
    guest_call: TypedFunc<(i32, i32), i32>,
    _live: Live,
}

/// Counts an instance in [`Stats::live`] for as long as it exists.
struct Live(Arc<Stats>);

impl Live {
    fn new(stats: &Arc<Stats>) -> Live {
        stats.live.fetch_add(1, Ordering::Relaxed);
        Live(stats.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counters of one actor.
#[derive(Debug, Default)]
pub struct Stats {
    /// Calls started.
    pub calls: AtomicU64,
    /// Calls that failed.
    pub failures: AtomicU64,
    /// Calls running now.
    pub busy: AtomicU32,
    /// Instances in memory now, idle or serving a call.
    pub live: AtomicU32,
}

/// A running actor.
pub struct Actor {
    key: Arc<str>,
    digest: String,
    engine: Engine,
    pre: InstancePre<HostState>,
    limits: Limits,
    mode: InstanceMode,
    instances: u32,
    permits: Semaphore,
    idle: Mutex<VecDeque<Warm>>,
    broker: Arc<Broker>,
    stats: Arc<Stats>,
}

impl Actor {
    /// Links `module`, checks its exports and brings up one instance to prove it runs.
    ///
    /// # Errors
    /// A [`StartError`] naming what is wrong with the module.
    pub async fn start(
        runtime: &Runtime,
        key: &str,
        digest: &str,
        module: &Module,
        limits: Limits,
        instances: u32,
    ) -> Result<Actor, StartError> {
        check_exports(module)?;
        let pre = runtime
            .linker
            .instantiate_pre(module)
            .map_err(|e| StartError::Link(format!("{e:#}")))?;
        let actor = Actor {
            key: Arc::from(key),
            digest: digest.to_string(),
            engine: module.engine().clone(),
            pre,
            limits,
            mode: runtime.mode,
            instances: instances.max(1),
            permits: Semaphore::new(instances.max(1) as usize),
            idle: Mutex::new(VecDeque::new()),
            broker: runtime.broker.clone(),
            stats: Arc::new(Stats::default()),
        };
        let first = actor
            .instantiate()
            .await
            .map_err(|e| StartError::Instantiate(e.message))?;
        if actor.mode.reuses() {
            actor.lock_idle().push_back(first);
        }
        Ok(actor)
    }

    /// The same actor with another instance count and limits. Calls in flight finish on
    /// `self`; idle instances move over.
    #[must_use]
    pub fn rescaled(&self, instances: u32, limits: Limits) -> Actor {
        let instances = instances.max(1);
        let mut idle = std::mem::take(&mut *self.lock_idle());
        if limits.memory != self.limits.memory {
            idle.clear();
        }
        idle.truncate(instances as usize);
        Actor {
            key: self.key.clone(),
            digest: self.digest.clone(),
            engine: self.engine.clone(),
            pre: self.pre.clone(),
            limits,
            mode: self.mode,
            instances,
            permits: Semaphore::new(instances as usize),
            idle: Mutex::new(idle),
            broker: self.broker.clone(),
            stats: self.stats.clone(),
        }
    }

    /// Takes back the idle instances of `rescaled`, made from `self` by
    /// [`Actor::rescaled`], when it is not used after all (its instances could not all
    /// come up).
    pub fn take_back(&self, rescaled: Actor) {
        let mut idle = std::mem::take(&mut *rescaled.lock_idle());
        if rescaled.limits.memory != self.limits.memory {
            return;
        }
        idle.truncate(self.instances as usize);
        self.lock_idle().append(&mut idle);
    }

    /// Limits of its instances.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Digest of the module.
    #[must_use]
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Instance count.
    #[must_use]
    pub fn instances(&self) -> u32 {
        self.instances
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// In `warm` mode, brings instances up until all of them are; otherwise nothing.
    ///
    /// # Errors
    /// When one cannot be brought up (the pool is full, usually), with how many were.
    pub async fn bring_up(&self) -> Result<(), CallError> {
        if self.mode != InstanceMode::Warm {
            return Ok(());
        }
        while self.stats.live.load(Ordering::Relaxed) < self.instances {
            let warm = self.instantiate().await.map_err(|e| {
                CallError::new(
                    e.kind,
                    format!(
                        "{} of {} instances are up; the next failed: {}",
                        self.stats.live.load(Ordering::Relaxed),
                        self.instances,
                        e.message
                    ),
                )
            })?;
            self.lock_idle().push_back(warm);
        }
        Ok(())
    }

    /// Runs one call on a free instance, waiting for one if all are busy.
    ///
    /// # Errors
    /// A [`CallError`]: the guest's own error, a trap, the deadline or the memory limit.
    pub async fn invoke(
        &self,
        operation: String,
        payload: Bytes,
        invocation_id: String,
    ) -> Result<Vec<u8>, CallError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| CallError::new(Kind::NotRunning, "actor is stopping"))?;
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        self.stats.busy.fetch_add(1, Ordering::Relaxed);
        let result = self.run(operation, payload, invocation_id).await;
        self.stats.busy.fetch_sub(1, Ordering::Relaxed);
        if result.is_err() {
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    async fn run(
        &self,
        operation: String,
        payload: Bytes,
        invocation_id: String,
    ) -> Result<Vec<u8>, CallError> {
        let reused = match self.mode {
            // The one used last is the likeliest to be in the caches.
            InstanceMode::Reuse => self.lock_idle().pop_back(),
            // In turn, so every instance keeps answering.
            InstanceMode::Warm => self.lock_idle().pop_front(),
            InstanceMode::Fresh => None,
        };
        let mut warm = match reused {
            Some(warm) => warm,
            None => self.instantiate().await?,
        };
        let (op_len, payload_len) = (len_i32(operation.len())?, len_i32(payload.len())?);
        let state = warm.store.data_mut();
        state.call = crate::host::CallState {
            operation,
            payload,
            invocation_id,
            span: Some(tracing::Span::current()),
            ..Default::default()
        };
        state.deadline = Instant::now() + self.limits.deadline;
        state.timed_out = false;
        warm.store.set_epoch_deadline(1);
        // The epoch callback interrupts wasm that runs too long; this timeout covers a
        // guest that waits too long on a host call.
        let outcome = tokio::time::timeout(
            self.limits.deadline,
            warm.guest_call
                .call_async(&mut warm.store, (op_len, payload_len)),
        )
        .await;
        let code = match outcome {
            Err(_) => return Err(self.deadline_error()),
            Ok(Err(error)) => return Err(self.classify(&warm.store, &error)),
            Ok(Ok(code)) => code,
        };
        let call = std::mem::take(&mut warm.store.data_mut().call);
        if self.mode.reuses() {
            self.lock_idle().push_back(warm);
        }
        if code == 1 {
            Ok(call.response.unwrap_or_default())
        } else if let Some(error) = call.guest_error {
            Err(CallError::new(Kind::Guest, error))
        } else if let Some(error) = call.host_error {
            Err(CallError::new(
                Kind::Guest,
                format!("host call failed: {error}"),
            ))
        } else {
            Err(CallError::new(
                Kind::Guest,
                format!("actor returned failure code {code} without an error"),
            ))
        }
    }

    async fn instantiate(&self) -> Result<Warm, CallError> {
        let state = HostState::new(self.key.clone(), self.broker.clone(), self.limits.memory);
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_callback(|mut ctx| Ok(ctx.data_mut().on_epoch()));
        store.data_mut().deadline = Instant::now() + self.limits.deadline;
        store.set_epoch_deadline(1);
        let instance = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| self.classify(&store, &e))?;
        // TinyGo and WASI command modules initialise their runtime in `_start`. Looked
        // up as an `Option`: a missing export as an error would capture a backtrace
        // (with `RUST_BACKTRACE` set), tens of µs of every instantiation.
        if let Some(start) = instance.get_func(&mut store, "_start")
            && let Ok(start) = start.typed::<(), ()>(&store)
            && let Err(error) = start.call_async(&mut store, ()).await
            && !exited_cleanly(&error)
        {
            return Err(self.classify(&store, &error));
        }
        let guest_call = instance
            .get_typed_func::<(i32, i32), i32>(&mut store, "__guest_call")
            .map_err(|e| CallError::new(Kind::Host, format!("{e:#}")))?;
        Ok(Warm {
            store,
            guest_call,
            _live: Live::new(&self.stats),
        })
    }

    fn classify(&self, store: &Store<HostState>, error: &wasmtime::Error) -> CallError {
        let state = store.data();
        if state.timed_out {
            self.deadline_error()
        } else if state.limiter.exceeded {
            CallError::new(
                Kind::Memory,
                format!(
                    "actor exceeded its memory limit of {} MiB",
                    self.limits.memory >> 20
                ),
            )
        } else if let Some(trap) = error.downcast_ref::<Trap>() {
            CallError::new(Kind::Trap, format!("actor trapped: {trap}"))
        } else {
            CallError::new(Kind::Trap, format!("actor failed: {error:#}"))
        }
    }

    fn deadline_error(&self) -> CallError {
        CallError::new(
            Kind::Deadline,
            format!(
                "actor call exceeded its deadline of {} ms",
                self.limits.deadline.as_millis()
            ),
        )
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, VecDeque<Warm>> {
        self.idle
            .lock()
            .expect("invariant: idle lock is never poisoned")
    }
}

fn check_exports(module: &Module) -> Result<(), StartError> {
    use wasmtime::ExternType;
    match module.get_export("__guest_call") {
        Some(ExternType::Func(f)) if f.params().len() == 2 && f.results().len() == 1 => {}
        _ => {
            return Err(StartError::Export(
                "__guest_call (a function of two i32 returning i32)",
            ));
        }
    }
    match module.get_export("memory") {
        Some(ExternType::Memory(_)) => Ok(()),
        _ => Err(StartError::Export("its linear memory as \"memory\"")),
    }
}

fn exited_cleanly(error: &wasmtime::Error) -> bool {
    error
        .downcast_ref::<wasmtime_wasi::I32Exit>()
        .is_some_and(|exit| exit.0 == 0)
}

fn len_i32(len: usize) -> Result<i32, CallError> {
    i32::try_from(len)
        .map_err(|_| CallError::new(Kind::Host, format!("payload of {len} bytes is too large")))
}
