//! Control-plane configuration: flags, the wasmbus host's `WASMCLOUD_*` variables
//! (same names and defaults, so existing deployments carry over) and `KILN_CP_*`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use kiln_types::claims::Policy;
use kiln_types::endpoint::Endpoint;
use kiln_types::keys::{KeyKind, KeyPair};

const DEFAULT_LATTICE: &str = "default";
const DEFAULT_NATS_HOST: &str = "127.0.0.1";
const DEFAULT_NATS_PORT: u16 = 4222;
const DEFAULT_RPC_TIMEOUT_MS: u64 = 2_000;
const DEFAULT_CTL_PREFIX: &str = kiln_wasmbus::subjects::DEFAULT_CTL_PREFIX;
const DEFAULT_DATA_PLANE: &str = "unix:/tmp/kiln/data-plane.sock";
const DEFAULT_GRACE_MS: u64 = 5_000;
const DEFAULT_HEALTH_INTERVAL_MS: u64 = 30_000;
const DEFAULT_HEARTBEAT_INTERVAL_MS: u64 = 30_000;
const DEFAULT_HOST_EXPIRY_MS: u64 = 95_000;
const DEFAULT_POLICY_TIMEOUT_MS: u64 = 1_000;
const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:4000";
/// Default largest dashboard upload, in MiB.
const DEFAULT_UPLOAD_LIMIT_MIB: u64 = 64;
const DEFAULT_API_ADDR: &str = "127.0.0.1:4001";
const DEFAULT_ACTOR_LIMIT_MIB: u64 = crate::artifacts::fetch::DEFAULT_ACTOR_LIMIT >> 20;
const DEFAULT_PROVIDER_LIMIT_MIB: u64 = crate::artifacts::fetch::DEFAULT_PROVIDER_LIMIT >> 20;
// About two seconds of this machine's throughput for the host and half a second for
// one actor: a stall of the machine is absorbed, a flood is answered "busy".
const DEFAULT_MAX_IN_FLIGHT: usize = 16_384;
const DEFAULT_MAX_IN_FLIGHT_PER_ACTOR: usize = 4096;
// Payload bytes held by the calls in flight, so large messages are bounded too.
const DEFAULT_MAX_IN_FLIGHT_MIB: u64 = 256;
const DEFAULT_CTL_TIMEOUT_MS: u64 = 30_000;
const DEFAULT_CHUNK_LIMIT_MIB: u64 = 64;

/// How invocations travel to the data plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InvokePath {
    /// All calls multiplexed on one long-lived bidirectional stream.
    Stream,
    /// Each call its own HTTP/2 stream (unary RPC).
    Unary,
}

/// Flags of `kiln-control-plane`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "kiln-control-plane",
    version,
    about = "The lattice-facing half of a kiln host"
)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "each is a separate wasmbus setting"
)]
pub struct Args {
    /// Lattice prefix shared by every host of the lattice.
    #[arg(long, env = "WASMCLOUD_LATTICE_PREFIX", default_value = DEFAULT_LATTICE)]
    pub lattice_prefix: String,
    /// Host identity seed (SN…); generated when absent.
    #[arg(long, env = "WASMCLOUD_HOST_SEED", hide_env_values = true)]
    pub host_seed: Option<String>,
    /// Cluster seed (SC…) that signs invocations; generated when absent.
    #[arg(long, env = "WASMCLOUD_CLUSTER_SEED", hide_env_values = true)]
    pub cluster_seed: Option<String>,
    /// Further cluster public keys (C…) whose invocations are trusted, comma-separated.
    #[arg(long, env = "WASMCLOUD_CLUSTER_ISSUERS", value_delimiter = ',')]
    pub cluster_issuers: Vec<String>,
    /// Account keys (A…) allowed to sign actors, comma-separated; empty allows any.
    #[arg(long, env = "KILN_CP_ALLOWED_ISSUERS", value_delimiter = ',')]
    pub allowed_issuers: Vec<String>,

    /// NATS host for RPC; several servers of one cluster as a comma-separated list of
    /// `host` or `host:port` (a host without a port takes --rpc-port).
    #[arg(long, env = "WASMCLOUD_RPC_HOST", default_value = DEFAULT_NATS_HOST)]
    pub rpc_host: String,
    /// NATS port for RPC.
    #[arg(long, env = "WASMCLOUD_RPC_PORT", default_value_t = DEFAULT_NATS_PORT)]
    pub rpc_port: u16,
    /// NATS nkey seed for RPC.
    #[arg(long, env = "WASMCLOUD_RPC_SEED", hide_env_values = true)]
    pub rpc_seed: Option<String>,
    /// NATS user JWT for RPC (used with the seed).
    #[arg(long, env = "WASMCLOUD_RPC_JWT", hide_env_values = true)]
    pub rpc_jwt: Option<String>,
    /// Require TLS on the RPC connection.
    #[arg(long, env = "WASMCLOUD_RPC_TLS", value_parser = parse_flag, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub rpc_tls: bool,
    /// Timeout of RPC requests, in milliseconds.
    #[arg(long, env = "WASMCLOUD_RPC_TIMEOUT_MS", default_value_t = DEFAULT_RPC_TIMEOUT_MS)]
    pub rpc_timeout_ms: u64,

