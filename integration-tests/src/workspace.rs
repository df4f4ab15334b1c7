//! Where the workspace and its built artefacts are.

use std::path::{Path, PathBuf};

/// Root of the workspace.
#[must_use]
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("integration-tests sits in the workspace")
        .to_path_buf()
}
