//! The JWT envelope of wascap tokens: Ed25519 over `header.payload`, signed with nkeys.
//!
//! Only the envelope lives here; what goes in the `wascap` field is up to the caller
//! (`claims::Actor`, `invocation::InvocationClaims`).

use data_encoding::BASE64URL_NOPAD;
use nkeys::KeyPair;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::signature::Unchecked;
use crate::{decode, limits};

/// The revision of the claims format that current signers write. Module hashes are
/// checked by wascap only from this revision on; kiln checks them always.
pub const WASCAP_REVISION: u32 = 3;

/// The only header wascap writes, and the only one it accepts.
const HEADER_JSON: &str = r#"{"typ":"jwt","alg":"Ed25519"}"#;

/// The registered JWT claims plus the `wascap` namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims<T> {
    /// Expiry, seconds since the epoch.
    #[serde(rename = "exp", skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// Unique token id.
    #[serde(rename = "jti", default)]
    pub id: String,
    /// Issued at, seconds since the epoch.
    #[serde(rename = "iat", default)]
    pub issued_at: u64,
    /// Public key of the signer.
    #[serde(rename = "iss")]
    pub issuer: String,
    /// Public key of the thing the claims are about.
    #[serde(rename = "sub")]
    pub subject: String,
    /// Not valid before, seconds since the epoch.
    #[serde(rename = "nbf", skip_serializing_if = "Option::is_none")]
    pub not_before: Option<u64>,
    /// The wascap metadata.
    #[serde(rename = "wascap", skip_serializing_if = "Option::is_none")]
    pub metadata: Option<T>,
    /// Format revision; absent in tokens from before revision 3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wascap_revision: Option<u32>,
}

impl<T> Claims<T> {
    /// Checks `exp` and `nbf` against `now` (seconds since the epoch).
    ///
    /// # Errors
    /// [`JwtError::Expired`] or [`JwtError::NotYetValid`].
    pub fn check_times(&self, now: u64) -> Result<(), JwtError> {
        if let Some(exp) = self.expires
            && exp <= now
        {
            return Err(JwtError::Expired { at: exp });
        }
        if let Some(nbf) = self.not_before
            && nbf > now
        {
            return Err(JwtError::NotYetValid { from: nbf });
        }
        Ok(())
    }
}

/// A token that could not be made or did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url segments of the expected content.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header names another algorithm or type.
    #[error("unsupported token header (expected Ed25519 jwt)")]
    Header,
    /// `iss` is not an nkeys public key.
    #[error("token issuer {0:?} is not a public key")]
    Issuer(String),
    /// `iss` is not one of the keys the caller trusts.
    #[error("token issuer {0} is not trusted")]
    UnknownIssuer(String),
    /// The signature does not verify with the issuer's key.
    #[error("token signature does not verify with issuer {0}")]
    Signature(String),
    /// `exp` is in the past.
    #[error("token expired at {at} (unix seconds)")]
    Expired {
        /// The `exp` field.
        at: u64,
    },
    /// `nbf` is in the future.
    #[error("token not valid before {from} (unix seconds)")]
    NotYetValid {
        /// The `nbf` field.
        from: u64,
    },
    /// The signing key could not sign.
    #[error("could not sign token: {0}")]
    Sign(String),
}

impl From<crate::signature::BadSignature> for JwtError {
    fn from(bad: crate::signature::BadSignature) -> JwtError {
        match bad {
            crate::signature::BadSignature::Signature(issuer) => JwtError::Signature(issuer),
            crate::signature::BadSignature::Issuer(key) => JwtError::Issuer(key),
        }
    }
}

/// Serialises and signs the claims with `signer`, whose public key should be `issuer`.
///
/// # Errors
/// When the signer holds no private key.
pub fn encode<T: Serialize>(claims: &Claims<T>, signer: &KeyPair) -> Result<String, JwtError> {
    let payload =
        serde_json::to_vec(claims).map_err(|e| JwtError::Malformed(format!("encoding: {e}")))?;
    let mut token = BASE64URL_NOPAD.encode(HEADER_JSON.as_bytes());
    token.push('.');
    token.push_str(&BASE64URL_NOPAD.encode(&payload));
    let signature = signer
        .sign(token.as_bytes())
        .map_err(|e| JwtError::Sign(e.to_string()))?;
    token.push('.');
    token.push_str(&BASE64URL_NOPAD.encode(&signature));
    Ok(token)
}

/// Decodes a token and verifies its signature against its own `iss` key. Times are not
/// checked: see [`Claims::check_times`].
///
/// # Errors
/// Any [`JwtError`] but the time ones.
pub fn decode_verified<T: DeserializeOwned>(token: &str) -> Result<Claims<T>, JwtError> {
    let parsed = parse::<T>(token)?;
    let key = KeyPair::from_public_key(&parsed.claims.issuer)
        .map_err(|_| JwtError::Issuer(parsed.claims.issuer.clone()))?;
    parsed.verify(&key)
}