    /// NATS host for the control interface and events; a list as for --rpc-host.
    #[arg(long, env = "WASMCLOUD_CTL_HOST", default_value = DEFAULT_NATS_HOST)]
    pub ctl_host: String,
    /// NATS port for the control interface and events.
    #[arg(long, env = "WASMCLOUD_CTL_PORT", default_value_t = DEFAULT_NATS_PORT)]
    pub ctl_port: u16,
    /// NATS nkey seed for the control connection.
    #[arg(long, env = "WASMCLOUD_CTL_SEED", hide_env_values = true)]
    pub ctl_seed: Option<String>,
    /// NATS user JWT for the control connection.
    #[arg(long, env = "WASMCLOUD_CTL_JWT", hide_env_values = true)]
    pub ctl_jwt: Option<String>,
    /// Require TLS on the control connection.
    #[arg(long, env = "WASMCLOUD_CTL_TLS", value_parser = parse_flag, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub ctl_tls: bool,
    /// Prefix of control-interface subjects (two tokens).
    #[arg(long, env = "WASMCLOUD_CTL_TOPIC_PREFIX", default_value = DEFAULT_CTL_PREFIX)]
    pub ctl_topic_prefix: String,

    /// NATS host handed to capability providers (a list as for --rpc-host); the RPC
    /// host when absent.
    #[arg(long, env = "WASMCLOUD_PROV_RPC_HOST")]
    pub prov_rpc_host: Option<String>,
    /// NATS port handed to capability providers; the RPC port when absent.
    #[arg(long, env = "WASMCLOUD_PROV_RPC_PORT")]
    pub prov_rpc_port: Option<u16>,
    /// NATS seed handed to capability providers.
    #[arg(long, env = "WASMCLOUD_PROV_RPC_SEED", hide_env_values = true)]
    pub prov_rpc_seed: Option<String>,
    /// NATS user JWT handed to capability providers.
    #[arg(long, env = "WASMCLOUD_PROV_RPC_JWT", hide_env_values = true)]
    pub prov_rpc_jwt: Option<String>,
    /// Whether providers must use TLS to NATS.
    #[arg(long, env = "WASMCLOUD_PROV_RPC_TLS", value_parser = parse_flag, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub prov_rpc_tls: bool,
    /// Interval of provider health checks, in milliseconds.
    #[arg(long, env = "KILN_CP_HEALTH_INTERVAL_MS", default_value_t = DEFAULT_HEALTH_INTERVAL_MS)]
    pub health_interval_ms: u64,
    /// Interval of this host's heartbeat event, in milliseconds.
    #[arg(long, env = "KILN_CP_HEARTBEAT_INTERVAL_MS", default_value_t = DEFAULT_HEARTBEAT_INTERVAL_MS)]
    pub heartbeat_interval_ms: u64,
    /// A host not heard from for this long leaves this host's view of the lattice, in
    /// milliseconds.
    #[arg(long, env = "KILN_CP_HOST_EXPIRY_MS", default_value_t = DEFAULT_HOST_EXPIRY_MS)]
    pub host_expiry_ms: u64,
    /// Allow registry references with the `latest` tag (or none).
    #[arg(long, env = "WASMCLOUD_OCI_ALLOW_LATEST", value_parser = parse_flag, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub oci_allow_latest: bool,
    /// Registries (`host:port`) to reach over plain HTTP, comma-separated.
    #[arg(long, env = "WASMCLOUD_OCI_ALLOWED_INSECURE", value_delimiter = ',')]
    pub oci_allowed_insecure: Vec<String>,
    /// Registry whose references get the basic auth below.
    #[arg(long, env = "OCI_REGISTRY")]
    pub oci_registry: Option<String>,
    /// User for OCI_REGISTRY.
    #[arg(long, env = "OCI_REGISTRY_USER")]
    pub oci_registry_user: Option<String>,
    /// Password for OCI_REGISTRY.
    #[arg(long, env = "OCI_REGISTRY_PASSWORD", hide_env_values = true)]
    pub oci_registry_password: Option<String>,
    /// Where pulled artifacts are cached by digest.
    #[arg(long, env = "KILN_CP_CACHE_DIR")]
    pub cache_dir: Option<std::path::PathBuf>,
    /// Subject of the policy service; unset disables policy checks.
    #[arg(long, env = "WASMCLOUD_POLICY_TOPIC")]
    pub policy_topic: Option<String>,
    /// Subject on which the policy service overrides earlier decisions.
    #[arg(long, env = "WASMCLOUD_POLICY_CHANGES_TOPIC")]
    pub policy_changes_topic: Option<String>,
    /// How long the policy service may take to answer, in milliseconds; no answer denies.
    #[arg(long, env = "WASMCLOUD_POLICY_TIMEOUT", default_value_t = DEFAULT_POLICY_TIMEOUT_MS)]
    pub policy_timeout_ms: u64,
    /// JetStream domain.
    #[arg(long, env = "WASMCLOUD_JS_DOMAIN")]
    pub js_domain: Option<String>,

