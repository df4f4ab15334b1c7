use super::*;
use crate::keys::KeyKind;

const NOW: u64 = 1_700_000_000;

fn echo_call(cluster: &KeyPair, actor: &str) -> Invocation {
    Invocation::new_signed(
        cluster,
        Entity::provider("VPROVIDER", "wasmcloud:httpserver", "default"),
        Entity::actor(actor),
        "HttpServer.HandleRequest",
        b"hello".to_vec(),
        NOW,
    )
    .unwrap()
}

fn trusted(cluster: &KeyPair) -> Issuers {
    Issuers::new([cluster.public_key()]).unwrap()
}

#[test]
fn entity_urls_follow_the_wasmbus_scheme() {
    assert_eq!(Entity::actor("MABC").url(), "wasmbus://MABC");
    assert_eq!(
        Entity::provider("VXYZ", "wasmcloud:httpserver", "Default Link").url(),
        "wasmbus://wasmcloud/httpserver/default_link/VXYZ"
    );
}

#[test]
fn signed_invocation_round_trips_and_verifies() {
    let cluster = KeyKind::Cluster.generate();
    let inv = echo_call(&cluster, &KeyKind::Module.generate().public_key());
    let decoded = Invocation::decode(&inv.encode()).unwrap();
    assert_eq!(decoded, inv);
    let claims = decoded.verify(&trusted(&cluster), NOW).unwrap();
    decoded.check_hash(&claims, &decoded.msg).unwrap();
    assert_eq!(decoded.host_id, cluster.public_key());
    assert_eq!(claims.subject, inv.id);
}

#[test]
fn rejects_an_unknown_issuer() {
    let cluster = KeyKind::Cluster.generate();
    let inv = echo_call(&cluster, "MACTOR");
    let other = KeyKind::Cluster.generate();
    assert_eq!(
        inv.verify(&trusted(&other), NOW).unwrap_err(),
        ForgeryError::Issuer(cluster.public_key())
    );
}

#[test]
fn rejects_a_tampered_payload() {
    let cluster = KeyKind::Cluster.generate();
    let mut inv = echo_call(&cluster, "MACTOR");
    inv.msg = b"HELLO".to_vec();
    let claims = inv.verify(&trusted(&cluster), NOW).unwrap();
    assert_eq!(inv.check_hash(&claims, &inv.msg), Err(ForgeryError::Hash));
}

#[test]
fn rejects_a_redirected_target() {
    let cluster = KeyKind::Cluster.generate();
    let mut inv = echo_call(&cluster, "MACTOR");
    inv.target.public_key = "MOTHER".into();
    assert!(matches!(
        inv.verify(&trusted(&cluster), NOW),
        Err(ForgeryError::TargetUrl { .. })
    ));
}

#[test]
fn rejects_a_bad_signature() {
    let cluster = KeyKind::Cluster.generate();
    let mut inv = echo_call(&cluster, "MACTOR");
    let mut parts: Vec<String> = inv.encoded_claims.split('.').map(String::from).collect();
    parts[2] = data_encoding::BASE64URL_NOPAD.encode(&[7u8; 64]);
    inv.encoded_claims = parts.join(".");
    assert!(matches!(
        inv.verify(&trusted(&cluster), NOW),
        Err(ForgeryError::Token(JwtError::Signature(_)))
    ));
}

#[test]
fn rejects_a_short_host_id() {
    let cluster = KeyKind::Cluster.generate();
    let mut inv = echo_call(&cluster, "MACTOR");
    inv.host_id = "Nshort".into();
    assert!(matches!(
        inv.verify(&trusted(&cluster), NOW),
        Err(ForgeryError::HostId(_))
    ));
}

#[test]
fn reads_msg_written_as_str_or_array() {
    // The OTP host writes binaries as msgpack str, and an empty msg as an empty array.
    #[derive(Serialize)]
    struct Loose<'a, M: Serialize> {
        msg: M,
        invocation_id: &'a str,
        error: &'a str,
    }
    let as_str = rmp_serde::to_vec_named(&Loose {
        msg: "text body",
        invocation_id: "i1",
        error: "boom",
    })
    .unwrap();
    let resp = InvocationResponse::decode(&as_str).unwrap();
    assert_eq!(resp.msg, b"text body");
    assert_eq!(resp.error.as_deref(), Some("boom"));
    let as_array = rmp_serde::to_vec_named(&Loose {
        msg: Vec::<u8>::new(),
        invocation_id: "i2",
        error: "not running",
    })
    .unwrap();
    assert!(
        InvocationResponse::decode(&as_array)
            .unwrap()
            .msg
            .is_empty()
    );
}

#[test]
fn writes_msg_as_bin() {
    let bytes = InvocationResponse::success("i", vec![1, 2, 3]).encode();
    // fixmap, then "msg" key, then bin8 of length 3.
    assert_eq!(&bytes[..8], &[0x83, 0xa3, b'm', b's', b'g', 0xc4, 3, 1]);
}

#[test]
fn refuses_garbage_bytes() {
    let err = Invocation::decode(&[0xc1, 0xff, 0x00]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("failed to deserialize invocation")
    );
}
