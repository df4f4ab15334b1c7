//! The dashboard's view of this host and the lattice, built from the host's state.

use kiln_web::view::{
    ActorRow, Dashboard, Health, HostSummary, LatticeHostRow, LinkRow, Pickers, Placed, ProviderRow,
};

use super::web::Web;
use crate::host::Shared;
use crate::lattice::events::data::human_span;
use crate::state::claims::ClaimsCache;
use crate::state::peers::Peer;

/// How many heartbeats a host may miss before it shows as stale.
const STALE_AFTER_BEATS: f64 = 2.5;

/// Everything the main page shows, without a form or notice.
pub fn dashboard(web: &Web) -> Dashboard {
    let host = &web.host;
    let seen = host.peers.all();
    Dashboard {
        host: summary(host),
        lattice_hosts: lattice(host, &seen),
        actors: actors(host, &seen),
        providers: providers(host, &seen),
        links: links(host),
        pickers: pickers(&host.claims),
        events: web.feed.recent(),
        form: None,
        notice: None,
        upload_limit: host.config.upload_limit,
    }
}

fn summary(host: &Shared) -> HostSummary {
    HostSummary {
        id: host.config.host_id(),
        name: host.friendly_name.clone(),
        lattice: host.config.lattice.clone(),
        cluster: host.config.cluster_key.public_key(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime: human_span(host.started.elapsed().as_secs()),
        data_plane_ready: host.data_plane.is_ready(),
    }
}

/// The lattice's hosts; this one always, before its first heartbeat comes back too.
fn lattice(host: &Shared, seen: &[Peer]) -> Vec<LatticeHostRow> {
    let local = host.config.host_id();
    let stale_after = host.config.heartbeat_interval.as_secs_f64() * STALE_AFTER_BEATS;
    let mut rows = Vec::with_capacity(seen.len() + 1);
    if !seen.iter().any(|h| h.id == local) {
        rows.push(LatticeHostRow {
            id: local.clone(),
            name: host.friendly_name.clone(),
            local: true,
            stale: false,
            labels: host
                .config
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime: human_span(host.started.elapsed().as_secs()),
            actors: host.actors.all().iter().map(|a| u64::from(a.count())).sum(),
            providers: host.providers.all().len() as u64,
            last_seen_seconds: 0.0,
        });
    }
    rows.extend(seen.iter().map(|h| LatticeHostRow {
        local: h.id == local,
        stale: h.id != local && h.last_seen_seconds > stale_after,
        labels: h.labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        version: h.version.clone(),
        uptime: human_span(h.uptime_seconds + h.last_seen_seconds as u64),
        actors: h.actors,
        providers: h.providers,
        last_seen_seconds: h.last_seen_seconds,
        id: h.id.clone(),
        name: if h.friendly_name.is_empty() {
            h.id.clone()
        } else {
            h.friendly_name.clone()
        },
    }));
    rows
}

/// This host as a row's host.
fn here(host: &Shared) -> Placed {
    Placed {
        id: host.config.host_id(),
        name: host.friendly_name.clone(),
        local: true,
    }
}

/// The other hosts heard from, each as a row's host.
fn others<'a>(host: &Shared, seen: &'a [Peer]) -> impl Iterator<Item = (Placed, &'a Peer)> {
    let local = host.config.host_id();
    seen.iter().filter(move |h| h.id != local).map(|h| {
        let placed = Placed {
            id: h.id.clone(),
            name: if h.friendly_name.is_empty() {
                h.id.clone()
            } else {
                h.friendly_name.clone()
            },
            local: false,
        };
        (placed, h)
    })
}

