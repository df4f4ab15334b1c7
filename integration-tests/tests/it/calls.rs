//! Calls that should work: echo, actor-to-actor by call alias, builtins, scaling.

use std::time::Duration;

use futures::StreamExt as _;
use kiln_integration_tests::{Harness, fixtures, http};
use kiln_wasmbus::subjects::{self, CtlSubject};

async fn launch_sample(h: &Harness, name: &str) -> String {
    let path = fixtures::sample_actor(name);
    let ack = h.launch(&path).await;
    assert!(ack.accepted, "{name}: {ack:?}\n{}", h.logs());
    fixtures::actor_key(&std::fs::read(path).unwrap())
}

#[tokio::test]
async fn echo_answers_a_hand_built_signed_invocation() {
    let h = Harness::start().await;
    let echo = launch_sample(&h, "echo").await;
    let response = h
        .invoke(
            &echo,
            "HttpServer.HandleRequest",
            http::request("POST", "/hello", b"wasm"),
        )
        .await;
    assert_eq!(response.error, None, "{}", h.logs());
    let reply = http::response(&response.msg);
    assert_eq!(reply.status_code, 200);
    let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(body["path"], "/hello");
    assert_eq!(body["method"], "POST");
    assert_eq!(body["body"], "wasm");
    assert_eq!(response.content_length, Some(response.msg.len() as u64));
}

