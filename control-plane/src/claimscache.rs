//! The lattice's claims, call aliases and reference maps as this host knows them: its
//! own starts plus everything the lattice cache (`CLAIMS_*`, `REFMAP_*`) carries from
//! other hosts. Values keep the wasmbus host's shapes: strings, lists comma-joined.

use std::collections::HashMap;
use std::sync::RwLock;

use kiln_types::claims::ActorClaims;
use kiln_types::par::ProviderClaims;
use serde::{Deserialize, Deserializer, Serialize};

/// One `CLAIMS_{key}` value, as `get.claims` and the lattice cache carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredClaims {
    /// Call alias, empty when none.
    #[serde(default, deserialize_with = "nullable")]
    pub call_alias: String,
    /// Issuer (account key).
    pub iss: String,
    /// Display name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Capability contracts, comma-joined.
    #[serde(default, deserialize_with = "nullable")]
    pub caps: String,
    /// Revision, as a string.
    #[serde(default, deserialize_with = "nullable")]
    pub rev: String,
    /// Tags, comma-joined.
    #[serde(default, deserialize_with = "nullable")]
    pub tags: String,
    /// Version string, empty when none: every value is a string, since clients read
    /// the entry as a map of strings (wasmcloud-control-interface fails on a null).
    #[serde(default, deserialize_with = "nullable")]
    pub version: String,
    /// Subject: the actor's or provider's public key.
    pub sub: String,
    /// Contract id: empty for actors.
    #[serde(default, deserialize_with = "nullable")]
    pub contract_id: String,
}

fn nullable<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
}

impl StoredClaims {
    /// The stored form of an actor's claims.
    #[must_use]
    pub fn of_actor(claims: &ActorClaims) -> StoredClaims {
        let meta = claims.metadata.clone().unwrap_or_default();
        StoredClaims {
            call_alias: meta.call_alias.clone().unwrap_or_default(),
            iss: claims.issuer.clone(),
            name: meta.name.clone().unwrap_or_default(),
            caps: meta.caps().join(","),
            rev: kiln_types::claims::revision(claims).to_string(),
            tags: meta.tags.clone().unwrap_or_default().join(","),
            version: meta.ver.clone().unwrap_or_default(),
            sub: claims.subject.clone(),
            contract_id: String::new(),
        }
    }

    /// The stored form of a provider's claims.
    #[must_use]
    pub fn of_provider(claims: &ProviderClaims) -> StoredClaims {
        let meta = claims.metadata.clone().unwrap_or_default();
        StoredClaims {
            call_alias: String::new(),
            iss: claims.issuer.clone(),
            name: meta.name.clone().unwrap_or_default(),
            caps: String::new(),
            rev: meta.rev.unwrap_or_default().to_string(),
            tags: String::new(),
            version: meta.ver.clone().unwrap_or_default(),
            sub: claims.subject.clone(),
            contract_id: meta.capid,
        }
    }

    /// The revision as a number (0 when unreadable).
    #[must_use]
    pub fn revision(&self) -> i64 {
        self.rev.parse().unwrap_or_default()
    }
}

/// Claims, aliases and reference maps of the lattice.
#[derive(Debug, Default)]
pub struct ClaimsCache {
    claims: RwLock<HashMap<String, StoredClaims>>,
    aliases: RwLock<HashMap<String, String>>,
    refmaps: RwLock<HashMap<String, String>>,
}

impl ClaimsCache {
    /// Caches `claims`; returns whether anything changed. The first claimant of a call
    /// alias keeps it, as on every wasmbus host.
    pub fn put(&self, claims: StoredClaims) -> bool {
        if !claims.call_alias.is_empty() {
            self.aliases
                .write()
                .expect("invariant: alias lock is never poisoned")
                .entry(claims.call_alias.clone())
                .or_insert_with(|| claims.sub.clone());
        }
        let mut all = self
            .claims
            .write()
            .expect("invariant: claims lock is never poisoned");
        if all.get(&claims.sub) == Some(&claims) {
            return false;
        }
        all.insert(claims.sub.clone(), claims);
        true
    }

