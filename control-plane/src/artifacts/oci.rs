//! Pulls of actors and providers from OCI registries, in the layout of
//! [`kiln_wasmbus::oci`].
//!
//! Pulls honour the wasmbus host's settings: `:latest` only when allowed, plain HTTP only
//! for the registries listed as insecure, credentials from `registries.put` or
//! `OCI_REGISTRY*`. Layers are checked against their digest and cached by it.

use std::path::PathBuf;
use std::sync::Arc;

pub use kiln_wasmbus::oci::OciError;
use kiln_wasmbus::oci::{
    OCI_LAYER_MEDIA_TYPE, PROVIDER_ARCHIVE_MEDIA_TYPE, WASM_MEDIA_TYPE, classify, client, parse,
};
use oci_client::Reference;
use oci_client::secrets::RegistryAuth;
use sha2::{Digest as _, Sha256};

use crate::artifacts::credentials::Credentials;

/// How this host pulls.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Allow `:latest` (and untagged) references.
    pub allow_latest: bool,
    /// Registries (`host:port`) reached over plain HTTP.
    pub insecure: Vec<String>,
    /// `OCI_REGISTRY`, `OCI_REGISTRY_USER`, `OCI_REGISTRY_PASSWORD`: basic auth for
    /// references on that registry.
    pub env_credentials: Option<(String, String, String)>,
    /// Where pulled layers are kept, by digest.
    pub cache_dir: PathBuf,
}

/// Pulls artifacts.
pub struct Puller {
    settings: Settings,
    credentials: Arc<Credentials>,
}

impl Puller {
    /// A puller with `settings`, using the lattice's registry `credentials`.
    #[must_use]
    pub fn new(settings: Settings, credentials: Arc<Credentials>) -> Puller {
        Puller {
            settings,
            credentials,
        }
    }

    /// The bytes of the actor module or provider archive at `reference`, from the cache
    /// when its digest is known there.
    ///
    /// # Errors
    /// See [`OciError`].
    pub async fn pull(&self, reference: &str, limit: u64) -> Result<Vec<u8>, OciError> {
        let parsed = parse(reference)?;
        if !self.settings.allow_latest && parsed.digest().is_none() {
            let tag = parsed.tag().unwrap_or("latest");
            if tag == "latest" {
                return Err(OciError::Latest(reference.to_string()));
            }
        }
        let auth = self.auth(&parsed);
        let client = client(&self.settings.insecure);
        let (manifest, _) = client
            .pull_image_manifest(&parsed, &auth)
            .await
            .map_err(|e| classify(reference, e))?;
        let layer = artifact_layer(reference, &manifest)?;
        // The manifest's size is checked first, and the download is cut off at the
        // limit whatever the manifest said.
        if u64::try_from(layer.size).unwrap_or(u64::MAX) > limit {
            return Err(OciError::TooLarge {
                reference: reference.to_string(),
                size: u64::try_from(layer.size).unwrap_or(u64::MAX),
                limit,
            });
        }
        let cached = self.cached_path(&layer.digest);
        if let Some(path) = &cached
            && let Ok(bytes) = tokio::fs::read(path).await
            && digest_of(&bytes) == layer.digest
        {
            tracing::debug!(%reference, digest = %layer.digest, "artifact from the cache");
            return Ok(bytes);
        }
        let bytes = download(&client, &parsed, layer, reference, limit).await?;
        if let Some(path) = cached {
            store(&path, &bytes).await;
        }
        tracing::info!(%reference, digest = %layer.digest, size = bytes.len(), "artifact pulled");
        Ok(bytes)
    }