/// Like [`decode_verified`], but only for issuers that `trusted` knows: an unknown
/// issuer is refused before any signature arithmetic, and known keys are not decoded
/// again for every token.
///
/// # Errors
/// [`JwtError::UnknownIssuer`], or any [`JwtError`] but the time ones.
pub fn decode_trusted<'k, T: DeserializeOwned>(
    token: &str,
    trusted: impl FnOnce(&str) -> Option<&'k KeyPair>,
) -> Result<Claims<T>, JwtError> {
    let parsed = parse::<T>(token)?;
    let key = trusted(&parsed.claims.issuer)
        .ok_or_else(|| JwtError::UnknownIssuer(parsed.claims.issuer.clone()))?;
    parsed.verify(key)
}

/// Decodes a token whose issuer `trusted` knows, and leaves its signature to be
/// checked, alone or in a batch ([`crate::signature`]). Times are not checked.
///
/// # Errors
/// [`JwtError::UnknownIssuer`], or any [`JwtError`] but the signature and time ones.
pub fn decode_unchecked<'k, T: DeserializeOwned>(
    token: &str,
    trusted: impl FnOnce(&str) -> Option<&'k ed25519_dalek::VerifyingKey>,
) -> Result<(Claims<T>, Unchecked), JwtError> {
    let parsed = parse::<T>(token)?;
    let key = trusted(&parsed.claims.issuer)
        .ok_or_else(|| JwtError::UnknownIssuer(parsed.claims.issuer.clone()))?;
    let unchecked = Unchecked::new(
        parsed.signed.as_bytes(),
        &parsed.signature,
        *key,
        &parsed.claims.issuer,
    )?;
    Ok((parsed.claims, unchecked))
}

/// A token split and decoded, its signature not yet checked.
struct Parsed<'t, T> {
    claims: Claims<T>,
    signed: &'t str,
    signature: Vec<u8>,
}

impl<T> Parsed<'_, T> {
    fn verify(self, key: &KeyPair) -> Result<Claims<T>, JwtError> {
        key.verify(self.signed.as_bytes(), &self.signature)
            .map_err(|_| JwtError::Signature(self.claims.issuer.clone()))?;
        Ok(self.claims)
    }
}

fn parse<T: DeserializeOwned>(token: &str) -> Result<Parsed<'_, T>, JwtError> {
    let token = token.trim();
    check_size(token)?;
    let mut parts = token.splitn(3, '.');
    let (Some(header), Some(payload), Some(signature)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("expected three segments".into()));
    };
    check_header(header)?;
    let payload_bytes = decode_segment(payload, "payload")?;
    let signature = decode_segment(signature, "signature")?;
    let claims: Claims<T> = read_payload(&payload_bytes)?;
    if claims.issuer.is_empty() || claims.subject.is_empty() {
        return Err(JwtError::Malformed("empty iss or sub".into()));
    }
    Ok(Parsed {
        claims,
        signed: &token[..header.len() + 1 + payload.len()],
        signature,
    })
}

/// Reads the claims without checking the signature: for display only.
///
/// # Errors
/// When the token is not well formed.
pub fn decode_unverified<T: DeserializeOwned>(token: &str) -> Result<Claims<T>, JwtError> {
    let token = token.trim();
    check_size(token)?;
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| JwtError::Malformed("expected three segments".into()))?;
    read_payload(&decode_segment(payload, "payload")?)
}

/// Tokens longer than any real one are refused before they are decoded.
fn check_size(token: &str) -> Result<(), JwtError> {
    if token.len() > limits::ARTIFACT_CLAIMS {
        return Err(JwtError::Malformed(format!(
            "token of {} bytes is above the limit of {} bytes",
            token.len(),
            limits::ARTIFACT_CLAIMS
        )));
    }
    Ok(())
}

fn read_payload<T: DeserializeOwned>(json: &[u8]) -> Result<Claims<T>, JwtError> {
    decode::json("the token payload", json, limits::ARTIFACT_CLAIMS)
        .map_err(|e| JwtError::Malformed(e.to_string()))
}

fn check_header(segment: &str) -> Result<(), JwtError> {
    #[derive(Deserialize)]
    struct Header {
        typ: String,
        alg: String,
    }
    let bytes = decode_segment(segment, "header")?;
    if bytes == HEADER_JSON.as_bytes() {
        return Ok(());
    }
    let header: Header = decode::json("the token header", &bytes, limits::TEXT)
        .map_err(|e| JwtError::Malformed(e.to_string()))?;
    if header.alg == "Ed25519" && header.typ.eq_ignore_ascii_case("jwt") {
        Ok(())
    } else {
        Err(JwtError::Header)
    }
}

