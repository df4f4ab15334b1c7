//! Hostile and broken modules fail alone; the host and other actors keep serving.

use kiln_integration_tests::{Harness, Options, fixtures, http};
use kiln_types::claims::ActorSpec;

async fn launch_wat(h: &Harness, name: &str) -> String {
    let (signed, key) = fixtures::sign(&fixtures::wat(name), &ActorSpec::default());
    let ack = h.launch_bytes(&format!("{name}.wasm"), &signed).await;
    assert!(ack.accepted, "{name}: {ack:?}");
    key.public_key()
}

#[tokio::test]
async fn loops_growers_and_traps_fail_only_their_own_calls() {
    let h = Harness::with(Options {
        data_plane_args: vec![
            "--deadline-ms".into(),
            "500".into(),
            "--memory-limit-mib".into(),
            "16".into(),
        ],
        ..Options::default()
    })
    .await;
    let echo_path = fixtures::sample_actor("echo");
    assert!(h.launch(&echo_path).await.accepted);
    let echo = fixtures::actor_key(&std::fs::read(echo_path).unwrap());
    let looping = launch_wat(&h, "loop").await;
    let grower = launch_wat(&h, "grow").await;
    let trap = launch_wat(&h, "trap").await;

    let started = std::time::Instant::now();
    let error = h.invoke(&looping, "Any.Op", vec![]).await.error.unwrap();
    assert_eq!(error, "actor call exceeded its deadline of 500 ms");
    assert!(
        started.elapsed().as_millis() < 1_500,
        "{:?}",
        started.elapsed()
    );

    let error = h.invoke(&grower, "Any.Op", vec![]).await.error.unwrap();
    assert_eq!(error, "actor exceeded its memory limit of 16 MiB");

    let error = h.invoke(&trap, "Any.Op", vec![]).await.error.unwrap();
    assert!(error.starts_with("actor trapped"), "{error}");
    assert!(error.contains("unreachable"), "{error}");

    for _ in 0..3 {
        let response = h
            .invoke(&echo, "HttpServer.HandleRequest", http::get("/after"))
            .await;
        assert_eq!(response.error, None, "{}", h.logs());
    }
    // The hostile actors stay registered and fail the same way again.
    let error = h.invoke(&trap, "Any.Op", vec![]).await.error.unwrap();
    assert!(error.starts_with("actor trapped"), "{error}");
}

#[tokio::test]
async fn broken_modules_are_refused_at_launch() {
    let h = Harness::start().await;
    let (bad_imports, _) = fixtures::sign(&fixtures::wat("bad_imports"), &ActorSpec::default());
    let ack = h.launch_bytes("bad_imports.wasm", &bad_imports).await;
    assert!(!ack.accepted);
    assert!(
        ack.error.contains("actor cannot be linked"),
        "{}",
        ack.error
    );
    assert!(ack.error.contains("__open_socket"), "{}", ack.error);

    let (no_exports, _) = fixtures::sign(&fixtures::wat("no_exports"), &ActorSpec::default());
    let ack = h.launch_bytes("no_exports.wasm", &no_exports).await;
    assert!(!ack.accepted);
    assert!(
        ack.error.contains("actor does not export __guest_call"),
        "{}",
        ack.error
    );
    assert_eq!(h.inventory().await["actors"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn guest_errors_come_back_as_invocation_errors() {
    let h = Harness::start().await;
    let failing = launch_wat(&h, "guest_error").await;
    let error = h.invoke(&failing, "Any.Op", vec![]).await.error.unwrap();
    assert_eq!(error, "no such operation");
}

#[tokio::test]
async fn a_call_that_comes_while_its_actor_fails_to_start_is_answered_with_the_failure() {
    // The lattice subscription is made while the data plane brings the actor up, so a
    // call can come before the start fails: it gets the failure, not a timeout.
    let h = Harness::with(Options {
        data_plane_args: vec!["--deadline-ms".into(), "1000".into()],
        ..Options::default()
    })
    .await;
    let (signed, key) = fixtures::sign(&fixtures::wat("start_loop"), &ActorSpec::default());
    let key = key.public_key();
    let launch = h.launch_bytes("start_loop.wasm", &signed);
    let call = async {
        // No responder until the host subscribes; then the call waits in the
        // subscription while `_start` runs to its deadline.
        let started = std::time::Instant::now();
        loop {
            if let Some(response) = h.try_invoke(&key, "Any.Op", vec![]).await {
                return response;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "the host never subscribed; logs:\n{}",
                h.logs()
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    let (ack, response) = tokio::join!(launch, call);
    assert!(!ack.accepted, "{ack:?}");
    assert!(ack.error.contains("deadline"), "{ack:?}");
    let error = response.error.expect("an error, not a payload");
    assert!(
        error.starts_with(&format!("actor {key} did not start: ")) && error.contains("deadline"),
        "{error}"
    );
    // Nothing serves it afterwards, and the host is not left counting it.
    assert!(h.try_invoke(&key, "Any.Op", vec![]).await.is_none());
    let inventory = h.inventory().await;
    assert_eq!(inventory["actors"], serde_json::json!([]), "{inventory}");
}
