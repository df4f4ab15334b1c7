//! Payloads above [`THRESHOLD`] travel through the JetStream object store: the bucket is
//! named after the lattice prefix, a request is stored under the invocation id and its
//! response under `{id}-r`, and the reader deletes what it read.

use async_nats::jetstream::{self, object_store};
use tokio::io::AsyncReadExt as _;

/// Payloads larger than this are chunked (900 KiB, as wasmbus-rpc does both ways).
pub const THRESHOLD: usize = 900 * 1024;

/// A chunked payload that could not be stored or read back.
#[derive(Debug, thiserror::Error)]
#[error("chunked payload {name}: {reason}")]
pub struct ChunkError {
    name: String,
    reason: String,
}

/// The object store of one lattice.
#[derive(Clone)]
pub struct Chunks {
    store: object_store::ObjectStore,
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
        Ok(Chunks { store })
    }

    /// Stores `bytes` under `name`.
    ///
    /// # Errors
    /// When JetStream refuses the write.
    pub async fn put(&self, name: &str, bytes: &[u8]) -> Result<(), ChunkError> {
        let mut reader = bytes;
        self.store
            .put(name, &mut reader)
            .await
            .map_err(|e| ChunkError {
                name: name.to_string(),
                reason: e.to_string(),
            })?;
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
