//! Actor claims: what a signed module may do, who signed it, and checks on it.

use data_encoding::HEXUPPER;
use serde::{Deserialize, Serialize};

use crate::ids::Digest;
use crate::jwt::{self, Claims, JwtError, WASCAP_REVISION};
use crate::keys::{KeyKind, KeyPair};
use crate::wasm::{self, WasmError};

/// The `wascap` metadata of an actor (wascap's `Component`, with `caps`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Upper-case hex SHA-256 of the module without its token sections.
    #[serde(default)]
    pub hash: String,
    /// Free-form tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Contract ids the actor may use (`wasmcloud:httpserver`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<String>>,
    /// Monotonic revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<i32>,
    /// Human version string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<String>,
    /// A name other actors may call this one by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_alias: Option<String>,
    /// Whether the module is a provider (always false for actors).
    #[serde(default)]
    pub prov: bool,
}

/// Claims of an actor: the JWT envelope with [`Actor`] metadata.
pub type ActorClaims = Claims<Actor>;

/// What a signer puts into an actor's claims.
#[derive(Debug, Clone, Default)]
pub struct ActorSpec {
    /// Display name.
    pub name: Option<String>,
    /// Contract ids the actor may use.
    pub caps: Vec<String>,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Revision.
    pub rev: Option<i32>,
    /// Version string.
    pub ver: Option<String>,
    /// Call alias.
    pub call_alias: Option<String>,
    /// Expiry, seconds since the epoch.
    pub expires: Option<u64>,
    /// Not before, seconds since the epoch.
    pub not_before: Option<u64>,
}

/// Why an actor was refused.
#[derive(Debug, thiserror::Error)]
pub enum ClaimsError {
    /// The binary is not wasm.
    #[error(transparent)]
    Wasm(#[from] WasmError),
    /// No token section.
    #[error("module is not signed: no wasmcloud_jwt or jwt section")]
    Unsigned,
    /// The token did not verify.
    #[error("actor claims rejected: {0}")]
    Token(#[from] JwtError),
    /// The token has no `wascap` metadata.
    #[error("actor claims have no wascap metadata")]
    NoMetadata,
    /// The subject is not a module key.
    #[error("claims subject {0} is not a module (M…) key")]
    Subject(String),
    /// The issuer is not an account key.
    #[error("claims issuer {0} is not an account (A…) key")]
    IssuerKind(String),
    /// The issuer is not on the allow-list.
    #[error("claims issuer {0} is not an allowed issuer")]
    UntrustedIssuer(String),
    /// The module was changed after signing.
    #[error("module hash mismatch: the claims sign {claimed} but the module hashes to {actual}")]
    Hash {
        /// Hash in the claims.
        claimed: String,
        /// Hash of the module as it is.
        actual: String,
    },
    /// The signing key cannot sign.
    #[error("could not sign: {0}")]
    Sign(String),
}

/// A module whose claims passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedActor {
    /// The claims.
    pub claims: ActorClaims,
    /// The token the claims were read from, as embedded in the module.
    pub token: String,
    /// The module without its token sections: the bytes to run.
    pub stripped: Vec<u8>,
    /// The digest of `stripped`, by which hosts keep modules.
    pub digest: Digest,
}

impl VerifiedActor {
    /// The actor's public key.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.claims.subject
    }

    /// The metadata (checked present during verification).
    #[must_use]
    pub fn meta(&self) -> &Actor {
        self.claims
            .metadata
            .as_ref()
            .expect("invariant: verify_actor refuses claims without metadata")
    }
}

/// Who may sign actors that this host runs.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Account keys allowed to sign; empty allows any.
    pub allowed_issuers: Vec<String>,
}

/// Checks an actor's token: signature, kinds of keys, `exp`/`nbf` against `now`,
/// issuer allow-list, and the module hash (also for tokens older than revision 3,
/// which wascap does not hash-check).
///
/// # Errors
/// The first check that fails, as a [`ClaimsError`].
pub fn verify_actor(
    binary: &[u8],
    policy: &Policy,
    now: u64,
) -> Result<VerifiedActor, ClaimsError> {
    let parts = wasm::split(binary)?;
    let token = parts.token.clone().ok_or(ClaimsError::Unsigned)?;
    let sha256 = parts.sha256();
    let claims = verify_token(&token, &HEXUPPER.encode(&sha256), policy, now)?;
    Ok(VerifiedActor {
        claims,
        token,
        digest: Digest::of_hash(&sha256),
        stripped: parts.stripped,
    })
}