    /// Allow starting actors from file:// references.
    #[arg(long, env = "WASMCLOUD_ALLOW_FILE_LOAD", value_parser = parse_flag, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub allow_file_load: bool,
    /// Label key=value for this host (repeatable); HOST_* variables add more.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Actors to start at boot, by reference (repeatable or comma-separated).
    #[arg(long = "actor", env = "KILN_CP_ACTORS", value_delimiter = ',')]
    pub actors: Vec<String>,
    /// Providers to start at boot, as `REF` or `LINK=REF` (repeatable or
    /// comma-separated; the link name is `default` unless given).
    #[arg(long = "provider", env = "KILN_CP_PROVIDERS", value_delimiter = ',')]
    pub providers: Vec<String>,

    /// The data plane's endpoint: unix:/path/to.sock or tcp:host:port.
    #[arg(long, env = "KILN_CP_DATA_PLANE", default_value = DEFAULT_DATA_PLANE)]
    pub data_plane: String,
    /// How invocations travel to the data plane.
    #[arg(long, env = "KILN_CP_INVOKE_PATH", value_enum, default_value_t = InvokePath::Stream)]
    pub invoke_path: InvokePath,
    /// How long calls in flight may finish after a shutdown signal, in milliseconds.
    #[arg(long, env = "KILN_CP_GRACE_MS", default_value_t = DEFAULT_GRACE_MS)]
    pub grace_ms: u64,
    /// Address of the status page and health endpoints; "off" disables them.
    #[arg(long, env = "KILN_CP_HTTP_ADDR", default_value = DEFAULT_HTTP_ADDR)]
    pub http_addr: String,
    /// Address of the gRPC control API; "off" disables it. Loopback by default: set a
    /// token (and TLS) before opening it to a network.
    #[arg(long, env = "KILN_CP_API_ADDR", default_value = DEFAULT_API_ADDR)]
    pub api_addr: String,
    /// Largest file the dashboard accepts as an upload, in MiB (at most 64).
    #[arg(long, env = "KILN_CP_UPLOAD_LIMIT_MIB", default_value_t = DEFAULT_UPLOAD_LIMIT_MIB)]
    pub upload_limit_mib: u64,
    /// Largest actor module fetched (file or registry), in MiB.
    #[arg(long, env = "KILN_CP_ACTOR_LIMIT_MIB", default_value_t = DEFAULT_ACTOR_LIMIT_MIB)]
    pub actor_limit_mib: u64,
    /// Largest provider archive fetched (file or registry), in MiB.
    #[arg(long, env = "KILN_CP_PROVIDER_LIMIT_MIB", default_value_t = DEFAULT_PROVIDER_LIMIT_MIB)]
    pub provider_limit_mib: u64,
    /// Largest payload read back from the object store for a chunked call, in MiB.
    #[arg(long, env = "KILN_CP_CHUNK_LIMIT_MIB", default_value_t = DEFAULT_CHUNK_LIMIT_MIB)]
    pub chunk_limit_mib: u64,
    /// Inbound invocations in flight on this host at most; past it a call is answered
    /// at once with a "busy" error.
    #[arg(long, env = "KILN_CP_MAX_IN_FLIGHT", default_value_t = DEFAULT_MAX_IN_FLIGHT)]
    pub max_in_flight: usize,
    /// Inbound invocations in flight per actor at most; past it a call to that actor is
    /// answered at once with a "busy" error.
    #[arg(long, env = "KILN_CP_MAX_IN_FLIGHT_PER_ACTOR", default_value_t = DEFAULT_MAX_IN_FLIGHT_PER_ACTOR)]
    pub max_in_flight_per_actor: usize,
    /// Payload bytes of the inbound invocations in flight on this host at most, in MiB;
    /// past it a call is answered at once with a "busy" error.
    #[arg(long, env = "KILN_CP_MAX_IN_FLIGHT_MIB", default_value_t = DEFAULT_MAX_IN_FLIGHT_MIB)]
    pub max_in_flight_mib: u64,
    /// An invocation is accepted once, within this many seconds of its `iat`; 0 turns
    /// the replay check off.
    #[arg(long, env = "KILN_CP_REPLAY_WINDOW_S", default_value_t = kiln_types::replay::DEFAULT_WINDOW_S)]
    pub replay_window_s: u64,
    /// How far ahead of this host's clock an invocation's `iat` may be, in seconds.
    #[arg(long, env = "KILN_CP_CLOCK_SKEW_S", default_value_t = kiln_types::replay::DEFAULT_SKEW_S)]
    pub clock_skew_s: u64,
    /// How many invocations the replay check remembers at most; when full, the oldest
    /// second is forgotten and invocations issued in it are refused.
    #[arg(long, env = "KILN_CP_REPLAY_CACHE", default_value_t = kiln_types::replay::DEFAULT_CAPACITY)]
    pub replay_cache: usize,
    /// How long one control request may take before it is answered with a timeout, in
    /// milliseconds.
    #[arg(long, env = "KILN_CP_CTL_TIMEOUT_MS", default_value_t = DEFAULT_CTL_TIMEOUT_MS)]
    pub ctl_timeout_ms: u64,
    /// Replicas of the lattice cache and object store buckets this host creates (1 on a
    /// single server; 3 on a cluster of three or more, so they outlive a server).
    #[arg(long, env = "KILN_CP_LATTICE_REPLICAS", default_value_t = 1)]
    pub lattice_replicas: usize,
    /// Token every control API call must carry (`authorization: Bearer <token>`).
    #[arg(long, env = "KILN_CP_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// PEM certificate for TLS on the control API (with --api-tls-key).
    #[arg(long, env = "KILN_CP_API_TLS_CERT")]
    pub api_tls_cert: Option<std::path::PathBuf>,
    /// PEM private key for TLS on the control API.
    #[arg(long, env = "KILN_CP_API_TLS_KEY")]
    pub api_tls_key: Option<std::path::PathBuf>,
}

