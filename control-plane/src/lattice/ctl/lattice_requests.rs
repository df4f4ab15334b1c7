//! Lattice-wide control subjects: ping, claims, links, registry credentials, auctions.

use std::collections::BTreeMap;

use kiln_types::ctl::{ActorAuction, DeleteLink, ProviderAuction};
use serde::Serialize;

use super::reply::{json, parse};
use crate::artifacts::credentials::Credentials;
use crate::config::Config;
use crate::control;
use crate::host::Shared;
use crate::state;
use crate::state::claims::{ClaimsCache, StoredClaims};
use kiln_types::ctl::Ack;

/// `ping.hosts` reply.
#[derive(Serialize)]
pub struct Ping {
    id: String,
    issuer: String,
    labels: BTreeMap<String, String>,
    friendly_name: String,
    uptime_seconds: u64,
    uptime_human: String,
    version: &'static str,
    cluster_issuers: String,
    js_domain: Option<String>,
    ctl_host: String,
    prov_rpc_host: String,
    rpc_host: String,
    lattice_prefix: String,
}

/// Answers a ping, and publishes a heartbeat as every wasmbus host does on a ping.
pub fn ping(host: &Shared) -> Ping {
    let beat_host = host.clone();
    host.tasks
        .spawn(async move { crate::lattice::heartbeat::beat(&beat_host).await });
    let config = &host.config;
    let uptime = host.started.elapsed().as_secs();
    Ping {
        id: config.host_id(),
        issuer: config.cluster_key.public_key(),
        labels: config.labels.clone(),
        friendly_name: host.friendly_name.clone(),
        uptime_seconds: uptime,
        uptime_human: crate::lattice::events::data::human_span(uptime),
        version: env!("CARGO_PKG_VERSION"),
        cluster_issuers: config.cluster_issuers.join(","),
        js_domain: config.js_domain.clone(),
        ctl_host: config.ctl.host.clone(),
        prov_rpc_host: config.prov_rpc.host.clone(),
        rpc_host: config.rpc.host.clone(),
        lattice_prefix: config.lattice.clone(),
    }
}

/// `get.claims` reply.
#[derive(Serialize)]
pub struct Claims {
    claims: Vec<StoredClaims>,
}

/// Every claim in the lattice cache.
pub fn claims(cache: &ClaimsCache) -> Claims {
    Claims {
        claims: cache.all(),
    }
}

/// `get.links` reply.
#[derive(Serialize)]
pub struct Links {
    links: Vec<kiln_types::link::LinkDefinition>,
}

/// Every link of the lattice.
pub fn links(known: &state::links::Links) -> Links {
    Links {
        links: known.all().iter().map(|l| (**l).clone()).collect(),
    }
}

/// `linkdefs.put`.
pub async fn put_link(host: &Shared, payload: &[u8]) -> Ack {
    match parse::<kiln_types::link::LinkDefinition>(payload) {
        Ok(link) => Ack::of(control::put_link(host, link).await),
        Err(ack) => ack,
    }
}

/// `linkdefs.del`: acknowledged also when there was no such link, as on every wasmbus
/// host.
pub async fn delete_link(host: &Shared, payload: &[u8]) -> Ack {
    match parse::<DeleteLink>(payload) {
        Ok(request) => Ack::of(
            control::delete_link(
                host,
                &request.actor_id,
                &request.contract_id,
                &request.link_name,
            )
            .await,
        ),
        Err(ack) => ack,
    }
}

/// `registries.put`.
pub fn put_registries(credentials: &Credentials, payload: &[u8]) -> Ack {
    match credentials.merge_json(payload) {
        Ok(servers) => {
            tracing::info!(?servers, "registry credentials updated");
            Ack::ok()
        }
        Err(error) => Ack::failed(error),
    }
}

fn labels_match(labels: &BTreeMap<String, String>, constraints: &BTreeMap<String, String>) -> bool {
    constraints.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Bids on an actor auction when this host's labels satisfy the constraints; silent
/// otherwise.
pub fn auction_actor(config: &Config, payload: &[u8]) -> Option<Vec<u8>> {
    let mut auction = match parse::<ActorAuction>(payload) {
        Ok(auction) => auction,
        Err(ack) => return Some(json(&ack)),
    };
    if !labels_match(&config.labels, &auction.constraints) {
        return None;
    }
    auction.host_id = config.host_id();
    Some(json(&auction))
}

/// Bids on a provider auction when the labels match and this host does not already run
/// that provider on that link; silent otherwise.
pub fn auction_provider(host: &Shared, payload: &[u8]) -> Option<Vec<u8>> {
    let mut auction = match parse::<ProviderAuction>(payload) {
        Ok(auction) => auction,
        Err(ack) => return Some(json(&ack)),
    };
    if auction.link_name.is_empty() {
        auction.link_name = "default".into();
    }
    if !labels_match(&host.config.labels, &auction.constraints)
        || crate::control::providers::running_here(host, &auction.provider_ref, &auction.link_name)
    {
        return None;
    }
    auction.host_id = host.config.host_id();
    Some(json(&auction))
}
