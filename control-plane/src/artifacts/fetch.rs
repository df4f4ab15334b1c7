//! Fetching artifacts by reference — `file://…` (when allowed) or a registry reference
//! — and checking their claims.
//!
//! Every fetch is bounded: the reference's length is checked first; a file must be a
//! regular file and is read only up to the limit of its kind (actors and provider
//! archives have separate limits); a registry layer is refused when its manifest
//! announces more and cut off when it sends more. Claims checks (hashing and parsing
//! up to the limit) run on the blocking pool, never on a runtime worker.

use std::io::Read as _;

use kiln_types::claims::{self, ClaimsError, Policy, VerifiedActor};
use kiln_types::limits;
use kiln_types::par::{self, ParError, VerifiedProvider};

use crate::artifacts::oci::{self, OciError};

/// Why a reference could not be turned into a verified artifact.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A reference longer than any real one.
    #[error("the reference is {0} bytes long, above the limit of {max} bytes", max = limits::REFERENCE)]
    ReferenceTooLong(usize),
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
    /// A device, directory, pipe or socket rather than a regular file.
    #[error("{0} is not a regular file")]
    NotAFile(String),
    /// The file is larger than the limit of its kind.
    #[error("{path} is {size} bytes, above the limit of {limit} bytes for {kind}")]
    TooLarge {
        /// Path.
        path: String,
        /// Size, as the file system says or as far as it was read.
        size: u64,
        /// Limit.
        limit: u64,
        /// What was being fetched.
        kind: Kind,
    },
    /// The actor's claims were refused.
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    /// The provider archive was refused.
    #[error(transparent)]
    Archive(#[from] ParError),
    /// The check on the blocking pool did not finish (the runtime is shutting down).
    #[error("the check of {0} did not finish")]
    Interrupted(String),
}

/// What is fetched: each kind has its own size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A wasm module.
    Actor,
    /// A provider archive.
    Provider,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Actor => "actors",
            Kind::Provider => "provider archives",
        })
    }
}

/// Largest artifacts accepted, by kind, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Actor modules.
    pub actor: u64,
    /// Provider archives.
    pub provider: u64,
}

/// Default largest actor module.
pub const DEFAULT_ACTOR_LIMIT: u64 = 64 << 20;
/// Default largest provider archive.
pub const DEFAULT_PROVIDER_LIMIT: u64 = 256 << 20;
/// Largest limit either may be set to.
pub const MAX_LIMIT: u64 = par::MAX_ENTRY_BYTES;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            actor: DEFAULT_ACTOR_LIMIT,
            provider: DEFAULT_PROVIDER_LIMIT,
        }
    }
}

impl Limits {
    /// The limit of `kind`.
    #[must_use]
    pub fn of(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Actor => self.actor,
            Kind::Provider => self.provider,
        }
    }
}

/// Fetches artifacts for this host.
pub struct Fetcher {
    /// Whether `file://` references are allowed.
    pub allow_file_load: bool,
    /// Registry pulls.
    pub oci: oci::Puller,
    /// Where the dashboard keeps uploaded files: `file://` references to a file
    /// directly in it are allowed even when file loading is off.
    pub uploads: std::path::PathBuf,
    /// Size limits.
    pub limits: Limits,
}

impl Fetcher {
    /// The bytes behind `reference`, at most the limit of `kind`.
    ///
    /// # Errors
    /// See [`FetchError`].
    pub async fn fetch(&self, reference: &str, kind: Kind) -> Result<Vec<u8>, FetchError> {
        let limit = self.limits.of(kind);
        if let Some(path) = self.file(reference)? {
            return read_file(path, limit, kind).await;
        }
        Ok(self.oci.pull(reference, limit).await?)
    }

    /// The path of a `file://` reference this host may read, `None` for a registry
    /// reference.
    fn file<'r>(&self, reference: &'r str) -> Result<Option<&'r str>, FetchError> {
        if reference.len() > limits::REFERENCE {
            return Err(FetchError::ReferenceTooLong(reference.len()));
        }
        if let Some(path) = reference.strip_prefix("file://") {
            let uploaded = is_upload(&self.uploads, std::path::Path::new(path));
            if !(self.allow_file_load || uploaded) {
                return Err(FetchError::FileLoadDisabled(reference.to_string()));
            }
            return Ok(Some(path));
        }
        if reference.contains("://") && !reference.starts_with("oci://") {
            return Err(FetchError::Unsupported(reference.to_string()));
        }
        Ok(None)
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
        let policy = policy.clone();
        let verify =
            move |bytes: &[u8]| claims::verify_actor(bytes, &policy, kiln_types::unix_now());
        if let Some(path) = self.file(reference)? {
            // Read and checked in one go on the blocking pool: each hand-off to it
            // costs a thread's wake-up, tens of µs of a start.
            let (path, limit) = (path.to_string(), self.limits.actor);
            return blocking(reference, move || {
                let bytes = read_file_blocking(&path, limit, Kind::Actor)?;
                verify(&bytes).map_err(FetchError::from)
            })
            .await;
        }
        let bytes = self.oci.pull(reference, self.limits.actor).await?;
        blocking(reference, move || verify(&bytes)).await
    }

    /// Fetches the provider archive at `reference` and verifies it at the current
    /// time; the binary is this machine's.
    ///
    /// # Errors
    /// See [`FetchError`].
    pub async fn fetch_provider(
        &self,
        reference: &str,
        policy: &Policy,
    ) -> Result<VerifiedProvider, FetchError> {
        let archive = self.fetch(reference, Kind::Provider).await?;
        let policy = policy.clone();
        blocking(reference, move || {
            let target = par::native_target();
            par::read_par(&archive, &target, &policy, kiln_types::unix_now())
        })
        .await
    }
}

