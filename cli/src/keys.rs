//! `kiln keys`.

use anyhow::Context as _;
use kiln_types::keys::KeyKind;
use serde::Serialize;

use crate::output::{Format, emit};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Generate a key pair: account, module, server, cluster, service, operator or user.
    Gen {
        /// The kind of key.
        kind: KeyKind,
    },
}

#[derive(Serialize)]
struct Generated {
    kind: String,
    public_key: String,
    seed: String,
}

pub fn run(command: Command, format: Format) -> anyhow::Result<()> {
    match command {
        Command::Gen { kind } => {
            let pair = kind.generate();
            let generated = Generated {
                kind: kind.to_string(),
                public_key: pair.public_key(),
                seed: pair.seed().context("reading the new seed")?,
            };
            emit(format, &generated, || {
                format!(
                    "Public Key: {}\nSeed: {}",
                    generated.public_key, generated.seed
                )
            });
            Ok(())
        }
    }
}

/// A seed given on the command line, or the path of a file that holds one.
pub fn read_seed(kind: KeyKind, text: &str) -> anyhow::Result<kiln_types::keys::KeyPair> {
    let trimmed = text.trim();
    let seed = if trimmed.starts_with('S') && !std::path::Path::new(trimmed).exists() {
        trimmed.to_string()
    } else {
        std::fs::read_to_string(trimmed)
            .with_context(|| format!("{trimmed:?} is neither a {kind} seed nor a readable file"))?
    };
    Ok(kind.parse_seed(&seed)?)
}
