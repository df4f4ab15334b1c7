//! The msgpack RPC envelopes of the wasmbus protocol and their anti-forgery checks.
//!
//! Every call on `wasmbus.rpc.{prefix}.…` is an [`Invocation`] signed with a cluster key
//! and answered with an [`InvocationResponse`]. Field names and encodings follow what
//! wasmbus-rpc actors and providers and the OTP host put on the wire: maps with named
//! fields, `msg` written as bin but read as bin, str or array.

use std::collections::HashMap;

use data_encoding::HEXUPPER;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decode::{self, field};
use crate::jwt::{self, Claims, JwtError, WASCAP_REVISION};
use crate::keys::{KeyPair, PUBLIC_KEY_LEN};
use crate::limits;

/// An actor or provider on the lattice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// Public key (`M…` for actors, `V…` for providers).
    #[serde(default, deserialize_with = "field::key")]
    pub public_key: String,
    /// Link name; empty for actors.
    #[serde(default, deserialize_with = "field::link_name")]
    pub link_name: String,
    /// Contract id; empty for actors.
    #[serde(default, deserialize_with = "field::contract_id")]
    pub contract_id: String,
}

impl Entity {
    /// An actor entity.
    #[must_use]
    pub fn actor(public_key: impl Into<String>) -> Self {
        Entity {
            public_key: public_key.into(),
            ..Entity::default()
        }
    }

    /// A provider entity.
    #[must_use]
    pub fn provider(
        public_key: impl Into<String>,
        contract_id: impl Into<String>,
        link_name: impl Into<String>,
    ) -> Self {
        Entity {
            public_key: public_key.into(),
            contract_id: contract_id.into(),
            link_name: link_name.into(),
        }
    }

    /// The `wasmbus://` URL the invocation claims name this entity by.
    #[must_use]
    pub fn url(&self) -> String {
        if self
            .public_key
            .chars()
            .next()
            .is_some_and(|c| c.eq_ignore_ascii_case(&'M'))
        {
            format!("wasmbus://{}", self.public_key)
        } else {
            format!(
                "wasmbus://{}/{}/{}",
                self.contract_id
                    .replace(':', "/")
                    .replace(' ', "_")
                    .to_lowercase(),
                self.link_name.replace(' ', "_").to_lowercase(),
                self.public_key
            )
        }
    }

    /// Whether the entity speaks as an actor (no contract and no link).
    #[must_use]
    pub fn is_actor(&self) -> bool {
        self.contract_id.is_empty() && self.link_name.is_empty()
    }
}

/// One RPC call on the lattice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Invocation {
    /// Who calls.
    pub origin: Entity,
    /// Who is called.
    pub target: Entity,
    /// `Service.Method`.
    #[serde(default, deserialize_with = "field::operation")]
    pub operation: String,
    /// The payload; empty when it travels through the object store.
    #[serde(default, with = "serde_bytes")]
    pub msg: Vec<u8>,
    /// Invocation id (a UUID), also the claims' `sub`.
    #[serde(default, deserialize_with = "field::id")]
    pub id: String,
    /// The invocation JWT.
    #[serde(default, deserialize_with = "field::invocation_claims")]
    pub encoded_claims: String,
    /// Public key of the signer.
    #[serde(default, deserialize_with = "field::key")]
    pub host_id: String,
    /// Full payload length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_length: Option<u64>,
    /// W3C trace context, when the sender sends it in the body.
    #[serde(
        rename = "traceContext",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "field::opt_string_map"
    )]
    pub trace_context: Option<HashMap<String, String>>,
}

/// The answer to an [`Invocation`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvocationResponse {
    /// Response payload; empty when it travels through the object store.
    #[serde(default, with = "serde_bytes")]
    pub msg: Vec<u8>,
    /// Id of the invocation answered.
    #[serde(default, deserialize_with = "field::id")]
    pub invocation_id: String,
    /// Present only on failure.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "field::opt_error"
    )]
    pub error: Option<String>,
    /// Full response length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_length: Option<u64>,
}

/// The `wascap` metadata of invocation claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvocationMeta {
    /// Target URL plus `/operation`.
    pub target_url: String,
    /// Origin URL.
    pub origin_url: String,
    /// Payload hash, see [`invocation_hash`].
    pub hash: String,
}

/// Claims of an invocation.
pub type InvocationClaims = Claims<InvocationMeta>;

/// The cluster keys whose invocations a host accepts, decoded once.
#[derive(Default)]
pub struct Issuers(HashMap<String, ed25519_dalek::VerifyingKey>);

