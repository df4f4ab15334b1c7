//! Hostile input from anyone who can reach NATS: every message gets a clear error, no
//! process dies of it, and the next good call is answered as before.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use kiln_integration_tests::{Harness, Options, eventually, fixtures, http};
use kiln_types::claims::ActorSpec;
use kiln_types::invocation::{
    Entity, Invocation, InvocationClaims, InvocationMeta, InvocationResponse, invocation_hash,
};
use kiln_types::keys::KeyKind;
use kiln_wasmbus::subjects;

/// `{"x": [[[…]]]}` nested `levels` deep, in msgpack: about 2 kB for 2,000 levels.
fn deeply_nested(levels: usize) -> Vec<u8> {
    let mut bytes = vec![0x81, 0xa1, b'x'];
    bytes.extend(std::iter::repeat_n(0x91, levels));
    bytes.push(0xc0);
    bytes
}

async fn echo(h: &Harness) -> String {
    h.launch_sample("echo").await
}

async fn assert_echo_answers(h: &Harness, echo: &str) {
    let response = h
        .invoke(echo, "HttpServer.HandleRequest", http::get("/ok"))
        .await;
    assert_eq!(response.error, None, "the host keeps serving\n{}", h.logs());
}

async fn request(h: &Harness, subject: String, payload: Vec<u8>) -> InvocationResponse {
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        h.client.request(subject, payload.into()),
    )
    .await
    .expect("an answer in time")
    .expect("a reply");
    InvocationResponse::decode(&reply.payload).expect("an InvocationResponse")
}

#[tokio::test]
async fn deep_nesting_is_refused_on_actor_and_provider_subjects_and_in_host_call_replies() {
    let mut h = Harness::start().await;
    let echo = echo(&h).await;
    let mut rpc_events = h
        .client
        .subscribe(subjects::rpc_events(&h.lattice))
        .await
        .unwrap();
    h.client.flush().await.unwrap();

    // On an actor's subject.
    let response = h.send_raw(&echo, deeply_nested(2_000)).await;
    let error = response.error.expect("an error reply");
    assert!(error.contains("nests deeper than 32 levels"), "{error}");
    let event = tokio::time::timeout(Duration::from_secs(5), rpc_events.next())
        .await
        .expect("an invocation event")
        .unwrap();
    let event: serde_json::Value = serde_json::from_slice(&event.payload).unwrap();
    assert_eq!(event["type"], "com.wasmcloud.lattice.invocation_failed");
    assert_eq!(event["data"]["dest"]["public_key"], echo.as_str());
    assert_echo_answers(&h, &echo).await;

    // On a provider's subject, and as a link definition it is sent.
    let archive = fixtures::provider_archive("httpserver");
    assert!(h.launch_provider(&archive, "default").await.accepted);
    let provider = fixtures::provider_key(&archive);
    let subject = subjects::provider_rpc(&h.lattice, &provider, "default");
    let response = request(&h, subject.clone(), deeply_nested(2_000)).await;
    let error = response.error.expect("an error reply");
    assert!(error.contains("nests deeper than 32 levels"), "{error}");
    h.client
        .publish(
            subjects::provider_linkdefs_put(&h.lattice, &provider, "default"),
            deeply_nested(2_000).into(),
        )
        .await
        .unwrap();
    let health = tokio::time::timeout(
        Duration::from_secs(5),
        h.client.request(
            subjects::provider_health(&h.lattice, &provider, "default"),
            "".into(),
        ),
    )
    .await;
    assert!(matches!(health, Ok(Ok(_))), "the provider still answers");
    let inventory = h.data_plane_inventory().await;
    assert_eq!(inventory.providers[0].restarts, 0, "it never died");

    // As the reply to an actor's host call: the caller of the actor gets the error.
    let (module, key) = fixtures::sign(&fixtures::wat("hostcall"), &ActorSpec::default());
    assert!(h.launch_bytes("hostcall.wasm", &module).await.accepted);
    let stranger = KeyKind::Module.generate().public_key();
    let mut calls = h
        .client
        .subscribe(subjects::actor_rpc(&h.lattice, &stranger))
        .await
        .unwrap();
    h.client.flush().await.unwrap();
    let client = h.client.clone();
    let answering = tokio::spawn(async move {
        let call = calls.next().await.unwrap();
        client
            .publish(call.reply.unwrap(), deeply_nested(2_000).into())
            .await
            .unwrap();
        client.flush().await.unwrap();
    });
    let payload = fixtures::host_call("", &stranger, "Any.Op", b"");
    let response = h.invoke(&key.public_key(), "Any.Op", payload).await;
    answering.await.unwrap();
    let error = response.error.expect("an error reply");
    assert!(error.contains("nests deeper than 32 levels"), "{error}");

    assert!(h.control_plane.is_running(), "{}", h.logs());
    assert!(h.data_plane.is_running(), "{}", h.logs());
    assert_echo_answers(&h, &echo).await;
}