/// Runs a check of fetched bytes on the blocking pool: hashing and parsing up to the
/// size limit must not hold a runtime worker.
async fn blocking<T, E>(
    reference: &str,
    check: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, FetchError>
where
    T: Send + 'static,
    E: Into<FetchError> + Send + 'static,
{
    tokio::task::spawn_blocking(check)
        .await
        .map_err(|_| FetchError::Interrupted(reference.to_string()))?
        .map_err(Into::into)
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

/// Reads the regular file at `path`, refusing anything else (a device such as
/// `/dev/zero` would never end) and stopping one byte past `limit`. The file is opened
/// non-blocking, so a named pipe cannot hold the open forever.
async fn read_file(path: &str, limit: u64, kind: Kind) -> Result<Vec<u8>, FetchError> {
    let owned = path.to_string();
    blocking(path, move || read_file_blocking(&owned, limit, kind)).await
}

fn read_file_blocking(path: &str, limit: u64, kind: Kind) -> Result<Vec<u8>, FetchError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let read_error = |source| FetchError::Read {
        path: path.to_string(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    if !metadata.is_file() {
        return Err(FetchError::NotAFile(path.to_string()));
    }
    let too_large = |size| FetchError::TooLarge {
        path: path.to_string(),
        size,
        limit,
        kind,
    };
    if metadata.len() > limit {
        return Err(too_large(metadata.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    // The file may grow after the check, and some (in /proc) say 0 and never end.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetcher(allow_file_load: bool, limits: Limits) -> Fetcher {
        Fetcher {
            allow_file_load,
            oci: oci::Puller::new(
                oci::Settings::default(),
                std::sync::Arc::new(crate::artifacts::credentials::Credentials::default()),
            ),
            uploads: "/cache/uploads".into(),
            limits,
        }
    }

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
        let closed = fetcher(false, Limits::default());
        let err = closed
            .fetch("file:///etc/hostname", Kind::Actor)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("starting from files is disabled"),
            "{err}"
        );
        let open = fetcher(true, Limits::default());
        let err = open
            .fetch("http://registry.example/echo:1", Kind::Actor)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Unsupported(_)), "{err}");
        let err = open
            .fetch("file:///no/such/file.wasm", Kind::Actor)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "could not read /no/such/file.wasm");
    }

    #[tokio::test]
    async fn devices_directories_and_pipes_are_not_read() {
        let open = fetcher(true, Limits::default());
        for path in ["/dev/zero", "/dev/urandom", "/tmp"] {
            let err = open
                .fetch(&format!("file://{path}"), Kind::Actor)
                .await
                .unwrap_err();
            assert!(matches!(err, FetchError::NotAFile(_)), "{path}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let err = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            open.fetch(&format!("file://{}", fifo.display()), Kind::Actor),
        )
        .await
        .expect("a pipe with no writer does not hold the fetch")
        .unwrap_err();
        assert!(matches!(err, FetchError::NotAFile(_)), "{err}");
    }

    #[tokio::test]
    async fn each_kind_has_its_own_size_limit_and_long_references_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        std::fs::write(&path, vec![0u8; 2048]).unwrap();
        let reference = format!("file://{}", path.display());
        let open = fetcher(
            true,
            Limits {
                actor: 1024,
                provider: 4096,
            },
        );
        let err = open.fetch(&reference, Kind::Actor).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is 2048 bytes, above the limit of 1024 bytes for actors",
                path.display()
            )
        );
        assert_eq!(
            open.fetch(&reference, Kind::Provider).await.unwrap().len(),
            2048
        );
        let long = format!("registry.example/{}:1", "a".repeat(500_000));
        let started = std::time::Instant::now();
        let err = open.fetch(&long, Kind::Actor).await.unwrap_err();
        assert!(matches!(err, FetchError::ReferenceTooLong(_)), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
    }
}