impl Issuers {
    /// Decodes each public key.
    ///
    /// # Errors
    /// [`JwtError::Issuer`] for a string that is not a public key.
    pub fn new(keys: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Issuers, JwtError> {
        keys.into_iter()
            .map(|key| {
                let key = key.as_ref();
                crate::signature::key_of(key)
                    .map(|verifying| (key.to_string(), verifying))
                    .map_err(JwtError::from)
            })
            .collect::<Result<_, _>>()
            .map(Issuers)
    }

    /// Whether `key` is one of them.
    #[must_use]
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

impl std::fmt::Debug for Issuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// Bytes that are not a msgpack invocation (or response) within the limits.
#[derive(Debug, thiserror::Error)]
#[error("failed to deserialize invocation: {0}")]
pub struct DecodeError(pub decode::DecodeError);

/// Why an invocation was judged forged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ForgeryError {
    /// The token did not verify.
    #[error("invocation claims rejected: {0}")]
    Token(#[from] JwtError),
    /// No `wascap` metadata in the claims.
    #[error("invocation claims have no wascap metadata")]
    NoMetadata,
    /// The payload does not hash to the signed hash.
    #[error("invocation hash does not match the signed hash")]
    Hash,
    /// `host_id` is not a public key.
    #[error("invalid host id on invocation: {0:?}")]
    HostId(String),
    /// The signer is not one of the lattice's cluster issuers.
    #[error("issuer {0} is not a cluster issuer of this lattice")]
    Issuer(String),
    /// The signed target URL is not the invocation's target.
    #[error("invocation claims and invocation target URL do not match: {claimed} != {actual}")]
    TargetUrl {
        /// From the claims.
        claimed: String,
        /// From the invocation.
        actual: String,
    },
    /// The signed origin URL is not the invocation's origin.
    #[error("invocation claims and invocation origin URL do not match: {claimed} != {actual}")]
    OriginUrl {
        /// From the claims.
        claimed: String,
        /// From the invocation.
        actual: String,
    },
    /// The claims' subject is not the invocation id.
    #[error("invocation claims subject {0:?} is not the invocation id")]
    Subject(String),
    /// Issued further ahead of this host's clock than the allowed skew.
    #[error(
        "invocation issued at {issued} is more than {skew_s} s ahead of this host's clock ({now}); check the clocks"
    )]
    FromTheFuture {
        /// The claims' `iat`.
        issued: u64,
        /// This host's clock.
        now: u64,
        /// The allowed skew.
        skew_s: u64,
    },
    /// Issued longer ago than the validity window.
    #[error("invocation issued at {issued} is older than the {window_s} s validity window ({now})")]
    Stale {
        /// The claims' `iat`.
        issued: u64,
        /// This host's clock.
        now: u64,
        /// The window.
        window_s: u64,
    },
    /// Issued before what this host remembers (it started later, or a full replay
    /// memory forgot that second).
    #[error(
        "invocation issued at {issued} is older than this host's replay memory, which begins at {since}; send a new one"
    )]
    Unremembered {
        /// The claims' `iat`.
        issued: u64,
        /// The first second remembered.
        since: u64,
    },
    /// Seen before within its window.
    #[error("invocation was already received once (a replay)")]
    Replayed,
}

/// Upper-case hex SHA-256 of `origin_url ‖ target_url ‖ operation ‖ payload`.
#[must_use]
pub fn invocation_hash(
    origin_url: &str,
    target_url: &str,
    operation: &str,
    payload: &[u8],
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(origin_url.as_bytes());
    hasher.update(target_url.as_bytes());
    hasher.update(operation.as_bytes());
    hasher.update(payload);
    HEXUPPER.encode(&hasher.finalize())
}

impl Invocation {
    /// Builds and signs an invocation with `signer` (the cluster key), issued at `now`.
    ///
    /// # Errors
    /// When the key cannot sign.
    pub fn new_signed(
        signer: &KeyPair,
        origin: Entity,
        target: Entity,
        operation: impl Into<String>,
        msg: Vec<u8>,
        now: u64,
    ) -> Result<Invocation, JwtError> {
        let operation = operation.into();
        let id = uuid::Uuid::new_v4().to_string();
        let origin_url = origin.url();
        let target_url = format!("{}/{}", target.url(), operation);
        let hash = invocation_hash(&origin_url, &target_url, &operation, &msg);
        let issuer = signer.public_key();
        let claims = InvocationClaims {
            expires: None,
            id: uuid::Uuid::new_v4().simple().to_string(),
            issued_at: now,
            issuer: issuer.clone(),
            subject: id.clone(),
            not_before: None,
            metadata: Some(InvocationMeta {
                target_url,
                origin_url,
                hash,
            }),
            wascap_revision: Some(WASCAP_REVISION),
        };
        Ok(Invocation {
            content_length: Some(msg.len() as u64),
            encoded_claims: jwt::encode(&claims, signer)?,
            origin,
            target,
            operation,
            msg,
            id,
            host_id: issuer,
            trace_context: None,
        })
    }

    /// Reads an invocation from msgpack, bounded in size, depth and field lengths.
    ///
    /// # Errors
    /// When the bytes are not a msgpack invocation within the limits.
    pub fn decode(bytes: &[u8]) -> Result<Invocation, DecodeError> {
        decode::msgpack("an invocation", bytes, limits::MESSAGE).map_err(DecodeError)
    }

