//! Everything the host must refuse, each with a clear error, and still serve after.

use kiln_integration_tests::{Harness, Options, fixtures, http};
use kiln_types::claims::ActorSpec;
use kiln_types::invocation::{Entity, Invocation};
use kiln_types::keys::KeyKind;

async fn echo(h: &Harness) -> String {
    h.launch_sample("echo").await
}

async fn assert_serving(h: &Harness, echo: &str) {
    let response = h
        .invoke(echo, "HttpServer.HandleRequest", http::get("/ok"))
        .await;
    assert_eq!(response.error, None, "the host keeps serving\n{}", h.logs());
}

fn spec(expires: Option<u64>, not_before: Option<u64>) -> ActorSpec {
    ActorSpec {
        name: Some("fixture".into()),
        caps: vec!["wasmcloud:httpserver".into()],
        expires,
        not_before,
        ..ActorSpec::default()
    }
}

#[tokio::test]
async fn refuses_bad_modules_with_the_reason() {
    let h = Harness::start().await;
    let echo_key = echo(&h).await;
    let module = fixtures::wat("echo");
    let now = kiln_types::unix_now();

    let ack = h.launch_bytes("unsigned.wasm", &module).await;
    assert!(!ack.accepted);
    assert_eq!(
        ack.error,
        "module is not signed: no wasmcloud_jwt or jwt section"
    );

    let (signed, _) = fixtures::sign(&module, &spec(None, None));
    let mut tampered = signed.clone();
    // The last instruction byte of the code section, just before the claims section.
    let at = module.len() - 2;
    tampered[at] ^= 0x01;
    let ack = h.launch_bytes("tampered.wasm", &tampered).await;
    assert!(!ack.accepted);
    assert!(
        ack.error.starts_with("module hash mismatch"),
        "{}",
        ack.error
    );

    let (expired, _) = fixtures::sign(&module, &spec(Some(now - 60), None));
    let ack = h.launch_bytes("expired.wasm", &expired).await;
    assert!(!ack.accepted);
    assert!(
        ack.error
            .starts_with("actor claims rejected: token expired"),
        "{}",
        ack.error
    );

    let (early, _) = fixtures::sign(&module, &spec(None, Some(now + 3600)));
    let ack = h.launch_bytes("early.wasm", &early).await;
    assert!(!ack.accepted);
    assert!(
        ack.error
            .starts_with("actor claims rejected: token not valid before"),
        "{}",
        ack.error
    );

    let ack = h.launch_bytes("garbage.wasm", b"\0asm garbage").await;
    assert!(!ack.accepted);
    assert!(
        ack.error.starts_with("not a valid wasm binary"),
        "{}",
        ack.error
    );

    let ack = h.command("la", &serde_json::json!({"count": 1})).await;
    assert!(!ack.accepted);
    assert!(
        ack.error.contains("missing field `actor_ref`"),
        "{}",
        ack.error
    );

    assert_serving(&h, &echo_key).await;
    assert_eq!(h.inventory().await["actors"].as_array().unwrap().len(), 1);
}

/// Starts a host with `args` for its control plane, launches echo, returns the refusal.
async fn echo_refused_by_host_with(args: &[&str]) -> String {
    let h = Harness::with(Options {
        control_plane_args: args.iter().map(ToString::to_string).collect(),
        ..Options::default()
    })
    .await;
    let ack = h.launch(&fixtures::sample_actor("echo")).await;
    assert!(!ack.accepted, "{ack:?}");
    ack.error
}

#[tokio::test]
async fn refuses_actors_signed_by_issuers_not_allowed() {
    let allowed = KeyKind::Account.generate().public_key();
    let error = echo_refused_by_host_with(&["--allowed-issuers", &allowed]).await;
    assert!(error.ends_with("is not an allowed issuer"), "{error}");
}

#[tokio::test]
async fn refuses_files_when_file_load_is_off() {
    let error = echo_refused_by_host_with(&["--allow-file-load", "false"]).await;
    assert!(
        error.starts_with("starting from files is disabled"),
        "{error}"
    );
}

