//! Link definitions: which provider serves an actor's contract under a link name.
//!
//! The same fields travel as JSON in the lattice cache (`LINKDEF_{id}`) and as a msgpack
//! map to the provider (`…linkdefs.put|del`).

use std::collections::HashMap;

use data_encoding::HEXUPPER;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decode::{self, DecodeError, field};
use crate::keys::KeyKind;
use crate::limits;

/// A link definition whose fields cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The bytes are not a link definition.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A field is missing or malformed.
    #[error("invalid link definition: {0}")]
    Invalid(String),
}

/// One link between an actor and a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkDefinition {
    /// Upper-case hex SHA-256 of `actor_id ‖ contract_id ‖ link_name`.
    #[serde(default, deserialize_with = "field::id")]
    pub id: String,
    /// The actor's public key.
    #[serde(deserialize_with = "field::key")]
    pub actor_id: String,
    /// The provider's public key.
    #[serde(deserialize_with = "field::key")]
    pub provider_id: String,
    /// Link name (`default` unless the actor uses another).
    #[serde(deserialize_with = "field::link_name")]
    pub link_name: String,
    /// Contract id, e.g. `wasmcloud:keyvalue`.
    #[serde(deserialize_with = "field::contract_id")]
    pub contract_id: String,
    /// Settings the provider reads for this actor (an address, a URL, …).
    #[serde(default, deserialize_with = "field::string_map")]
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

    /// Reads a link from the JSON of the lattice cache or a control request, fills in a
    /// missing id and checks it ([`LinkDefinition::check`]).
    ///
    /// # Errors
    /// See [`LinkError`].
    pub fn from_json(bytes: &[u8]) -> Result<LinkDefinition, LinkError> {
        let link: LinkDefinition = decode::json("a link definition", bytes, limits::JSON_BODY)?;
        let link = link.with_id();
        link.check()?;
        Ok(link)
    }

    /// Reads a link from the msgpack a provider is sent, and checks it.
    ///
    /// # Errors
    /// See [`LinkError`].
    pub fn from_msgpack(bytes: &[u8]) -> Result<LinkDefinition, LinkError> {
        let link: LinkDefinition = decode::msgpack("a link definition", bytes, limits::MESSAGE)?;
        let link = link.with_id();
        link.check()?;
        Ok(link)
    }

    /// Checks that the keys are an actor's and a provider's, that the link name can be
    /// part of a subject and that the contract id is there.
    ///
    /// # Errors
    /// [`LinkError::Invalid`] naming the field.
    pub fn check(&self) -> Result<(), LinkError> {
        if KeyKind::of_public_key(&self.actor_id) != Some(KeyKind::Module) {
            return Err(LinkError::Invalid(format!(
                "actor_id {:?} is not an actor public key",
                self.actor_id
            )));
        }
        if KeyKind::of_public_key(&self.provider_id) != Some(KeyKind::Service) {
            return Err(LinkError::Invalid(format!(
                "provider_id {:?} is not a provider public key",
                self.provider_id
            )));
        }
        check_link_name(&self.link_name).map_err(LinkError::Invalid)?;
        if self.actor_id.len() > limits::KEY
            || self.provider_id.len() > limits::KEY
            || self.contract_id.len() > limits::CONTRACT_ID
        {
            return Err(LinkError::Invalid(
                "a key or the contract id is too long".into(),
            ));
        }
        limits::check_map("the link values", self.values.iter()).map_err(LinkError::Invalid)?;
        if self.contract_id.is_empty() || self.contract_id.chars().any(char::is_control) {
            return Err(LinkError::Invalid(format!(
                "contract_id {:?} is empty or holds control characters",
                self.contract_id
            )));
        }
        Ok(())
    }

    /// Msgpack with named fields, as providers read it.
    #[must_use]
    pub fn to_msgpack(&self) -> Vec<u8> {
        rmp_serde::to_vec_named(self).expect("invariant: a link definition always serialises")
    }
}

/// Checks that `name` can be a link name: one NATS subject token (no dots, wildcards,
/// spaces or control characters), at most [`limits::LINK_NAME`] bytes.
///
/// # Errors
/// Why not, naming the link name.
pub fn check_link_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > limits::LINK_NAME {
        return Err(format!(
            "link name {name:?} must be 1 to {} bytes long",
            limits::LINK_NAME
        ));
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>'))
    {
        return Err(format!(
            "link name {name:?} may not hold dots, wildcards, spaces or control characters"
        ));
    }
    Ok(())
}

/// `name`, or `default` when it is empty: the wasmbus host's reading of an absent link
/// name.
#[must_use]
pub fn name_or_default(name: &str) -> &str {
    if name.is_empty() { "default" } else { name }
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

    fn keys() -> (String, String) {
        (
            KeyKind::Module.generate().public_key(),
            KeyKind::Service.generate().public_key(),
        )
    }

    #[test]
    fn an_empty_link_name_reads_as_default() {
        assert_eq!(name_or_default(""), "default");
        assert_eq!(name_or_default("web"), "web");
    }

    #[test]
    fn links_are_checked_when_read() {
        let (actor, provider) = keys();
        let good = LinkDefinition::new(
            &actor,
            &provider,
            "default",
            "wasmcloud:keyvalue",
            HashMap::new(),
        );
        assert_eq!(
            LinkDefinition::from_msgpack(&good.to_msgpack()).unwrap(),
            good
        );
        assert_eq!(
            LinkDefinition::from_json(&serde_json::to_vec(&good).unwrap()).unwrap(),
            good
        );
        for name in ["a.b", "a b", "*", ">", "", "x\n"] {
            let mut bad = good.clone();
            bad.link_name = name.to_string();
            assert!(
                matches!(
                    LinkDefinition::from_msgpack(&bad.to_msgpack()),
                    Err(LinkError::Invalid(_))
                ),
                "{name:?}"
            );
        }
        let mut bad = good.clone();
        bad.provider_id = "wasmbus.rpc.>".into();
        let error = LinkDefinition::from_json(&serde_json::to_vec(&bad).unwrap()).unwrap_err();
        assert!(error.to_string().contains("provider_id"), "{error}");
        let long = format!(
            r#"{{"actor_id":"{actor}","provider_id":"{provider}","link_name":"{}","contract_id":"c"}}"#,
            "l".repeat(200)
        );
        assert!(matches!(
            LinkDefinition::from_json(long.as_bytes()),
            Err(LinkError::Decode(_))
        ));
    }

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
