//! The token format proven from both sides: tokens made by the `wascap` crate (the
//! reference reader and writer of wasmCloud) verify in kiln, and tokens kiln makes are
//! read and validated by `wascap`.
#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is a failed test, with its location"
)]

use kiln_types::claims::{self, ActorSpec, Policy};
use kiln_types::invocation::{Entity, Invocation};
use kiln_types::jwt;
use kiln_types::keys::KeyKind;
use wascap::jwt::{Claims, Component, validate_token};

fn module() -> Vec<u8> {
    wat::parse_str(
        r#"(module
             (memory (export "memory") 1)
             (func (export "__guest_call") (param i32 i32) (result i32) i32.const 1))"#,
    )
    .unwrap()
}

#[test]
fn actor_signed_by_wascap_verifies_in_kiln() {
    let account = KeyKind::Account.generate();
    let module_key = KeyKind::Module.generate();
    let theirs = Claims::<Component>::with_dates(
        "from-wascap".into(),
        account.public_key(),
        module_key.public_key(),
        Some(vec!["t1".into()]),
        None,
        Some(kiln_types::unix_now() + 3600),
        false,
        Some(7),
        Some("1.2.3".into()),
        Some("demo/alias".into()),
    );
    let signed = wascap::wasm::embed_claims(&module(), &theirs, &account).unwrap();
    let actor = claims::verify_actor(&signed, &Policy::default(), kiln_types::unix_now()).unwrap();
    assert_eq!(actor.key(), module_key.public_key());
    assert_eq!(actor.meta().name.as_deref(), Some("from-wascap"));
    assert_eq!(actor.meta().rev, Some(7));
    assert_eq!(actor.meta().call_alias.as_deref(), Some("demo/alias"));
    assert_eq!(actor.stripped, module());
}

#[test]
fn actor_signed_by_kiln_is_read_and_validated_by_wascap() {
    let account = KeyKind::Account.generate();
    let module_key = KeyKind::Module.generate();
    let spec = ActorSpec {
        name: Some("from-kiln".into()),
        caps: vec!["wasmcloud:httpserver".into(), "wasmcloud:keyvalue".into()],
        tags: vec!["demo".into()],
        rev: Some(3),
        ver: Some("0.3.0".into()),
        call_alias: Some("kiln/echo".into()),
        expires: Some(kiln_types::unix_now() + 600),
        not_before: None,
    };
    let signed = claims::sign_actor(
        &module(),
        &spec,
        &account,
        &module_key,
        kiln_types::unix_now(),
    )
    .unwrap();
    // extract_claims recomputes the module hash for revision-3 tokens, so this also
    // proves that both sides strip and hash the module the same way.
    let token = wascap::wasm::extract_claims(&signed)
        .unwrap()
        .expect("a token");
    assert_eq!(token.claims.subject, module_key.public_key());
    assert_eq!(token.claims.issuer, account.public_key());
    let meta = token.claims.metadata.as_ref().unwrap();
    assert_eq!(meta.name.as_deref(), Some("from-kiln"));
    assert_eq!(meta.call_alias.as_deref(), Some("kiln/echo"));
    assert_eq!(meta.rev, Some(3));
    assert_eq!(meta.ver.as_deref(), Some("0.3.0"));
    assert_eq!(meta.tags.as_deref(), Some(&["demo".to_string()][..]));

    let validation = validate_token::<Component>(&token.jwt).unwrap();
    assert!(validation.signature_valid);
    assert!(!validation.expired);
    assert!(!validation.cannot_use_yet);

    // wascap's struct has no `caps`; the field is in the payload it validated.
    let raw: jwt::Claims<serde_json::Value> = jwt::decode_unverified(&token.jwt).unwrap();
    assert_eq!(
        raw.metadata.unwrap()["caps"],
        serde_json::json!(["wasmcloud:httpserver", "wasmcloud:keyvalue"])
    );
}

#[test]
fn wascap_sees_our_tampered_module_as_tampered() {
    let account = KeyKind::Account.generate();
    let module_key = KeyKind::Module.generate();
    let mut signed = claims::sign_actor(
        &module(),
        &ActorSpec::default(),
        &account,
        &module_key,
        kiln_types::unix_now(),
    )
    .unwrap();
    let at = module().len() - 2;
    signed[at] = 0x02;
    assert!(wascap::wasm::extract_claims(&signed).is_err());
    assert!(claims::verify_actor(&signed, &Policy::default(), kiln_types::unix_now()).is_err());
}

#[test]
fn invocation_claims_agree_both_ways() {
    let cluster = KeyKind::Cluster.generate();
    let actor = KeyKind::Module.generate().public_key();
    let now = kiln_types::unix_now();

    // Ours, validated by wascap.
    let ours = Invocation::new_signed(
        &cluster,
        Entity::actor(KeyKind::Module.generate().public_key()),
        Entity::actor(&actor),
        "Ping.Pong",
        b"payload".to_vec(),
        now,
    )
    .unwrap();
    let validation = validate_token::<wascap::jwt::Invocation>(&ours.encoded_claims).unwrap();
    assert!(validation.signature_valid);
    let read = Claims::<wascap::jwt::Invocation>::decode(&ours.encoded_claims).unwrap();
    let meta = read.metadata.unwrap();
    assert_eq!(meta.target_url, ours.target_url());
    assert_eq!(meta.origin_url, ours.origin.url());

    // Theirs, verified by us.
    let mut theirs = ours.clone();
    let claims = Claims::<wascap::jwt::Invocation>::new(
        cluster.public_key(),
        theirs.id.clone(),
        &meta.target_url,
        &meta.origin_url,
        &meta.invocation_hash,
    );
    theirs.encoded_claims = claims.encode(&cluster).unwrap();
    let verified = theirs
        .verify(
            &kiln_types::invocation::Issuers::new([cluster.public_key()]).unwrap(),
            now,
        )
        .unwrap();
    theirs.check_hash(&verified, &theirs.msg).unwrap();
}
