//! What OTP-era clients expect of a host, in the shapes they produce and read: the
//! refusal of a second reference, the events of a failed start, the answers to stops.

use std::time::Duration;

use futures::StreamExt as _;
use kiln_integration_tests::{Harness, fixtures};

/// The next event of `kind` (the type's suffix) whose data `matches`, within 30 s.
async fn next_event(
    events: &mut async_nats::Subscriber,
    kind: &str,
    matches: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let wanted = format!("com.wasmcloud.lattice.{kind}");
    let wait = async {
        while let Some(message) = events.next().await {
            let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
            if event["type"] == wanted.as_str() && matches(&event["data"]) {
                return event["data"].clone();
            }
        }
        panic!("event stream ended");
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .unwrap_or_else(|_| panic!("no {kind} event within 30 s"))
}

#[tokio::test]
async fn a_start_from_another_reference_is_refused_as_the_otp_host_refuses_it() {
    let h = Harness::start().await;
    let echo = h.launch_sample("echo").await;
    let running = format!("file://{}", fixtures::sample_actor("echo").display());
    // The same module under another reference.
    let copy = h.dir.path().join("echo-copy.wasm");
    std::fs::copy(fixtures::sample_actor("echo"), &copy).unwrap();
    let requested = format!("file://{}", copy.display());

    let mut events = h.events().await;
    let ack = h.launch(&copy).await;
    assert!(!ack.accepted, "{ack:?}");
    let expected = format!(
        "Cannot start new instance of {echo} from ref '{requested}', it is already running with different reference. To upgrade an actor, use live update."
    );
    assert_eq!(ack.error, expected);
    let failed = next_event(&mut events, "actor_start_failed", |_| true).await;
    assert_eq!(failed["actor_ref"], requested.as_str());
    assert_eq!(failed["error"], expected.as_str());
    let failed = next_event(&mut events, "actors_start_failed", |_| true).await;
    assert_eq!(failed["public_key"], echo.as_str(), "the key is known here");
    assert_eq!(failed["image_ref"], requested.as_str());

    let inventory = h.inventory().await;
    let actors = inventory["actors"].as_array().unwrap();
    assert_eq!(actors.len(), 1, "{inventory}");
    assert_eq!(actors[0]["image_ref"], running.as_str());
    assert_eq!(actors[0]["instances"].as_array().unwrap().len(), 1);

    // The same reference again adds an instance.
    assert!(h.launch(&fixtures::sample_actor("echo")).await.accepted);
    let inventory = h.inventory().await;
    assert_eq!(
        inventory["actors"][0]["instances"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_start_refused_before_the_claims_are_read_names_no_key() {
    let h = Harness::start().await;
    let mut events = h.events().await;
    let missing = h.dir.path().join("missing.wasm");
    let ack = h.launch(&missing).await;
    assert!(!ack.accepted);
    let failed = next_event(&mut events, "actors_start_failed", |_| true).await;
    assert_eq!(failed["public_key"], "N/A");
}

#[tokio::test]
async fn an_invocation_addressed_to_a_provider_is_not_run_by_the_actor_of_its_subject() {
    use kiln_types::invocation::{Entity, Invocation};
    use kiln_types::keys::KeyKind;
    let h = Harness::start().await;
    let echo = h.launch_sample("echo").await;
    // As the OTP host's tests build them: signed for a provider, sent to an actor.
    let provider = KeyKind::Service.generate().public_key();
    let invocation = Invocation::new_signed(
        &h.cluster,
        Entity::actor(KeyKind::Module.generate().public_key()),
        Entity::provider(&provider, "wasmcloud:httpserver", "default"),
        "HttpServer.HandleRequest",
        kiln_integration_tests::http::get("/"),
        kiln_types::unix_now(),
    )
    .unwrap();
    let mut events = h
        .client
        .subscribe(kiln_wasmbus::subjects::rpc_events(&h.lattice))
        .await
        .unwrap();
    h.client.flush().await.unwrap();
    let error = h
        .send_raw(&echo, invocation.encode())
        .await
        .error
        .expect("refused");
    assert!(error.starts_with("invocation is addressed to"), "{error}");
    assert!(error.contains(&provider), "{error}");
    let failed = next_event(&mut events, "invocation_failed", |_| true).await;
    // The event names the invocation as it was addressed.
    assert_eq!(failed["dest"]["public_key"], provider.as_str());
    // The actor still serves invocations addressed to it.
    let response = h
        .invoke(
            &echo,
            "HttpServer.HandleRequest",
            kiln_integration_tests::http::get("/"),
        )
        .await;
    assert_eq!(response.error, None);
}

#[tokio::test]
async fn a_stop_of_a_provider_not_running_here_is_acknowledged_as_on_the_otp_host() {
    use kiln_types::keys::KeyKind;
    let h = Harness::start().await;
    let provider = KeyKind::Service.generate().public_key();
    let ack = h
        .command(
            "sp",
            &serde_json::json!({ "provider_ref": provider, "link_name": "default" }),
        )
        .await;
    assert!(ack.accepted, "{ack:?}");
    // Still refused: a reference that is no public key.
    let ack = h
        .command(
            "sp",
            &serde_json::json!({ "provider_ref": "wasmcloud.azurecr.io/httpserver:0.18", "link_name": "default" }),
        )
        .await;
    assert!(!ack.accepted);
    assert!(ack.error.contains("56-character public key"), "{ack:?}");
}

#[tokio::test]
async fn the_otp_log_settings_reach_both_planes_and_the_providers() {
    use kiln_integration_tests::Options;
    let h = Harness::with(Options {
        env: vec![
            ("WASMCLOUD_STRUCTURED_LOGGING_ENABLED".into(), "yes".into()),
            ("WASMCLOUD_LOG_LEVEL".into(), "debug".into()),
        ],
        ..Options::default()
    })
    .await;
    let archive = fixtures::provider_archive("httpserver");
    assert!(h.launch_provider(&archive, "default").await.accepted);
    // The provider was told the level and the format: its debug line, as JSON.
    let told = kiln_integration_tests::eventually(Duration::from_secs(10), || {
        let log = h.data_plane.log();
        async move {
            log.lines().any(|line| {
                let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
                    return false;
                };
                let message = event["fields"]["message"].as_str().unwrap_or_default();
                serde_json::from_str::<serde_json::Value>(message).is_ok_and(|inner| {
                    inner["level"] == "DEBUG" && inner["fields"]["message"] == "host data read"
                })
            })
        }
    })
    .await;
    assert!(told, "{}", h.data_plane.log());
    for (plane, log) in [
        ("control plane", h.control_plane.log()),
        ("data plane", h.data_plane.log()),
    ] {
        let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(!lines.is_empty(), "{plane} logged nothing");
        for line in lines {
            let event: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{plane}: not JSON ({e}): {line}"));
            assert!(event["level"].is_string(), "{plane}: {line}");
        }
    }
}
