//! Actors and providers in OCI registries, with the media types and layout wasmCloud
//! tools (`wash reg push`) use: one layer (`…module.wasm.content.layer.v1+wasm` for an
//! actor, `…provider.archive.layer.v1+par` for a provider archive) and a small config.
//! The host's pulls (credentials, cache, limits) build on this; `kiln push` uses
//! [`push`].

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

/// Layer of an actor module.
pub const WASM_MEDIA_TYPE: &str = "application/vnd.module.wasm.content.layer.v1+wasm";
/// Layer of a provider archive.
pub const PROVIDER_ARCHIVE_MEDIA_TYPE: &str =
    "application/vnd.wasmcloud.provider.archive.layer.v1+par";
/// A plain OCI layer, which older tools used for either.
pub const OCI_LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
/// Config of an actor artifact.
pub const ACTOR_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasmcloud.actor.archive.config";
/// Config of a provider artifact.
pub const PROVIDER_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasmcloud.provider.archive.config";

/// A pull or push that failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// Not a registry reference.
    #[error("{reference:?} is not a registry reference: {reason}")]
    BadReference {
        /// Reference.
        reference: String,
        /// Why.
        reason: String,
    },
    /// `:latest` while not allowed.
    #[error(
        "{0} uses the latest tag, which this host refuses (set WASMCLOUD_OCI_ALLOW_LATEST=true, or pin a version)"
    )]
    Latest(String),
    /// No such repository, tag or blob.
    #[error("{reference} is not in the registry: {reason}")]
    NotFound {
        /// Reference.
        reference: String,
        /// What the registry said.
        reason: String,
    },
    /// The registry refused the credentials (or needs some).
    #[error("the registry refused access to {reference}: {reason}")]
    Denied {
        /// Reference.
        reference: String,
        /// What the registry said.
        reason: String,
    },
    /// The registry could not be reached.
    #[error("could not reach the registry for {reference}: {reason}")]
    Unreachable {
        /// Reference.
        reference: String,
        /// Why.
        reason: String,
    },
    /// The bytes are not what the manifest promised.
    #[error("{reference}: the layer's bytes do not match its digest ({reason})")]
    Digest {
        /// Reference.
        reference: String,
        /// Detail.
        reason: String,
    },
    /// Not a wasmCloud actor or provider artifact.
    #[error("{reference} is not an actor or provider artifact: {reason}")]
    NotAnArtifact {
        /// Reference.
        reference: String,
        /// Detail.
        reason: String,
    },
    /// The layer is larger than this host accepts.
    #[error("{reference} is {size} bytes, above the limit of {limit} bytes")]
    TooLarge {
        /// Reference.
        reference: String,
        /// Size, as announced or as far as it was read.
        size: u64,
        /// Limit.
        limit: u64,
    },
    /// Anything else the registry or the cache did.
    #[error("{reference}: {reason}")]
    Other {
        /// Reference.
        reference: String,
        /// Detail.
        reason: String,
    },
}

/// Pushes an actor module (`\0asm`) or a provider archive (gzip) to `reference`, with
/// the layout wasmCloud tools use; returns the manifest URL.
///
/// # Errors
/// See [`OciError`]; bytes that are neither are refused before any upload.
pub async fn push(
    reference: &str,
    bytes: Vec<u8>,
    auth: RegistryAuth,
    insecure: &[String],
) -> Result<String, OciError> {
    let parsed = parse(reference)?;
    let (layer_type, config_type) = if bytes.starts_with(b"\0asm") {
        (WASM_MEDIA_TYPE, ACTOR_CONFIG_MEDIA_TYPE)
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        (PROVIDER_ARCHIVE_MEDIA_TYPE, PROVIDER_CONFIG_MEDIA_TYPE)
    } else {
        return Err(OciError::NotAnArtifact {
            reference: reference.to_string(),
            reason: "the file is neither a wasm module nor a gzipped provider archive".into(),
        });
    };
    let layer = ImageLayer::new(bytes, layer_type.to_string(), None);
    let config = Config::new(b"{}".to_vec(), config_type.to_string(), None);
    let pushed = client(insecure)
        .push(&parsed, &[layer], config, &auth, None)
        .await
        .map_err(|e| classify(reference, e))?;
    Ok(pushed.manifest_url)
}

