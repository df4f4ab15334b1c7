//! Payloads above [`THRESHOLD`] travel through the JetStream object store: the bucket is
//! named after the lattice prefix, a request is stored under the invocation id and its
//! response under `{id}-r`, and the reader deletes what it read.
//!
//! Objects are written here rather than by async-nats, so that every client of the
//! lattice can read their metadata: today's clients read `mtime` and take `deleted` as
//! false when absent, while async-nats 0.29 (what wasmbus-rpc 0.13 uses, so every
//! provider and CLI of the OTP era) requires `modified` and `deleted`. The metadata
//! carries both spellings of the time and an explicit `deleted`. Reading goes through
//! async-nats, which reads objects of either shape.

use async_nats::jetstream::{self, object_store};
use serde::Serialize;
use sha2::Digest as _;
use tokio::io::AsyncReadExt as _;

use crate::subjects;

/// Payloads larger than this are chunked (900 KiB, as wasmbus-rpc does both ways).
pub const THRESHOLD: usize = 900 * 1024;

/// A chunked payload that could not be stored or read back.
#[derive(Debug, thiserror::Error)]
#[error("chunked payload {name}: {reason}")]
pub struct ChunkError {
    name: String,
    reason: String,
}

/// Bytes per chunk message, as every NATS client writes them.
const CHUNK_BYTES: usize = 128 * 1024;

/// The object store of one lattice.
#[derive(Clone)]
pub struct Chunks {
    store: object_store::ObjectStore,
    context: jetstream::Context,
    bucket: String,
}

/// An object's metadata, readable by every NATS client (see the module's note).
#[derive(Debug, Serialize)]
struct ObjectInfo<'a> {
    name: &'a str,
    description: Option<&'a str>,
    bucket: &'a str,
    nuid: &'a str,
    size: usize,
    chunks: usize,
    /// The modification time as async-nats up to 0.3x spells it.
    modified: &'a str,
    /// The same time as NATS's object store specification (and today's clients) spell it.
    mtime: &'a str,
    /// `SHA-256=` and the padded base64url of the content's SHA-256.
    digest: String,
    deleted: bool,
}

/// The object name of the response to `invocation_id`.
#[must_use]
pub fn response_name(invocation_id: &str) -> String {
    format!("{invocation_id}-r")
}

impl ChunkError {
    /// For a chunked payload when no object store is available.
    #[must_use]
    pub fn unavailable(name: &str) -> ChunkError {
        ChunkError {
            name: name.to_string(),
            reason: "no object store is available on this lattice".into(),
        }
    }
}

impl Chunks {
    /// Opens the bucket named `lattice`, creating it (with `replicas` copies) if no host
    /// has yet.
    ///
    /// # Errors
    /// When JetStream is unavailable.
    pub async fn open(
        client: async_nats::Client,
        lattice: &str,
        domain: Option<&str>,
        replicas: usize,
    ) -> anyhow::Result<Chunks> {
        let context = match domain {
            Some(domain) => jetstream::with_domain(client, domain),
            None => jetstream::new(client),
        };
        let store = match context.get_object_store(lattice).await {
            Ok(store) => store,
            Err(_) => {
                let config = object_store::Config {
                    bucket: lattice.to_string(),
                    num_replicas: replicas,
                    ..object_store::Config::default()
                };
                match context.create_object_store(config).await {
                    Ok(store) => store,
                    // Another host may have created it meanwhile.
                    Err(create) => context.get_object_store(lattice).await.map_err(|_| {
                        anyhow::anyhow!("could not create the object store {lattice}: {create}")
                    })?,
                }
            }
        };
        Ok(Chunks {
            store,
            context,
            bucket: lattice.to_string(),
        })
    }

    /// Stores `bytes` under `name`: the chunks (published together, then every
    /// acknowledgement awaited), then the metadata that makes them an object.
    ///
    /// # Errors
    /// When JetStream refuses a write.
    pub async fn put(&self, name: &str, bytes: &[u8]) -> Result<(), ChunkError> {
        let error = |reason: String| ChunkError {
            name: name.to_string(),
            reason,
        };
        let nuid = uuid::Uuid::new_v4().simple().to_string();
        let chunk_subject = subjects::object_chunks(&self.bucket, &nuid);
        let mut acks = Vec::with_capacity(bytes.len().div_ceil(CHUNK_BYTES));
        for chunk in bytes.chunks(CHUNK_BYTES) {
            let ack = self
                .context
                .publish(chunk_subject.clone(), bytes::Bytes::copy_from_slice(chunk))
                .await
                .map_err(|e| error(e.to_string()))?;
            acks.push(ack);
        }
        for ack in
            futures::future::join_all(acks.into_iter().map(std::future::IntoFuture::into_future))
                .await
        {
            ack.map_err(|e| error(e.to_string()))?;
        }
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let info = ObjectInfo {
            name,
            description: None,
            bucket: &self.bucket,
            nuid: &nuid,
            size: bytes.len(),
            chunks: bytes.len().div_ceil(CHUNK_BYTES),
            modified: &now,
            mtime: &now,
            digest: digest(bytes),
            deleted: false,
        };
        let body = serde_json::to_vec(&info).expect("invariant: object metadata serialises");
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Rollup", "sub");
        self.context
            .publish_with_headers(
                subjects::object_meta(&self.bucket, name),
                headers,
                body.into(),
            )
            .await
            .map_err(|e| error(e.to_string()))?
            .await
            .map_err(|e| error(e.to_string()))?;
        Ok(())
    }

    /// Reads `name`, at most `limit` bytes, and deletes it. The size the object's
    /// metadata announces is checked before anything is read, and the read stops one
    /// byte past the limit whatever the chunks hold.
    ///
    /// # Errors
    /// When the object is missing, unreadable or larger than `limit`.
    pub async fn take(&self, name: &str, limit: u64) -> Result<Vec<u8>, ChunkError> {
        let error = |reason: String| ChunkError {
            name: name.to_string(),
            reason,
        };
        let object = self
            .store
            .get(name)
            .await
            .map_err(|e| error(e.to_string()))?;
        let too_large =
            |size: u64| error(format!("{size} bytes is above the limit of {limit} bytes"));
        let announced = object.info.size as u64;
        if announced > limit {
            self.delete(name).await;
            return Err(too_large(announced));
        }
        let mut bytes = Vec::with_capacity(object.info.size);
        object
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| error(e.to_string()))?;
        self.delete(name).await;
        if bytes.len() as u64 > limit {
            return Err(too_large(bytes.len() as u64));
        }
        Ok(bytes)
    }

    async fn delete(&self, name: &str) {
        if let Err(e) = self.store.delete(name).await {
            tracing::debug!(name, error = %e, "could not delete a chunked payload after reading it");
        }
    }
}

/// The digest of an object's content as NATS clients write and check it.
#[must_use]
pub fn digest(bytes: &[u8]) -> String {
    format!(
        "SHA-256={}",
        data_encoding::BASE64URL.encode(&sha2::Sha256::digest(bytes))
    )
}