    /// Writes the invocation as a msgpack map with named fields.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        rmp_serde::to_vec_named(self).expect("invariant: an invocation always serialises")
    }

    /// The URL the claims must name as target.
    #[must_use]
    pub fn target_url(&self) -> String {
        format!("{}/{}", self.target.url(), self.operation)
    }

    /// Checks the issuer, signature, times, host id and both URLs; returns the claims.
    /// An issuer outside `issuers` is refused before any signature arithmetic. The
    /// payload hash is checked apart, by [`Invocation::check_hash`], because a chunked
    /// payload is only whole after it has been fetched.
    ///
    /// # Errors
    /// The first failed check.
    pub fn verify(&self, issuers: &Issuers, now: u64) -> Result<InvocationClaims, ForgeryError> {
        let (claims, signature) = self.unchecked_claims(issuers)?;
        signature
            .check()
            .map_err(|bad| ForgeryError::Token(bad.into()))?;
        self.check_claims(&claims, now)?;
        Ok(claims)
    }

    /// The claims of a trusted issuer, with their signature left to check (alone or in
    /// a batch); then [`Invocation::check_claims`]. [`Invocation::verify`] does all three.
    ///
    /// # Errors
    /// An untrusted issuer or a malformed token.
    pub fn unchecked_claims(
        &self,
        issuers: &Issuers,
    ) -> Result<(InvocationClaims, crate::signature::Unchecked), ForgeryError> {
        jwt::decode_unchecked(&self.encoded_claims, |issuer| issuers.0.get(issuer)).map_err(|e| {
            match e {
                JwtError::UnknownIssuer(issuer) => ForgeryError::Issuer(issuer),
                other => ForgeryError::Token(other),
            }
        })
    }

    /// Checks signed `claims` against this invocation at `now`: times, host id, subject
    /// and both URLs.
    ///
    /// # Errors
    /// The first check that fails.
    pub fn check_claims(&self, claims: &InvocationClaims, now: u64) -> Result<(), ForgeryError> {
        claims.check_times(now)?;
        let meta = claims.metadata.as_ref().ok_or(ForgeryError::NoMetadata)?;
        if self.host_id.len() != PUBLIC_KEY_LEN {
            return Err(ForgeryError::HostId(self.host_id.clone()));
        }
        if !self.id.is_empty() && claims.subject != self.id {
            return Err(ForgeryError::Subject(claims.subject.clone()));
        }
        let target_url = self.target_url();
        if meta.target_url != target_url {
            return Err(ForgeryError::TargetUrl {
                claimed: meta.target_url.clone(),
                actual: target_url,
            });
        }
        let origin_url = self.origin.url();
        if meta.origin_url != origin_url {
            return Err(ForgeryError::OriginUrl {
                claimed: meta.origin_url.clone(),
                actual: origin_url,
            });
        }
        Ok(())
    }

    /// Checks that `payload` (the whole payload, after any dechunking) is what was signed.
    ///
    /// # Errors
    /// [`ForgeryError::Hash`] or [`ForgeryError::NoMetadata`].
    pub fn check_hash(
        &self,
        claims: &InvocationClaims,
        payload: &[u8],
    ) -> Result<(), ForgeryError> {
        let meta = claims.metadata.as_ref().ok_or(ForgeryError::NoMetadata)?;
        let actual = invocation_hash(&meta.origin_url, &meta.target_url, &self.operation, payload);
        if actual.eq_ignore_ascii_case(&meta.hash) {
            Ok(())
        } else {
            Err(ForgeryError::Hash)
        }
    }
}

impl InvocationResponse {
    /// A successful response.
    #[must_use]
    pub fn success(invocation_id: impl Into<String>, msg: Vec<u8>) -> Self {
        InvocationResponse {
            content_length: Some(msg.len() as u64),
            msg,
            invocation_id: invocation_id.into(),
            error: None,
        }
    }

    /// A failed response carrying `error`.
    #[must_use]
    pub fn failure(invocation_id: impl Into<String>, error: impl Into<String>) -> Self {
        InvocationResponse {
            msg: Vec::new(),
            invocation_id: invocation_id.into(),
            error: Some(error.into()),
            content_length: Some(0),
        }
    }

    /// Writes the response as a msgpack map with named fields.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        rmp_serde::to_vec_named(self).expect("invariant: a response always serialises")
    }

    /// Reads a response from msgpack, bounded in size, depth and field lengths.
    ///
    /// # Errors
    /// When the bytes are not a msgpack response within the limits.
    pub fn decode(bytes: &[u8]) -> Result<InvocationResponse, DecodeError> {
        decode::msgpack("an invocation response", bytes, limits::MESSAGE).map_err(DecodeError)
    }
}

#[cfg(test)]
mod tests;
