//! The records the data plane keeps for the control plane with each actor and
//! provider (JSON, opaque to it): what a restarted control plane needs to serve them
//! again (see `adoption`).

use std::collections::BTreeMap;

use kiln_types::decode::field;
use kiln_types::limits;
use serde::{Deserialize, Serialize};

use crate::state::actors::Entry;
use crate::state::providers::Entry as ProviderEntry;

/// The format of records this control plane writes.
const RECORD_VERSION: u32 = 1;

/// What an actor was started with.
#[derive(Debug, Serialize, Deserialize)]
pub struct ActorRecord {
    pub version: u32,
    #[serde(deserialize_with = "field::reference")]
    pub image_ref: String,
    #[serde(deserialize_with = "token")]
    pub token: String,
    pub instances: Vec<InstanceRecord>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct InstanceRecord {
    #[serde(deserialize_with = "field::id")]
    pub id: String,
    #[serde(default, deserialize_with = "field::string_map")]
    pub annotations: BTreeMap<String, String>,
}

/// What a provider was started with, and by whom: a provider started with another
/// host or cluster key holds the old keys and is restarted with the current ones.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProviderRecord {
    pub version: u32,
    #[serde(deserialize_with = "field::reference")]
    pub image_ref: String,
    #[serde(deserialize_with = "token")]
    pub token: String,
    #[serde(deserialize_with = "field::id")]
    pub instance_id: String,
    #[serde(default, deserialize_with = "field::opt_config")]
    pub config_json: Option<String>,
    #[serde(default, deserialize_with = "field::string_map")]
    pub annotations: BTreeMap<String, String>,
    #[serde(deserialize_with = "field::key")]
    pub host_id: String,
    #[serde(deserialize_with = "field::key")]
    pub cluster: String,
    /// The links its host data carried, so the links put or deleted since are sent
    /// once it answers a health check.
    #[serde(default)]
    pub links: Vec<kiln_types::link::LinkDefinition>,
}

fn token<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    field::string(d, "a claims token", limits::ARTIFACT_CLAIMS)
}

/// The record of `entry`, for the data plane to keep.
#[must_use]
pub fn actor_record(entry: &Entry) -> Vec<u8> {
    let record = ActorRecord {
        version: RECORD_VERSION,
        image_ref: entry.image_ref.clone(),
        token: entry.token.to_string(),
        instances: entry
            .instances
            .iter()
            .map(|i| InstanceRecord {
                id: i.id.clone(),
                annotations: i.annotations.clone(),
            })
            .collect(),
    };
    serde_json::to_vec(&record).expect("invariant: a record always serialises")
}

/// The record of a provider `entry` of the host `host_id` in the cluster `cluster`,
/// started from the claims `token`, for the data plane to keep.
#[must_use]
pub fn provider_record(
    host_id: &str,
    cluster: &str,
    entry: &ProviderEntry,
    token: &str,
) -> Vec<u8> {
    let record = ProviderRecord {
        version: RECORD_VERSION,
        image_ref: entry.image_ref.clone(),
        token: token.to_string(),
        instance_id: entry.instance_id.clone(),
        config_json: entry.config_json.clone(),
        annotations: entry.annotations.clone(),
        host_id: host_id.to_string(),
        cluster: cluster.to_string(),
        links: entry.host_data_links(),
    };
    serde_json::to_vec(&record).expect("invariant: a record always serialises")
}
