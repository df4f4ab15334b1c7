//! Fetching artifacts by reference — `file://…` (when allowed) or a registry reference
//! — and checking actor claims.

use kiln_types::claims::{self, ClaimsError, Policy, VerifiedActor};

use crate::oci::{self, OciError};

/// Why a reference could not be turned into a verified actor.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// `file://` while file loading is off.
    #[error(
        "starting from files is disabled on this host (set WASMCLOUD_ALLOW_FILE_LOAD=true): {0}"
    )]
    FileLoadDisabled(String),
    /// A scheme this host does not fetch from.
    #[error(
        "unsupported reference {0:?}: use file://PATH or a registry reference (registry/repository:tag)"
    )]
    Unsupported(String),
    /// The registry pull failed.
    #[error(transparent)]
    Oci(#[from] OciError),
    /// The file could not be read.
    #[error("could not read {path}")]
    Read {
        /// Path.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is too large to be a module.
    #[error("{path} is {size} bytes, above the limit of {limit} bytes")]
    TooLarge {
        /// Path.
        path: String,
        /// Size.
        size: u64,
        /// Limit.
        limit: u64,
    },
    /// The claims were refused.
    #[error(transparent)]
    Claims(#[from] ClaimsError),
}

/// Largest module accepted.
pub const MAX_MODULE_BYTES: u64 = 64 << 20;

/// Fetches artifacts for this host.
pub struct Fetcher {
    /// Whether `file://` references are allowed.
    pub allow_file_load: bool,
    /// Registry pulls.
    pub oci: oci::Registry,
    /// Where the dashboard keeps uploaded files: `file://` references to a file
    /// directly in it are allowed even when file loading is off.
    pub uploads: std::path::PathBuf,
}

impl Fetcher {
    /// The bytes behind `reference`.
    ///
    /// # Errors
    /// See [`FetchError`].
    pub async fn fetch(&self, reference: &str) -> Result<Vec<u8>, FetchError> {
        if let Some(path) = reference.strip_prefix("file://") {
            let uploaded = is_upload(&self.uploads, std::path::Path::new(path));
            return fetch(reference, self.allow_file_load || uploaded).await;
        }
        if reference.contains("://") && !reference.starts_with("oci://") {
            return Err(FetchError::Unsupported(reference.to_string()));
        }
        let bytes = self.oci.pull(reference).await?;
        if bytes.len() as u64 > MAX_ARCHIVE_BYTES {
            return Err(FetchError::TooLarge {
                path: reference.to_string(),
                size: bytes.len() as u64,
                limit: MAX_ARCHIVE_BYTES,
            });
        }
        Ok(bytes)
    }

    /// Fetches `reference` and verifies the actor's claims at the current time.
    ///
    /// # Errors
    /// See [`FetchError`].
    pub async fn fetch_actor(
        &self,
        reference: &str,
        policy: &Policy,
    ) -> Result<VerifiedActor, FetchError> {
        let bytes = self.fetch(reference).await?;
        Ok(claims::verify_actor(
            &bytes,
            policy,
            kiln_types::unix_now(),
        )?)
    }
}

/// Whether `path` names a file the dashboard stored: directly in `uploads`, named by
/// its digest (so no `..` or other trick reaches elsewhere).
fn is_upload(uploads: &std::path::Path, path: &std::path::Path) -> bool {
    path.parent() == Some(uploads)
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split_once('.'))
            .is_some_and(|(stem, _)| {
                stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit())
            })
}

/// Largest provider archive accepted from a registry.
pub const MAX_ARCHIVE_BYTES: u64 = 512 << 20;

/// Reads the file behind a `file://` `reference`.
///
/// # Errors
/// See [`FetchError`].
pub async fn fetch(reference: &str, allow_file_load: bool) -> Result<Vec<u8>, FetchError> {
    let Some(path) = reference.strip_prefix("file://") else {
        return Err(FetchError::Unsupported(reference.to_string()));
    };
    if !allow_file_load {
        return Err(FetchError::FileLoadDisabled(reference.to_string()));
    }
    let read_error = |source| FetchError::Read {
        path: path.to_string(),
        source,
    };
    let size = tokio::fs::metadata(path).await.map_err(read_error)?.len();
    if size > MAX_MODULE_BYTES {
        return Err(FetchError::TooLarge {
            path: path.to_string(),
            size,
            limit: MAX_MODULE_BYTES,
        });
    }
    tokio::fs::read(path).await.map_err(read_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_digest_named_files_directly_in_the_uploads_folder_are_uploads() {
        let uploads = std::path::Path::new("/cache/uploads");
        let digest = "a".repeat(64);
        assert!(is_upload(uploads, &uploads.join(format!("{digest}.wasm"))));
        assert!(!is_upload(uploads, &uploads.join("echo.wasm")));
        assert!(!is_upload(
            uploads,
            std::path::Path::new(&format!("/cache/uploads/../{digest}.wasm"))
        ));
        assert!(!is_upload(uploads, std::path::Path::new("/etc/hostname")));
    }

    #[tokio::test]
    async fn refuses_files_unless_allowed_and_other_schemes() {
        let err = fetch("file:///etc/hostname", false).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("starting from files is disabled"),
            "{err}"
        );
        let err = fetch("registry.example/echo:1", true).await.unwrap_err();
        assert!(matches!(err, FetchError::Unsupported(_)), "{err}");
        let err = fetch("file:///no/such/file.wasm", true).await.unwrap_err();
        assert_eq!(err.to_string(), "could not read /no/such/file.wasm");
    }
}