/// The reference as hosts record and pull it: a registry reference lowercased, as the
/// OTP host did (the OCI distribution specification allows no capitals in a repository
/// name), a `file://` path as given.
#[must_use]
pub fn canonical(reference: &str) -> std::borrow::Cow<'_, str> {
    if reference.starts_with("file://") || !reference.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Borrowed(reference)
    } else {
        std::borrow::Cow::Owned(reference.to_ascii_lowercase())
    }
}

/// The registry reference of `reference` (with or without `oci://`), canonical.
///
/// # Errors
/// [`OciError::BadReference`].
pub fn parse(reference: &str) -> Result<Reference, OciError> {
    let canonical = canonical(reference);
    canonical
        .strip_prefix("oci://")
        .unwrap_or(&canonical)
        .parse()
        .map_err(|e: oci_client::ParseError| OciError::BadReference {
            reference: reference.to_string(),
            reason: e.to_string(),
        })
}

/// A registry client that talks plain HTTP only to the registries in `insecure`.
#[must_use]
pub fn client(insecure: &[String]) -> Client {
    Client::new(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(insecure.to_vec()),
        // A registry that stops sending must not hold a start forever.
        connect_timeout: Some(std::time::Duration::from_secs(10)),
        read_timeout: Some(std::time::Duration::from_secs(30)),
        ..ClientConfig::default()
    })
}

/// What a registry error means for the caller.
pub fn classify(reference: &str, error: OciDistributionError) -> OciError {
    let reference = reference.to_string();
    let reason = error.to_string();
    match &error {
        OciDistributionError::AuthenticationFailure(_)
        | OciDistributionError::UnauthorizedError { .. } => OciError::Denied { reference, reason },
        OciDistributionError::ImageManifestNotFoundError(_) => {
            OciError::NotFound { reference, reason }
        }
        OciDistributionError::DigestError(_) => OciError::Digest { reference, reason },
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                OciError::Denied { reference, reason }
            } else if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound
                )
            }) {
                OciError::NotFound { reference, reason }
            } else {
                OciError::Other { reference, reason }
            }
        }
        OciDistributionError::ServerError {
            code: 401 | 403, ..
        } => OciError::Denied { reference, reason },
        OciDistributionError::ServerError { code: 404, .. } => {
            OciError::NotFound { reference, reason }
        }
        OciDistributionError::RequestError(_) => OciError::Unreachable {
            reference,
            reason: format!("{error:#}"),
        },
        OciDistributionError::IncompatibleLayerMediaTypeError(_)
        | OciDistributionError::UnsupportedMediaTypeError(_) => {
            OciError::NotAnArtifact { reference, reason }
        }
        _ => OciError::Other { reference, reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_lowercased_as_the_otp_host_pulled_them() {
        let parsed = parse("oci://Localhost:5000/Kiln/KVCounter:V1").unwrap();
        assert_eq!(parsed.registry(), "localhost:5000");
        assert_eq!(parsed.repository(), "kiln/kvcounter");
        assert_eq!(parsed.tag(), Some("v1"));
        assert_eq!(canonical("file:///Tmp/Echo.wasm"), "file:///Tmp/Echo.wasm");
        assert_eq!(canonical("Reg:5000/A:B"), "reg:5000/a:b");
    }

    #[tokio::test]
    async fn pushing_something_that_is_no_artifact_is_refused_before_uploading() {
        let error = push(
            "localhost:1/x:1",
            b"hello".to_vec(),
            RegistryAuth::Anonymous,
            &[],
        )
        .await
        .unwrap_err();
        assert!(matches!(error, OciError::NotAnArtifact { .. }), "{error}");
    }
}
