//! What the fuzz targets share: a fixed cluster key, actor and clock, so that seeds
//! signed with them reach the checks behind the signature, and the inbound path as one
//! function the targets and the regression tests call.

use std::sync::OnceLock;

use kiln_types::inbound::{self, Refused};
use kiln_types::invocation::{ForgeryError, InvocationResponse, Issuers};
use kiln_types::keys::KeyPair;
use kiln_types::replay::{Guard, Settings};

/// The cluster seed the seeds are signed with (made for the fuzzers; it guards nothing).
pub const CLUSTER_SEED: &str = "SCABWNLTBFZSVFKBA2FLOAIRHYMYWHGQIJUF32SAP6NWRQV6KBQHAXMD64";
/// The actor that receives the invocations.
pub const ACTOR: &str = "MDRFHAZK6UXM2VDVVQ3UCYXM2ZL2C5UM75MESRZ435FA6R4RLJLIQLTK";
/// The clock of every check, and the `iat` of the seeds.
pub const NOW: u64 = 1_800_000_000;
/// The receiving actor's capabilities.
pub const CAPS: [&str; 2] = ["wasmcloud:httpserver", "wasmcloud:keyvalue"];

/// The cluster key pair.
#[must_use]
pub fn cluster() -> KeyPair {
    KeyPair::from_seed(CLUSTER_SEED).expect("invariant: the fixed seed parses")
}

fn issuers() -> &'static Issuers {
    static ISSUERS: OnceLock<Issuers> = OnceLock::new();
    ISSUERS.get_or_init(|| {
        Issuers::new([cluster().public_key()]).expect("invariant: a public key parses")
    })
}

/// The inbound path of a host for raw message bytes, up to where the data plane would
/// be called: decode, target, signature, clocks and replays, payload hash (when the
/// payload came whole), the origin's contract against the actor's caps; a refusal is
/// encoded as the reply the host sends. Returns whether the call would run. Panics
/// only on a broken invariant: an admitted invocation delivered again must be refused
/// as a replay, and a refusal must read back as sent.
#[must_use]
pub fn inbound(bytes: &[u8]) -> bool {
    let guard = Guard::new(Settings::default(), NOW);
    let admitted = match inbound::admit(bytes, ACTOR, issuers(), &guard, NOW) {
        Ok(admitted) => admitted,
        Err(refused) => {
            // The refusal goes back as the host sends it, and must read back.
            let reply = InvocationResponse::failure("", refused.to_string()).encode();
            let read = InvocationResponse::decode(&reply).expect("a refusal reads back");
            assert_eq!(read.error.as_deref(), Some(refused.to_string().as_str()));
            return false;
        }
    };
    let again = inbound::admit(bytes, ACTOR, issuers(), &guard, NOW);
    assert!(
        matches!(again, Err(Refused::Forgery(ForgeryError::Replayed))),
        "a second delivery was not refused as a replay: {again:?}"
    );
    let invocation = &admitted.invocation;
    let whole = usize::try_from(invocation.content_length.unwrap_or(0))
        .is_ok_and(|full| full <= invocation.msg.len());
    if !whole {
        // Chunked: the host fetches the payload from the object store first.
        return false;
    }
    if invocation
        .check_hash(&admitted.claims, &invocation.msg)
        .is_err()
    {
        return false;
    }
    let origin = &invocation.origin;
    origin.is_actor() || CAPS.contains(&origin.contract_id.as_str())
}

#[cfg(test)]
mod tests {
    use kiln_types::invocation::{Entity, Invocation};

    use super::*;

    #[test]
    fn a_signed_call_from_a_linked_provider_runs_once() {
        let call = Invocation::new_signed(
            &cluster(),
            Entity::provider(
                "VAT4GJDZRXRHEU2GB2PITAB6KP5VMPWTQS24N52PSBE43D3DUWLTBB6X",
                "wasmcloud:httpserver",
                "default",
            ),
            Entity::actor(ACTOR),
            "HttpServer.HandleRequest",
            b"payload".to_vec(),
            NOW,
        )
        .unwrap();
        assert!(inbound(&call.encode()));
        let mut tampered = call.clone();
        tampered.msg = b"PAYLOAD".to_vec();
        assert!(!inbound(&tampered.encode()));
        assert!(!inbound(b""));
    }
}
