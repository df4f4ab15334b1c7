//! Flags to [`Config`]: every problem found at once, then the configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kiln_types::claims::Policy;
use kiln_types::endpoint::Endpoint;
use kiln_types::keys::{KeyKind, KeyPair};

use super::args::Args;
use super::checks;
use super::settings::{Api, BootProvider, Config, InFlight, Nats, Secret};

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
        let env: Vec<(String, String)> = env.into_iter().collect();
        let mut problems = Vec::new();
        let host_key = seed(
            &mut problems,
            KeyKind::Server,
            args.host_seed.as_deref(),
            "--host-seed",
        );
        let cluster_key = seed(
            &mut problems,
            KeyKind::Cluster,
            args.cluster_seed.as_deref(),
            "--cluster-seed",
        );
        checks::names_and_bounds(&args, &mut problems);
        let http_addr = dashboard_address(&mut problems, &args);
        let policy_changes_topic = policy_changes_topic(&env, &args);
        let logs = kiln_telemetry::Logs::from_vars(env.iter().cloned());
        let api_addr = address(&mut problems, "--api-addr", &args.api_addr);
        let api_tls = match (args.api_tls_cert.clone(), args.api_tls_key.clone()) {
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
        let labels = labels(&mut problems, env, &args.labels);
        let (Some((host_key, _)), Some((cluster_key, cluster_key_generated)), Some(data_plane)) =
            (host_key, cluster_key, data_plane)
        else {
            return Err(problems);
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(assemble(
            args,
            Checked {
                host_key,
                cluster_key,
                cluster_key_generated,
                data_plane,
                labels,
                autostart_providers,
                http_addr,
                policy_changes_topic,
                logs,
                api: Api {
                    addr: api_addr,
                    token: None,
                    tls: api_tls,
                },
            },
        ))
    }
}

/// What the checks produced, beside the flags taken as they are.
struct Checked {
    host_key: KeyPair,
    cluster_key: KeyPair,
    cluster_key_generated: bool,
    data_plane: Endpoint,
    labels: BTreeMap<String, String>,
    autostart_providers: Vec<BootProvider>,
    http_addr: Option<std::net::SocketAddr>,
    policy_changes_topic: Option<String>,
    logs: kiln_telemetry::Logs,
    api: Api,
}

/// The key `seed` holds, or a generated one (`true`) when none is given.
fn seed(
    problems: &mut Vec<String>,
    kind: KeyKind,
    seed: Option<&str>,
    flag: &str,
) -> Option<(KeyPair, bool)> {
    match seed.filter(|s| !s.trim().is_empty()) {
        Some(seed) => match kind.parse_seed(seed) {
            Ok(pair) => Some((pair, false)),
            Err(e) => {
                problems.push(format!("{flag}: {e}"));
                None
            }
        },
        None => Some((kind.generate(), true)),
    }
}

/// `host:port`, or none for `off` (or empty).
fn address(problems: &mut Vec<String>, flag: &str, value: &str) -> Option<std::net::SocketAddr> {
    match value {
        "off" | "" => None,
        addr => addr
            .parse()
            .map_err(|_| problems.push(format!("{flag}: {addr:?} is not host:port or off")))
            .ok(),
    }
}

/// The dashboard's address: --http-addr, with the host and port the OTP host's
/// `WASMCLOUD_DASHBOARD_HOST` and `_PORT` give; none when it is off.
fn dashboard_address(problems: &mut Vec<String>, args: &Args) -> Option<std::net::SocketAddr> {
    let base = address(problems, "--http-addr", &args.http_addr)?;
    let ip = match args.dashboard_host.as_deref().map(str::trim) {
        None | Some("") => base.ip(),
        Some("localhost") => std::net::Ipv4Addr::LOCALHOST.into(),
        Some(host) => match host.trim_matches(['[', ']']).parse() {
            Ok(ip) => ip,
            Err(_) => {
                problems.push(format!(
                    "--dashboard-host: {host:?} is not an IP address or localhost"
                ));
                return None;
            }
        },
    };
    Some(std::net::SocketAddr::new(
        ip,
        args.dashboard_port.unwrap_or(base.port()),
    ))
}

/// The policy changes subject: the lattice's own variable (its prefix with `-` as `_`,
/// as the OTP host reads it) before the general one.
fn policy_changes_topic(env: &[(String, String)], args: &Args) -> Option<String> {
    let own = format!(
        "WASMCLOUD_POLICY_CHANGES_TOPIC_{}",
        args.lattice_prefix.replace('-', "_")
    );
    env.iter()
        .find(|(key, value)| *key == own && !value.is_empty())
        .map(|(_, value)| value.clone())
        .or_else(|| args.policy_changes_topic.clone().filter(|t| !t.is_empty()))
}

