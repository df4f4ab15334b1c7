//! `kiln push`: an actor module or a provider archive to an OCI registry, with the
//! layout wasmCloud tools use, so hosts (this one and wasmCloud's) can start it by
//! reference.

use std::path::PathBuf;

use anyhow::Context as _;
use kiln_wasmbus::oci;
use oci_client::secrets::RegistryAuth;

use crate::output::{Format, emit};

#[derive(clap::Args)]
pub struct Args {
    /// Where to push: registry/repository:tag.
    reference: String,
    /// The signed actor module (.wasm) or provider archive (.par.gz).
    file: PathBuf,
    /// Registry user.
    #[arg(long, env = "OCI_REGISTRY_USER")]
    user: Option<String>,
    /// Registry password.
    #[arg(long, env = "OCI_REGISTRY_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Talk plain HTTP to this registry (a local one).
    #[arg(long)]
    insecure: bool,
}

pub async fn run(args: Args, format: Format) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let auth = match (args.user, args.password) {
        (Some(user), Some(password)) => RegistryAuth::Basic(user, password),
        _ => RegistryAuth::Anonymous,
    };
    let registry = args
        .reference
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let insecure = if args.insecure {
        vec![registry]
    } else {
        Vec::new()
    };
    let size = bytes.len();
    let url = oci::push(&args.reference, bytes, auth, &insecure).await?;
    emit(
        format,
        &serde_json::json!({"reference": args.reference, "manifest": url, "size": size}),
        || format!("pushed {} ({size} bytes)", args.reference),
    );
    Ok(())
}