/// Checks an actor's token as [`verify_actor`] does, against the hash of the module it
/// came with (upper-case hex SHA-256 of the module without its token sections): the
/// check of an actor whose stripped bytes are known, such as one a restarted control
/// plane finds running.
///
/// # Errors
/// The first check that fails, as a [`ClaimsError`].
pub fn verify_token(
    token: &str,
    module_hash: &str,
    policy: &Policy,
    now: u64,
) -> Result<ActorClaims, ClaimsError> {
    let claims: ActorClaims = jwt::decode_verified(token)?;
    claims.check_times(now)?;
    if KeyKind::of_public_key(&claims.subject) != Some(KeyKind::Module) {
        return Err(ClaimsError::Subject(claims.subject));
    }
    if KeyKind::of_public_key(&claims.issuer) != Some(KeyKind::Account) {
        return Err(ClaimsError::IssuerKind(claims.issuer));
    }
    if !policy.allowed_issuers.is_empty() && !policy.allowed_issuers.contains(&claims.issuer) {
        return Err(ClaimsError::UntrustedIssuer(claims.issuer));
    }
    let meta = claims.metadata.as_ref().ok_or(ClaimsError::NoMetadata)?;
    if !meta.hash.eq_ignore_ascii_case(module_hash) {
        return Err(ClaimsError::Hash {
            claimed: meta.hash.clone(),
            actual: module_hash.to_string(),
        });
    }
    Ok(claims)
}

/// Signs `binary` (any existing token is replaced) with `issuer` (an account) for
/// `subject` (a module), issued at `now`.
///
/// # Errors
/// When the binary is not wasm or a key cannot sign.
pub fn sign_actor(
    binary: &[u8],
    spec: &ActorSpec,
    issuer: &KeyPair,
    subject: &KeyPair,
    now: u64,
) -> Result<Vec<u8>, ClaimsError> {
    let parts = wasm::split(binary)?;
    let claims = ActorClaims {
        expires: spec.expires,
        id: uuid::Uuid::new_v4().simple().to_string(),
        issued_at: now,
        issuer: issuer.public_key(),
        subject: subject.public_key(),
        not_before: spec.not_before,
        metadata: Some(Actor {
            name: spec.name.clone(),
            hash: parts.module_hash(),
            tags: (!spec.tags.is_empty()).then(|| spec.tags.clone()),
            caps: (!spec.caps.is_empty()).then(|| spec.caps.clone()),
            rev: spec.rev,
            ver: spec.ver.clone(),
            call_alias: spec.call_alias.clone(),
            prov: false,
        }),
        wascap_revision: Some(WASCAP_REVISION),
    };
    let token = jwt::encode(&claims, issuer).map_err(|e| ClaimsError::Sign(e.to_string()))?;
    Ok(wasm::embed(&parts.stripped, &token))
}

impl Actor {
    /// The capability contract ids, empty when none.
    #[must_use]
    pub fn caps(&self) -> &[String] {
        self.caps.as_deref().unwrap_or_default()
    }

    /// Whether the actor claims `contract`.
    #[must_use]
    pub fn has_cap(&self, contract: &str) -> bool {
        self.caps().iter().any(|c| c == contract)
    }
}

