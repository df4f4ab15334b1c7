//! The data plane's state: artifacts, running actors and providers, and the commands
//! on them.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use kiln_proto::dataplane::v1 as pb;

use crate::artifacts::{self, ArtifactError};
use crate::config::Config;
use crate::providers::{ProviderError, Providers};
use crate::workload::{Actor, CallError, Limits, Runtime, StartError};
use tokio_util::task::TaskTracker;

/// A command that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The artifact has not been pushed (or was lost).
    #[error("artifact {0} is not on this data plane; push it first")]
    MissingArtifact(String),
    /// The artifact failed.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// The actor failed to start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// No such actor.
    #[error("actor {0} is not running on this data plane")]
    NotRunning(String),
    /// Its instances could not all be brought up (`--instance-mode warm`).
    #[error("could not bring up the instances of {actor}: {reason}")]
    BringUp {
        /// The actor.
        actor: String,
        /// How many came up, and why the next did not.
        reason: String,
    },
    /// A provider failed to start.
    #[error(transparent)]
    Provider(#[from] crate::providers::ProviderError),
    /// A record larger than the data plane keeps.
    #[error("a record of {0} bytes is above the limit of {MAX_RECORD_BYTES} bytes")]
    Record(usize),
    /// A limit above what this data plane was sized for.
    #[error("memory limit of {asked} bytes is above this data plane's maximum of {max} bytes")]
    Limit {
        /// Asked for.
        asked: u64,
        /// Allowed.
        max: u64,
    },
}

/// Largest record kept per actor or provider.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Brings up every instance of `started` in `warm` mode.
async fn bring_up(key: &str, started: &Actor) -> Result<(), CommandError> {
    started.bring_up().await.map_err(|e| CommandError::BringUp {
        actor: key.to_string(),
        reason: e.message,
    })
}

fn check_record(record: &[u8]) -> Result<(), CommandError> {
    if record.len() > MAX_RECORD_BYTES {
        return Err(CommandError::Record(record.len()));
    }
    Ok(())
}

/// Everything one data plane runs.
pub struct Plane {
    runtime: Runtime,
    artifacts: artifacts::Store,
    actors: RwLock<HashMap<String, Arc<Actor>>>,
    /// The control plane's record of each actor, returned in the inventory.
    records: RwLock<HashMap<String, Bytes>>,
    defaults: Limits,
    providers: Providers,
    boot_id: String,
    started: Instant,
}

impl Plane {
    /// A host with nothing running.
    #[must_use]
    pub fn new(
        runtime: Runtime,
        artifacts: artifacts::Store,
        config: &Config,
        tasks: TaskTracker,
    ) -> Plane {
        Plane {
            runtime,
            artifacts,
            actors: RwLock::new(HashMap::new()),
            records: RwLock::new(HashMap::new()),
            defaults: Limits {
                deadline: config.deadline,
                memory: usize::try_from(config.memory_limit).unwrap_or(usize::MAX),
            },
            providers: Providers::new(tasks),
            boot_id: uuid::Uuid::new_v4().to_string(),
            started: Instant::now(),
        }
    }

    /// The artifact store.
    #[must_use]
    pub fn artifacts(&self) -> &artifacts::Store {
        &self.artifacts
    }

    /// The runtime shared by all actors.
    #[must_use]
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Starts `actor` from `digest`, or re-sizes it when it already runs from that digest.
    /// A running actor with another digest is replaced; its calls in flight finish.
    ///
    /// # Errors
    /// A missing artifact, a bad limit, or a module that will not start.
    pub async fn start_actor(
        &self,
        actor: &str,
        digest: &str,
        instances: u32,
        limits: Option<&pb::Limits>,
        record: Bytes,
    ) -> Result<(), CommandError> {
        let limits = self.limits(limits)?;
        check_record(&record)?;
        if let Some(running) = self.actor(actor)
            && running.digest() == digest
        {
            self.rescale(actor, &running, instances, limits).await?;
            self.keep_record(actor, record);
            return Ok(());
        }
        let module = self
            .artifacts
            .get(digest)
            .await?
            .ok_or_else(|| CommandError::MissingArtifact(digest.to_string()))?;
        let started =
            Actor::start(&self.runtime, actor, digest, &module, limits, instances).await?;
        bring_up(actor, &started).await?;
        self.insert(actor, started);
        self.keep_record(actor, record);
        tracing::info!(actor, digest, instances, "actor started");
        Ok(())
    }

    /// Changes the instance count of a running actor.
    ///
    /// # Errors
    /// When the actor does not run here, or its instances cannot all be brought up.
    pub async fn scale_actor(
        &self,
        actor: &str,
        instances: u32,
        record: Bytes,
    ) -> Result<(), CommandError> {
        check_record(&record)?;
        let running = self
            .actor(actor)
            .ok_or_else(|| CommandError::NotRunning(actor.to_string()))?;
        self.rescale(actor, &running, instances, running.limits())
            .await?;
        self.keep_record(actor, record);
        tracing::info!(actor, instances, "actor scaled");
        Ok(())
    }

