//! The lattice cache in JetStream KV (`LATTICEDATA_{prefix}`), shared with every other
//! wasmbus host of the lattice: keys and JSON values as the wasmbus host writes them.
//!
//! It carries link definitions (`LINKDEF_{id}`), claims (`CLAIMS_{key}`) and reference
//! maps (`REFMAP_{base64url(ref)}`); a watcher replays the bucket at start and applies
//! every later change, so what any host of the lattice writes reaches this one.

use anyhow::Context as _;
use async_nats::jetstream::{self, kv, stream};
use futures::StreamExt as _;
use kiln_types::link::LinkDefinition;

use serde::{Deserialize, Serialize};

use crate::state::claims::StoredClaims;

const LINK_PREFIX: &str = "LINKDEF_";
const CLAIMS_PREFIX: &str = "CLAIMS_";
const REFMAP_PREFIX: &str = "REFMAP_";
const OPEN_ATTEMPTS: u32 = 25;
const OPEN_RETRY: std::time::Duration = std::time::Duration::from_millis(200);

/// A handle on the bucket.
pub struct LatticeData {
    store: kv::Store,
}

impl LatticeData {
    /// Creates the bucket with the wasmbus host's settings, or opens it when another
    /// host made it first (possibly with slightly different settings).
    ///
    /// # Errors
    /// When JetStream is not available.
    pub async fn open(
        client: async_nats::Client,
        lattice: &str,
        domain: Option<&str>,
        replicas: usize,
    ) -> anyhow::Result<LatticeData> {
        let context = match domain {
            Some(domain) => jetstream::with_domain(client, domain),
            None => jetstream::new(client),
        };
        let bucket = format!("LATTICEDATA_{lattice}");
        // Made as a plain stream with the wasmbus host's settings, as that host does:
        // any host of the lattice may create it first, and async-nats' own bucket
        // creation asks for account details that nats-server 2.9 does not send.
        let config = stream::Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            retention: stream::RetentionPolicy::Limits,
            max_messages_per_subject: 1,
            storage: stream::StorageType::File,
            num_replicas: replicas,
            discard: stream::DiscardPolicy::New,
            allow_direct: true,
            allow_rollup: true,
            deny_delete: true,
            deny_purge: false,
            duplicate_window: std::time::Duration::from_secs(120),
            ..stream::Config::default()
        };
        // A server that has just started may not answer JetStream requests yet.
        let mut attempt = 0;
        loop {
            // "Already exists with another configuration" is fine: the bucket is there.
            let created = context.create_stream(config.clone()).await;
            match context.get_key_value(&bucket).await {
                Ok(store) => return Ok(LatticeData { store }),
                Err(error) if attempt >= OPEN_ATTEMPTS => {
                    let created = created
                        .err()
                        .map(|e| format!(" (create: {e})"))
                        .unwrap_or_default();
                    anyhow::bail!("opening the lattice cache {bucket}: {error}{created}");
                }
                Err(_) => {
                    attempt += 1;
                    tokio::time::sleep(OPEN_RETRY).await;
                }
            }
        }
    }

    /// Writes a link.
    ///
    /// # Errors
    /// When JetStream refuses the write.
    pub async fn put_link(&self, link: &LinkDefinition) -> anyhow::Result<()> {
        let json = serde_json::to_vec(link).context("encoding the link")?;
        self.store
            .put(link.cache_key(), json.into())
            .await
            .context("writing the link to the lattice cache")?;
        Ok(())
    }

    /// Removes a link (a purge, as the wasmbus host does).
    ///
    /// # Errors
    /// When JetStream refuses the purge.
    pub async fn delete_link(&self, link: &LinkDefinition) -> anyhow::Result<()> {
        self.store
            .purge(link.cache_key())
            .await
            .context("purging the link from the lattice cache")?;
        Ok(())
    }

    /// Writes the claims of an actor or provider.
    ///
    /// # Errors
    /// When JetStream refuses the write.
    pub async fn put_claims(&self, claims: &StoredClaims) -> anyhow::Result<()> {
        let json = serde_json::to_vec(claims).context("encoding claims")?;
        self.store
            .put(format!("{CLAIMS_PREFIX}{}", claims.sub), json.into())
            .await
            .context("writing claims to the lattice cache")?;
        Ok(())
    }

    /// Writes that `reference` names `key`.
    ///
    /// # Errors
    /// When JetStream refuses the write.
    pub async fn put_refmap(&self, reference: &str, key: &str) -> anyhow::Result<()> {
        let json = serde_json::to_vec(&Refmap {
            oci_url: reference.to_string(),
            public_key: key.to_string(),
        })
        .context("encoding a reference map")?;
        self.store
            .put(refmap_key(reference), json.into())
            .await
            .context("writing a reference map to the lattice cache")?;
        Ok(())
    }
}

