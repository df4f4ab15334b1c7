//! `kiln claims`.

use std::path::PathBuf;

use anyhow::Context as _;
use kiln_types::claims::{self, Actor, ActorSpec, Policy};
use kiln_types::jwt;
use kiln_types::keys::KeyKind;
use kiln_types::wasm;
use serde::Serialize;

use crate::keys::read_seed;
use crate::output::{Format, emit};

const DAY_SECONDS: u64 = 86_400;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Embed signed claims in an actor module.
    Sign(Box<SignArgs>),
    /// Show the claims of a module and whether they verify.
    Inspect {
        /// The module.
        file: PathBuf,
    },
    /// The claims of every actor and provider of the lattice (through the control API).
    List,
}

#[derive(clap::Args)]
pub struct SignArgs {
    /// The module to sign.
    file: PathBuf,
    /// Account seed (SA…) or a file holding it: the signer.
    #[arg(long, short = 'i', env = "KILN_ISSUER_SEED", hide_env_values = true)]
    issuer: String,
    /// Module seed (SM…) or a file holding it: the actor's identity. Generated when absent.
    #[arg(long, short = 's')]
    subject: Option<String>,
    /// Display name.
    #[arg(long, short = 'n')]
    name: Option<String>,
    /// Capability contract id the actor may use (repeatable).
    #[arg(long = "cap", short = 'c')]
    caps: Vec<String>,
    /// Tag (repeatable).
    #[arg(long = "tag", short = 't')]
    tags: Vec<String>,
    /// Revision.
    #[arg(long, short = 'r')]
    rev: Option<i32>,
    /// Version string.
    #[arg(long, short = 'v')]
    ver: Option<String>,
    /// Call alias.
    #[arg(long, short = 'a')]
    call_alias: Option<String>,
    /// Days until the claims expire.
    #[arg(long, short = 'x')]
    expires_in_days: Option<u64>,
    /// Days until the claims become valid.
    #[arg(long, short = 'b')]
    not_before_days: Option<u64>,
    /// Where to write the signed module; default `<name>_s.wasm` beside the input.
    #[arg(long, short = 'd')]
    destination: Option<PathBuf>,
}

#[derive(Serialize)]
struct Inspection {
    account: String,
    module: String,
    name: Option<String>,
    version: Option<String>,
    revision: Option<i32>,
    call_alias: Option<String>,
    capabilities: Vec<String>,
    tags: Vec<String>,
    issued_at: u64,
    expires: Option<u64>,
    not_before: Option<u64>,
    wascap_revision: Option<u32>,
    valid: bool,
    problem: Option<String>,
}

pub fn run(command: Command, format: Format) -> anyhow::Result<()> {
    match command {
        Command::Sign(args) => sign(*args, format),
        Command::Inspect { file } => inspect(&file, format),
        Command::List => anyhow::bail!("claims list needs the control API"),
    }
}

fn sign(args: SignArgs, format: Format) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let issuer = read_seed(KeyKind::Account, &args.issuer)?;
    let subject = match &args.subject {
        Some(text) => read_seed(KeyKind::Module, text)?,
        None => KeyKind::Module.generate(),
    };
    let now = kiln_types::unix_now();
    let spec = ActorSpec {
        name: args.name,
        caps: args.caps,
        tags: args.tags,
        rev: args.rev,
        ver: args.ver,
        call_alias: args.call_alias,
        expires: args.expires_in_days.map(|d| now + d * DAY_SECONDS),
        not_before: args.not_before_days.map(|d| now + d * DAY_SECONDS),
    };
    let signed = claims::sign_actor(&bytes, &spec, &issuer, &subject, now)?;
    let destination = args.destination.unwrap_or_else(|| {
        let stem = args
            .file
            .file_stem()
            .map_or_else(|| "actor".into(), |s| s.to_string_lossy().into_owned());
        args.file.with_file_name(format!("{stem}_s.wasm"))
    });
    std::fs::write(&destination, &signed)
        .with_context(|| format!("writing {}", destination.display()))?;
    let report = describe(&signed)?;
    emit(format, &report, || {
        format!(
            "Signed {} as {}\n{}",
            destination.display(),
            report.module,
            text(&report)
        )
    });
    Ok(())
}

fn inspect(file: &std::path::Path, format: Format) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let report = describe(&bytes)?;
    emit(format, &report, || text(&report));
    Ok(())
}

fn describe(bytes: &[u8]) -> anyhow::Result<Inspection> {
    let parts = wasm::split(bytes)?;
    let token = parts
        .token
        .context("module is not signed: no wasmcloud_jwt or jwt section")?;
    let read: jwt::Claims<Actor> = jwt::decode_unverified(&token)?;
    let problem = claims::verify_actor(bytes, &Policy::default(), kiln_types::unix_now())
        .err()
        .map(|e| e.to_string());
    let meta = read.metadata.clone().unwrap_or_default();
    Ok(Inspection {
        account: read.issuer,
        module: read.subject,
        name: meta.name,
        version: meta.ver,
        revision: meta.rev,
        call_alias: meta.call_alias,
        capabilities: meta.caps.unwrap_or_default(),
        tags: meta.tags.unwrap_or_default(),
        issued_at: read.issued_at,
        expires: read.expires,
        not_before: read.not_before,
        wascap_revision: read.wascap_revision,
        valid: problem.is_none(),
        problem,
    })
}

fn text(report: &Inspection) -> String {
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    let when = |t: Option<u64>, absent: &str| {
        t.map_or_else(|| absent.to_string(), |t| format!("{t} (unix seconds)"))
    };
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_string()
        } else {
            items.join(", ")
        }
    };
    format!(
        "Account       {}\nModule        {}\nName          {}\nVersion       {}\nRevision      {}\nCall alias    {}\nCapabilities  {}\nTags          {}\nExpires       {}\nNot before    {}\nValid         {}",
        report.account,
        report.module,
        or_none(&report.name),
        or_none(&report.version),
        report
            .revision
            .map_or_else(|| "none".into(), |r| r.to_string()),
        or_none(&report.call_alias),
        list(&report.capabilities),
        list(&report.tags),
        when(report.expires, "never"),
        when(report.not_before, "immediately"),
        report
            .problem
            .as_ref()
            .map_or_else(|| "yes".to_string(), |p| format!("NO: {p}")),
    )
}
