//! Identifiers passed between modules: never a bare `String`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::keys::KeyKind;

/// An actor's public key: 56 characters, starting with `M`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ActorKey(String);

/// A string that is not an actor key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an actor public key (56 characters starting with M)")]
pub struct NotAnActorKey(pub String);

impl ActorKey {
    /// The key as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ActorKey {
    type Err = NotAnActorKey;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if KeyKind::of_public_key(s) == Some(KeyKind::Module) {
            Ok(ActorKey(s.to_string()))
        } else {
            Err(NotAnActorKey(s.to_string()))
        }
    }
}

impl TryFrom<String> for ActorKey {
    type Error = NotAnActorKey;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ActorKey> for String {
    fn from(k: ActorKey) -> String {
        k.0
    }
}

impl fmt::Display for ActorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ActorKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Lowercase hex SHA-256 of an artifact's bytes: its address in the data plane.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Digest(String);

impl Digest {
    /// The digest of `bytes`.
    #[must_use]
    pub fn of(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        Digest(data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(bytes)))
    }

    /// The digest whose SHA-256 is `hash`.
    #[must_use]
    pub fn of_hash(hash: &[u8]) -> Digest {
        Digest(data_encoding::HEXLOWER.encode(hash))
    }

    /// The digest as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_keys_are_checked() {
        let key = KeyKind::Module.generate().public_key();
        assert_eq!(key.parse::<ActorKey>().unwrap().as_str(), key);
        let account = KeyKind::Account.generate().public_key();
        assert!(account.parse::<ActorKey>().is_err());
        assert!("Mshort".parse::<ActorKey>().is_err());
    }

    #[test]
    fn digest_is_lowercase_sha256() {
        assert_eq!(
            Digest::of(b"").as_str(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