/// A `REFMAP_*` value.
#[derive(Debug, Serialize, Deserialize)]
struct Refmap {
    #[serde(deserialize_with = "kiln_types::decode::field::reference")]
    oci_url: String,
    #[serde(deserialize_with = "kiln_types::decode::field::key")]
    public_key: String,
}

/// `REFMAP_{base64url-no-pad(reference)}`.
fn refmap_key(reference: &str) -> String {
    format!(
        "{REFMAP_PREFIX}{}",
        data_encoding::BASE64URL_NOPAD.encode(reference.as_bytes())
    )
}

/// One change of the bucket, decoded.
#[derive(Debug)]
pub enum Change {
    /// `LINKDEF_{id}` put.
    LinkPut(LinkDefinition),
    /// `LINKDEF_{id}` deleted.
    LinkDeleted(String),
    /// `CLAIMS_{key}` put.
    ClaimsPut(StoredClaims),
    /// `CLAIMS_{key}` deleted.
    ClaimsDeleted(String),
    /// `REFMAP_*` put: `reference` maps to `key`.
    Refmap {
        /// The OCI reference.
        reference: String,
        /// The public key it maps to.
        key: String,
    },
}

impl LatticeData {
    /// Every change of the bucket, the existing entries first.
    ///
    /// # Errors
    /// When JetStream refuses the watch.
    pub async fn watch(&self) -> anyhow::Result<impl futures::Stream<Item = Change> + use<>> {
        let entries = self
            .store
            .watch_with_history(">")
            .await
            .context("watching the lattice cache")?;
        Ok(entries.filter_map(|entry| async move {
            match entry {
                Ok(entry) => decode(&entry),
                Err(error) => {
                    tracing::warn!(%error, "lattice cache watch error");
                    None
                }
            }
        }))
    }
}

/// The change `entry` makes, or None for a key this host does not read (or a
/// malformed value, which is logged).
fn decode(entry: &kv::Entry) -> Option<Change> {
    tracing::debug!(key = %entry.key, operation = ?entry.operation, revision = entry.revision, "lattice cache change");
    let put = entry.operation == kv::Operation::Put;
    let decoded = if let Some(id) = entry.key.strip_prefix(LINK_PREFIX) {
        if !put {
            return Some(Change::LinkDeleted(id.to_string()));
        }
        LinkDefinition::from_json(&entry.value)
            .map(Change::LinkPut)
            .map_err(|e| e.to_string())
    } else if let Some(key) = entry.key.strip_prefix(CLAIMS_PREFIX) {
        if !put {
            return Some(Change::ClaimsDeleted(key.to_string()));
        }
        read::<StoredClaims>(&entry.value)
            .map(Change::ClaimsPut)
            .map_err(|e| e.to_string())
    } else if entry.key.starts_with(REFMAP_PREFIX) && put {
        read::<Refmap>(&entry.value)
            .map(|refmap| Change::Refmap {
                reference: refmap.oci_url,
                key: refmap.public_key,
            })
            .map_err(|e| e.to_string())
    } else {
        return None;
    };
    decoded.map_err(|error| malformed(entry, &error)).ok()
}

/// A cache value, bounded in size, depth and field lengths.
fn read<'a, T: serde::Deserialize<'a>>(
    value: &'a [u8],
) -> Result<T, kiln_types::decode::DecodeError> {
    kiln_types::decode::json(
        "a lattice cache value",
        value,
        kiln_types::limits::JSON_BODY,
    )
}

fn malformed(entry: &kv::Entry, error: &dyn std::fmt::Display) {
    tracing::warn!(key = %entry.key, %error, "ignoring a malformed entry in the lattice cache");
}
