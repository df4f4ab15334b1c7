//! The capability providers this host runs, as the control plane wants them: claims,
//! binary, configuration, links its host data carried, last health. The processes run
//! under the data plane, the built-in ones in the control plane (`crate::builtin`);
//! `crate::control::providers` starts, adopts and stops them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use kiln_types::ids::Digest;
use kiln_types::link::LinkDefinition;
use kiln_types::par::ProviderClaims;
use tokio_util::sync::CancellationToken;

/// Health as the last check found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Not checked yet.
    Awaiting,
    /// Answered its last health check.
    Healthy,
    /// Did not answer its last health check.
    Unhealthy,
}

/// A provider the control plane serves itself: told of its links directly, checked
/// and stopped in place.
pub trait Builtin: Send + Sync + std::fmt::Debug {
    /// Serves the link's actor as its values say.
    ///
    /// # Errors
    /// Why it cannot (shown to people).
    fn put_link(&self, link: &LinkDefinition) -> Result<(), String>;
    /// Stops serving the link's actor.
    fn delete_link(&self, link: &LinkDefinition);
    /// Whether it is serving as asked.
    fn healthy(&self) -> bool;
    /// Stops serving anything.
    fn stop(&self);
}

/// A provider process under the data plane.
#[derive(Debug)]
pub struct Process {
    /// The archive's `claims.jwt`, kept so a restarted control plane can check the
    /// claims again (see `adoption`).
    pub token: String,
    /// Digest of the executable.
    pub digest: Digest,
    /// The executable, kept to push again to a restarted data plane.
    pub binary: Arc<Vec<u8>>,
}

/// Where a provider runs.
#[derive(Debug)]
pub enum Runs {
    /// As a process under the data plane.
    Process(Process),
    /// Inside the control plane.
    Builtin(Arc<dyn Builtin>),
}

/// A provider this host runs.
#[derive(Debug)]
pub struct Entry {
    /// Public key.
    pub key: String,
    /// Link name.
    pub link_name: String,
    /// Verified claims (the host's own for a built-in provider).
    pub claims: ProviderClaims,
    /// Where it came from.
    pub image_ref: String,
    /// Where it runs.
    pub runs: Runs,
    /// Random id of this start.
    pub instance_id: String,
    /// Configuration string given at start.
    pub config_json: Option<String>,
    /// Annotations given at start.
    pub annotations: BTreeMap<String, String>,
    /// Last health.
    pub health: Mutex<Health>,
    /// The links its host data carried when its process was started (taken before the
    /// host data, so a link put in between is sent again, never missed).
    pub host_data_links: Mutex<Vec<LinkDefinition>>,
    /// Set until its first passing health check has sent it the links it missed.
    pub catch_up_pending: std::sync::atomic::AtomicBool,
    /// Cancelled when it stops: its health checks end.
    pub stop_checks: CancellationToken,
}

impl Entry {
    /// Its process, unless it is built in.
    #[must_use]
    pub fn process(&self) -> Option<&Process> {
        match &self.runs {
            Runs::Process(process) => Some(process),
            Runs::Builtin(_) => None,
        }
    }

    /// The built-in provider it is, if it is one.
    #[must_use]
    pub fn builtin(&self) -> Option<&Arc<dyn Builtin>> {
        match &self.runs {
            Runs::Builtin(builtin) => Some(builtin),
            Runs::Process(_) => None,
        }
    }

    /// The contract it implements.
    #[must_use]
    pub fn contract_id(&self) -> &str {
        self.claims
            .metadata
            .as_ref()
            .map_or("", |m| m.capid.as_str())
    }

    /// The links its host data carried when its process was started.
    #[must_use]
    pub fn host_data_links(&self) -> Vec<LinkDefinition> {
        self.host_data_links
            .lock()
            .expect("invariant: host data lock is never poisoned")
            .clone()
    }

    /// Last health.
    #[must_use]
    pub fn health(&self) -> Health {
        *self
            .health
            .lock()
            .expect("invariant: health lock is never poisoned")
    }
}

/// Providers by (key, link name).
#[derive(Debug, Default)]
pub struct Providers {
    entries: RwLock<HashMap<(String, String), Arc<Entry>>>,
}

impl Providers {
    /// The entry of (key, link).
    #[must_use]
    pub fn get(&self, key: &str, link_name: &str) -> Option<Arc<Entry>> {
        self.read()
            .get(&(key.to_string(), link_name.to_string()))
            .cloned()
    }

    /// Every entry, sorted.
    #[must_use]
    pub fn all(&self) -> Vec<Arc<Entry>> {
        let mut all: Vec<_> = self.read().values().cloned().collect();
        all.sort_by(|a, b| (&a.key, &a.link_name).cmp(&(&b.key, &b.link_name)));
        all
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<(String, String), Arc<Entry>>> {
        self.entries
            .read()
            .expect("invariant: provider lock is never poisoned")
    }

    /// Records `entry`, replacing what ran on its key and link.
    pub fn insert(&self, entry: Arc<Entry>) {
        self.write()
            .insert((entry.key.clone(), entry.link_name.clone()), entry);
    }

    /// Forgets the entry of (key, link) and returns it.
    pub fn remove(&self, key: &str, link_name: &str) -> Option<Arc<Entry>> {
        self.write()
            .remove(&(key.to_string(), link_name.to_string()))
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<(String, String), Arc<Entry>>> {
        self.entries
            .write()
            .expect("invariant: provider lock is never poisoned")
    }
}
