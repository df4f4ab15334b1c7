//! The OTP host's configuration files, read as it read them: `.env` in the working
//! directory, then `host_config.json` (or `.toml`, `.yaml`, `.yml`) there, then the
//! environment, each later source winning. A file's settings become the defaults of the
//! flags whose variables they name, so a flag or a variable still wins over them. The
//! effective configuration is written back to `HOST_CONFIG` (or `~/.wash/host_config.json`
//! when that folder exists), seeds included, the host's seed left out.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::settings::Config;

/// The files' keys and the variables they stand for (the OTP host's JSON bindings).
const KEYS: [(&str, &str); 37] = [
    ("lattice_prefix", "WASMCLOUD_LATTICE_PREFIX"),
    ("host_seed", "WASMCLOUD_HOST_SEED"),
    ("cluster_seed", "WASMCLOUD_CLUSTER_SEED"),
    ("cluster_issuers", "WASMCLOUD_CLUSTER_ISSUERS"),
    ("rpc_host", "WASMCLOUD_RPC_HOST"),
    ("rpc_port", "WASMCLOUD_RPC_PORT"),
    ("rpc_seed", "WASMCLOUD_RPC_SEED"),
    ("rpc_jwt", "WASMCLOUD_RPC_JWT"),
    ("rpc_tls", "WASMCLOUD_RPC_TLS"),
    ("rpc_timeout_ms", "WASMCLOUD_RPC_TIMEOUT_MS"),
    ("prov_rpc_host", "WASMCLOUD_PROV_RPC_HOST"),
    ("prov_rpc_port", "WASMCLOUD_PROV_RPC_PORT"),
    ("prov_rpc_seed", "WASMCLOUD_PROV_RPC_SEED"),
    ("prov_rpc_jwt", "WASMCLOUD_PROV_RPC_JWT"),
    ("prov_rpc_tls", "WASMCLOUD_PROV_RPC_TLS"),
    ("ctl_host", "WASMCLOUD_CTL_HOST"),
    ("ctl_port", "WASMCLOUD_CTL_PORT"),
    ("ctl_seed", "WASMCLOUD_CTL_SEED"),
    ("ctl_jwt", "WASMCLOUD_CTL_JWT"),
    ("ctl_tls", "WASMCLOUD_CTL_TLS"),
    ("ctl_topic_prefix", "WASMCLOUD_CTL_TOPIC_PREFIX"),
    ("provider_delay", "WASMCLOUD_PROV_SHUTDOWN_DELAY_MS"),
    ("allow_latest", "WASMCLOUD_OCI_ALLOW_LATEST"),
    ("allowed_insecure", "WASMCLOUD_OCI_ALLOWED_INSECURE"),
    ("js_domain", "WASMCLOUD_JS_DOMAIN"),
    ("config_service_enabled", "WASMCLOUD_CONFIG_SERVICE"),
    (
        "structured_logging_enabled",
        "WASMCLOUD_STRUCTURED_LOGGING_ENABLED",
    ),
    ("log_level", "WASMCLOUD_LOG_LEVEL"),
    ("structured_log_level", "WASMCLOUD_STRUCTURED_LOG_LEVEL"),
    ("enable_ipv6", "WASMCLOUD_ENABLE_IPV6"),
    ("enable_start_from_fs", "WASMCLOUD_ALLOW_FILE_LOAD"),
    ("policy_topic", "WASMCLOUD_POLICY_TOPIC"),
    ("policy_changes_topic", "WASMCLOUD_POLICY_CHANGES_TOPIC"),
    ("policy_timeout_ms", "WASMCLOUD_POLICY_TIMEOUT"),
    ("host_config", "HOST_CONFIG"),
    ("dashboard_port", "WASMCLOUD_DASHBOARD_PORT"),
    ("dashboard_host", "WASMCLOUD_DASHBOARD_HOST"),
];

/// The names the host configuration file may have, in the order they are looked for.
const HOST_CONFIG_FILES: [&str; 4] = [
    "host_config.json",
    "host_config.toml",
    "host_config.yaml",
    "host_config.yml",
];

/// Largest configuration file read.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// What the files in `dir` set, as variables: `.env` first, then the host configuration
/// file, so a later one wins when both name a variable. No file is no setting.
///
/// # Errors
/// A file that exists but cannot be read or parsed, or a key of unknown meaning.
pub fn read(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let mut vars = Vec::new();
    let dotenv = dir.join(".env");
    if dotenv.is_file() {
        for item in
            dotenvy::from_path_iter(&dotenv).map_err(|e| format!("{}: {e}", dotenv.display()))?
        {
            vars.push(item.map_err(|e| format!("{}: {e}", dotenv.display()))?);
        }
    }
    if let Some(path) = HOST_CONFIG_FILES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
    {
        for (key, value) in parse(&path)? {
            let Some((_, var)) = KEYS.iter().find(|(k, _)| *k == key) else {
                return Err(format!(
                    "{}: unknown key {key:?}; the keys are the OTP host's ({})",
                    path.display(),
                    KEYS.map(|(k, _)| k).join(", ")
                ));
            };
            if let Some(text) = text(&value) {
                vars.push(((*var).to_string(), text));
            }
        }
    }
    Ok(vars)
}

