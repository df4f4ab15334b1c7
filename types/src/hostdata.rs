//! What a capability provider reads on stdin when it starts: one line of standard
//! base64 over this JSON document, the wasmbus `HostData` (plus the OTP host's extras).

use std::collections::HashMap;

use data_encoding::BASE64;
use serde::{Deserialize, Serialize};

use crate::link::LinkDefinition;

/// The host data of one provider instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostData {
    /// The host's public key.
    #[serde(default)]
    pub host_id: String,
    /// Lattice prefix.
    #[serde(default)]
    pub lattice_rpc_prefix: String,
    /// The link name this instance serves.
    #[serde(default)]
    pub link_name: String,
    /// NATS user JWT, empty for none.
    #[serde(default)]
    pub lattice_rpc_user_jwt: String,
    /// NATS seed, empty for none.
    #[serde(default)]
    pub lattice_rpc_user_seed: String,
    /// `host:port`, no scheme.
    #[serde(default)]
    pub lattice_rpc_url: String,
    /// Every NATS server the provider may use (kiln's addition; wasmbus providers read
    /// only `lattice_rpc_url`, the first of them, and learn the others from the cluster).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lattice_rpc_urls: Vec<String>,
    /// Whether the NATS connection needs TLS (the OTP host writes 0 or 1).
    #[serde(default)]
    pub lattice_rpc_tls: u8,
    /// The provider's public key.
    #[serde(default)]
    pub provider_key: String,
    /// The cluster seed the provider signs its invocations with.
    #[serde(default)]
    pub invocation_seed: String,
    /// Always empty; kept for older providers.
    #[serde(default)]
    pub env_values: HashMap<String, String>,
    /// A fresh id per start.
    #[serde(default)]
    pub instance_id: String,
    /// Every link this instance serves, so none is missed before it subscribes.
    #[serde(default)]
    pub link_definitions: Vec<LinkDefinition>,
    /// Cluster keys whose invocations are trusted.
    #[serde(default)]
    pub cluster_issuers: Vec<String>,
    /// The configuration string given at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_json: Option<String>,
    /// Timeout of the provider's own calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_rpc_timeout_ms: Option<u64>,
    /// JetStream domain.
    #[serde(default)]
    pub js_domain: Option<String>,
    /// Whether to log JSON.
    #[serde(default)]
    pub structured_logging: bool,
    /// Log level, e.g. `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
}

/// Largest host data read (it carries every link of the provider).
pub const MAX_HOST_DATA: usize = 64 << 20;

/// Host data that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid host data: {0}")]
pub struct HostDataError(String);

impl HostData {
    /// The line written to the provider's stdin: base64 of the JSON, then a newline.
    #[must_use]
    pub fn to_stdin_line(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("invariant: host data always serialises");
        let mut line = BASE64.encode(&json).into_bytes();
        line.push(b'\n');
        line
    }

    /// Reads the line a provider got on stdin.
    ///
    /// # Errors
    /// When the line is not base64 of host data JSON.
    pub fn from_stdin_line(line: &str) -> Result<HostData, HostDataError> {
        let json = BASE64
            .decode(line.trim().as_bytes())
            .map_err(|e| HostDataError(format!("not base64: {e}")))?;
        crate::decode::json("the host data", &json, MAX_HOST_DATA)
            .map_err(|e| HostDataError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_line_round_trips() {
        let data = HostData {
            host_id: "NHOST".into(),
            lattice_rpc_prefix: "default".into(),
            link_name: "default".into(),
            lattice_rpc_url: "127.0.0.1:4222".into(),
            provider_key: "VKEY".into(),
            link_definitions: vec![LinkDefinition::new(
                "MA",
                "VKEY",
                "default",
                "wasmcloud:keyvalue",
                HashMap::new(),
            )],
            config_json: Some("{}".into()),
            ..HostData::default()
        };
        let line = data.to_stdin_line();
        assert_eq!(line.last(), Some(&b'\n'));
        let text = String::from_utf8(line).unwrap();
        assert_eq!(HostData::from_stdin_line(&text).unwrap(), data);
        assert!(HostData::from_stdin_line("!!!").is_err());
    }
}
