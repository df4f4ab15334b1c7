//! `kiln par`: build and inspect provider archives.

use std::path::PathBuf;

use anyhow::Context as _;
use kiln_types::keys::KeyKind;
use kiln_types::par::{self, ProviderSpec};
use serde::Serialize;

use crate::keys::read_seed;
use crate::output::{Format, emit};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Sign a provider executable into a `.par.gz` archive.
    Create(Box<CreateArgs>),
    /// Show an archive's claims and targets, and whether they verify here.
    Inspect {
        /// The archive.
        file: PathBuf,
    },
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// The provider executable.
    #[arg(long, short = 'b')]
    binary: PathBuf,
    /// Target the executable is for; this machine's by default.
    #[arg(long, short = 't')]
    target: Option<String>,
    /// Contract id the provider implements, e.g. wasmcloud:keyvalue.
    #[arg(long, short = 'c')]
    capid: String,
    /// Account seed (SA…) or a file holding it: the signer.
    #[arg(long, short = 'i', env = "KILN_ISSUER_SEED", hide_env_values = true)]
    issuer: String,
    /// Service seed (SV…) or a file holding it: the provider's identity. Generated when absent.
    #[arg(long, short = 's')]
    subject: Option<String>,
    /// Display name.
    #[arg(long, short = 'n')]
    name: Option<String>,
    /// Vendor.
    #[arg(long, default_value = "kiln")]
    vendor: String,
    /// Revision.
    #[arg(long, short = 'r')]
    rev: Option<i32>,
    /// Version.
    #[arg(long, short = 'v')]
    ver: Option<String>,
    /// Where to write the archive.
    #[arg(long, short = 'd')]
    destination: PathBuf,
}

#[derive(Serialize)]
struct Report {
    service: String,
    account: String,
    name: Option<String>,
    contract_id: String,
    vendor: String,
    revision: Option<i32>,
    version: Option<String>,
    targets: Vec<String>,
    valid_here: bool,
    problem: Option<String>,
}

pub fn run(command: Command, format: Format) -> anyhow::Result<()> {
    let path = match command {
        Command::Create(args) => create(*args)?,
        Command::Inspect { file } => file,
    };
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let (claims, targets) = par::inspect_par(&bytes)?;
    let problem = par::read_par(
        &bytes,
        &par::native_target(),
        &Default::default(),
        kiln_types::unix_now(),
    )
    .err()
    .map(|e| e.to_string());
    let meta = claims.metadata.unwrap_or_default();
    let report = Report {
        service: claims.subject,
        account: claims.issuer,
        name: meta.name,
        contract_id: meta.capid,
        vendor: meta.vendor,
        revision: meta.rev,
        version: meta.ver,
        targets,
        valid_here: problem.is_none(),
        problem,
    };
    emit(format, &report, || {
        format!(
            "Archive       {}\nService       {}\nAccount       {}\nName          {}\nContract      {}\nVendor        {}\nTargets       {}\nValid here    {}",
            path.display(),
            report.service,
            report.account,
            report.name.clone().unwrap_or_else(|| "none".into()),
            report.contract_id,
            report.vendor,
            report.targets.join(", "),
            report
                .problem
                .as_ref()
                .map_or_else(|| "yes".to_string(), |p| format!("NO: {p}")),
        )
    });
    Ok(())
}

fn create(args: CreateArgs) -> anyhow::Result<PathBuf> {
    let binary = std::fs::read(&args.binary)
        .with_context(|| format!("reading {}", args.binary.display()))?;
    let issuer = read_seed(KeyKind::Account, &args.issuer)?;
    let subject = match &args.subject {
        Some(text) => read_seed(KeyKind::Service, text)?,
        None => KeyKind::Service.generate(),
    };
    let spec = ProviderSpec {
        name: args.name,
        capid: args.capid,
        vendor: args.vendor,
        rev: args.rev,
        ver: args.ver,
    };
    let target = args.target.unwrap_or_else(par::native_target);
    let archive = par::write_par(
        &[(target, binary)],
        &spec,
        &issuer,
        &subject,
        kiln_types::unix_now(),
    )?;
    std::fs::write(&args.destination, archive)
        .with_context(|| format!("writing {}", args.destination.display()))?;
    Ok(args.destination)
}
