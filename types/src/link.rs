//! Link definitions: which provider serves an actor's contract under a link name.
//!
//! The same fields travel as JSON in the lattice cache (`LINKDEF_{id}`) and as a msgpack
//! map to the provider (`…linkdefs.put|del`).

use std::collections::HashMap;

use data_encoding::HEXUPPER;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One link between an actor and a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkDefinition {
    /// Upper-case hex SHA-256 of `actor_id ‖ contract_id ‖ link_name`.
    #[serde(default)]
    pub id: String,
    /// The actor's public key.
    pub actor_id: String,
    /// The provider's public key.
    pub provider_id: String,
    /// Link name (`default` unless the actor uses another).
    pub link_name: String,
    /// Contract id, e.g. `wasmcloud:keyvalue`.
    pub contract_id: String,
    /// Settings the provider reads for this actor (an address, a URL, …).
    #[serde(default)]
    pub values: HashMap<String, String>,
}

impl LinkDefinition {
    /// A link with its id computed.
    #[must_use]
    pub fn new(
        actor_id: impl Into<String>,
        provider_id: impl Into<String>,
        link_name: impl Into<String>,
        contract_id: impl Into<String>,
        values: HashMap<String, String>,
    ) -> LinkDefinition {
        let mut link = LinkDefinition {
            id: String::new(),
            actor_id: actor_id.into(),
            provider_id: provider_id.into(),
            link_name: link_name.into(),
            contract_id: contract_id.into(),
            values,
        };
        link.id = link_id(&link.actor_id, &link.contract_id, &link.link_name);
        link
    }

    /// Fills in a missing id, as readers of the lattice cache must.
    #[must_use]
    pub fn with_id(mut self) -> LinkDefinition {
        if self.id.is_empty() {
            self.id = link_id(&self.actor_id, &self.contract_id, &self.link_name);
        }
        self
    }

    /// The lattice cache key of this link.
    #[must_use]
    pub fn cache_key(&self) -> String {
        format!("LINKDEF_{}", self.id)
    }

    /// Msgpack with named fields, as providers read it.
    #[must_use]
    pub fn to_msgpack(&self) -> Vec<u8> {
        rmp_serde::to_vec_named(self).expect("invariant: a link definition always serialises")
    }
}

/// The id of the link for (actor, contract, link name).
#[must_use]
pub fn link_id(actor_id: &str, contract_id: &str, link_name: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(actor_id.as_bytes());
    hasher.update(contract_id.as_bytes());
    hasher.update(link_name.as_bytes());
    HEXUPPER.encode(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_hashes_actor_contract_and_link_without_separators() {
        let link = LinkDefinition::new("MA", "VP", "default", "wasmcloud:keyvalue", HashMap::new());
        let expected = HEXUPPER.encode(&Sha256::digest(b"MAwasmcloud:keyvaluedefault"));
        assert_eq!(link.id, expected);
        assert_eq!(link.cache_key(), format!("LINKDEF_{expected}"));
    }

    #[test]
    fn json_and_msgpack_round_trip_and_missing_ids_are_filled() {
        let values = HashMap::from([("URL".to_string(), "redis://127.0.0.1:6379".to_string())]);
        let link = LinkDefinition::new("MA", "VP", "default", "wasmcloud:keyvalue", values);
        let json = serde_json::to_string(&link).unwrap();
        assert_eq!(serde_json::from_str::<LinkDefinition>(&json).unwrap(), link);
        let back: LinkDefinition = rmp_serde::from_slice(&link.to_msgpack()).unwrap();
        assert_eq!(back, link);
        let no_id: LinkDefinition = serde_json::from_str(
            r#"{"actor_id":"MA","provider_id":"VP","link_name":"default","contract_id":"wasmcloud:keyvalue"}"#,
        )
        .unwrap();
        assert_eq!(no_id.with_id().id, link.id);
    }
}
