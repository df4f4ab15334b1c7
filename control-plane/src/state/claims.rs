//! The lattice's claims, call aliases and reference maps as this host knows them: its
//! own starts plus everything the lattice cache (`CLAIMS_*`, `REFMAP_*`) carries from
//! other hosts. Values keep the wasmbus host's shapes: strings, lists comma-joined.

use std::collections::HashMap;
use std::sync::RwLock;

use kiln_types::claims::ActorClaims;
use kiln_types::decode::field;
use kiln_types::keys::KeyKind;
use kiln_types::par::ProviderClaims;
use serde::{Deserialize, Serialize};

/// Most claims, aliases and reference maps kept each: the lattice cache is written by
/// anyone on the lattice, and what it holds must not grow this host without bound.
pub const MAX_ENTRIES: usize = 100_000;

/// One `CLAIMS_{key}` value, as `get.claims` and the lattice cache carry it. Every
/// field is bounded when read, since anyone on the lattice may write the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredClaims {
    /// Call alias, empty when none.
    #[serde(default, deserialize_with = "field::nullable_text")]
    pub call_alias: String,
    /// Issuer (account key).
    #[serde(deserialize_with = "field::key")]
    pub iss: String,
    /// Display name.
    #[serde(default, deserialize_with = "field::nullable_text")]
    pub name: String,
    /// Capability contracts, comma-joined.
    #[serde(default, deserialize_with = "field::nullable_list")]
    pub caps: String,
    /// Revision, as a string.
    #[serde(default, deserialize_with = "field::nullable_text")]
    pub rev: String,
    /// Tags, comma-joined.
    #[serde(default, deserialize_with = "field::nullable_list")]
    pub tags: String,
    /// Version string, empty when none: every value is a string, since clients read
    /// the entry as a map of strings (wasmcloud-control-interface fails on a null).
    #[serde(default, deserialize_with = "field::nullable_text")]
    pub version: String,
    /// Subject: the actor's or provider's public key.
    #[serde(deserialize_with = "field::key")]
    pub sub: String,
    /// Contract id: empty for actors.
    #[serde(default, deserialize_with = "field::nullable_contract_id")]
    pub contract_id: String,
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
            rev: kiln_types::par::revision(claims).to_string(),
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
        if !matches!(
            KeyKind::of_public_key(&claims.sub),
            Some(KeyKind::Module | KeyKind::Service)
        ) {
            tracing::warn!(sub = %claims.sub, "ignoring claims whose subject is no actor or provider key");
            return false;
        }
        if !claims.call_alias.is_empty() {
            let mut aliases = self
                .aliases
                .write()
                .expect("invariant: alias lock is never poisoned");
            if aliases.len() < MAX_ENTRIES || aliases.contains_key(&claims.call_alias) {
                aliases
                    .entry(claims.call_alias.clone())
                    .or_insert_with(|| claims.sub.clone());
            }
        }
        let mut all = self
            .claims
            .write()
            .expect("invariant: claims lock is never poisoned");
        if all.get(&claims.sub) == Some(&claims) {
            return false;
        }
        if all.len() >= MAX_ENTRIES && !all.contains_key(&claims.sub) {
            tracing::warn!(
                max = MAX_ENTRIES,
                "the claims cache is full; ignoring new claims"
            );
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
        if reference.len() > kiln_types::limits::REFERENCE || KeyKind::of_public_key(key).is_none()
        {
            return false;
        }
        let mut refmaps = self
            .refmaps
            .write()
            .expect("invariant: refmap lock is never poisoned");
        if refmaps.len() >= MAX_ENTRIES && !refmaps.contains_key(reference) {
            tracing::warn!(
                max = MAX_ENTRIES,
                "the reference map cache is full; ignoring a new entry"
            );
            return false;
        }
        refmaps
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

    fn actor() -> String {
        KeyKind::Module.generate().public_key()
    }

    #[test]
    fn first_alias_claimant_wins_and_values_keep_the_wasmbus_shape() {
        let cache = ClaimsCache::default();
        let (a, b) = (actor(), actor());
        assert!(cache.put(stored(&a, "echo")));
        assert!(!cache.put(stored(&a, "echo")), "unchanged");
        assert!(cache.put(stored(&b, "echo")));
        assert_eq!(cache.resolve_alias("echo").as_deref(), Some(a.as_str()));
        cache.remove(&a);
        assert_eq!(cache.resolve_alias("echo"), None);
        let json = serde_json::to_value(stored(&a, "")).unwrap();
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
    fn claims_about_no_actor_or_provider_and_oversized_values_are_refused() {
        let cache = ClaimsCache::default();
        assert!(!cache.put(stored("wasmbus.rpc.>", "")));
        assert!(!cache.put(stored("MA", "")));
        let long = format!(
            r#"{{"iss":"A","sub":"M","name":"{}"}}"#,
            "n".repeat(kiln_types::limits::TEXT + 1)
        );
        assert!(
            kiln_types::decode::json::<StoredClaims>("claims", long.as_bytes(), 1 << 20).is_err()
        );
        assert!(cache.all().is_empty());
    }

    #[test]
    fn refmaps_resolve_references_and_keys_name_themselves() {
        let cache = ClaimsCache::default();
        let a = actor();
        assert!(cache.put_refmap("reg.example/echo:1", &a));
        assert!(!cache.put_refmap("reg.example/echo:1", &a));
        assert!(!cache.put_refmap("reg.example/echo:2", "not a key"));
        assert_eq!(
            cache.resolve_ref("reg.example/echo:1").as_deref(),
            Some(a.as_str())
        );
        let key = KeyKind::Service.generate().public_key();
        assert_eq!(cache.resolve_ref(&key), Some(key.clone()));
        assert_eq!(cache.resolve_ref("unknown"), None);
    }
}
