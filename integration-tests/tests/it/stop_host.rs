//! Stop host over the control interface: new calls stop, the call in flight finishes,
//! providers stop, `host_stopped` goes out and both planes exit 0.

use std::time::Duration;

use futures::StreamExt as _;
use kiln_integration_tests::{Harness, fixtures};
use kiln_types::claims::ActorSpec;
use kiln_types::invocation::{Invocation, InvocationResponse};
use kiln_types::keys::KeyKind;
use kiln_wasmbus::subjects;

const KEYVALUE: &str = "wasmcloud:keyvalue";

/// A provider stand-in that answers each call after `delay`.
async fn slow_provider(
    h: &Harness,
    provider: &str,
    delay: Duration,
) -> tokio::task::JoinHandle<()> {
    let client = async_nats::connect(h.nats.url()).await.unwrap();
    let subject = subjects::provider_rpc(&h.lattice, provider, "default");
    let mut calls = client.queue_subscribe(subject, "rpc".into()).await.unwrap();
    client.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(message) = calls.next().await {
            let client = client.clone();
            tokio::spawn(async move {
                let invocation = Invocation::decode(&message.payload).unwrap();
                tokio::time::sleep(delay).await;
                let response = InvocationResponse::success(invocation.id, b"slow-ok".to_vec());
                client
                    .publish(message.reply.unwrap(), response.encode().into())
                    .await
                    .unwrap();
            });
        }
    })
}

#[tokio::test]
async fn stop_host_lets_the_call_in_flight_finish_then_exits_zero() {
    let mut h = Harness::start().await;
    let provider = KeyKind::Service.generate().public_key();
    let _provider = slow_provider(&h, &provider, Duration::from_millis(800)).await;
    let spec = ActorSpec {
        caps: vec![KEYVALUE.into()],
        ..ActorSpec::default()
    };
    let (module, key) = fixtures::sign(&fixtures::wat("hostcall"), &spec);
    let actor = key.public_key();
    assert!(h.launch_bytes("caller.wasm", &module).await.accepted);
    assert!(h.put_link(&actor, &provider, KEYVALUE, &[]).await.accepted);
    let mut events = h.events().await;

    let payload = fixtures::host_call("default", KEYVALUE, "KeyValue.Get", b"k");
    let in_flight = {
        let bytes = h
            .invocation(&actor, "Call.Provider", payload.clone())
            .encode();
        let client = h.client.clone();
        let subject = subjects::actor_rpc(&h.lattice, &actor);
        tokio::spawn(async move { client.request(subject, bytes.into()).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ack = h
        .command("stop", &serde_json::json!({"timeout": 5000}))
        .await;
    assert!(ack.accepted, "{ack:?}");

    // The call already running finishes with the provider's answer.
    let reply = in_flight
        .await
        .unwrap()
        .expect("the call in flight is answered");
    let response = InvocationResponse::decode(&reply.payload).unwrap();
    assert_eq!(response.error, None, "{}", h.logs());
    assert_eq!(response.msg, b"slow-ok");
    // New calls find nobody.
    let late = h.invocation(&actor, "Call.Provider", payload).encode();
    let error = h
        .client
        .request(subjects::actor_rpc(&h.lattice, &actor), late.into())
        .await
        .expect_err("no host takes calls after the stop");
    assert_eq!(error.kind(), async_nats::RequestErrorKind::NoResponders);

    let wait = async {
        while let Some(message) = events.next().await {
            let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
            if event["type"] == "com.wasmcloud.lattice.host_stopped" {
                return event;
            }
        }
        panic!("event stream ended");
    };
    let stopped = tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("host_stopped");
    assert_eq!(stopped["source"], h.host.public_key().as_str());
    let status = h
        .control_plane
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("the control plane exits");
    assert!(status.success(), "{status:?}\n{}", h.logs());
    // The host's data plane stops with it.
    let status = h
        .data_plane
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("the data plane exits");
    assert!(status.success(), "{status:?}\n{}", h.logs());
}