/// A provider to start at boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootProvider {
    /// Where it comes from.
    pub reference: String,
    /// Its link name.
    pub link_name: String,
}

impl std::str::FromStr for BootProvider {
    type Err = String;

    /// `REF`, or `LINK=REF` where the link name is letters, digits, `-` and `_` (so a
    /// reference holding `=` is not mistaken for one).
    fn from_str(text: &str) -> Result<BootProvider, String> {
        let (link_name, reference) = match text.split_once('=') {
            Some((link, reference))
                if !link.is_empty()
                    && link
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                (link.to_string(), reference.to_string())
            }
            _ => ("default".to_string(), text.to_string()),
        };
        if reference.is_empty() {
            return Err(format!("{text:?} names no reference"));
        }
        kiln_types::link::check_link_name(&link_name)?;
        Ok(BootProvider {
            reference,
            link_name,
        })
    }
}

/// Bounds on the invocations a host takes at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    /// Over all actors.
    pub host: usize,
    /// Per actor.
    pub per_actor: usize,
    /// Payload bytes over all actors.
    pub bytes: u64,
}

/// The gRPC control API's settings.
#[derive(Debug, Clone, Default)]
pub struct Api {
    /// Where it listens; `None` when off.
    pub addr: Option<std::net::SocketAddr>,
    /// Required bearer token, if any.
    pub token: Option<String>,
    /// Certificate and key files, for TLS.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

/// Booleans as the wasmbus host reads them: 1, true, yes, y, enabled, enable (any case).
fn parse_flag(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "y" | "enabled" | "enable" => Ok(true),
        "" | "0" | "false" | "no" | "n" | "disabled" | "disable" => Ok(false),
        other => Err(format!("{other:?} is not a boolean (use true or false)")),
    }
}

/// A value that must not reach logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One NATS connection's settings.
#[derive(Debug, Clone)]
pub struct Nats {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// nkey seed.
    pub seed: Option<Secret>,
    /// User JWT.
    pub jwt: Option<Secret>,
    /// Require TLS.
    pub tls: bool,
}

impl Nats {
    /// Plain local NATS at `url` (`host:port`), for tests.
    #[must_use]
    pub fn local(port: u16) -> Nats {
        Nats {
            host: DEFAULT_NATS_HOST.into(),
            port,
            seed: None,
            jwt: None,
            tls: false,
        }
    }

    /// Every server, `host:port` (or the URL as given), in the order configured.
    #[must_use]
    pub fn servers(&self) -> Vec<String> {
        self.host
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|server| with_port(server, self.port))
            .collect()
    }

    /// The first server, `host:port`.
    #[must_use]
    pub fn address(&self) -> String {
        self.servers()
            .into_iter()
            .next()
            .unwrap_or_else(|| format!("{DEFAULT_NATS_HOST}:{}", self.port))
    }
}

