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
    /// Opens the bucket named `lattice`, creating it if no host has yet.
    ///
    /// # Errors
    /// When JetStream is unavailable.
    pub async fn open(
        client: async_nats::Client,
        lattice: &str,
        domain: Option<&str>,
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

    /// Reads `name` and deletes it.
    ///
    /// # Errors
    /// When the object is missing or unreadable.
    pub async fn take(&self, name: &str) -> Result<Vec<u8>, ChunkError> {
        let error = |reason: String| ChunkError {
            name: name.to_string(),
            reason,
        };
        let mut object = self
            .store
            .get(name)
            .await
            .map_err(|e| error(e.to_string()))?;
        let mut bytes = Vec::new();
        object
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| error(e.to_string()))?;
        if let Err(e) = self.store.delete(name).await {
            tracing::debug!(name, error = %e, "could not delete a chunked payload after reading it");
        }
        Ok(bytes)
    }
}
