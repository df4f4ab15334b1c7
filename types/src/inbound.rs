//! The checks an inbound invocation passes before anything is done for it, with no I/O:
//! what a host (for an actor) and a provider run on the bytes of every message on their
//! RPC subjects. The payload's hash is checked apart ([`Invocation::check_hash`]), once
//! a chunked payload has been fetched.

use crate::invocation::{DecodeError, ForgeryError, Invocation, InvocationClaims, Issuers};
use crate::replay::Guard;
use crate::signature::Unchecked;

/// Why an inbound invocation was refused before it ran.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Not a msgpack invocation within the limits.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Failed an anti-forgery, clock or replay check.
    #[error("anti-forgery check failed: {0}")]
    Forgery(#[from] ForgeryError),
    /// Sent to one entity's subject but addressed to another.
    #[error("invocation is addressed to {target}, not to {receiver}")]
    WrongTarget {
        /// Addressed to.
        target: String,
        /// Received by.
        receiver: String,
    },
}

/// An invocation that passed: decoded, signed by a trusted issuer, fresh, seen once,
/// addressed to the receiver.
#[derive(Debug)]
pub struct Admitted {
    /// The invocation.
    pub invocation: Invocation,
    /// Its verified claims.
    pub claims: InvocationClaims,
}

/// Checks the bytes of a message received by `receiver` (a public key) at `now`:
/// decoded within the limits, then [`check`]ed.
///
/// # Errors
/// See [`Refused`].
pub fn admit(
    bytes: &[u8],
    receiver: &str,
    issuers: &Issuers,
    replay: &Guard,
    now: u64,
) -> Result<Admitted, Refused> {
    let invocation = Invocation::decode(bytes)?;
    let claims = check(&invocation, receiver, issuers, replay, now)?;
    Ok(Admitted { invocation, claims })
}

/// Checks a decoded invocation received by `receiver` at `now`: addressed to
/// `receiver`, signed by one of `issuers`, within the clock and replay bounds of
/// `replay`. The cheapest checks come first; the replay memory records only
/// invocations addressed here whose signature verified.
///
/// # Errors
/// See [`Refused`].
pub fn check(
    invocation: &Invocation,
    receiver: &str,
    issuers: &Issuers,
    replay: &Guard,
    now: u64,
) -> Result<InvocationClaims, Refused> {
    let (claims, signature) = unchecked(invocation, receiver, issuers)?;
    signature
        .check()
        .map_err(|bad| ForgeryError::Token(bad.into()))?;
    checked(invocation, claims, replay, now)
}

/// The first half of [`check`], for a receiver that checks signatures in batches:
/// addressed to `receiver`, claims of a trusted issuer, their signature left to check.
///
/// # Errors
/// See [`Refused`].
pub fn unchecked(
    invocation: &Invocation,
    receiver: &str,
    issuers: &Issuers,
) -> Result<(InvocationClaims, Unchecked), Refused> {
    if invocation.target.public_key != receiver {
        return Err(Refused::WrongTarget {
            target: invocation.target.public_key.clone(),
            receiver: receiver.to_string(),
        });
    }
    Ok(invocation.unchecked_claims(issuers)?)
}

/// The second half of [`check`], once the signature verified: the claims against the
/// invocation at `now`, then the replay memory.
///
/// # Errors
/// See [`Refused`].
pub fn checked(
    invocation: &Invocation,
    claims: InvocationClaims,
    replay: &Guard,
    now: u64,
) -> Result<InvocationClaims, Refused> {
    invocation.check_claims(&claims, now)?;
    replay.admit(&claims, now)?;
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invocation::Entity;
    use crate::keys::KeyKind;
    use crate::replay::Settings;

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn admits_once_and_refuses_with_the_reason() {
        let cluster = KeyKind::Cluster.generate();
        let issuers = Issuers::new([cluster.public_key()]).unwrap();
        let guard = Guard::new(Settings::default(), NOW);
        let actor = KeyKind::Module.generate().public_key();
        let call = Invocation::new_signed(
            &cluster,
            Entity::actor(KeyKind::Module.generate().public_key()),
            Entity::actor(&actor),
            "Echo.Say",
            b"hi".to_vec(),
            NOW,
        )
        .unwrap();
        let bytes = call.encode();
        let other = KeyKind::Module.generate().public_key();
        assert!(matches!(
            admit(&bytes, &other, &issuers, &guard, NOW),
            Err(Refused::WrongTarget { .. })
        ));
        let admitted = admit(&bytes, &actor, &issuers, &guard, NOW).unwrap();
        admitted
            .invocation
            .check_hash(&admitted.claims, &admitted.invocation.msg)
            .unwrap();
        assert!(matches!(
            admit(&bytes, &actor, &issuers, &guard, NOW),
            Err(Refused::Forgery(ForgeryError::Replayed))
        ));
        assert!(matches!(
            admit(b"\x91\x91\xc0", &actor, &issuers, &guard, NOW),
            Err(Refused::Decode(_))
        ));
        let stranger = Issuers::new([KeyKind::Cluster.generate().public_key()]).unwrap();
        assert!(matches!(
            admit(&bytes, &actor, &stranger, &guard, NOW),
            Err(Refused::Forgery(ForgeryError::Issuer(_)))
        ));
    }
}