    /// Forgets the claims of `key`, and any alias it held.
    pub fn remove(&self, key: &str) {
        self.claims
            .write()
            .expect("invariant: claims lock is never poisoned")
            .remove(key);
        self.aliases
            .write()
            .expect("invariant: alias lock is never poisoned")
            .retain(|_, owner| owner != key);
    }

    /// The claims of `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<StoredClaims> {
        self.claims
            .read()
            .expect("invariant: claims lock is never poisoned")
            .get(key)
            .cloned()
    }

    /// Every cached claim, sorted by subject.
    #[must_use]
    pub fn all(&self) -> Vec<StoredClaims> {
        let mut all: Vec<_> = self
            .claims
            .read()
            .expect("invariant: claims lock is never poisoned")
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.sub.cmp(&b.sub));
        all
    }

    /// The actor that claims `alias`.
    #[must_use]
    pub fn resolve_alias(&self, alias: &str) -> Option<String> {
        self.aliases
            .read()
            .expect("invariant: alias lock is never poisoned")
            .get(alias)
            .cloned()
    }

    /// Records that `reference` names `key`; returns whether it is new.
    pub fn put_refmap(&self, reference: &str, key: &str) -> bool {
        self.refmaps
            .write()
            .expect("invariant: refmap lock is never poisoned")
            .insert(reference.to_string(), key.to_string())
            .as_deref()
            != Some(key)
    }

    /// The key `reference` names, if known; a public key names itself.
    #[must_use]
    pub fn resolve_ref(&self, reference: &str) -> Option<String> {
        if kiln_types::keys::KeyKind::of_public_key(reference).is_some() {
            return Some(reference.to_string());
        }
        self.refmaps
            .read()
            .expect("invariant: refmap lock is never poisoned")
            .get(reference)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(sub: &str, alias: &str) -> StoredClaims {
        StoredClaims {
            call_alias: alias.into(),
            iss: "AISSUER".into(),
            name: "echo".into(),
            caps: "wasmcloud:httpserver,wasmcloud:keyvalue".into(),
            rev: "3".into(),
            tags: String::new(),
            version: "0.1.0".into(),
            sub: sub.into(),
            contract_id: String::new(),
        }
    }

    #[test]
    fn first_alias_claimant_wins_and_values_keep_the_wasmbus_shape() {
        let cache = ClaimsCache::default();
        assert!(cache.put(stored("MA", "echo")));
        assert!(!cache.put(stored("MA", "echo")), "unchanged");
        assert!(cache.put(stored("MB", "echo")));
        assert_eq!(cache.resolve_alias("echo").as_deref(), Some("MA"));
        cache.remove("MA");
        assert_eq!(cache.resolve_alias("echo"), None);
        let json = serde_json::to_value(stored("MA", "")).unwrap();
        assert_eq!(json["rev"], "3");
        assert_eq!(json["caps"], "wasmcloud:httpserver,wasmcloud:keyvalue");
        assert_eq!(json["contract_id"], "");
        let read: StoredClaims = serde_json::from_str(
            r#"{"call_alias":null,"iss":"A","name":"x","caps":"","rev":"1","tags":"","version":null,"sub":"MX","contract_id":""}"#,
        )
        .unwrap();
        assert_eq!(read.call_alias, "");
        assert_eq!(read.revision(), 1);
    }

    #[test]
    fn refmaps_resolve_references_and_keys_name_themselves() {
        let cache = ClaimsCache::default();
        assert!(cache.put_refmap("reg.example/echo:1", "MA"));
        assert!(!cache.put_refmap("reg.example/echo:1", "MA"));
        assert_eq!(
            cache.resolve_ref("reg.example/echo:1").as_deref(),
            Some("MA")
        );
        let key = kiln_types::keys::KeyKind::Service.generate().public_key();
        assert_eq!(cache.resolve_ref(&key), Some(key.clone()));
        assert_eq!(cache.resolve_ref("unknown"), None);
    }
}