/// `server` with `port` unless it names one (`host:port`, `[v6]:port`, a URL with a
/// port); a bare IPv6 address gets brackets.
fn with_port(server: &str, port: u16) -> String {
    let authority = server.split_once("://").map_or(server, |(_, rest)| rest);
    let has_port = match authority.rsplit_once(':') {
        Some((host, tail)) => {
            tail.parse::<u16>().is_ok() && (host.ends_with(']') || !host.contains(':'))
        }
        None => false,
    };
    if has_port {
        server.to_string()
    } else if authority.contains(':') && !authority.starts_with('[') {
        format!("[{authority}]:{port}")
    } else {
        format!("{server}:{port}")
    }
}

/// Validated control-plane configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Lattice prefix.
    pub lattice: String,
    /// Host identity (N…).
    pub host_key: Arc<KeyPair>,
    /// Cluster key (C…) that signs invocations.
    pub cluster_key: Arc<KeyPair>,
    /// Whether the cluster key was generated rather than configured.
    pub cluster_key_generated: bool,
    /// Trusted invocation signers; always includes our own cluster key.
    pub cluster_issuers: Vec<String>,
    /// Who may sign actors.
    pub claims_policy: Policy,
    /// RPC connection.
    pub rpc: Nats,
    /// Control connection.
    pub ctl: Nats,
    /// What providers are told.
    pub prov_rpc: Nats,
    /// Timeout of RPC requests.
    pub rpc_timeout: Duration,
    /// Interval of provider health checks.
    pub health_interval: Duration,
    /// Control subject prefix.
    pub ctl_prefix: String,
    /// JetStream domain.
    pub js_domain: Option<String>,
    /// Whether `file://` references may be started.
    pub allow_file_load: bool,
    /// Host labels.
    pub labels: BTreeMap<String, String>,
    /// Actors to start at boot.
    pub autostart: Vec<String>,
    /// Providers to start at boot.
    pub autostart_providers: Vec<BootProvider>,
    /// Data-plane endpoint.
    pub data_plane: Endpoint,
    /// Invocation path to the data plane.
    pub invoke_path: InvokePath,
    /// Drain grace.
    pub grace: Duration,
    /// Heartbeat interval.
    pub heartbeat_interval: Duration,
    /// Silence after which another host leaves the lattice view.
    pub host_expiry: Duration,
    /// Policy service subject, when enabled.
    pub policy_topic: Option<String>,
    /// Policy override subject.
    pub policy_changes_topic: Option<String>,
    /// Policy answer timeout.
    pub policy_timeout: Duration,
    /// Registry pulls.
    pub oci: crate::artifacts::oci::Settings,
    /// Status page address, if on.
    pub http_addr: Option<std::net::SocketAddr>,
    /// The gRPC control API.
    pub api: Api,
    /// Largest dashboard upload, in bytes.
    pub upload_limit: u64,
    /// Largest artifacts fetched.
    pub fetch_limits: crate::artifacts::fetch::Limits,
    /// Largest chunked payload read back, in bytes.
    pub chunk_limit: u64,
    /// Bounds on inbound invocations.
    pub in_flight: InFlight,
    /// Replay and clock checks of inbound invocations.
    pub replay: kiln_types::replay::Settings,
    /// Bound on the time of one control request.
    pub ctl_timeout: Duration,
    /// Replicas of the buckets this host creates.
    pub lattice_replicas: usize,
}

