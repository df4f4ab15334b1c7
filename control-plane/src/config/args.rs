//! The flags of `kiln-control-plane`, each with the wasmbus host's variable, name and
//! default where it has one (so existing deployments carry over), or `KILN_CP_*`.

const DEFAULT_LATTICE: &str = "default";
pub(super) const DEFAULT_NATS_HOST: &str = "127.0.0.1";
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
const DEFAULT_PROV_SHUTDOWN_DELAY_MS: u64 = 2_000;

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
    #[arg(long, env = "WASMCLOUD_RPC_TLS", value_parser = kiln_types::flag::parse, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
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
    #[arg(long, env = "WASMCLOUD_CTL_TLS", value_parser = kiln_types::flag::parse, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
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
    #[arg(long, env = "WASMCLOUD_PROV_RPC_TLS", value_parser = kiln_types::flag::parse, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
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
    #[arg(long, env = "WASMCLOUD_OCI_ALLOW_LATEST", value_parser = kiln_types::flag::parse, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
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
    #[arg(long, env = "WASMCLOUD_ALLOW_FILE_LOAD", value_parser = kiln_types::flag::parse, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
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
    /// Port of the dashboard, as the OTP host's dashboard read it: replaces the port of
    /// --http-addr.
    #[arg(long, env = "WASMCLOUD_DASHBOARD_PORT")]
    pub dashboard_port: Option<u16>,
    /// Address the dashboard listens on (an IP address or localhost), as the OTP
    /// host's dashboard read it: replaces the host of --http-addr.
    #[arg(long, env = "WASMCLOUD_DASHBOARD_HOST")]
    pub dashboard_host: Option<String>,
    /// Ask the OTP host's config service (`wasmbus.cfg.{prefix}.req`) at start for
    /// registry credentials and the actors and providers to start.
    #[arg(long, env = "WASMCLOUD_CONFIG_SERVICE", value_parser = kiln_types::flag::parse, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub config_service: bool,
    /// Where the effective configuration is written (the OTP host's `HOST_CONFIG`);
    /// `~/.wash/host_config.json` when unset and `~/.wash` exists.
    #[arg(long, env = "HOST_CONFIG")]
    pub host_config: Option<String>,
    /// The OTP host's IPv6 switch. Accepted and reported: kiln's NATS connections use
    /// IPv6 or IPv4 as the server names resolve, either way, and its listeners take
    /// IPv6 addresses (`[::]:4000`) as given.
    #[arg(long, env = "WASMCLOUD_ENABLE_IPV6", value_parser = kiln_types::flag::parse, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub enable_ipv6: bool,
    /// How long a provider gets to answer its shutdown request before the data plane
    /// stops its process, in milliseconds (unused by the OTP host, which read it too).
    #[arg(long, env = "WASMCLOUD_PROV_SHUTDOWN_DELAY_MS", default_value_t = DEFAULT_PROV_SHUTDOWN_DELAY_MS)]
    pub prov_shutdown_delay_ms: u64,
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