#[tokio::test]
async fn a_device_file_is_refused_and_memory_stays_flat() {
    let h = Harness::start().await;
    let echo = echo(&h).await;
    let before = h.control_plane.rss_kib();
    for device in ["/dev/zero", "/dev/urandom"] {
        let ack = h
            .launch_on(&h.host.public_key(), &format!("file://{device}"), 1)
            .await;
        assert!(!ack.accepted);
        assert_eq!(ack.error, format!("{device} is not a regular file"));
    }
    let after = h.control_plane.rss_kib();
    assert!(
        after < before + 32 * 1024,
        "control plane RSS grew from {before} to {after} KiB"
    );
    assert_echo_answers(&h, &echo).await;
}

#[tokio::test]
async fn huge_references_do_not_hold_up_other_calls() {
    let h = Harness::start().await;
    let echo = echo(&h).await;
    let started = Instant::now();
    assert_echo_answers(&h, &echo).await;
    let normal = started.elapsed();

    let subject = h
        .ctl()
        .command(&h.host.public_key(), subjects::Command::LaunchActor)
        .unwrap();
    let reference = format!("registry.example/{}:1", "a".repeat(400_000));
    let body = serde_json::to_vec(&serde_json::json!({ "actor_ref": reference })).unwrap();
    let launches: Vec<_> = (0..16)
        .map(|_| h.client.request(subject.clone(), body.clone().into()))
        .collect();
    let started = Instant::now();
    let (acks, ()) = tokio::join!(futures::future::join_all(launches), async {
        assert_echo_answers(&h, &echo).await;
    });
    let during = started.elapsed();
    for ack in acks {
        let ack: serde_json::Value = serde_json::from_slice(&ack.unwrap().payload).unwrap();
        assert_eq!(ack["accepted"], false);
        let error = ack["error"].as_str().unwrap();
        assert!(
            error.contains("a reference is 400019 bytes long"),
            "{error}"
        );
    }
    assert!(
        during < normal * 10 + Duration::from_millis(500),
        "an echo call took {during:?} among the huge references, {normal:?} alone"
    );
}

/// A correctly signed invocation of `actor` whose id (and claims subject) is `id`.
fn signed_with_id(h: &Harness, actor: &str, id: &str, payload: Vec<u8>) -> Invocation {
    let origin = Entity::actor(KeyKind::Module.generate().public_key());
    let target = Entity::actor(actor);
    let operation = "HttpServer.HandleRequest".to_string();
    let origin_url = origin.url();
    let target_url = format!("{}/{operation}", target.url());
    let claims = InvocationClaims {
        expires: None,
        id: uuid::Uuid::new_v4().simple().to_string(),
        issued_at: kiln_types::unix_now(),
        issuer: h.cluster.public_key(),
        subject: id.to_string(),
        not_before: None,
        metadata: Some(InvocationMeta {
            hash: invocation_hash(&origin_url, &target_url, &operation, &payload),
            target_url,
            origin_url,
        }),
        wascap_revision: Some(3),
    };
    Invocation {
        encoded_claims: kiln_types::jwt::encode(&claims, &h.cluster).unwrap(),
        origin,
        target,
        operation,
        content_length: Some(payload.len() as u64 + 1_000_000),
        msg: Vec::new(),
        id: id.to_string(),
        host_id: h.cluster.public_key(),
        trace_context: None,
    }
}

