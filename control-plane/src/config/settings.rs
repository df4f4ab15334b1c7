//! The validated configuration the rest of the control plane reads.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use kiln_types::claims::Policy;
use kiln_types::endpoint::Endpoint;
use kiln_types::keys::KeyPair;

use super::args::InvokePath;

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
            host: super::args::DEFAULT_NATS_HOST.into(),
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
            .unwrap_or_else(|| format!("{}:{}", super::args::DEFAULT_NATS_HOST, self.port))
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
    /// Policy override subject: `WASMCLOUD_POLICY_CHANGES_TOPIC_{lattice}` (dashes as
    /// underscores) when set, else `WASMCLOUD_POLICY_CHANGES_TOPIC`.
    pub policy_changes_topic: Option<String>,
    /// Log level and format, for this process and its providers.
    pub logs: kiln_telemetry::Logs,
    /// Whether the config service is asked at start.
    pub config_service: bool,
    /// Where the effective configuration is written, if anywhere.
    pub host_config: Option<String>,
    /// Whether `WASMCLOUD_ENABLE_IPV6` was set (reported at start; see the flag).
    pub enable_ipv6: bool,
    /// How long a provider gets to answer its shutdown request.
    pub provider_shutdown_wait: Duration,
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
    /// The host's public key.
    #[must_use]
    pub fn host_id(&self) -> String {
        self.host_key.public_key()
    }
}
