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
