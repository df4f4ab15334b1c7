//! Desired state of the actors on this host: claims, module, instances. The data plane
//! is brought in line with it, also after the data plane restarts.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use kiln_types::claims::{Actor as ActorMeta, ActorClaims};
use kiln_types::ids::{ActorKey, Digest};

/// One instance as the lattice sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Random id.
    pub id: String,
    /// Annotations given at start.
    pub annotations: BTreeMap<String, String>,
}

/// An actor this host runs.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Public key.
    pub key: ActorKey,
    /// Verified claims.
    pub claims: Arc<ActorClaims>,
    /// The token the claims were read from, kept so a restarted control plane can check
    /// them again (see `adoption`).
    pub token: Arc<str>,
    /// Where it came from.
    pub image_ref: String,
    /// Digest of the stripped module.
    pub digest: Digest,
    /// The stripped module, kept to push again to a restarted data plane.
    pub module: Arc<Vec<u8>>,
    /// Instances.
    pub instances: Vec<Instance>,
}

impl Entry {
    /// The claims' metadata.
    #[must_use]
    pub fn meta(&self) -> &ActorMeta {
        self.claims
            .metadata
            .as_ref()
            .expect("invariant: only verified claims, which carry metadata, are registered")
    }

    /// Instance count as the data plane needs it.
    #[must_use]
    pub fn count(&self) -> u32 {
        u32::try_from(self.instances.len()).unwrap_or(u32::MAX)
    }
}

/// The actors of this host.
#[derive(Debug, Default)]
pub struct Actors {
    actors: RwLock<HashMap<String, Arc<Entry>>>,
}

impl Actors {
    /// The entry of `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<Arc<Entry>> {
        self.read().get(key).cloned()
    }

    /// Every entry, sorted by key.
    #[must_use]
    pub fn all(&self) -> Vec<Arc<Entry>> {
        let mut all: Vec<_> = self.read().values().cloned().collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }

    /// Stores `entry`, replacing any entry of the same key.
    pub fn put(&self, entry: Entry) -> Arc<Entry> {
        let entry = Arc::new(entry);
        self.actors
            .write()
            .expect("invariant: actor lock is never poisoned")
            .insert(entry.key.to_string(), entry.clone());
        entry
    }

    /// Removes `key`.
    pub fn remove(&self, key: &str) -> Option<Arc<Entry>> {
        self.actors
            .write()
            .expect("invariant: actor lock is never poisoned")
            .remove(key)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Entry>>> {
        self.actors
            .read()
            .expect("invariant: actor lock is never poisoned")
    }
}