/// Host labels: each `HOST_*` variable (lowercased), then `--label`, then the
/// `hostcore.*` labels every wasmbus host sets.
fn labels(
    problems: &mut Vec<String>,
    env: impl IntoIterator<Item = (String, String)>,
    flags: &[String],
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    for (key, value) in env {
        // HOST_CONFIG names a file, not a label (the OTP host made it the label
        // `config`, a quirk not kept).
        if let Some(name) = key.strip_prefix("HOST_")
            && !name.is_empty()
            && key != "HOST_CONFIG"
        {
            labels.insert(name.to_ascii_lowercase(), value);
        }
    }
    for label in flags {
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
    labels
}

/// The configuration from checked parts and the flags taken as they are.
fn assemble(args: Args, checked: Checked) -> Config {
    // Taken before the fields are moved out of `args`.
    let (fetch_limits, in_flight, replay) = (fetch_limits(&args), in_flight(&args), replay(&args));
    let prov_rpc_host = args.prov_rpc_host.unwrap_or_else(|| args.rpc_host.clone());
    let prov_rpc_port = args.prov_rpc_port.unwrap_or(args.rpc_port);
    Config {
        lattice: args.lattice_prefix,
        host_key: Arc::new(checked.host_key),
        cluster_issuers: trusted_clusters(checked.cluster_key.public_key(), args.cluster_issuers),
        cluster_key: Arc::new(checked.cluster_key),
        cluster_key_generated: checked.cluster_key_generated,
        claims_policy: Policy {
            allowed_issuers: non_empty(args.allowed_issuers),
        },
        rpc: nats(
            args.rpc_host,
            args.rpc_port,
            args.rpc_seed,
            args.rpc_jwt,
            args.rpc_tls,
        ),
        ctl: nats(
            args.ctl_host,
            args.ctl_port,
            args.ctl_seed,
            args.ctl_jwt,
            args.ctl_tls,
        ),
        prov_rpc: nats(
            prov_rpc_host,
            prov_rpc_port,
            args.prov_rpc_seed,
            args.prov_rpc_jwt,
            args.prov_rpc_tls,
        ),
        health_interval: Duration::from_millis(args.health_interval_ms.max(100)),
        rpc_timeout: Duration::from_millis(args.rpc_timeout_ms),
        ctl_prefix: args.ctl_topic_prefix,
        js_domain: args.js_domain.filter(|d| !d.is_empty()),
        allow_file_load: args.allow_file_load,
        labels: checked.labels,
        autostart: non_empty(args.actors),
        autostart_providers: checked.autostart_providers,
        data_plane: checked.data_plane,
        invoke_path: args.invoke_path,
        grace: Duration::from_millis(args.grace_ms),
        heartbeat_interval: Duration::from_millis(args.heartbeat_interval_ms.max(100)),
        host_expiry: Duration::from_millis(args.host_expiry_ms.max(100)),
        policy_topic: args.policy_topic.filter(|t| !t.is_empty()),
        policy_changes_topic: checked.policy_changes_topic,
        logs: checked.logs,
        enable_ipv6: args.enable_ipv6,
        config_service: args.config_service,
        host_config: args.host_config.filter(|p| !p.is_empty()),
        provider_shutdown_wait: Duration::from_millis(args.prov_shutdown_delay_ms),
        policy_timeout: Duration::from_millis(args.policy_timeout_ms),
        oci: oci_settings(
            args.oci_allow_latest,
            args.oci_allowed_insecure,
            (
                args.oci_registry,
                args.oci_registry_user,
                args.oci_registry_password,
            ),
            args.cache_dir,
        ),
        http_addr: checked.http_addr,
        upload_limit: args.upload_limit_mib << 20,
        fetch_limits,
        chunk_limit: args.chunk_limit_mib << 20,
        in_flight,
        replay,
        ctl_timeout: Duration::from_millis(args.ctl_timeout_ms),
        lattice_replicas: args.lattice_replicas,
        api: Api {
            token: args.api_token.filter(|t| !t.is_empty()),
            ..checked.api
        },
    }
}

/// This host's cluster key first, then the other trusted ones, each once.
fn trusted_clusters(own: String, others: Vec<String>) -> Vec<String> {
    let mut trusted = vec![own];
    for issuer in non_empty(others) {
        if !trusted.contains(&issuer) {
            trusted.push(issuer);
        }
    }
    trusted
}

/// The entries of a comma-separated list that say something.
fn non_empty(list: Vec<String>) -> Vec<String> {
    list.into_iter().filter(|s| !s.is_empty()).collect()
}

/// The largest artifacts fetched, in bytes.
fn fetch_limits(args: &Args) -> crate::artifacts::fetch::Limits {
    crate::artifacts::fetch::Limits {
        actor: args.actor_limit_mib << 20,
        provider: args.provider_limit_mib << 20,
    }
}

/// The bounds on inbound invocations in flight.
fn in_flight(args: &Args) -> InFlight {
    InFlight {
        host: args.max_in_flight,
        per_actor: args.max_in_flight_per_actor,
        bytes: args.max_in_flight_mib << 20,
    }
}

/// The replay and clock checks of inbound invocations.
fn replay(args: &Args) -> kiln_types::replay::Settings {
    kiln_types::replay::Settings {
        window_s: args.replay_window_s,
        skew_s: args.clock_skew_s,
        capacity: args.replay_cache,
    }
}

/// One NATS connection; an empty seed or JWT is none.
fn nats(host: String, port: u16, seed: Option<String>, jwt: Option<String>, tls: bool) -> Nats {
    let secret = |s: Option<String>| s.filter(|s| !s.is_empty()).map(Secret);
    Nats {
        host,
        port,
        seed: secret(seed),
        jwt: secret(jwt),
        tls,
    }
}

/// Registry settings: `latest` allowed or not, registries reached over plain HTTP,
/// credentials from `OCI_REGISTRY*`, where pulls are cached.
fn oci_settings(
    allow_latest: bool,
    insecure: Vec<String>,
    (registry, user, password): (Option<String>, Option<String>, Option<String>),
    cache_dir: Option<PathBuf>,
) -> crate::artifacts::oci::Settings {
    let env_credentials = match (registry, user, password) {
        (Some(registry), Some(user), Some(password)) if !registry.is_empty() => {
            let server = registry
                .split_once("://")
                .map_or(registry.as_str(), |(_, r)| r);
            Some((server.trim_end_matches('/').to_string(), user, password))
        }
        _ => None,
    };
    crate::artifacts::oci::Settings {
        allow_latest,
        insecure: insecure
            .into_iter()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect(),
        env_credentials,
        cache_dir: cache_dir
            .unwrap_or_else(|| std::env::temp_dir().join("kiln").join("control-plane")),
    }
}
