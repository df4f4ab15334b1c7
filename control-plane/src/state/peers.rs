//! The hosts of the lattice as this host sees them, from the events every host
//! publishes: a heartbeat or `host_started` adds or refreshes a host, `host_stopped`
//! removes it, and a host whose heartbeats stop is dropped after the expiry (the wasmbus
//! host never dropped them). Between heartbeats, a host's provider and health events and
//! its `actors_stopped` keep its providers and counts current, and so does an inventory
//! this host asked it for.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use serde::Serialize;

use kiln_types::keys::KeyKind;
use kiln_types::limits;

use crate::lattice::events::TYPE_PREFIX;
use crate::state::providers::Health;

/// Most hosts kept: anyone on the lattice can publish a heartbeat.
pub const MAX_HOSTS: usize = 4096;
/// Most actors of one host kept from its heartbeat.
const MAX_ACTORS_PER_HOST: usize = 10_000;
/// Most providers of one host kept.
const MAX_PROVIDERS_PER_HOST: usize = 1_000;

/// A provider another host runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerProvider {
    /// Provider key.
    pub key: String,
    /// Link name.
    pub link_name: String,
    /// Contract id.
    pub contract_id: String,
    /// Health as its host's events last reported it; `Awaiting` until one does.
    pub health: Health,
}

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
    /// Its providers, with health where its events said.
    pub provider_list: Vec<PeerProvider>,
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
            "host_heartbeat" | "host_started" => self.beat(kind, source, data),
            "provider_started"
            | "provider_stopped"
            | "health_check_passed"
            | "health_check_failed" => {
                let Some(provider) = provider_of(data) else {
                    return;
                };
                if let Some(host) = self.write().get_mut(source) {
                    host.provider_event(kind, provider);
                }
            }
            "actors_stopped" => {
                let (Some(key), Some(remaining)) =
                    (data["public_key"].as_str(), data["remaining"].as_u64())
                else {
                    return;
                };
                if let Some(host) = self.write().get_mut(source) {
                    host.set_count(key, remaining);
                }
            }
            _ => {}
        }
    }

    /// A heartbeat or `host_started` of `source`.
    fn beat(&self, kind: &str, source: &str, data: &serde_json::Value) {
        let mut seen = self.write();
        if seen.len() >= MAX_HOSTS && !seen.contains_key(source) {
            tracing::warn!(
                max = MAX_HOSTS,
                host = source,
                "too many hosts in the lattice view; ignoring a new one"
            );
            return;
        }
        let host = seen
            .entry(source.to_string())
            .or_insert_with(|| Peer::new(source));
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
            host.set_providers(data["providers"].as_array().map(|p| {
                p.iter()
                    .filter_map(provider_of)
                    .take(MAX_PROVIDERS_PER_HOST)
                    .collect()
            }));
        }
        host.last_seen = Some(Instant::now());
    }

    /// Takes what host `id` answered for its inventory as its current actors and
    /// providers (a host not seen yet is not added: its heartbeat adds it).
    pub fn refresh(&self, id: &str, inventory: &serde_json::Value) {
        let mut seen = self.write();
        let Some(host) = seen.get_mut(id) else {
            return;
        };
        if let Some(actors) = inventory["actors"].as_array() {
            host.actor_counts = actors
                .iter()
                .filter_map(|a| {
                    let key = a["id"].as_str().filter(|k| k.len() <= limits::KEY)?;
                    let count = a["instances"].as_array().map_or(0, Vec::len) as u64;
                    Some((key.to_string(), count))
                })
                .filter(|(_, count)| *count > 0)
                .take(MAX_ACTORS_PER_HOST)
                .collect();
            host.actors = host.actor_counts.values().sum();
        }
        host.set_providers(inventory["providers"].as_array().map(|p| {
            p.iter()
                .filter_map(|p| {
                    // The inventory names the key `id`, events `public_key`.
                    let mut named = p.clone();
                    named["public_key"] = p["id"].clone();
                    provider_of(&named)
                })
                .take(MAX_PROVIDERS_PER_HOST)
                .collect()
        }));
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

impl Peer {
    fn new(id: &str) -> Peer {
        Peer {
            id: id.to_string(),
            labels: BTreeMap::new(),
            friendly_name: String::new(),
            version: String::new(),
            uptime_seconds: 0,
            actors: 0,
            actor_counts: BTreeMap::new(),
            providers: 0,
            provider_list: Vec::new(),
            last_seen_seconds: 0.0,
            last_seen: None,
        }
    }

    /// Its providers as listed now, keeping the health known of those it still runs.
    fn set_providers(&mut self, listed: Option<Vec<PeerProvider>>) {
        let Some(mut listed) = listed else {
            return;
        };
        for provider in &mut listed {
            if let Some(known) = self
                .provider_list
                .iter()
                .find(|p| p.key == provider.key && p.link_name == provider.link_name)
            {
                provider.health = known.health;
            }
        }
        self.provider_list = listed;
        self.providers = self.provider_list.len() as u64;
    }

    fn provider_event(&mut self, kind: &str, provider: PeerProvider) {
        let at = self
            .provider_list
            .iter()
            .position(|p| p.key == provider.key && p.link_name == provider.link_name);
        match (kind, at) {
            ("provider_started", None) if self.provider_list.len() < MAX_PROVIDERS_PER_HOST => {
                self.provider_list.push(provider);
            }
            ("provider_stopped", Some(at)) => {
                self.provider_list.remove(at);
            }
            ("health_check_passed", Some(at)) => self.provider_list[at].health = Health::Healthy,
            ("health_check_failed", Some(at)) => {
                self.provider_list[at].health = Health::Unhealthy;
            }
            _ => {}
        }
        self.providers = self.provider_list.len() as u64;
    }

    fn set_count(&mut self, key: &str, count: u64) {
        if count == 0 {
            self.actor_counts.remove(key);
        } else if key.len() <= limits::KEY
            && (self.actor_counts.contains_key(key)
                || self.actor_counts.len() < MAX_ACTORS_PER_HOST)
        {
            self.actor_counts.insert(key.to_string(), count);
        }
        self.actors = self.actor_counts.values().sum();
    }
}

/// The provider an event's data (or a heartbeat's entry) names.
fn provider_of(data: &serde_json::Value) -> Option<PeerProvider> {
    let key = data["public_key"]
        .as_str()
        .filter(|k| KeyKind::of_public_key(k) == Some(KeyKind::Service))?;
    Some(PeerProvider {
        key: key.to_string(),
        link_name: kiln_types::link::name_or_default(&text(&data["link_name"])).to_string(),
        contract_id: text(&data["contract_id"]),
        health: Health::Awaiting,
    })
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
                "uptime_seconds": 5, "actors": {"MA": 3, "MB": 1},
                "providers": [{"public_key": KeyKind::Service.generate().public_key()}, {}]}),
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

    #[test]
    fn provider_events_and_inventories_keep_a_hosts_providers_and_counts_current() {
        let hosts = Peers::default();
        let host = KeyKind::Server.generate().public_key();
        let (http, kv) = (
            KeyKind::Service.generate().public_key(),
            KeyKind::Service.generate().public_key(),
        );
        let provider = |key: &str| {
            serde_json::json!({"public_key": key, "link_name": "default",
                "contract_id": "wasmcloud:httpserver"})
        };
        // Events of a host not seen yet add nothing.
        hosts.apply(&event("provider_started", &host, provider(&http)));
        assert!(hosts.all().is_empty());
        hosts.apply(&event(
            "host_heartbeat",
            &host,
            serde_json::json!({"actors": {"MA": 3}, "providers": [provider(&http)]}),
        ));
        let list = |hosts: &Peers| hosts.all()[0].provider_list.clone();
        assert_eq!(list(&hosts)[0].health, Health::Awaiting);
        hosts.apply(&event("health_check_passed", &host, provider(&http)));
        assert_eq!(list(&hosts)[0].health, Health::Healthy);
        hosts.apply(&event("provider_started", &host, provider(&kv)));
        assert_eq!(hosts.all()[0].providers, 2);
        hosts.apply(&event("health_check_failed", &host, provider(&kv)));
        assert_eq!(list(&hosts)[1].health, Health::Unhealthy);
        // A heartbeat keeps the health it does not carry.
        hosts.apply(&event(
            "host_heartbeat",
            &host,
            serde_json::json!({"actors": {"MA": 3}, "providers": [provider(&http), provider(&kv)]}),
        ));
        assert_eq!(list(&hosts)[0].health, Health::Healthy);
        hosts.apply(&event("provider_stopped", &host, provider(&http)));
        assert_eq!(list(&hosts).len(), 1);
        assert_eq!(list(&hosts)[0].key, kv);
        hosts.apply(&event(
            "actors_stopped",
            &host,
            serde_json::json!({"public_key": "MA", "remaining": 1}),
        ));
        assert_eq!(hosts.all()[0].actor_counts["MA"], 1);
        hosts.apply(&event(
            "actors_stopped",
            &host,
            serde_json::json!({"public_key": "MA", "remaining": 0}),
        ));
        assert!(hosts.all()[0].actor_counts.is_empty());
        // An inventory is taken as it is.
        hosts.refresh(
            &host,
            &serde_json::json!({
                "actors": [{"id": "MB", "instances": [{}, {}]}, {"id": "MC", "instances": []}],
                "providers": [{"id": kv, "link_name": "", "contract_id": "wasmcloud:keyvalue"}],
            }),
        );
        let seen = &hosts.all()[0];
        assert_eq!(seen.actor_counts.len(), 1);
        assert_eq!((seen.actor_counts["MB"], seen.actors), (2, 2));
        assert_eq!(seen.provider_list.len(), 1);
        assert_eq!(seen.provider_list[0].link_name, "default");
        assert_eq!(seen.provider_list[0].health, Health::Unhealthy);
        // Not a provider key: not taken.
        hosts.apply(&event("provider_started", &host, provider("MNOTAPROVIDER")));
        assert_eq!(hosts.all()[0].providers, 1);
    }
}