/// One row per actor and host: this host's own (current), then those other hosts
/// report (their heartbeats, events and inventories).
fn actors(host: &Shared, seen: &[Peer]) -> Vec<ActorRow> {
    let mut rows: Vec<ActorRow> = host
        .actors
        .all()
        .iter()
        .map(|entry| {
            let meta = entry.meta();
            ActorRow {
                name: meta.name.clone().unwrap_or_default(),
                key: entry.key.to_string(),
                revision: kiln_types::claims::revision(&entry.claims),
                host: here(host),
                instances: u64::from(entry.count()),
                caps: meta.caps().to_vec(),
                image_ref: entry.image_ref.clone(),
            }
        })
        .collect();
    for (placed, other) in others(host, seen) {
        for (key, count) in &other.actor_counts {
            let claims = host.claims.get(key);
            rows.push(ActorRow {
                key: key.clone(),
                name: claims.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
                revision: claims.as_ref().map_or(0, |c| c.revision()),
                caps: claims
                    .as_ref()
                    .map(|c| {
                        c.caps
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(ToString::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
                host: placed.clone(),
                instances: *count,
                image_ref: String::new(),
            });
        }
    }
    rows.sort_by(|a, b| {
        (!a.host.local, &a.name, &a.key, &a.host.name).cmp(&(
            !b.host.local,
            &b.name,
            &b.key,
            &b.host.name,
        ))
    });
    rows
}

/// One row per provider, link and host: this host's own, then those other hosts
/// report, with the health their events told.
fn providers(host: &Shared, seen: &[Peer]) -> Vec<ProviderRow> {
    let mut rows: Vec<ProviderRow> = host
        .providers
        .all()
        .iter()
        .map(|p| ProviderRow {
            name: p
                .claims
                .metadata
                .as_ref()
                .and_then(|m| m.name.clone())
                .unwrap_or_default(),
            key: p.key.clone(),
            contract: p.contract_id().to_string(),
            link_name: p.link_name.clone(),
            host: here(host),
            health: health(p.health(), Health::Awaiting),
        })
        .collect();
    for (placed, other) in others(host, seen) {
        rows.extend(other.provider_list.iter().map(|p| ProviderRow {
            name: name_of(&host.claims, &p.key),
            key: p.key.clone(),
            contract: p.contract_id.clone(),
            link_name: p.link_name.clone(),
            host: placed.clone(),
            health: health(p.health, Health::Unknown),
        }));
    }
    rows
}

/// A provider's health for the page; `unchecked` when no check has told.
fn health(health: crate::state::providers::Health, unchecked: Health) -> Health {
    match health {
        crate::state::providers::Health::Healthy => Health::Healthy,
        crate::state::providers::Health::Unhealthy => Health::Unhealthy,
        crate::state::providers::Health::Awaiting => unchecked,
    }
}

fn name_of(claims: &ClaimsCache, key: &str) -> String {
    claims.get(key).map(|c| c.name).unwrap_or_default()
}

fn links(host: &Shared) -> Vec<LinkRow> {
    let mut rows: Vec<LinkRow> = host
        .links
        .all()
        .iter()
        .map(|l| {
            let mut values: Vec<String> =
                l.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
            values.sort();
            LinkRow {
                actor_name: name_of(&host.claims, &l.actor_id),
                provider_name: name_of(&host.claims, &l.provider_id),
                actor: l.actor_id.clone(),
                provider: l.provider_id.clone(),
                contract: l.contract_id.clone(),
                link_name: l.link_name.clone(),
                values,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        (&a.actor, &a.contract, &a.link_name).cmp(&(&b.actor, &b.contract, &b.link_name))
    });
    rows
}

/// Actors and providers whose claims the lattice knows.
fn pickers(known: &ClaimsCache) -> Pickers {
    let mut pickers = Pickers::default();
    for claims in known.all() {
        let name = if claims.name.is_empty() {
            claims.sub.clone()
        } else {
            claims.name.clone()
        };
        match claims.sub.chars().next() {
            Some('M') => pickers.actors.push((claims.sub.clone(), name)),
            Some('V') if !claims.contract_id.is_empty() => {
                pickers
                    .providers
                    .push((claims.sub.clone(), name, claims.contract_id.clone()));
            }
            _ => {}
        }
    }
    pickers
        .actors
        .sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    pickers
        .providers
        .sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    pickers
}