/// The top-level map of a JSON, TOML or YAML file, by its extension.
fn parse(path: &Path) -> Result<Map<String, Value>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "{}: {size} bytes is above the limit of {MAX_FILE_BYTES}",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let value: Value = match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => toml::from_str(&text).map_err(|e| e.to_string()),
        Some("yaml" | "yml") => serde_saphyr::from_str(&text).map_err(|e| e.to_string()),
        _ => kiln_types::decode::json("a host configuration", text.as_bytes(), 1 << 20)
            .map_err(|e| e.to_string()),
    }
    .map_err(|e| format!("{}: {e}", path.display()))?;
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(format!("{}: not a map of settings", path.display())),
    }
}

/// A setting as its variable would spell it: lists comma-joined, null as unset.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(items.iter().filter_map(text).collect::<Vec<_>>().join(",")),
        other => Some(other.to_string()),
    }
}

/// Makes the files' settings the defaults of the flags that read those variables.
#[must_use]
pub fn as_defaults(mut command: clap::Command, vars: &[(String, String)]) -> clap::Command {
    let ids: Vec<(String, String)> = command
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_str()?;
            let (_, value) = vars.iter().rev().find(|(var, _)| var == env)?;
            Some((arg.get_id().to_string(), value.clone()))
        })
        .collect();
    for (id, value) in ids {
        command = command.mut_arg(id, |arg| arg.default_value(value));
    }
    command
}

/// Where the effective configuration goes: `HOST_CONFIG`, else
/// `~/.wash/host_config.json` when `~/.wash` exists (as wash and the OTP host keep it).
#[must_use]
pub fn effective_path(host_config: Option<&str>, home: Option<&Path>) -> Option<PathBuf> {
    match host_config.filter(|p| !p.is_empty()) {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            let wash = home?.join(".wash");
            wash.is_dir().then(|| wash.join("host_config.json"))
        }
    }
}

/// The effective configuration in the files' keys: seeds included (so another host can
/// join as this one did), the host's own seed left out, as the OTP host wrote it.
#[must_use]
pub fn effective(config: &Config) -> Value {
    let secret =
        |s: &Option<super::settings::Secret>| s.as_ref().map(|s| s.0.clone()).unwrap_or_default();
    serde_json::json!({
        "lattice_prefix": config.lattice,
        "cluster_seed": config.cluster_key.seed().unwrap_or_default(),
        "cluster_issuers": config.cluster_issuers,
        "rpc_host": config.rpc.host, "rpc_port": config.rpc.port,
        "rpc_seed": secret(&config.rpc.seed), "rpc_jwt": secret(&config.rpc.jwt),
        "rpc_tls": config.rpc.tls,
        "rpc_timeout_ms": u64::try_from(config.rpc_timeout.as_millis()).unwrap_or(u64::MAX),
        "prov_rpc_host": config.prov_rpc.host, "prov_rpc_port": config.prov_rpc.port,
        "prov_rpc_seed": secret(&config.prov_rpc.seed), "prov_rpc_jwt": secret(&config.prov_rpc.jwt),
        "prov_rpc_tls": config.prov_rpc.tls,
        "ctl_host": config.ctl.host, "ctl_port": config.ctl.port,
        "ctl_seed": secret(&config.ctl.seed), "ctl_jwt": secret(&config.ctl.jwt),
        "ctl_tls": config.ctl.tls,
        "ctl_topic_prefix": config.ctl_prefix,
        "provider_delay": u64::try_from(config.provider_shutdown_wait.as_millis()).unwrap_or(u64::MAX),
        "allow_latest": config.oci.allow_latest,
        "allowed_insecure": config.oci.insecure,
        "js_domain": config.js_domain,
        "config_service_enabled": config.config_service,
        "structured_logging_enabled": config.logs.json,
        "log_level": config.logs.level,
        "enable_ipv6": config.enable_ipv6,
        "enable_start_from_fs": config.allow_file_load,
        "policy_topic": config.policy_topic,
        "policy_changes_topic": config.policy_changes_topic,
        "policy_timeout_ms": u64::try_from(config.policy_timeout.as_millis()).unwrap_or(u64::MAX),
    })
}

/// Writes the effective configuration to `path`, readable by its owner only (it holds
/// seeds).
///
/// # Errors
/// When the file cannot be written.
pub fn write_effective(config: &Config, path: &Path) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let body = serde_json::to_vec_pretty(&effective(config)).map_err(std::io::Error::other)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(&body)
}