#[tokio::test]
async fn a_signed_chunked_invocation_with_a_huge_id_is_refused_and_the_connection_kept() {
    let h = Harness::start().await;
    let echo = echo(&h).await;
    let long = signed_with_id(&h, &echo, &"i".repeat(5_000), http::get("/"));
    let error = h.send(&long).await.error.expect("an error reply");
    assert!(
        error.contains("an id is 5000 bytes long, above the limit of 128"),
        "{error}"
    );
    assert_echo_answers(&h, &echo).await;
    assert!(
        !h.control_plane.log().contains("lost the NATS server"),
        "{}",
        h.logs()
    );
}

#[tokio::test]
async fn replays_and_invocations_from_the_future_are_refused() {
    let h = Harness::start().await;
    let echo = echo(&h).await;
    let call = h.invocation(&echo, "HttpServer.HandleRequest", http::get("/once"));
    assert_eq!(h.send(&call).await.error, None);
    for _ in 0..100 {
        let error = h.send(&call).await.error.expect("a replay is refused");
        assert_eq!(
            error,
            "anti-forgery check failed: invocation was already received once (a replay)"
        );
    }
    let ten_years = 10 * 365 * 24 * 3600;
    let future = Invocation::new_signed(
        &h.cluster,
        Entity::actor(KeyKind::Module.generate().public_key()),
        Entity::actor(&echo),
        "HttpServer.HandleRequest",
        http::get("/later"),
        kiln_types::unix_now() + ten_years,
    )
    .unwrap();
    let error = h.send(&future).await.error.expect("refused");
    assert!(error.contains("ahead of this host's clock"), "{error}");
    assert_echo_answers(&h, &echo).await;
}

#[tokio::test]
async fn overload_is_answered_busy_with_bounded_memory() {
    let h = Harness::with(Options {
        control_plane_args: vec![
            "--max-in-flight".into(),
            "64".into(),
            "--max-in-flight-per-actor".into(),
            "32".into(),
        ],
        data_plane_args: vec!["--deadline-ms".into(), "100".into()],
        ..Options::default()
    })
    .await;
    let echo = echo(&h).await;
    let (module, key) = fixtures::sign(&fixtures::wat("loop"), &ActorSpec::default());
    assert!(h.launch_bytes("loop.wasm", &module).await.accepted);
    let looping = key.public_key();
    let before = h.control_plane.rss_kib();

    let subject = subjects::actor_rpc(&h.lattice, &looping);
    let calls: Vec<_> = (0..3_000)
        .map(|_| {
            let call = h.invocation(&looping, "Any.Op", Vec::new()).encode();
            h.client.request(subject.clone(), call.into())
        })
        .collect();
    let answers = futures::future::join_all(calls).await;
    let mut busy = 0;
    let mut deadline = 0;
    for answer in answers {
        let response = InvocationResponse::decode(&answer.expect("every call answered").payload)
            .expect("a response");
        let error = response.error.expect("no call to a looping actor succeeds");
        if error.starts_with("actor busy") || error.starts_with("host busy") {
            busy += 1;
        } else if error.contains("deadline") {
            deadline += 1;
        }
    }
    assert!(busy > 2_000, "{busy} busy, {deadline} past the deadline");
    assert!(deadline > 0, "{busy} busy, {deadline} past the deadline");
    let after = h.control_plane.rss_kib();
    assert!(
        after < before + 64 * 1024,
        "control plane RSS grew from {before} to {after} KiB"
    );
    let (status, metrics) = h.http_get("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("kiln_invocations_busy_total"), "{metrics}");
    assert!(
        eventually(Duration::from_secs(10), || async {
            h.invoke(&echo, "HttpServer.HandleRequest", http::get("/after"))
                .await
                .error
                .is_none()
        })
        .await
    );
}