    fn cached_path(&self, digest: &str) -> Option<PathBuf> {
        let hex = digest.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| self.settings.cache_dir.join("oci").join("sha256").join(hex))
    }

    fn auth(&self, reference: &Reference) -> RegistryAuth {
        let server = reference.registry();
        if let Some(credential) = self.credentials.get(server) {
            if let Some(token) = credential.token.filter(|t| !t.is_empty()) {
                return RegistryAuth::Bearer(token);
            }
            return RegistryAuth::Basic(
                credential.username.unwrap_or_default(),
                credential.password.unwrap_or_default(),
            );
        }
        match &self.settings.env_credentials {
            Some((registry, user, password)) if registry == server => {
                RegistryAuth::Basic(user.clone(), password.clone())
            }
            _ => RegistryAuth::Anonymous,
        }
    }
}

/// A download that fails once it passes `limit` bytes (one byte more is kept, so the
/// caller can tell the limit from another failure).
struct Capped {
    bytes: Vec<u8>,
    limit: usize,
}

impl tokio::io::AsyncWrite for Capped {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let room = (self.limit + 1).saturating_sub(self.bytes.len());
        if room == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::other("download above the limit")));
        }
        let taken = buf.len().min(room);
        self.bytes.extend_from_slice(&buf[..taken]);
        std::task::Poll::Ready(Ok(taken))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

fn digest_of(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))
    )
}

/// The layer holding the actor's module or the provider's archive.
fn artifact_layer<'m>(
    reference: &str,
    manifest: &'m oci_client::manifest::OciImageManifest,
) -> Result<&'m oci_client::manifest::OciDescriptor, OciError> {
    manifest
        .layers
        .iter()
        .find(|l| {
            [
                WASM_MEDIA_TYPE,
                PROVIDER_ARCHIVE_MEDIA_TYPE,
                OCI_LAYER_MEDIA_TYPE,
            ]
            .contains(&l.media_type.as_str())
        })
        .ok_or_else(|| {
            let found: Vec<&str> = manifest
                .layers
                .iter()
                .map(|l| l.media_type.as_str())
                .collect();
            OciError::NotAnArtifact {
                reference: reference.to_string(),
                reason: format!("no wasm or provider-archive layer (layers: {found:?})"),
            }
        })
}

/// Downloads `layer`, cut off at `limit` whatever the manifest said, and checks that
/// the bytes hash to its digest.
async fn download(
    client: &oci_client::Client,
    parsed: &oci_client::Reference,
    layer: &oci_client::manifest::OciDescriptor,
    reference: &str,
    limit: u64,
) -> Result<Vec<u8>, OciError> {
    let mut capped = Capped {
        bytes: Vec::new(),
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
    };
    client
        .pull_blob(parsed, layer, &mut capped)
        .await
        .map_err(|e| {
            if capped.bytes.len() as u64 > limit {
                OciError::TooLarge {
                    reference: reference.to_string(),
                    size: capped.bytes.len() as u64,
                    limit,
                }
            } else {
                classify(reference, e)
            }
        })?;
    let bytes = capped.bytes;
    let actual = digest_of(&bytes);
    if actual != layer.digest {
        return Err(OciError::Digest {
            reference: reference.to_string(),
            reason: format!("manifest says {}, bytes hash to {actual}", layer.digest),
        });
    }
    Ok(bytes)
}

/// Keeps `bytes` in the cache; a cache that cannot be written only costs the next pull.
async fn store(path: &std::path::Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        let _ = tokio::fs::create_dir_all(dir).await;
    }
    if let Err(error) = tokio::fs::write(path, bytes).await {
        tracing::warn!(path = %path.display(), %error, "could not cache an artifact");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn latest_is_refused_unless_allowed_and_bad_references_say_so() {
        let registry = Puller::new(Settings::default(), Arc::new(Credentials::default()));
        let error = registry
            .pull("localhost:5000/echo:latest", 1 << 20)
            .await
            .unwrap_err();
        assert!(matches!(error, OciError::Latest(_)), "{error}");
        let error = registry
            .pull("localhost:5000/echo", 1 << 20)
            .await
            .unwrap_err();
        assert!(matches!(error, OciError::Latest(_)), "{error}");
        let error = registry.pull("Not A Ref!", 1 << 20).await.unwrap_err();
        assert!(matches!(error, OciError::BadReference { .. }), "{error}");
    }
}