fn decode_segment(segment: &str, what: &str) -> Result<Vec<u8>, JwtError> {
    BASE64URL_NOPAD
        .decode(segment.as_bytes())
        .map_err(|e| JwtError::Malformed(format!("{what} is not base64url: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyKind;

    fn claims(issuer: &KeyPair) -> Claims<serde_json::Value> {
        Claims {
            expires: None,
            id: "j1".into(),
            issued_at: 100,
            issuer: issuer.public_key(),
            subject: "MSUBJECT".into(),
            not_before: None,
            metadata: Some(serde_json::json!({"x": 1})),
            wascap_revision: Some(WASCAP_REVISION),
        }
    }

    #[test]
    fn round_trips_and_verifies() {
        let account = KeyKind::Account.generate();
        let token = encode(&claims(&account), &account).unwrap();
        let back: Claims<serde_json::Value> = decode_verified(&token).unwrap();
        assert_eq!(back, claims(&account));
    }

    #[test]
    fn rejects_a_token_signed_by_another_key() {
        let account = KeyKind::Account.generate();
        let other = KeyKind::Account.generate();
        let token = encode(&claims(&account), &other).unwrap();
        let err = decode_verified::<serde_json::Value>(&token).unwrap_err();
        assert_eq!(err, JwtError::Signature(account.public_key()));
    }

    #[test]
    fn rejects_a_changed_payload() {
        let account = KeyKind::Account.generate();
        let token = encode(&claims(&account), &account).unwrap();
        let mut forged = claims(&account);
        forged.subject = "MOTHER".into();
        let forged_payload = BASE64URL_NOPAD.encode(&serde_json::to_vec(&forged).unwrap());
        let parts: Vec<&str> = token.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert!(matches!(
            decode_verified::<serde_json::Value>(&tampered),
            Err(JwtError::Signature(_))
        ));
    }

    #[test]
    fn rejects_other_algorithms_and_garbage() {
        let header = BASE64URL_NOPAD.encode(br#"{"typ":"jwt","alg":"none"}"#);
        let token = format!("{header}.e30.AA");
        assert_eq!(
            decode_verified::<serde_json::Value>(&token).unwrap_err(),
            JwtError::Header
        );
        assert!(matches!(
            decode_verified::<serde_json::Value>("not a token"),
            Err(JwtError::Malformed(_))
        ));
        assert!(matches!(
            decode_verified::<serde_json::Value>("a.b.c"),
            Err(JwtError::Malformed(_))
        ));
    }

    #[test]
    fn trusted_decoding_refuses_strangers_and_checks_signatures() {
        let account = KeyKind::Account.generate();
        let token = encode(&claims(&account), &account).unwrap();
        let trusted = KeyPair::from_public_key(&account.public_key()).unwrap();
        let read: Claims<serde_json::Value> = decode_trusted(&token, |iss| {
            (iss == account.public_key()).then_some(&trusted)
        })
        .unwrap();
        assert_eq!(read, claims(&account));
        assert_eq!(
            decode_trusted::<serde_json::Value>(&token, |_| None).unwrap_err(),
            JwtError::UnknownIssuer(account.public_key())
        );
        let other = KeyKind::Account.generate();
        assert_eq!(
            decode_trusted::<serde_json::Value>(&token, |_| Some(&other)).unwrap_err(),
            JwtError::Signature(account.public_key())
        );
    }

    #[test]
    fn refuses_oversized_and_deeply_nested_tokens() {
        let huge = format!("{}.{}.AA", "e30", "A".repeat(limits::ARTIFACT_CLAIMS));
        let error = decode_verified::<serde_json::Value>(&huge).unwrap_err();
        assert!(error.to_string().contains("above the limit"), "{error}");
        let deep = format!(
            r#"{{"iss":"A","sub":"M","wascap":{}{}}}"#,
            "[".repeat(1000),
            "]".repeat(1000)
        );
        let token = format!(
            "{}.{}.AA",
            BASE64URL_NOPAD.encode(HEADER_JSON.as_bytes()),
            BASE64URL_NOPAD.encode(deep.as_bytes())
        );
        let error = decode_verified::<serde_json::Value>(&token).unwrap_err();
        assert!(error.to_string().contains("nests deeper"), "{error}");
    }

    #[test]
    fn checks_expiry_and_not_before() {
        let account = KeyKind::Account.generate();
        let mut c = claims(&account);
        c.expires = Some(50);
        assert_eq!(c.check_times(60), Err(JwtError::Expired { at: 50 }));
        assert_eq!(c.check_times(40), Ok(()));
        c.expires = None;
        c.not_before = Some(70);
        assert_eq!(c.check_times(60), Err(JwtError::NotYetValid { from: 70 }));
        assert_eq!(c.check_times(70), Ok(()));
    }
}