#[tokio::test]
async fn echo_answers_the_cli() {
    let h = Harness::start().await;
    let echo = launch_sample(&h, "echo").await;
    let (ok, stdout, stderr) = h
        .cli(&[
            "call",
            &echo,
            "--http",
            "GET",
            "/from-cli?x=1",
            "-o",
            "json",
        ])
        .await;
    assert!(ok, "{stderr}\n{}", h.logs());
    let reply: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(reply["result"]["status"], 200);
    let body: serde_json::Value =
        serde_json::from_str(reply["result"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["path"], "/from-cli");
    assert_eq!(body["query_string"], "x=1");
    // Signed here and sent straight on NATS instead of through the control API.
    let (ok, stdout, stderr) = h
        .cli(&[
            "call",
            &echo,
            "--http",
            "GET",
            "/over-nats",
            "--nats",
            "-o",
            "json",
        ])
        .await;
    assert!(ok, "{stderr}");
    let reply: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(reply["invocation_id"].as_str().unwrap().len(), 36);
    assert!(
        reply["result"]["body"]
            .as_str()
            .unwrap()
            .contains("/over-nats")
    );
}

#[tokio::test]
async fn pinger_reaches_ponger_by_call_alias() {
    let h = Harness::start().await;
    launch_sample(&h, "ponger").await;
    let pinger = launch_sample(&h, "pinger").await;
    let response = h
        .invoke(&pinger, "HttpServer.HandleRequest", http::get("/"))
        .await;
    assert_eq!(response.error, None, "{}", h.logs());
    let reply = http::response(&response.msg);
    assert_eq!(
        String::from_utf8_lossy(&reply.body),
        "Ping pong",
        "{}",
        h.logs()
    );
}

#[tokio::test]
async fn pinger_reports_a_missing_ponger() {
    let h = Harness::start().await;
    let pinger = launch_sample(&h, "pinger").await;
    let response = h
        .invoke(&pinger, "HttpServer.HandleRequest", http::get("/"))
        .await;
    let reply = http::response(&response.msg);
    assert_eq!(reply.status_code, 502);
    let body = String::from_utf8_lossy(&reply.body);
    assert!(
        body.contains("missing link definition for demo/ponger"),
        "{body}"
    );
}

#[tokio::test]
async fn builtins_log_and_generate_numbers() {
    let h = Harness::start().await;
    let actor = launch_sample(&h, "randlogger").await;
    let response = h
        .invoke(&actor, "HttpServer.HandleRequest", http::get("/numbers"))
        .await;
    assert_eq!(response.error, None, "{}", h.logs());
    let body: serde_json::Value =
        serde_json::from_slice(&http::response(&response.msg).body).unwrap();
    assert_eq!(body["message"], "I did it");
    assert!(
        uuid::Uuid::parse_str(body["guid"].as_str().unwrap()).is_ok(),
        "{body}"
    );
    let in_range = body["in_range"].as_u64().unwrap();
    // min <= n <= max, as wasmCloud documents RandomInRange.
    assert!((10..=20).contains(&in_range), "{body}");
    assert!(body["random"].is_u64());
    assert!(
        h.data_plane
            .log()
            .contains("randlogger handling GET /numbers"),
        "the log line reaches the host log:\n{}",
        h.logs()
    );
}

#[tokio::test]
async fn scale_and_stop_change_the_inventory_and_the_subscription() {
    let h = Harness::start().await;
    let echo = launch_sample(&h, "echo").await;
    let ack = h
        .command(
            "scale",
            &serde_json::json!({"actor_id": echo, "actor_ref": "", "count": 3}),
        )
        .await;
    assert!(ack.accepted, "{ack:?}");
    let inventory = h.inventory().await;
    let actor = &inventory["actors"][0];
    assert_eq!(actor["id"], echo);
    assert_eq!(actor["name"], "Echo");
    assert_eq!(actor["instances"].as_array().unwrap().len(), 3);
    assert_eq!(actor["instances"][0]["revision"], 1);

    // Three instances serve three calls at once.
    let calls = (0..6).map(|i| {
        h.invoke(
            &echo,
            "HttpServer.HandleRequest",
            http::get(&format!("/{i}")),
        )
    });
    for response in futures::future::join_all(calls).await {
        assert_eq!(response.error, None);
    }

    let ack = h
        .command("sa", &serde_json::json!({"actor_ref": echo, "count": 0}))
        .await;
    assert!(ack.accepted, "{ack:?}");
    assert_eq!(h.inventory().await["actors"].as_array().unwrap().len(), 0);
    let subject = subjects::actor_rpc(&h.lattice, &echo);
    let gone = h
        .client
        .request(subject, h.invocation(&echo, "X.Y", vec![]).encode().into())
        .await;
    assert_eq!(
        gone.unwrap_err().kind(),
        async_nats::RequestErrorKind::NoResponders,
        "a stopped actor no longer listens"
    );
}

#[tokio::test]
async fn calls_answered_together_each_get_their_own_reply_and_event() {
    // Replies and invocation events of calls answered at once go out gathered into
    // one write (lattice::gather); none may be lost, doubled or cross to another caller.
    let h = Harness::start().await;
    let echo = launch_sample(&h, "echo").await;
    let ack = h
        .command(
            "scale",
            &serde_json::json!({"actor_id": echo, "actor_ref": "", "count": 8}),
        )
        .await;
    assert!(ack.accepted, "{ack:?}");
    let mut events = h
        .client
        .subscribe(subjects::rpc_events(&h.lattice))
        .await
        .unwrap();
    h.client.flush().await.unwrap();
    const CALLS: usize = 400;
    let harness = &h;
    let echo = echo.as_str();
    let paths = futures::stream::iter(0..CALLS)
        .map(|i| async move {
            let response = harness
                .invoke(
                    echo,
                    "HttpServer.HandleRequest",
                    http::get(&format!("/call/{i}")),
                )
                .await;
            assert_eq!(response.error, None, "call {i}");
            let body: serde_json::Value =
                serde_json::from_slice(&http::response(&response.msg).body).unwrap();
            (i, body["path"].as_str().unwrap().to_string())
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
    for (i, path) in &paths {
        assert_eq!(
            path,
            &format!("/call/{i}"),
            "a reply went to another caller"
        );
    }
    for n in 0..CALLS {
        let message = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .unwrap_or_else(|_| panic!("only {n} of {CALLS} events\n{}", h.logs()))
            .unwrap();
        let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(event["type"], "com.wasmcloud.lattice.invocation_succeeded");
        assert_eq!(event["data"]["dest"]["public_key"], echo, "{event}");
    }
    let extra = tokio::time::timeout(Duration::from_millis(300), events.next()).await;
    assert!(extra.is_err(), "an event more than the calls: {extra:?}");
}

#[tokio::test]
async fn warm_instances_come_up_at_a_scale_and_one_past_the_pool_is_refused_whole() {
    let h = Harness::with(kiln_integration_tests::Options {
        data_plane_args: ["--instance-mode", "warm", "--max-instances", "20"]
            .map(String::from)
            .to_vec(),
        ..Default::default()
    })
    .await;
    let echo = launch_sample(&h, "echo").await;
    let scale = |count: u32| serde_json::json!({"actor_id": echo, "actor_ref": "", "count": count});
    let live = || async {
        let inventory = h.data_plane_inventory().await;
        (inventory.actors[0].instances, inventory.actors[0].live)
    };
    let ack = h.command("scale", &scale(10)).await;
    assert!(ack.accepted, "{ack:?}");
    assert_eq!(
        live().await,
        (10, 10),
        "all ten are up before the scale answers"
    );

    let ack = h.command("scale", &scale(50)).await;
    assert!(!ack.accepted, "a scale past the pool is refused");
    assert!(
        ack.error.contains("could not bring up the instances")
            && ack.error.contains("20 of 50 instances are up"),
        "{ack:?}"
    );
    assert_eq!(live().await, (10, 10), "the actor keeps what it had");
    let inventory = h.inventory().await;
    assert_eq!(
        inventory["actors"][0]["instances"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    let response = h
        .invoke(&echo, "HttpServer.HandleRequest", http::get("/after"))
        .await;
    assert_eq!(response.error, None, "{}", h.logs());
}

#[tokio::test]
async fn ping_reports_the_host() {
    let h = Harness::start().await;
    let subject = h.ctl().subject(CtlSubject::PingHosts).unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), h.client.request(subject, "".into()))
        .await
        .unwrap()
        .unwrap();
    let host: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(host["id"], h.host.public_key());
    assert_eq!(host["issuer"], h.cluster.public_key());
    assert_eq!(host["cluster_issuers"], h.cluster.public_key());
    assert_eq!(host["lattice_prefix"], h.lattice);
    assert_eq!(host["labels"]["hostcore.os"], std::env::consts::OS);
}

#[tokio::test]
async fn status_page_and_health_endpoints_answer_over_http() {
    let h = Harness::start().await;
    let echo = launch_sample(&h, "echo").await;
    let (status, body) = h.http_get("/api/livez").await;
    assert_eq!((status, body.as_str()), (200, r#"{"live":true}"#));
    let (status, body) = h.http_get("/api/readyz").await;
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["ready"], true);
    for check in ["nats", "data_plane", "adopted"] {
        assert_eq!(report[check], true, "{check}: {report}");
    }
    assert_eq!(report["boot_pending"], 0);
    assert_eq!(report["draining"], false);
    let (status, page) = h.http_get("/").await;
    assert_eq!(status, 200);
    assert!(page.contains(&echo), "{page}");
    assert!(page.contains("wasmcloud:httpserver"), "{page}");
}

#[tokio::test]
async fn actors_call_actors_by_public_key() {
    let h = Harness::start().await;
    let echo = launch_sample(&h, "echo").await;
    let (caller, key) = fixtures::sign(
        &fixtures::wat("hostcall"),
        &kiln_types::claims::ActorSpec::default(),
    );
    assert!(h.launch_bytes("caller.wasm", &caller).await.accepted);
    let payload = fixtures::host_call("", &echo, "HttpServer.HandleRequest", &http::get("/by-key"));
    let response = h.invoke(&key.public_key(), "Forward", payload).await;
    assert_eq!(response.error, None, "{}", h.logs());
    let body: serde_json::Value =
        serde_json::from_slice(&http::response(&response.msg).body).unwrap();
    assert_eq!(body["path"], "/by-key");

    // A key nobody serves: the callee's absence comes back as the caller's error.
    let nobody = kiln_types::keys::KeyKind::Module.generate().public_key();
    let payload = fixtures::host_call("", &nobody, "HttpServer.HandleRequest", &http::get("/"));
    let error = h
        .invoke(&key.public_key(), "Forward", payload)
        .await
        .error
        .unwrap();
    assert_eq!(
        error,
        format!("actor {nobody} is not running on the lattice")
    );
}

#[tokio::test]
async fn wapc_imports_start_functions_and_wasi_work() {
    let h = Harness::start().await;
    let (wapc, wapc_key) = fixtures::sign(
        &fixtures::wat("wapc_start"),
        &kiln_types::claims::ActorSpec::default(),
    );
    assert!(h.launch_bytes("wapc.wasm", &wapc).await.accepted);
    for _ in 0..3 {
        let response = h.invoke(&wapc_key.public_key(), "Any", vec![]).await;
        // 42 written by _start, then '1': _start ran once for this instance.
        assert_eq!(response.msg, vec![42, b'1'], "{:?}", response.error);
    }
    let (wasi, wasi_key) = fixtures::sign(
        &fixtures::wat("wasi_random"),
        &kiln_types::claims::ActorSpec::default(),
    );
    assert!(h.launch_bytes("wasi.wasm", &wasi).await.accepted);
    let first = h.invoke(&wasi_key.public_key(), "Any", vec![]).await.msg;
    let second = h.invoke(&wasi_key.public_key(), "Any", vec![]).await.msg;
    assert_eq!(first.len(), 16);
    assert_ne!(first, second);
}

#[tokio::test]
async fn a_response_too_large_for_one_message_comes_through_the_object_store() {
    let h = Harness::start().await;
    let echo = launch_sample(&h, "echo").await;
    // Echo answers with the body as JSON text; 0xff bytes become three-byte characters,
    // so 600 KB in is about 1.8 MB out: above the 1 MiB NATS payload limit.
    let request = http::request("POST", "/big", &vec![0xff; 600_000]);
    let response = h.invoke(&echo, "HttpServer.HandleRequest", request).await;
    assert_eq!(response.error, None);
    assert!(
        response.msg.is_empty(),
        "a chunked response carries no payload inline"
    );
    let full = response.content_length.unwrap();
    assert!(full > 1_700_000, "{full}");
    // Read it back the way wasmbus-rpc clients do: object `{id}-r` in the lattice's bucket.
    let chunks = kiln_wasmbus::chunks::Chunks::open(h.client.clone(), &h.lattice, None, 1)
        .await
        .unwrap();
    let bytes = kiln_wasmbus::rpc::whole_response(Some(&chunks), response, 64 << 20)
        .await
        .unwrap();
    assert_eq!(bytes.len() as u64, full);
    let body: serde_json::Value = serde_json::from_slice(&http::response(&bytes).body).unwrap();
    assert_eq!(body["body_len"], 600_000);
}