#[tokio::test]
async fn refuses_forged_invocations_before_they_reach_wasm() {
    let h = Harness::start().await;
    let echo_key = echo(&h).await;
    let good = || h.invocation(&echo_key, "HttpServer.HandleRequest", http::get("/"));

    // A signature that does not verify.
    let mut bad_signature = good();
    let mut parts: Vec<String> = bad_signature
        .encoded_claims
        .split('.')
        .map(String::from)
        .collect();
    parts[2] = data_encoding::BASE64URL_NOPAD.encode(&[1u8; 64]);
    bad_signature.encoded_claims = parts.join(".");
    let error = h.send(&bad_signature).await.error.unwrap();
    assert!(
        error.starts_with(
            "anti-forgery check failed: invocation claims rejected: token signature does not verify"
        ),
        "{error}"
    );

    // Signed by a cluster key this host does not trust.
    let stranger = KeyKind::Cluster.generate();
    let unknown = Invocation::new_signed(
        &stranger,
        Entity::actor(KeyKind::Module.generate().public_key()),
        Entity::actor(&echo_key),
        "HttpServer.HandleRequest",
        http::get("/"),
        kiln_types::unix_now(),
    )
    .unwrap();
    let error = h.send(&unknown).await.error.unwrap();
    assert_eq!(
        error,
        format!(
            "anti-forgery check failed: issuer {} is not a cluster issuer of this lattice",
            stranger.public_key()
        )
    );

    // The payload changed after signing.
    let mut tampered = good();
    tampered.msg = http::get("/admin");
    let error = h.send(&tampered).await.error.unwrap();
    assert_eq!(
        error,
        "anti-forgery check failed: invocation hash does not match the signed hash"
    );

    // Signed for one actor, re-addressed to another.
    let mut redirected = h.invocation(
        &KeyKind::Module.generate().public_key(),
        "HttpServer.HandleRequest",
        http::get("/"),
    );
    redirected.target = Entity::actor(&echo_key);
    let error = h.send(&redirected).await.error.unwrap();
    assert!(
        error.starts_with(
            "anti-forgery check failed: invocation claims and invocation target URL do not match"
        ),
        "{error}"
    );

    // Correctly signed for another actor but sent to this one's subject.
    let elsewhere = h.invocation(
        &KeyKind::Module.generate().public_key(),
        "HttpServer.HandleRequest",
        http::get("/"),
    );
    let error = h
        .send_raw(&echo_key, elsewhere.encode())
        .await
        .error
        .unwrap();
    assert!(error.starts_with("invocation is addressed to M"), "{error}");

    // Not msgpack at all, and msgpack of the wrong shape.
    let error = h
        .send_raw(&echo_key, b"\xc1 definitely not msgpack".to_vec())
        .await
        .error
        .unwrap();
    assert!(
        error.starts_with("failed to deserialize invocation"),
        "{error}"
    );
    let error = h
        .send_raw(&echo_key, rmp_serde::to_vec(&[1, 2, 3]).unwrap())
        .await
        .error
        .unwrap();
    assert!(
        error.starts_with("failed to deserialize invocation"),
        "{error}"
    );

    assert_serving(&h, &echo_key).await;
}

#[tokio::test]
async fn provider_origins_need_their_contract_in_the_actors_caps() {
    let h = Harness::start().await;
    let echo_key = echo(&h).await;
    let call_from = |contract: &str| {
        Invocation::new_signed(
            &h.cluster,
            Entity::provider(
                KeyKind::Service.generate().public_key(),
                contract,
                "default",
            ),
            Entity::actor(&echo_key),
            "HttpServer.HandleRequest",
            http::get("/"),
            kiln_types::unix_now(),
        )
        .unwrap()
    };
    let error = h
        .send(&call_from("wasmcloud:keyvalue"))
        .await
        .error
        .unwrap();
    assert!(
        error.contains("does not have the capability claim wasmcloud:keyvalue"),
        "{error}"
    );
    let response = h.send(&call_from("wasmcloud:httpserver")).await;
    assert_eq!(response.error, None);
    assert_eq!(http::response(&response.msg).status_code, 200);
}
