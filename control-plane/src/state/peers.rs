//! The hosts of the lattice as this host sees them, from the events every host
//! publishes: a heartbeat or `host_started` adds or refreshes a host, `host_stopped`
//! removes it, and a host whose heartbeats stop is dropped after the expiry (the wasmbus
//! host never dropped them).

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use serde::Serialize;

use kiln_types::keys::KeyKind;
use kiln_types::limits;

use crate::lattice::events::TYPE_PREFIX;

/// Most hosts kept: anyone on the lattice can publish a heartbeat.
pub const MAX_HOSTS: usize = 4096;
/// Most actors of one host kept from its heartbeat.
const MAX_ACTORS_PER_HOST: usize = 10_000;

/// One host of the lattice.
#[derive(Debug, Clone, Serialize)]
pub struct Peer {
    /// Host key.
    pub id: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Friendly name.
    pub friendly_name: String,
    /// Version of its software.
    pub version: String,
    /// Uptime it reported.
    pub uptime_seconds: u64,
    /// Actor instances it reported.
    pub actors: u64,
    /// Instances it reported per actor key.
    pub actor_counts: BTreeMap<String, u64>,
    /// Providers it reported.
    pub providers: u64,
    /// Seconds since its last event.
    pub last_seen_seconds: f64,
    #[serde(skip)]
    last_seen: Option<Instant>,
}

/// The hosts seen on the lattice.
#[derive(Debug, Default)]
pub struct Peers {
    seen: RwLock<HashMap<String, Peer>>,
}

impl Peers {
    /// Every host seen and not expired, sorted by id.
    #[must_use]
    pub fn all(&self) -> Vec<Peer> {
        let mut all: Vec<Peer> = self
            .read()
            .values()
            .cloned()
            .map(|mut h| {
                h.last_seen_seconds = h.last_seen.map_or(0.0, |t| t.elapsed().as_secs_f64());
                h
            })
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// Applies one lattice event (CloudEvents JSON).
    pub fn apply(&self, event: &serde_json::Value) {
        let Some(kind) = event["type"]
            .as_str()
            .and_then(|t| t.strip_prefix(TYPE_PREFIX))
        else {
            return;
        };
        let Some(source) = event["source"]
            .as_str()
            .filter(|s| KeyKind::of_public_key(s) == Some(KeyKind::Server))
        else {
            return;
        };
        let data = &event["data"];
        match kind {
            "host_stopped" => {
                self.write().remove(source);
            }
            "host_heartbeat" | "host_started" => {
                let mut seen = self.write();
                if seen.len() >= MAX_HOSTS && !seen.contains_key(source) {
                    tracing::warn!(
                        max = MAX_HOSTS,
                        host = source,
                        "too many hosts in the lattice view; ignoring a new one"
                    );
                    return;
                }
                let host = seen.entry(source.to_string()).or_insert_with(|| Peer {
                    id: source.to_string(),
                    labels: BTreeMap::new(),
                    friendly_name: String::new(),
                    version: String::new(),
                    uptime_seconds: 0,
                    actors: 0,
                    actor_counts: BTreeMap::new(),
                    providers: 0,
                    last_seen_seconds: 0.0,
                    last_seen: None,
                });
                if let Some(labels) = data["labels"].as_object() {
                    host.labels = labels
                        .iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .filter(|(k, v)| k.len() <= limits::MAP_KEY && v.len() <= limits::TEXT)
                        .take(limits::MAP_ENTRIES)
                        .collect();
                }
                host.friendly_name = text(&data["friendly_name"]);
                host.version = text(&data["version"]);
                host.uptime_seconds = data["uptime_seconds"].as_u64().unwrap_or_default();
                if kind == "host_heartbeat" {
                    host.actor_counts = data["actors"]
                        .as_object()
                        .map(|a| {
                            a.iter()
                                .filter(|(key, _)| key.len() <= limits::KEY)
                                .filter_map(|(key, n)| Some((key.clone(), n.as_u64()?)))
                                .take(MAX_ACTORS_PER_HOST)
                                .collect()
                        })
                        .unwrap_or_default();
                    host.actors = host.actor_counts.values().sum();
                    host.providers = data["providers"].as_array().map_or(0, |p| p.len() as u64);
                }
                host.last_seen = Some(Instant::now());
            }
            _ => {}
        }
    }

    /// Drops hosts not heard from within `expiry`; returns their ids.
    pub fn expire(&self, expiry: Duration) -> Vec<String> {
        let mut gone = Vec::new();
        self.write().retain(|id, host| {
            let fresh = host.last_seen.is_some_and(|t| t.elapsed() < expiry);
            if !fresh {
                gone.push(id.clone());
            }
            fresh
        });
        gone
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Peer>> {
        self.seen
            .read()
            .expect("invariant: hosts lock is never poisoned")
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Peer>> {
        self.seen
            .write()
            .expect("invariant: hosts lock is never poisoned")
    }
}

/// A short text field of an event, empty when it is not one.
fn text(value: &serde_json::Value) -> String {
    value
        .as_str()
        .filter(|s| s.len() <= limits::TEXT)
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, source: &str, data: serde_json::Value) -> serde_json::Value {
        serde_json::json!({ "type": format!("{TYPE_PREFIX}{kind}"), "source": source, "data": data })
    }

    #[test]
    fn heartbeats_add_hosts_stops_remove_them_and_silence_expires_them() {
        let hosts = Peers::default();
        let (a, b) = (
            KeyKind::Server.generate().public_key(),
            KeyKind::Server.generate().public_key(),
        );
        let (first, second) = if a < b { (a, b) } else { (b, a) };
        hosts.apply(&event(
            "host_heartbeat",
            &first,
            serde_json::json!({"labels": {"zone": "a"}, "friendly_name": "x", "version": "1",
                "uptime_seconds": 5, "actors": {"MA": 3, "MB": 1}, "providers": [{}]}),
        ));
        hosts.apply(&event(
            "host_started",
            &second,
            serde_json::json!({"labels": {}}),
        ));
        let all = hosts.all();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].labels["zone"], "a");
        assert_eq!((all[0].actors, all[0].providers), (4, 1));
        hosts.apply(&event("host_stopped", &second, serde_json::json!({})));
        assert_eq!(hosts.all().len(), 1);
        assert!(hosts.expire(Duration::from_secs(60)).is_empty());
        assert_eq!(hosts.expire(Duration::ZERO), vec![first]);
        assert!(hosts.all().is_empty());
    }

    #[test]
    fn only_host_keys_are_taken_and_the_view_is_bounded() {
        let hosts = Peers::default();
        for source in ["NA", "wasmbus.evt.>", "", &"N".repeat(10_000)] {
            hosts.apply(&event("host_heartbeat", source, serde_json::json!({})));
        }
        assert!(hosts.all().is_empty());
        for _ in 0..MAX_HOSTS + 10 {
            let source = KeyKind::Server.generate().public_key();
            hosts.apply(&event("host_heartbeat", &source, serde_json::json!({})));
        }
        assert_eq!(hosts.all().len(), MAX_HOSTS);
    }
}
