//! nkeys key pairs by role, as the wasmbus protocol uses them.

use std::fmt;
use std::str::FromStr;

pub use nkeys::KeyPair;
use nkeys::KeyPairType;

/// The role of a key, which fixes the first letter of its public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// `A…`: signs actors and providers.
    Account,
    /// `M…`: an actor's identity.
    Module,
    /// `N…`: a host's identity.
    Server,
    /// `C…`: signs invocations on a lattice.
    Cluster,
    /// `V…`: a capability provider's identity.
    Service,
    /// `O…`: a NATS operator.
    Operator,
    /// `U…`: a NATS user.
    User,
}

impl KeyKind {
    /// Every kind, in the order the CLI lists them.
    pub const ALL: [KeyKind; 7] = [
        KeyKind::Account,
        KeyKind::Module,
        KeyKind::Server,
        KeyKind::Cluster,
        KeyKind::Service,
        KeyKind::Operator,
        KeyKind::User,
    ];

    /// The first letter of public keys of this kind.
    #[must_use]
    pub fn prefix(self) -> char {
        match self {
            KeyKind::Account => 'A',
            KeyKind::Module => 'M',
            KeyKind::Server => 'N',
            KeyKind::Cluster => 'C',
            KeyKind::Service => 'V',
            KeyKind::Operator => 'O',
            KeyKind::User => 'U',
        }
    }

    /// The kind of a public key, judged by its first letter and length only.
    #[must_use]
    pub fn of_public_key(key: &str) -> Option<KeyKind> {
        if key.len() != PUBLIC_KEY_LEN {
            return None;
        }
        let first = key.chars().next()?;
        KeyKind::ALL.into_iter().find(|k| k.prefix() == first)
    }

    fn nkeys_type(self) -> KeyPairType {
        match self {
            KeyKind::Account => KeyPairType::Account,
            KeyKind::Module => KeyPairType::Module,
            KeyKind::Server => KeyPairType::Server,
            KeyKind::Cluster => KeyPairType::Cluster,
            KeyKind::Service => KeyPairType::Service,
            KeyKind::Operator => KeyPairType::Operator,
            KeyKind::User => KeyPairType::User,
        }
    }

    /// A fresh random key pair of this kind.
    #[must_use]
    pub fn generate(self) -> KeyPair {
        KeyPair::new(self.nkeys_type())
    }

    /// Parses a seed (`S` + the kind's letter + …) and checks that it is of this kind.
    ///
    /// # Errors
    /// When the text is not a valid seed, or is a seed of another kind.
    pub fn parse_seed(self, seed: &str) -> Result<KeyPair, KeyError> {
        let pair = KeyPair::from_seed(seed.trim()).map_err(|e| KeyError::BadSeed {
            kind: self,
            reason: e.to_string(),
        })?;
        let actual = KeyKind::of_public_key(&pair.public_key());
        if actual != Some(self) {
            return Err(KeyError::WrongKind {
                expected: self,
                found: actual,
            });
        }
        Ok(pair)
    }
}

/// Length of every nkeys public key.
pub const PUBLIC_KEY_LEN: usize = 56;

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyKind::Account => "account",
            KeyKind::Module => "module",
            KeyKind::Server => "server",
            KeyKind::Cluster => "cluster",
            KeyKind::Service => "service",
            KeyKind::Operator => "operator",
            KeyKind::User => "user",
        })
    }
}

impl FromStr for KeyKind {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyKind::ALL
            .into_iter()
            .find(|k| k.to_string() == s.to_ascii_lowercase())
            .ok_or_else(|| KeyError::UnknownKind(s.to_string()))
    }
}

/// A key that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The seed text is not a valid nkeys seed.
    #[error("invalid {kind} seed: {reason}")]
    BadSeed {
        /// The kind that was expected.
        kind: KeyKind,
        /// What nkeys said.
        reason: String,
    },
    /// The seed is valid but of another kind.
    #[error("expected a seed of kind {expected}, found kind {}", found.map_or_else(|| "unknown".to_string(), |k| k.to_string()))]
    WrongKind {
        /// The kind that was expected.
        expected: KeyKind,
        /// The kind found.
        found: Option<KeyKind>,
    },
    /// A key kind name that is not one of ours.
    #[error(
        "unknown key kind {0:?} (expected account, module, server, cluster, service, operator or user)"
    )]
    UnknownKind(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_their_prefix_and_parse_back() {
        for kind in KeyKind::ALL {
            let pair = kind.generate();
            let public = pair.public_key();
            assert_eq!(KeyKind::of_public_key(&public), Some(kind), "{public}");
            let seed = pair.seed().unwrap();
            assert!(seed.starts_with(&format!("S{}", kind.prefix())), "{seed}");
            assert_eq!(kind.parse_seed(&seed).unwrap().public_key(), public);
        }
    }

    #[test]
    fn rejects_a_seed_of_another_kind() {
        let seed = KeyKind::Account.generate().seed().unwrap();
        let err = KeyKind::Cluster.parse_seed(&seed).unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected a seed of kind cluster, found kind account"
        );
    }

    #[test]
    fn rejects_garbage_seed() {
        let err = KeyKind::Cluster.parse_seed("SCNOPE").unwrap_err();
        assert!(err.to_string().starts_with("invalid cluster seed"), "{err}");
    }

    #[test]
    fn kinds_parse_from_names() {
        assert_eq!("Module".parse::<KeyKind>().unwrap(), KeyKind::Module);
        assert!("bogus".parse::<KeyKind>().is_err());
    }
}