impl Config {
    /// Builds the configuration from flags and the process environment's `HOST_*`
    /// variables (passed in; this module never reads the environment itself).
    ///
    /// # Errors
    /// Every problem found, one line each.
    pub fn from_args(
        args: Args,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, Vec<String>> {
        let mut problems = Vec::new();
        let mut seed = |kind: KeyKind, seed: Option<&str>, flag: &str| match seed
            .filter(|s| !s.trim().is_empty())
        {
            Some(seed) => match kind.parse_seed(seed) {
                Ok(pair) => Some((pair, false)),
                Err(e) => {
                    problems.push(format!("{flag}: {e}"));
                    None
                }
            },
            None => Some((kind.generate(), true)),
        };
        let host_key = seed(KeyKind::Server, args.host_seed.as_deref(), "--host-seed");
        let cluster_key = seed(
            KeyKind::Cluster,
            args.cluster_seed.as_deref(),
            "--cluster-seed",
        );
        for issuer in args.cluster_issuers.iter().filter(|s| !s.is_empty()) {
            if KeyKind::of_public_key(issuer) != Some(KeyKind::Cluster) {
                problems.push(format!(
                    "--cluster-issuers: {issuer:?} is not a cluster (C…) public key"
                ));
            }
        }
        for issuer in args.allowed_issuers.iter().filter(|s| !s.is_empty()) {
            if KeyKind::of_public_key(issuer) != Some(KeyKind::Account) {
                problems.push(format!(
                    "--allowed-issuers: {issuer:?} is not an account (A…) public key"
                ));
            }
        }
        if args.lattice_prefix.is_empty() || args.lattice_prefix.contains(['.', ' ', '*', '>']) {
            problems.push(format!(
                "--lattice-prefix: {:?} must be a non-empty NATS token (no dots, spaces or wildcards)",
                args.lattice_prefix
            ));
        }
        if args.ctl_topic_prefix.split('.').count() != 2 {
            problems.push(format!(
                "--ctl-topic-prefix: {:?} must have exactly two tokens, like wasmbus.ctl",
                args.ctl_topic_prefix
            ));
        }
        if args.rpc_timeout_ms == 0 {
            problems.push("--rpc-timeout-ms must be above 0".into());
        }
        let http_addr = match args.http_addr.as_str() {
            "off" | "" => None,
            addr => addr
                .parse()
                .map_err(|_| {
                    problems.push(format!("--http-addr: {addr:?} is not host:port or off"))
                })
                .ok(),
        };
        let max_mib = crate::artifacts::fetch::MAX_LIMIT >> 20;
        for (flag, mib) in [
            ("--upload-limit-mib", args.upload_limit_mib),
            ("--actor-limit-mib", args.actor_limit_mib),
            ("--provider-limit-mib", args.provider_limit_mib),
            ("--chunk-limit-mib", args.chunk_limit_mib),
            ("--max-in-flight-mib", args.max_in_flight_mib),
        ] {
            if mib == 0 || mib > max_mib {
                problems.push(format!("{flag}: {mib} must be between 1 and {max_mib}"));
            }
        }
        if args.max_in_flight == 0 || args.max_in_flight_per_actor == 0 {
            problems.push("--max-in-flight and --max-in-flight-per-actor must be above 0".into());
        }
        if args.replay_window_s > 0 && args.replay_cache == 0 {
            problems.push("--replay-cache must be above 0 while the replay check is on".into());
        }
        if !(1..=5).contains(&args.lattice_replicas) {
            problems.push(format!(
                "--lattice-replicas: {} must be between 1 and 5",
                args.lattice_replicas
            ));
        }
        for (flag, hosts) in [
            ("--rpc-host", Some(&args.rpc_host)),
            ("--ctl-host", Some(&args.ctl_host)),
            ("--prov-rpc-host", args.prov_rpc_host.as_ref()),
        ] {
            if let Some(hosts) = hosts
                && hosts.split(',').all(|h| h.trim().is_empty())
            {
                problems.push(format!("{flag}: names no server"));
            }
        }
        if args.ctl_timeout_ms == 0 {
            problems.push("--ctl-timeout-ms must be above 0".into());
        }
        let api_addr = match args.api_addr.as_str() {
            "off" | "" => None,
            addr => addr
                .parse()
                .map_err(|_| problems.push(format!("--api-addr: {addr:?} is not host:port or off")))
                .ok(),
        };
        let api_tls = match (args.api_tls_cert, args.api_tls_key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                problems.push("--api-tls-cert and --api-tls-key go together".to_string());
                None
            }
        };
        let autostart_providers: Vec<BootProvider> = args
            .providers
            .iter()
            .filter(|p| !p.is_empty())
            .filter_map(|p| {
                p.parse()
                    .map_err(|e| problems.push(format!("--provider: {e}")))
                    .ok()
            })
            .collect();
        let data_plane = args
            .data_plane
            .parse::<Endpoint>()
            .map_err(|e| problems.push(format!("--data-plane: {e}")))
            .ok();
        let mut labels = BTreeMap::new();
        for (key, value) in env {
            if let Some(name) = key.strip_prefix("HOST_")
                && !name.is_empty()
            {
                labels.insert(name.to_ascii_lowercase(), value);
            }
        }
        for label in &args.labels {
            match label.split_once('=') {
                Some((k, v)) if !k.is_empty() => {
                    labels.insert(k.to_string(), v.to_string());
                }
                _ => problems.push(format!("--label: {label:?} is not KEY=VALUE")),
            }
        }
        labels.insert("hostcore.arch".into(), std::env::consts::ARCH.into());
        labels.insert("hostcore.os".into(), std::env::consts::OS.into());
        labels.insert("hostcore.osfamily".into(), std::env::consts::FAMILY.into());

        let (Some((host_key, _)), Some((cluster_key, cluster_key_generated)), Some(data_plane)) =
            (host_key, cluster_key, data_plane)
        else {
            return Err(problems);
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut cluster_issuers = vec![cluster_key.public_key()];
        for issuer in args.cluster_issuers.into_iter().filter(|s| !s.is_empty()) {
            if !cluster_issuers.contains(&issuer) {
                cluster_issuers.push(issuer);
            }
        }
        let secret = |s: Option<String>| s.filter(|s| !s.is_empty()).map(Secret);
        let prov_rpc_host = args.prov_rpc_host.unwrap_or_else(|| args.rpc_host.clone());
        let prov_rpc_port = args.prov_rpc_port.unwrap_or(args.rpc_port);
        Ok(Config {
            lattice: args.lattice_prefix,
            host_key: Arc::new(host_key),
            cluster_key: Arc::new(cluster_key),
            cluster_key_generated,
            cluster_issuers,
            claims_policy: Policy {
                allowed_issuers: args
                    .allowed_issuers
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect(),
            },
            rpc: Nats {
                host: args.rpc_host,
                port: args.rpc_port,
                seed: secret(args.rpc_seed),
                jwt: secret(args.rpc_jwt),
                tls: args.rpc_tls,
            },
            ctl: Nats {
                host: args.ctl_host,
                port: args.ctl_port,
                seed: secret(args.ctl_seed),
                jwt: secret(args.ctl_jwt),
                tls: args.ctl_tls,
            },
            prov_rpc: Nats {
                host: prov_rpc_host,
                port: prov_rpc_port,
                seed: secret(args.prov_rpc_seed),
                jwt: secret(args.prov_rpc_jwt),
                tls: args.prov_rpc_tls,
            },
            health_interval: Duration::from_millis(args.health_interval_ms.max(100)),
            rpc_timeout: Duration::from_millis(args.rpc_timeout_ms),
            ctl_prefix: args.ctl_topic_prefix,
            js_domain: args.js_domain.filter(|d| !d.is_empty()),
            allow_file_load: args.allow_file_load,
            labels,
            autostart: args.actors.into_iter().filter(|a| !a.is_empty()).collect(),
            autostart_providers,
            data_plane,
            invoke_path: args.invoke_path,
            grace: Duration::from_millis(args.grace_ms),
            heartbeat_interval: Duration::from_millis(args.heartbeat_interval_ms.max(100)),
            host_expiry: Duration::from_millis(args.host_expiry_ms.max(100)),
            policy_topic: args.policy_topic.filter(|t| !t.is_empty()),
            policy_changes_topic: args.policy_changes_topic.filter(|t| !t.is_empty()),
            policy_timeout: Duration::from_millis(args.policy_timeout_ms),
            oci: crate::artifacts::oci::Settings {
                allow_latest: args.oci_allow_latest,
                insecure: args
                    .oci_allowed_insecure
                    .into_iter()
                    .map(|r| r.trim().to_string())
                    .filter(|r| !r.is_empty())
                    .collect(),
                env_credentials: match (
                    args.oci_registry,
                    args.oci_registry_user,
                    args.oci_registry_password,
                ) {
                    (Some(registry), Some(user), Some(password)) if !registry.is_empty() => {
                        let server = registry
                            .split_once("://")
                            .map_or(registry.as_str(), |(_, r)| r);
                        Some((server.trim_end_matches('/').to_string(), user, password))
                    }
                    _ => None,
                },
                cache_dir: args
                    .cache_dir
                    .unwrap_or_else(|| std::env::temp_dir().join("kiln").join("control-plane")),
            },
            http_addr,
            upload_limit: args.upload_limit_mib << 20,
            fetch_limits: crate::artifacts::fetch::Limits {
                actor: args.actor_limit_mib << 20,
                provider: args.provider_limit_mib << 20,
            },
            chunk_limit: args.chunk_limit_mib << 20,
            in_flight: InFlight {
                host: args.max_in_flight,
                per_actor: args.max_in_flight_per_actor,
                bytes: args.max_in_flight_mib << 20,
            },
            replay: kiln_types::replay::Settings {
                window_s: args.replay_window_s,
                skew_s: args.clock_skew_s,
                capacity: args.replay_cache,
            },
            ctl_timeout: Duration::from_millis(args.ctl_timeout_ms),
            lattice_replicas: args.lattice_replicas,
            api: Api {
                addr: api_addr,
                token: args.api_token.filter(|t| !t.is_empty()),
                tls: api_tls,
            },
        })
    }

    /// The host's public key.
    #[must_use]
    pub fn host_id(&self) -> String {
        self.host_key.public_key()
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    fn parse(flags: &[&str]) -> Result<Config, Vec<String>> {
        let mut argv = vec!["kiln-control-plane"];
        argv.extend_from_slice(flags);
        Config::from_args(Args::try_parse_from(argv).unwrap(), Vec::new())
    }

    #[test]
    fn defaults_generate_keys_and_trust_our_own_cluster_key() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.lattice, "default");
        assert!(config.host_id().starts_with('N'));
        assert!(config.cluster_key_generated);
        assert_eq!(
            config.cluster_issuers,
            vec![config.cluster_key.public_key()]
        );
        assert_eq!(config.rpc_timeout, Duration::from_secs(2));
        assert!(!config.allow_file_load);
        assert_eq!(config.labels["hostcore.os"], std::env::consts::OS);
    }

