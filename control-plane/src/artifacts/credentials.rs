//! Registry credentials (`registries.put`), kept per server name for artifact pulls.

use std::collections::HashMap;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

/// Credentials for one registry, as `registries.put` carries them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// `oci` or `bindle`.
    #[serde(rename = "registryType")]
    pub registry_type: String,
    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Most registries credentials are kept for.
const MAX_REGISTRIES: usize = 1024;

/// Credentials by server name.
#[derive(Debug, Default)]
pub struct Credentials {
    by_server: RwLock<HashMap<String, Credential>>,
}

impl Credentials {
    /// Merges a `registries.put` body into the known credentials; returns the servers
    /// taken. Entries without a type or without any secret are skipped, as the wasmbus
    /// host skips them.
    ///
    /// # Errors
    /// When the body is not a map of credentials.
    pub fn merge_json(&self, body: &[u8]) -> Result<Vec<String>, String> {
        let entries: HashMap<String, serde_json::Value> =
            kiln_types::decode::json("registry credentials", body, kiln_types::limits::JSON_BODY)
                .map_err(|e| {
                format!("registry credentials must be a JSON map of server to credential: {e}")
            })?;
        self.merge(entries)
    }

    /// Merges credentials already read (a `registries.put` body, the config service's
    /// `registryCredentials`); returns the servers taken, skipping as
    /// [`Credentials::merge_json`] does.
    ///
    /// # Errors
    /// When more registries would be kept than this host keeps.
    pub fn merge(
        &self,
        entries: HashMap<String, serde_json::Value>,
    ) -> Result<Vec<String>, String> {
        let mut taken = Vec::new();
        let mut by_server = self
            .by_server
            .write()
            .expect("invariant: credentials lock is never poisoned");
        for (server, value) in entries {
            let Ok(credential) = serde_json::from_value::<Credential>(value) else {
                continue;
            };
            let fields = [
                Some(&credential.registry_type),
                credential.username.as_ref(),
                credential.password.as_ref(),
                credential.token.as_ref(),
            ];
            if server.len() > kiln_types::limits::TEXT
                || fields
                    .iter()
                    .flatten()
                    .any(|f| f.len() > kiln_types::limits::MAP_VALUE)
            {
                continue;
            }

            if credential.username.is_none()
                && credential.password.is_none()
                && credential.token.is_none()
            {
                continue;
            }
            let name = server_name(&server, &credential.registry_type);
            if by_server.len() >= MAX_REGISTRIES && !by_server.contains_key(&name) {
                return Err(format!(
                    "this host keeps credentials for at most {MAX_REGISTRIES} registries"
                ));
            }
            taken.push(name.clone());
            by_server.insert(name, credential);
        }
        taken.sort();
        Ok(taken)
    }

    /// The credential for `server`.
    #[must_use]
    pub fn get(&self, server: &str) -> Option<Credential> {
        self.by_server
            .read()
            .expect("invariant: credentials lock is never poisoned")
            .get(server)
            .cloned()
    }
}

/// The server a credential key names: scheme dropped; for OCI the first path segment,
/// for bindle what follows `@`.
#[must_use]
pub fn server_name(key: &str, registry_type: &str) -> String {
    let key = key.split_once("://").map_or(key, |(_, rest)| rest);
    if registry_type == "bindle" {
        key.rsplit_once('@')
            .map_or(key, |(_, server)| server)
            .to_string()
    } else {
        key.split('/').next().unwrap_or(key).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_server_names_and_empty_entries_are_skipped() {
        assert_eq!(
            server_name("https://reg.example:5000/echo:1", "oci"),
            "reg.example:5000"
        );
        assert_eq!(server_name("localhost:5000", "oci"), "localhost:5000");
        assert_eq!(
            server_name("echo/1.0@bindle.example", "bindle"),
            "bindle.example"
        );
        let credentials = Credentials::default();
        let taken = credentials
            .merge_json(
                br#"{"https://reg.example/x": {"registryType": "oci", "username": "u", "password": "p"},
                     "other.example": {"registryType": "oci"},
                     "notype.example": {"username": "u"}}"#,
            )
            .unwrap();
        assert_eq!(taken, vec!["reg.example".to_string()]);
        assert_eq!(
            credentials.get("reg.example").unwrap().username.as_deref(),
            Some("u")
        );
        assert!(credentials.merge_json(b"[1]").is_err());
    }
}
