//! The policy service: starts and invocations asked of a NATS subject, denials carry
//! the service's message, and no answer denies (fail closed).

use std::time::Duration;

use futures::StreamExt as _;
use kiln_integration_tests::{Harness, Options, fixtures};
use kiln_types::invocation::{Entity, Invocation};

/// Answers policy requests: deny starts of `denied`, permit everything else; counts the
/// requests by action.
async fn policy_service(
    h: &Harness,
    denied: String,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
) {
    let client = async_nats::connect(h.nats.url()).await.unwrap();
    let mut requests = client.subscribe("test.policy").await.unwrap();
    client.flush().await.unwrap();
    let (seen, seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Some(message) = requests.next().await {
            let request: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
            let permitted = request["target"]["publicKey"] != denied.as_str();
            let response = serde_json::json!({
                "permitted": permitted,
                "message": if permitted { "" } else { "actor is on the deny list" },
                "requestId": request["requestId"],
            });
            let _ = seen.send(request);
            client
                .publish(message.reply.unwrap(), response.to_string().into())
                .await
                .unwrap();
        }
    });
    (task, seen_rx)
}

#[tokio::test]
async fn starts_and_calls_are_asked_of_the_policy_service_which_fails_closed() {
    let h = Harness::with(Options {
        control_plane_args: vec![
            "--policy-topic".into(),
            "test.policy".into(),
            "--policy-timeout-ms".into(),
            "300".into(),
        ],
        ..Options::default()
    })
    .await;
    let echo_path = fixtures::sample_actor("echo");
    let echo = fixtures::actor_key(&std::fs::read(&echo_path).unwrap());
    let ponger_path = fixtures::sample_actor("ponger");
    let ponger = fixtures::actor_key(&std::fs::read(&ponger_path).unwrap());
    let (service, mut seen) = policy_service(&h, ponger.clone()).await;

    // Permitted start, with the request in the wasmbus shape.
    assert!(h.launch(&echo_path).await.accepted, "{}", h.logs());
    let request = seen.recv().await.unwrap();
    assert_eq!(request["action"], "start_actor");
    assert_eq!(request["target"]["publicKey"], echo.as_str());
    assert_eq!(request["host"]["publicKey"], h.host.public_key().as_str());
    assert_eq!(request["host"]["latticeId"], h.lattice.as_str());
    assert_eq!(request["source"]["capabilities"], serde_json::json!([]));

    // Denied start: the service's message is the reason.
    let ack = h.launch(&ponger_path).await;
    assert!(!ack.accepted);
    assert_eq!(ack.error, "denied by policy: actor is on the deny list");
    let request = seen.recv().await.unwrap();
    assert_eq!(request["target"]["publicKey"], ponger.as_str());

    // An invocation from an actor the lattice has claims for is asked about and run.
    let origin = Entity::actor(&echo);
    let call = |payload: &[u8]| {
        Invocation::new_signed(
            &h.cluster,
            origin.clone(),
            Entity::actor(&echo),
            "HttpServer.HandleRequest",
            kiln_integration_tests::http::get(&String::from_utf8_lossy(payload)),
            kiln_types::unix_now(),
        )
        .unwrap()
    };
    let response = h.send(&call(b"/one")).await;
    assert_eq!(response.error, None);
    let asked = seen.recv().await.unwrap();
    assert_eq!(asked["action"], "perform_invocation");
    assert_eq!(asked["source"]["publicKey"], echo.as_str());
    // The decision is cached: a second call does not ask again.
    assert_eq!(h.send(&call(b"/two")).await.error, None);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), seen.recv())
            .await
            .is_err()
    );

    // An origin without claims in the lattice is denied without asking.
    let response = h
        .invoke(&echo, "HttpServer.HandleRequest", Vec::new())
        .await;
    let error = response.error.unwrap();
    assert!(
        error.starts_with("denied by policy: no claims known"),
        "{error}"
    );

    // A provider's start names its contract and link, as on the OTP host.
    let archive = fixtures::provider_archive("httpserver");
    assert!(
        h.launch_provider(&archive, "edge").await.accepted,
        "{}",
        h.logs()
    );
    let request = seen.recv().await.unwrap();
    assert_eq!(request["action"], "start_provider");
    assert_eq!(
        request["target"]["publicKey"],
        fixtures::provider_key(&archive).as_str()
    );
    assert_eq!(request["target"]["contractId"], "wasmcloud:httpserver");
    assert_eq!(request["target"]["linkName"], "edge");

    // No service: a start that needs a decision is denied after the timeout.
    service.abort();
    let _ = service.await;
    let randlogger = fixtures::sample_actor("randlogger");
    let ack = h.launch(&randlogger).await;
    assert!(!ack.accepted);
    assert!(
        ack.error
            .starts_with("denied by policy: the policy service"),
        "{ack:?}"
    );
}