/// The revision a host reports: `rev` when positive, otherwise the issue time.
#[must_use]
pub fn revision(claims: &ActorClaims) -> i64 {
    match claims.metadata.as_ref().and_then(|m| m.rev) {
        Some(rev) if rev > 0 => i64::from(rev),
        _ => i64::try_from(claims.issued_at).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn module() -> Vec<u8> {
        wat::parse_str(
            r#"(module (func (export "__guest_call") (param i32 i32) (result i32) i32.const 1))"#,
        )
        .unwrap()
    }

    fn spec() -> ActorSpec {
        ActorSpec {
            name: Some("echo".into()),
            caps: vec!["wasmcloud:httpserver".into()],
            rev: Some(2),
            ver: Some("0.1.0".into()),
            call_alias: Some("demo/echo".into()),
            ..ActorSpec::default()
        }
    }

    fn signed(spec: &ActorSpec) -> (Vec<u8>, KeyPair, KeyPair) {
        let account = KeyKind::Account.generate();
        let module_key = KeyKind::Module.generate();
        let bytes = sign_actor(&module(), spec, &account, &module_key, NOW).unwrap();
        (bytes, account, module_key)
    }

    #[test]
    fn signed_actor_verifies_with_its_caps() {
        let (bytes, account, module_key) = signed(&spec());
        let actor = verify_actor(&bytes, &Policy::default(), NOW).unwrap();
        assert_eq!(actor.key(), module_key.public_key());
        assert_eq!(actor.claims.issuer, account.public_key());
        assert!(actor.meta().has_cap("wasmcloud:httpserver"));
        assert_eq!(actor.meta().call_alias.as_deref(), Some("demo/echo"));
        assert_eq!(actor.stripped, module());
        // Hashed once, for the claims' check and the digest hosts keep it by.
        assert_eq!(actor.digest, Digest::of(&module()));
        assert_eq!(revision(&actor.claims), 2);
    }

    #[test]
    fn rejects_unsigned() {
        let err = verify_actor(&module(), &Policy::default(), NOW).unwrap_err();
        assert!(matches!(err, ClaimsError::Unsigned), "{err}");
    }

    #[test]
    fn rejects_a_tampered_module() {
        let (bytes, ..) = signed(&spec());
        let mut tampered = bytes.clone();
        // The constant 1 returned by __guest_call sits just before the token section.
        let at = module().len() - 2;
        assert_eq!(tampered[at], 0x01);
        tampered[at] = 0x02;
        let err = verify_actor(&tampered, &Policy::default(), NOW).unwrap_err();
        assert!(matches!(err, ClaimsError::Hash { .. }), "{err}");
    }

    #[test]
    fn rejects_expired_and_not_yet_valid() {
        let (expired, ..) = signed(&ActorSpec {
            expires: Some(NOW - 1),
            ..spec()
        });
        assert!(matches!(
            verify_actor(&expired, &Policy::default(), NOW),
            Err(ClaimsError::Token(JwtError::Expired { .. }))
        ));
        let (early, ..) = signed(&ActorSpec {
            not_before: Some(NOW + 3600),
            ..spec()
        });
        assert!(matches!(
            verify_actor(&early, &Policy::default(), NOW),
            Err(ClaimsError::Token(JwtError::NotYetValid { .. }))
        ));
    }

    #[test]
    fn enforces_the_issuer_allow_list() {
        let (bytes, account, _) = signed(&spec());
        let policy = Policy {
            allowed_issuers: vec![KeyKind::Account.generate().public_key()],
        };
        assert!(matches!(
            verify_actor(&bytes, &policy, NOW),
            Err(ClaimsError::UntrustedIssuer(_))
        ));
        let policy = Policy {
            allowed_issuers: vec![account.public_key()],
        };
        verify_actor(&bytes, &policy, NOW).unwrap();
    }

    #[test]
    fn rejects_wrong_key_kinds() {
        let server = KeyKind::Server.generate();
        let module_key = KeyKind::Module.generate();
        let bytes = sign_actor(&module(), &spec(), &server, &module_key, NOW).unwrap();
        assert!(matches!(
            verify_actor(&bytes, &Policy::default(), NOW),
            Err(ClaimsError::IssuerKind(_))
        ));
    }

    #[test]
    fn revision_falls_back_to_issue_time() {
        let (bytes, ..) = signed(&ActorSpec {
            rev: Some(0),
            ..spec()
        });
        let actor = verify_actor(&bytes, &Policy::default(), NOW).unwrap();
        assert_eq!(revision(&actor.claims), NOW as i64);
    }
}
