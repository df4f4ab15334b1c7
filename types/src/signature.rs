//! A token's Ed25519 signature apart from its other checks, so that a receiver under load
//! can check many at once ([`check_all`], Ed25519 batch verification) and one alone
//! costs what it did ([`Unchecked::check`]).
//!
//! A batch either verifies as a whole, and then every signature in it is good, or it
//! does not, and then each is checked alone to find the bad ones: a bad signature can
//! make its batch slower, never another call's answer wrong. Batch verification checks
//! the cofactored equation, single verification the cofactorless one; they differ only
//! for signatures with a small-order component, which nobody without the issuer's key
//! can make for a message the issuer did not sign.

use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};

/// A signature that does not verify with its issuer's key (or is no signature), or a
/// key that is none; the JWT error type has both as cases of its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadSignature {
    /// The signature does not verify with this issuer's key.
    #[error("token signature does not verify with issuer {0}")]
    Signature(String),
    /// Not an nkeys public key.
    #[error("token issuer {0:?} is not a public key")]
    Issuer(String),
}

/// A signature over a token's `header.payload`, by the issuer's key, not yet checked.
#[derive(Debug, Clone)]
pub struct Unchecked {
    signed: Vec<u8>,
    signature: Signature,
    key: VerifyingKey,
    issuer: String,
}

impl Unchecked {
    /// The signature `signature` over `signed` by `issuer`, whose key is `key`.
    ///
    /// # Errors
    /// [`BadSignature::Signature`] when `signature` is not 64 bytes.
    pub fn new(
        signed: &[u8],
        signature: &[u8],
        key: VerifyingKey,
        issuer: &str,
    ) -> Result<Unchecked, BadSignature> {
        let signature = Signature::from_slice(signature)
            .map_err(|_| BadSignature::Signature(issuer.to_string()))?;
        Ok(Unchecked {
            signed: signed.to_vec(),
            signature,
            key,
            issuer: issuer.to_string(),
        })
    }

    /// Checks it alone.
    ///
    /// # Errors
    /// [`BadSignature::Signature`] when it does not verify.
    pub fn check(&self) -> Result<(), BadSignature> {
        self.key
            .verify(&self.signed, &self.signature)
            .map_err(|_| self.failure())
    }

    /// The error of this signature failing.
    #[must_use]
    pub fn failure(&self) -> BadSignature {
        BadSignature::Signature(self.issuer.clone())
    }
}

/// Whether each signature verifies: one batch when there are several, each alone when
/// the batch does not verify.
#[must_use]
pub fn check_all(unchecked: &[&Unchecked]) -> Vec<bool> {
    if let [one] = unchecked {
        return vec![one.check().is_ok()];
    }
    let messages: Vec<&[u8]> = unchecked.iter().map(|u| u.signed.as_slice()).collect();
    let signatures: Vec<Signature> = unchecked.iter().map(|u| u.signature).collect();
    let keys: Vec<VerifyingKey> = unchecked.iter().map(|u| u.key).collect();
    if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
        return vec![true; unchecked.len()];
    }
    unchecked.iter().map(|u| u.check().is_ok()).collect()
}

/// The Ed25519 key of an nkeys public key.
///
/// # Errors
/// [`BadSignature::Issuer`] for a string that is not a public key.
pub fn key_of(public_key: &str) -> Result<VerifyingKey, BadSignature> {
    let (_, raw) = nkeys::from_public_key(public_key)
        .map_err(|_| BadSignature::Issuer(public_key.to_string()))?;
    VerifyingKey::from_bytes(&raw).map_err(|_| BadSignature::Issuer(public_key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyKind;

    fn signed(message: &[u8]) -> Unchecked {
        let signer = KeyKind::Cluster.generate();
        let signature = signer.sign(message).unwrap();
        let key = key_of(&signer.public_key()).unwrap();
        Unchecked::new(message, &signature, key, &signer.public_key()).unwrap()
    }

    #[test]
    fn a_batch_finds_its_bad_signatures_and_one_alone_is_checked_alone() {
        let good: Vec<Unchecked> = (0..8u8).map(|i| signed(&[i; 40])).collect();
        let refs: Vec<&Unchecked> = good.iter().collect();
        assert_eq!(check_all(&refs), vec![true; 8]);
        assert_eq!(check_all(&refs[..1]), vec![true]);
        // A signature over other bytes, in the middle of a batch.
        let mut forged = signed(b"what was signed");
        forged.signed = b"what was sent".to_vec();
        assert!(forged.check().is_err());
        let mut mixed = refs.clone();
        mixed.insert(3, &forged);
        let results = check_all(&mixed);
        assert_eq!(results.iter().filter(|ok| !**ok).count(), 1);
        assert!(!results[3]);
        assert_eq!(check_all(&[&forged]), vec![false]);
        assert!(check_all(&[]).is_empty());
        assert!(key_of("not a key").is_err());
        assert!(Unchecked::new(b"x", &[0; 10], good[0].key, "iss").is_err());
    }
}
