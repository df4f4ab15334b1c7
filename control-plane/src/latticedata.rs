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

use crate::claimscache::StoredClaims;
use crate::events;
use crate::host::Shared;
use kiln_wasmbus::subjects;

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

/// Applies every change of the bucket to this host, the existing entries first.
pub async fn watch(host: Shared) {
    let Some(data) = host.lattice_data.as_ref() else {
        return;
    };
    let mut entries = match data.store.watch_with_history(">").await {
        Ok(entries) => entries,
        Err(error) => {
            tracing::error!(%error, "could not watch the lattice cache; links from other hosts will not be seen");
            return;
        }
    };
    loop {
        let entry = tokio::select! {
            () = host.shutdown.cancelled() => return,
            entry = entries.next() => entry,
        };
        match entry {
            Some(Ok(entry)) => apply(&host, &entry).await,
            Some(Err(error)) => tracing::warn!(%error, "lattice cache watch error"),
            None => return,
        }
    }
}

async fn apply(host: &Shared, entry: &kv::Entry) {
    tracing::debug!(key = %entry.key, operation = ?entry.operation, revision = entry.revision, "lattice cache change");
    let put = entry.operation == kv::Operation::Put;
    if let Some(id) = entry.key.strip_prefix(LINK_PREFIX) {
        if !put {
            if let Some(link) = host.links.remove(id) {
                link_changed(host, &link, false).await;
            }
            return;
        }
        match LinkDefinition::from_json(&entry.value) {
            Ok(link) => {
                if host.links.put(link.clone()) {
                    link_changed(host, &link, true).await;
                }
            }
            Err(error) => malformed(entry, &error),
        }
    } else if let Some(key) = entry.key.strip_prefix(CLAIMS_PREFIX) {
        if !put {
            host.claims.remove(key);
            return;
        }
        match read::<StoredClaims>(&entry.value) {
            Ok(claims) => {
                host.claims.put(claims);
            }
            Err(error) => malformed(entry, &error),
        }
    } else if entry.key.starts_with(REFMAP_PREFIX) && put {
        match read::<Refmap>(&entry.value) {
            Ok(refmap) => {
                host.claims.put_refmap(&refmap.oci_url, &refmap.public_key);
            }
            Err(error) => malformed(entry, &error),
        }
    }
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

/// A link of the lattice was set or deleted: the event, and the provider told.
pub async fn link_changed(host: &Shared, link: &LinkDefinition, put: bool) {
    let kind = if put {
        events::kind::LINKDEF_SET
    } else {
        events::kind::LINKDEF_DELETED
    };
    host.events
        .publish(kind, serde_json::to_value(link).unwrap_or_default())
        .await;
    notify_provider(host, link, put).await;
}

/// Tells the provider a link was put or deleted (msgpack, no reply expected).
pub async fn notify_provider(host: &Shared, link: &LinkDefinition, put: bool) {
    let subject = if put {
        subjects::provider_linkdefs_put(&host.config.lattice, &link.provider_id, &link.link_name)
    } else {
        subjects::provider_linkdefs_del(&host.config.lattice, &link.provider_id, &link.link_name)
    };
    if let Err(error) = host.rpc.publish(subject, link.to_msgpack().into()).await {
        tracing::warn!(link = %link.id, %error, "could not notify the provider of a link change");
    }
    // A provider of this host restarted later must get the change in its host data.
    crate::providers::refresh(host, &link.provider_id, &link.link_name).await;
}