    /// Stops an actor; returns whether it ran. Calls in flight finish.
    pub fn stop_actor(&self, actor: &str) -> bool {
        let removed = self
            .actors
            .write()
            .expect("invariant: actors lock is never poisoned")
            .remove(actor)
            .is_some();
        self.records
            .write()
            .expect("invariant: records lock is never poisoned")
            .remove(actor);
        if removed {
            tracing::info!(actor, "actor stopped");
        }
        removed
    }

    /// Runs one call.
    ///
    /// # Errors
    /// See [`Actor::invoke`]; also when the actor does not run here.
    pub async fn invoke(
        &self,
        actor: &str,
        operation: String,
        payload: Bytes,
        invocation_id: String,
    ) -> Result<Vec<u8>, CallError> {
        let running = self.actor(actor).ok_or_else(|| CallError {
            kind: pb::invoke_error::Kind::NotRunning,
            message: format!("actor {actor} is not running on this host"),
        })?;
        running.invoke(operation, payload, invocation_id).await
    }

    /// Starts a provider from a pushed executable; see [`Providers::start`].
    ///
    /// # Errors
    /// A missing executable or a process that cannot start.
    pub async fn start_provider(
        &self,
        provider: &str,
        link: &str,
        digest: &str,
        host_data: Bytes,
        record: Bytes,
    ) -> Result<(u32, bool), CommandError> {
        check_record(&record)?;
        let executable = self
            .artifacts
            .executable(digest)
            .ok_or_else(|| ProviderError::MissingExecutable(digest.to_string()))?;
        Ok(self
            .providers
            .start(provider, link, digest, &executable, host_data, record)
            .await?)
    }

    /// The providers.
    #[must_use]
    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    /// Calls running now over all actors.
    #[must_use]
    pub fn busy(&self) -> u32 {
        self.lock_read()
            .values()
            .map(|a| a.stats().busy.load(Ordering::Relaxed))
            .sum()
    }

    /// What runs here.
    #[must_use]
    pub fn inventory(&self) -> pb::InventoryResponse {
        let records = self
            .records
            .read()
            .expect("invariant: records lock is never poisoned");
        let mut actors: Vec<pb::ActorStatus> = self
            .lock_read()
            .iter()
            .map(|(key, actor)| pb::ActorStatus {
                actor: key.clone(),
                digest: actor.digest().to_string(),
                instances: actor.instances(),
                busy: actor.stats().busy.load(Ordering::Relaxed),
                live: actor.stats().live.load(Ordering::Relaxed),
                calls: actor.stats().calls.load(Ordering::Relaxed),
                failures: actor.stats().failures.load(Ordering::Relaxed),
                record: records.get(key).cloned().unwrap_or_default(),
            })
            .collect();
        actors.sort_by(|a, b| a.actor.cmp(&b.actor));
        pb::InventoryResponse {
            boot_id: self.boot_id.clone(),
            uptime_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            actors,
            artifacts: self.artifacts.digests(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            providers: self.providers.inventory(),
        }
    }

    fn limits(&self, asked: Option<&pb::Limits>) -> Result<Limits, CommandError> {
        let mut limits = self.defaults;
        if let Some(asked) = asked {
            if asked.deadline_ms > 0 {
                limits.deadline = Duration::from_millis(u64::from(asked.deadline_ms));
            }
            if asked.memory_bytes > 0 {
                let max = self.defaults.memory as u64;
                if asked.memory_bytes > max {
                    return Err(CommandError::Limit {
                        asked: asked.memory_bytes,
                        max,
                    });
                }
                limits.memory = usize::try_from(asked.memory_bytes).unwrap_or(usize::MAX);
            }
        }
        Ok(limits)
    }

    /// Replaces `running` by itself with another instance count and limits, once its
    /// instances are up; when they cannot all come up it stays as it was.
    async fn rescale(
        &self,
        key: &str,
        running: &Actor,
        instances: u32,
        limits: Limits,
    ) -> Result<(), CommandError> {
        let rescaled = running.rescaled(instances, limits);
        if let Err(error) = bring_up(key, &rescaled).await {
            running.take_back(rescaled);
            return Err(error);
        }
        self.insert(key, rescaled);
        Ok(())
    }

    fn keep_record(&self, actor: &str, record: Bytes) {
        self.records
            .write()
            .expect("invariant: records lock is never poisoned")
            .insert(actor.to_string(), record);
    }

    fn actor(&self, key: &str) -> Option<Arc<Actor>> {
        self.lock_read().get(key).cloned()
    }

    fn insert(&self, key: &str, actor: Actor) {
        self.actors
            .write()
            .expect("invariant: actors lock is never poisoned")
            .insert(key.to_string(), Arc::new(actor));
    }

    fn lock_read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Actor>>> {
        self.actors
            .read()
            .expect("invariant: actors lock is never poisoned")
    }
}

#[cfg(test)]
mod tests;
