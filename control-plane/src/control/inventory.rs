//! A host's inventory (`get.{host}.inv`): its actors with their instances and its
//! providers, with the field names of the wasmbus host.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::host::Shared;

#[derive(Serialize)]
struct InstanceView {
    annotations: BTreeMap<String, String>,
    instance_id: String,
    revision: i64,
}

#[derive(Serialize)]
struct ActorView {
    id: String,
    image_ref: String,
    name: Option<String>,
    instances: Vec<InstanceView>,
}

#[derive(Serialize)]
struct ProviderView {
    id: String,
    image_ref: String,
    contract_id: String,
    link_name: String,
    name: Option<String>,
    instance_id: String,
    annotations: BTreeMap<String, String>,
    revision: i64,
}

/// `get.{host}.inv` reply.
#[derive(Serialize)]
pub struct Inventory {
    host_id: String,
    issuer: String,
    labels: BTreeMap<String, String>,
    friendly_name: String,
    actors: Vec<ActorView>,
    providers: Vec<ProviderView>,
}

/// The inventory of `host` (this one).
#[must_use]
pub fn of(host: &Shared) -> Inventory {
    let actors = host
        .actors
        .all()
        .iter()
        .map(|entry| {
            let revision = kiln_types::claims::revision(&entry.claims);
            ActorView {
                id: entry.key.to_string(),
                image_ref: entry.image_ref.clone(),
                name: entry.meta().name.clone(),
                instances: entry
                    .instances
                    .iter()
                    .map(|i| InstanceView {
                        annotations: i.annotations.clone(),
                        instance_id: i.id.clone(),
                        revision,
                    })
                    .collect(),
            }
        })
        .collect();
    let providers = host
        .providers
        .all()
        .iter()
        .map(|p| {
            let meta = p.claims.metadata.as_ref();
            ProviderView {
                id: p.key.clone(),
                image_ref: p.image_ref.clone(),
                contract_id: p.contract_id().to_string(),
                link_name: p.link_name.clone(),
                name: meta.and_then(|m| m.name.clone()),
                instance_id: p.instance_id.clone(),
                annotations: p.annotations.clone(),
                revision: kiln_types::par::revision(&p.claims),
            }
        })
        .collect();
    Inventory {
        host_id: host.config.host_id(),
        issuer: host.config.cluster_key.public_key(),
        labels: host.config.labels.clone(),
        friendly_name: host.friendly_name.clone(),
        actors,
        providers,
    }
}