    #[test]
    fn reads_seeds_issuers_and_flags() {
        let cluster = KeyKind::Cluster.generate();
        let other = KeyKind::Cluster.generate().public_key();
        let host = KeyKind::Server.generate();
        let config = parse(&[
            "--cluster-seed",
            &cluster.seed().unwrap(),
            "--host-seed",
            &host.seed().unwrap(),
            "--cluster-issuers",
            &other,
            "--allow-file-load",
            "--rpc-tls",
            "yes",
        ])
        .unwrap();
        assert_eq!(config.host_id(), host.public_key());
        assert!(!config.cluster_key_generated);
        assert_eq!(config.cluster_issuers, vec![cluster.public_key(), other]);
        assert!(config.allow_file_load);
        assert!(config.rpc.tls);
    }

    #[test]
    fn reports_every_problem_at_once() {
        let problems = parse(&[
            "--host-seed",
            "SNBAD",
            "--cluster-issuers",
            "NOTACLUSTERKEY",
            "--lattice-prefix",
            "a.b",
            "--ctl-topic-prefix",
            "one",
            "--data-plane",
            "nowhere",
            "--label",
            "novalue",
        ])
        .unwrap_err();
        assert_eq!(problems.len(), 6, "{problems:#?}");
    }

    #[test]
    fn labels_come_from_host_variables_and_flags() {
        let args = Args::try_parse_from(["kiln-control-plane", "--label", "zone=a"]).unwrap();
        let env = vec![
            ("HOST_REGION".to_string(), "eu".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        let config = Config::from_args(args, env).unwrap();
        assert_eq!(config.labels["region"], "eu");
        assert_eq!(config.labels["zone"], "a");
        assert!(!config.labels.contains_key("path"));
    }

    #[test]
    fn boot_providers_take_an_optional_link_name() {
        let config = parse(&[
            "--provider",
            "file:///a=b.par.gz",
            "--provider",
            "web=registry.example/http:1",
        ])
        .unwrap();
        assert_eq!(
            config.autostart_providers,
            vec![
                BootProvider {
                    reference: "file:///a=b.par.gz".into(),
                    link_name: "default".into()
                },
                BootProvider {
                    reference: "registry.example/http:1".into(),
                    link_name: "web".into()
                },
            ]
        );
        assert!(parse(&["--provider", "web="]).is_err());
    }

    #[test]
    fn limits_are_checked() {
        let problems = parse(&[
            "--actor-limit-mib",
            "0",
            "--provider-limit-mib",
            "100000",
            "--max-in-flight",
            "0",
            "--ctl-timeout-ms",
            "0",
            "--max-in-flight-mib",
            "0",
        ])
        .unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("--max-in-flight-mib")),
            "{problems:#?}"
        );
        let config = parse(&["--max-in-flight-mib", "8"]).unwrap();
        assert_eq!(config.in_flight.bytes, 8 << 20);
        let config = parse(&["--replay-window-s", "30", "--clock-skew-s", "2"]).unwrap();
        assert_eq!(config.replay.window_s, 30);
        assert_eq!(config.replay.skew_s, 2);
        assert_eq!(
            config.fetch_limits,
            crate::artifacts::fetch::Limits::default()
        );
    }

    #[test]
    fn nats_settings_take_several_servers() {
        let config = parse(&[
            "--rpc-host",
            "a, b:4333,[::1]:4444, ::1,nats://c:5000,tls://d",
            "--rpc-port",
            "4222",
        ])
        .unwrap();
        assert_eq!(
            config.rpc.servers(),
            vec![
                "a:4222",
                "b:4333",
                "[::1]:4444",
                "[::1]:4222",
                "nats://c:5000",
                "tls://d:4222"
            ]
        );
        assert_eq!(config.rpc.address(), "a:4222");
        assert_eq!(config.prov_rpc.servers(), config.rpc.servers());
        assert_eq!(config.ctl.servers(), vec!["127.0.0.1:4222"]);
        assert!(parse(&["--ctl-host", " , "]).is_err());
        assert!(parse(&["--lattice-replicas", "0"]).is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret("SUAAA".into())), "<redacted>");
    }
}
