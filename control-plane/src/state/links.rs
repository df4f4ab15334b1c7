//! Link definitions known to this host, by id: the lattice cache's copy, kept current
//! by the cache watcher and by this host's own puts and deletes.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use kiln_types::link::{LinkDefinition, link_id};

/// Most links kept: the lattice cache is written by anyone on the lattice.
pub const MAX_LINKS: usize = 100_000;

/// The links of the lattice.
#[derive(Debug, Default)]
pub struct Links {
    by_id: RwLock<HashMap<String, Arc<LinkDefinition>>>,
}

impl Links {
    /// The link for (actor, contract, link name).
    #[must_use]
    pub fn find(
        &self,
        actor: &str,
        contract: &str,
        link_name: &str,
    ) -> Option<Arc<LinkDefinition>> {
        self.read()
            .get(&link_id(actor, contract, link_name))
            .cloned()
    }

    /// Stores `link`; returns whether anything changed.
    pub fn put(&self, link: LinkDefinition) -> bool {
        let mut by_id = self
            .by_id
            .write()
            .expect("invariant: links lock is never poisoned");
        if by_id.get(&link.id).is_some_and(|known| **known == link) {
            return false;
        }
        if by_id.len() >= MAX_LINKS && !by_id.contains_key(&link.id) {
            tracing::warn!(
                max = MAX_LINKS,
                "the link table is full; ignoring a new link"
            );
            return false;
        }
        by_id.insert(link.id.clone(), Arc::new(link));
        true
    }

    /// Forgets the link `id`; returns it if it was known.
    pub fn remove(&self, id: &str) -> Option<Arc<LinkDefinition>> {
        self.by_id
            .write()
            .expect("invariant: links lock is never poisoned")
            .remove(id)
    }

    /// Every link, sorted by id.
    #[must_use]
    pub fn all(&self) -> Vec<Arc<LinkDefinition>> {
        let mut all: Vec<_> = self.read().values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// The links one provider instance serves.
    #[must_use]
    pub fn for_provider(&self, provider: &str, link_name: &str) -> Vec<Arc<LinkDefinition>> {
        self.all()
            .into_iter()
            .filter(|l| l.provider_id == provider && l.link_name == link_name)
            .collect()
    }

    /// Copies of the links one provider instance serves, as host data carries them.
    #[must_use]
    pub fn definitions_for(&self, provider: &str, link_name: &str) -> Vec<LinkDefinition> {
        self.for_provider(provider, link_name)
            .iter()
            .map(|l| (**l).clone())
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<LinkDefinition>>> {
        self.by_id
            .read()
            .expect("invariant: links lock is never poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(values: &[(&str, &str)]) -> LinkDefinition {
        LinkDefinition::new(
            "MA",
            "VP",
            "default",
            "wasmcloud:keyvalue",
            values
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        )
    }

    #[test]
    fn put_reports_changes_and_find_uses_the_id() {
        let links = Links::default();
        assert!(links.put(link(&[])));
        assert!(!links.put(link(&[])), "the same link again is no change");
        assert!(links.put(link(&[("URL", "redis://x")])));
        let found = links.find("MA", "wasmcloud:keyvalue", "default").unwrap();
        assert_eq!(found.values["URL"], "redis://x");
        assert!(links.find("MA", "wasmcloud:keyvalue", "other").is_none());
        assert_eq!(links.for_provider("VP", "default").len(), 1);
        assert!(links.remove(&found.id).is_some());
        assert!(links.all().is_empty());
    }
}
