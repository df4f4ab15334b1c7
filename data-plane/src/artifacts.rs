//! Artifacts by content digest: received once, kept on disk, compiled once.
//!
//! The control plane pushes the bytes of a module the first time it needs it here. They
//! are hashed on arrival (a mismatch is refused), written to the cache directory and
//! compiled; wasmtime's own code cache keeps the machine code, so a restarted data plane
//! finds both the bytes and the compiled code without the control plane's help.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};
use wasmtime::{Engine, Module};

/// An artifact that could not be stored or compiled.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The digest is not 64 lowercase hex characters.
    #[error("{0:?} is not a sha256 digest")]
    BadDigest(String),
    /// The bytes do not hash to the digest they were sent under.
    #[error("artifact digest mismatch: announced {announced}, received bytes hash to {actual}")]
    Mismatch {
        /// Digest announced.
        announced: String,
        /// Digest of the bytes.
        actual: String,
    },
    /// The bytes are not a module wasmtime accepts.
    #[error("artifact {digest} does not compile: {reason}")]
    Compile {
        /// Digest.
        digest: String,
        /// What wasmtime said.
        reason: String,
    },
    /// The cache directory failed.
    #[error("could not store artifact {digest}")]
    Io {
        /// Digest.
        digest: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Compiled modules by digest, backed by a directory.
pub struct Store {
    engine: Engine,
    dir: PathBuf,
    modules: Mutex<HashMap<String, Module>>,
}

impl Store {
    /// A store over `dir` (created on first write).
    #[must_use]
    pub fn new(engine: Engine, dir: PathBuf) -> Store {
        Store {
            engine,
            dir,
            modules: Mutex::new(HashMap::new()),
        }
    }

    /// The compiled module for `digest`, from memory or, after a restart, from disk.
    /// `None` when this data plane has never received it.
    ///
    /// # Errors
    /// When the bytes on disk are damaged or do not compile.
    pub async fn get(&self, digest: &str) -> Result<Option<Module>, ArtifactError> {
        check_digest(digest)?;
        if let Some(module) = self.lock().get(digest) {
            return Ok(Some(module.clone()));
        }
        let bytes = match tokio::fs::read(self.path(digest)).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ArtifactError::Io {
                    digest: digest.to_string(),
                    source,
                });
            }
        };
        match self.compile(digest, bytes).await {
            Ok(module) => Ok(Some(module)),
            // A damaged file is as good as none: the control plane pushes it again.
            Err(ArtifactError::Mismatch { .. }) => {
                let _ = tokio::fs::remove_file(self.path(digest)).await;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Whether `digest` is compiled and in memory.
    #[must_use]
    pub fn contains(&self, digest: &str) -> bool {
        self.lock().contains_key(digest)
    }

    /// Digests in memory.
    #[must_use]
    pub fn digests(&self) -> Vec<String> {
        let mut digests: Vec<String> = self.lock().keys().cloned().collect();
        digests.sort();
        digests
    }

    /// Where the executable `digest` lives, if this data plane has it.
    #[must_use]
    pub fn executable(&self, digest: &str) -> Option<PathBuf> {
        let path = self.executable_path(digest);
        (check_digest(digest).is_ok() && path.is_file()).then_some(path)
    }

    /// Checks and keeps an executable (a provider binary) under `digest`, mode 0755.
    ///
    /// # Errors
    /// A digest mismatch or a failing disk.
    pub async fn put_executable(
        &self,
        digest: &str,
        bytes: Vec<u8>,
    ) -> Result<PathBuf, ArtifactError> {
        use std::os::unix::fs::PermissionsExt as _;
        check_digest(digest)?;
        let actual = data_encoding::HEXLOWER.encode(&Sha256::digest(&bytes));
        if actual != digest {
            return Err(ArtifactError::Mismatch {
                announced: digest.to_string(),
                actual,
            });
        }
        let io = |source| ArtifactError::Io {
            digest: digest.to_string(),
            source,
        };
        let path = self.executable_path(digest);
        let dir = path
            .parent()
            .expect("invariant: executables live in a directory");
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let partial = dir.join(format!("{digest}.partial"));
        tokio::fs::write(&partial, &bytes).await.map_err(io)?;
        tokio::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))
            .await
            .map_err(io)?;
        tokio::fs::rename(&partial, &path).await.map_err(io)?;
        Ok(path)
    }

    /// Where the bytes of `digest` are kept, if this data plane has them.
    #[must_use]
    pub fn path_of(&self, digest: &str, executable: bool) -> Option<PathBuf> {
        check_digest(digest).ok()?;
        let path = if executable {
            self.executable_path(digest)
        } else {
            self.path(digest)
        };
        path.is_file().then_some(path)
    }

    fn executable_path(&self, digest: &str) -> PathBuf {
        self.dir.join("bin").join(digest)
    }

    /// Checks, compiles and keeps `bytes` under `digest`.
    ///
    /// # Errors
    /// A digest mismatch, a module that does not compile, or a failing disk.
    pub async fn put(&self, digest: &str, bytes: Vec<u8>) -> Result<Module, ArtifactError> {
        check_digest(digest)?;
        let module = self.compile(digest, bytes.clone()).await?;
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|source| ArtifactError::Io {
                digest: digest.to_string(),
                source,
            })?;
        // Write then rename, so a crash never leaves a half file under the real name.
        let partial = self.dir.join(format!("{digest}.partial"));
        let io = |source| ArtifactError::Io {
            digest: digest.to_string(),
            source,
        };
        tokio::fs::write(&partial, &bytes).await.map_err(io)?;
        tokio::fs::rename(&partial, self.path(digest))
            .await
            .map_err(io)?;
        Ok(module)
    }

    async fn compile(&self, digest: &str, bytes: Vec<u8>) -> Result<Module, ArtifactError> {
        let engine = self.engine.clone();
        let announced = digest.to_string();
        let module = tokio::task::spawn_blocking(move || {
            let actual = data_encoding::HEXLOWER.encode(&Sha256::digest(&bytes));
            if actual != announced {
                return Err(ArtifactError::Mismatch { announced, actual });
            }
            Module::from_binary(&engine, &bytes).map_err(|e| ArtifactError::Compile {
                digest: announced,
                reason: format!("{e:#}"),
            })
        })
        .await
        .map_err(|e| ArtifactError::Compile {
            digest: digest.to_string(),
            reason: format!("compiler task failed: {e}"),
        })??;
        self.lock().insert(digest.to_string(), module.clone());
        Ok(module)
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}.wasm"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Module>> {
        self.modules
            .lock()
            .expect("invariant: artifact lock is never poisoned")
    }
}

fn check_digest(digest: &str) -> Result<(), ArtifactError> {
    if digest.len() == 64
        && digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(ArtifactError::BadDigest(digest.to_string()))
    }
}
