//! The lattice control interface and events, on one host: every subject of the wasmbus
//! control interface answered with the wasmbus shapes, the exact event sequence of a
//! start → scale → provider → health → link → stop run, bad requests refused with a
//! reason, live update without a dropped call, and stop host with a drain.

use std::time::Duration;

use futures::StreamExt as _;
use kiln_integration_tests::{Harness, Options, fixtures};
use kiln_types::keys::KeyKind;
use kiln_wasmbus::subjects::{self, CtlSubject};

/// Reads events until `until` has been seen, returning every event type (suffix) seen,
/// with each event's data, heartbeats left out.
async fn collect_until(
    events: &mut async_nats::Subscriber,
    until: &str,
) -> Vec<(String, serde_json::Value)> {
    let mut seen = Vec::new();
    let wait = async {
        while let Some(message) = events.next().await {
            let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
            assert_eq!(event["specversion"], "1.0");
            assert_eq!(event["datacontenttype"], "application/json");
            let kind = event["type"]
                .as_str()
                .unwrap()
                .strip_prefix("com.wasmcloud.lattice.")
                .unwrap()
                .to_string();
            if kind == "host_heartbeat" {
                continue;
            }
            let done = kind == until;
            seen.push((kind, event["data"].clone()));
            if done {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("no {until} event; saw {seen:?}"));
    seen
}

fn kinds(events: &[(String, serde_json::Value)]) -> Vec<&str> {
    events.iter().map(|(k, _)| k.as_str()).collect()
}

#[tokio::test]
async fn events_follow_start_scale_provider_health_link_and_stop_in_order() {
    let h = Harness::start().await;
    let echo_path = fixtures::sample_actor("echo");
    let echo = fixtures::actor_key(&std::fs::read(&echo_path).unwrap());
    let archive = fixtures::provider_archive("httpserver");
    let provider = fixtures::provider_key(&archive);
    let mut events = h.events().await;

    let reference = format!("file://{}", echo_path.display());
    let ack = h
        .command(
            "la",
            &serde_json::json!({"actor_ref": reference, "count": 1}),
        )
        .await;
    assert!(ack.accepted, "{ack:?}");
    let start = collect_until(&mut events, "actors_started").await;
    assert_eq!(kinds(&start), ["actor_started", "actors_started"]);
    let started = &start[0].1;
    assert_eq!(started["public_key"], echo.as_str());
    assert_eq!(started["image_ref"], reference.as_str());
    assert_eq!(started["claims"]["name"], "Echo");
    assert!(
        started["claims"]["caps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "wasmcloud:httpserver")
    );
    assert_eq!(start[1].1["count"], 1);
    assert_eq!(start[1].1["host_id"], h.host.public_key().as_str());

    let ack = h
        .command(
            "scale",
            &serde_json::json!({"actor_id": echo, "actor_ref": "", "count": 3}),
        )
        .await;
    assert!(ack.accepted, "{ack:?}");
    let scale = collect_until(&mut events, "actors_started").await;
    assert_eq!(
        kinds(&scale),
        ["actor_started", "actor_started", "actors_started"]
    );
    assert_eq!(scale[2].1["count"], 2);

    let ack = h
        .command(
            "lp",
            &serde_json::json!({"provider_ref": format!("file://{}", archive.display()), "link_name": "default"}),
        )
        .await;
    assert!(ack.accepted, "{ack:?}");
    let provider_start = collect_until(&mut events, "health_check_passed").await;
    assert_eq!(
        kinds(&provider_start),
        ["provider_started", "health_check_passed"]
    );
    assert_eq!(provider_start[0].1["public_key"], provider.as_str());
    assert_eq!(provider_start[0].1["contract_id"], "wasmcloud:httpserver");
    assert_eq!(provider_start[1].1["link_name"], "default");

    let port = kiln_integration_tests::process::free_port();
    let ack = h
        .put_link(
            &echo,
            &provider,
            "wasmcloud:httpserver",
            &[("port", &port.to_string())],
        )
        .await;
    assert!(ack.accepted, "{ack:?}");
    let link = collect_until(&mut events, "linkdef_set").await;
    assert_eq!(kinds(&link), ["linkdef_set"]);
    assert_eq!(link[0].1["actor_id"], echo.as_str());
    assert_eq!(link[0].1["values"]["port"], port.to_string());
    assert_eq!(link[0].1["id"].as_str().unwrap().len(), 64);

    let ack = h.delete_link(&echo, "wasmcloud:httpserver").await;
    assert!(ack.accepted, "{ack:?}");
    assert_eq!(
        kinds(&collect_until(&mut events, "linkdef_deleted").await),
        ["linkdef_deleted"]
    );

    let ack = h
        .command("sa", &serde_json::json!({"actor_ref": echo, "count": 0}))
        .await;
    assert!(ack.accepted, "{ack:?}");
    let stop = collect_until(&mut events, "actors_stopped").await;
    assert_eq!(
        kinds(&stop),
        [
            "actor_stopped",
            "actor_stopped",
            "actor_stopped",
            "actors_stopped"
        ]
    );
    assert_eq!(stop[3].1["remaining"], 0);
    assert_eq!(stop[3].1["count"], 3);

    let ack = h
        .command(
            "sp",
            &serde_json::json!({"provider_ref": provider, "link_name": "default"}),
        )
        .await;
    assert!(ack.accepted, "{ack:?}");
    let provider_stop = collect_until(&mut events, "provider_stopped").await;
    assert_eq!(kinds(&provider_stop), ["provider_stopped"]);
    assert_eq!(provider_stop[0].1["reason"], "normal");
}

#[tokio::test]
async fn every_control_subject_answers_with_the_wasmbus_shapes() {
    let h = Harness::with(Options {
        control_plane_args: vec!["--label".into(), "zone=north".into()],
        ..Options::default()
    })
    .await;
    let echo_path = fixtures::sample_actor("echo");
    let echo = fixtures::actor_key(&std::fs::read(&echo_path).unwrap());
    assert!(h.launch(&echo_path).await.accepted);

    // ping.hosts: every host answers (one here), and a heartbeat follows.
    let mut events = h.events().await;
    let inbox = h.client.new_inbox();
    let mut replies = h.client.subscribe(inbox.clone()).await.unwrap();
    h.client
        .publish_with_reply(
            h.ctl().subject(CtlSubject::PingHosts).unwrap(),
            inbox,
            "".into(),
        )
        .await
        .unwrap();
    let pong: serde_json::Value = serde_json::from_slice(
        &tokio::time::timeout(Duration::from_secs(5), replies.next())
            .await
            .unwrap()
            .unwrap()
            .payload,
    )
    .unwrap();
    assert_eq!(pong["id"], h.host.public_key().as_str());
    assert_eq!(pong["labels"]["zone"], "north");
    assert!(
        pong["cluster_issuers"]
            .as_str()
            .unwrap()
            .contains(&h.cluster.public_key())
    );
    assert_eq!(pong["lattice_prefix"], h.lattice.as_str());
    let beat = heartbeat(&mut events).await;
    assert_eq!(beat["actors"][&echo], 1, "{beat}");
    assert_eq!(beat["labels"]["zone"], "north");

    // get.claims: string values, caps comma-joined.
    let claims = h.query_lattice(CtlSubject::Claims).await;
    let entry = claims["claims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["sub"] == echo.as_str())
        .unwrap_or_else(|| panic!("{claims}"));
    assert_eq!(entry["name"], "Echo");
    assert!(
        entry["caps"]
            .as_str()
            .unwrap()
            .contains("wasmcloud:httpserver")
    );
    assert!(entry["rev"].is_string());
    assert_eq!(entry["contract_id"], "");

    // registries.put: acknowledged.
    let ack = h
        .command_lattice(
            CtlSubject::RegistriesPut,
            &serde_json::json!({"localhost:5000": {"registryType": "oci", "username": "u", "password": "p"}}),
        )
        .await;
    assert!(ack.accepted, "{ack:?}");

    // auction.actor: this host bids only when its labels satisfy the constraints.
    let bid = auction(
        &h,
        CtlSubject::ActorAuction,
        serde_json::json!({"actor_ref": "x", "constraints": {"zone": "north"}}),
    )
    .await;
    assert_eq!(bid.len(), 1);
    assert_eq!(bid[0]["host_id"], h.host.public_key().as_str());
    assert_eq!(bid[0]["actor_ref"], "x");
    let none = auction(
        &h,
        CtlSubject::ActorAuction,
        serde_json::json!({"actor_ref": "x", "constraints": {"zone": "south"}}),
    )
    .await;
    assert!(none.is_empty(), "{none:?}");

    // auction.provider: not when it already runs that provider on that link.
    let archive = fixtures::provider_archive("httpserver");
    let provider = fixtures::provider_key(&archive);
    let bid = auction(
        &h,
        CtlSubject::ProviderAuction,
        serde_json::json!({"provider_ref": provider, "constraints": {}}),
    )
    .await;
    assert_eq!(bid.len(), 1);
    assert_eq!(bid[0]["link_name"], "default");
    assert!(h.launch_provider(&archive, "default").await.accepted);
    let none = auction(
        &h,
        CtlSubject::ProviderAuction,
        serde_json::json!({"provider_ref": provider, "constraints": {}}),
    )
    .await;
    assert!(none.is_empty(), "{none:?}");
    // A second start of the same provider and link is refused at once.
    let ack = h
        .command(
            "lp",
            &serde_json::json!({"provider_ref": format!("file://{}", archive.display()), "link_name": "default"}),
        )
        .await;
    assert!(!ack.accepted);
    assert_eq!(
        ack.error,
        "Provider with that link name is already running on this host"
    );

    // The inventory has the provider and the actor.
    let inventory = h.inventory().await;
    assert_eq!(inventory["providers"][0]["id"], provider.as_str());
    assert_eq!(inventory["actors"][0]["id"], echo.as_str());
    assert_eq!(inventory["labels"]["zone"], "north");
}

/// The data of the next heartbeat.
async fn heartbeat(events: &mut async_nats::Subscriber) -> serde_json::Value {
    let wait = async {
        while let Some(message) = events.next().await {
            let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
            if event["type"] == "com.wasmcloud.lattice.host_heartbeat" {
                return event["data"].clone();
            }
        }
        panic!("event stream ended");
    };
    tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .expect("a heartbeat right after the ping")
}

/// Sends an auction and gathers the bids for a second.
async fn auction(
    h: &Harness,
    subject: CtlSubject<'_>,
    body: serde_json::Value,
) -> Vec<serde_json::Value> {
    let inbox = h.client.new_inbox();
    let mut replies = h.client.subscribe(inbox.clone()).await.unwrap();
    h.client
        .publish_with_reply(
            h.ctl().subject(subject).unwrap(),
            inbox,
            body.to_string().into(),
        )
        .await
        .unwrap();
    let mut bids = Vec::new();
    while let Ok(Some(message)) = tokio::time::timeout(Duration::from_secs(1), replies.next()).await
    {
        bids.push(serde_json::from_slice(&message.payload).unwrap());
    }
    bids
}

#[tokio::test]
async fn bad_control_requests_get_a_reason_and_the_host_keeps_serving() {
    let h = Harness::start().await;
    let unknown = KeyKind::Module.generate().public_key();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("la", b"{not json".to_vec(), "invalid request"),
        (
            "la",
            br#"{"count": 1}"#.to_vec(),
            "missing field `actor_ref`",
        ),
        ("la", br#"{"actor_ref": ""}"#.to_vec(), "actor_ref is empty"),
        (
            "scale",
            br#"{"actor_id": "MX", "actor_ref": "", "count": 1}"#.to_vec(),
            "is not an actor's public key",
        ),
        (
            "scale",
            format!(r#"{{"actor_id": "{unknown}", "actor_ref": "", "count": 2}}"#).into_bytes(),
            "is not running on this host",
        ),
        (
            "scale",
            format!(r#"{{"actor_id": "{unknown}", "count": 2}}"#).into_bytes(),
            "missing field `actor_ref`",
        ),
        (
            "sa",
            format!(r#"{{"actor_ref": "{unknown}", "count": 1}}"#).into_bytes(),
            "is not running on this host",
        ),
        (
            "sa",
            br#"{"actor_ref": "Mshort", "count": 1}"#.to_vec(),
            "is not an actor's public key",
        ),
        (
            "sp",
            br#"{"provider_ref": "VSHORT", "link_name": "default"}"#.to_vec(),
            "56-character public key",
        ),
        (
            "upd",
            br#"{"new_actor_ref": ""}"#.to_vec(),
            "new_actor_ref is empty",
        ),
        (
            "upd",
            br#"{"new_actor_ref": "file:///no/such.wasm"}"#.to_vec(),
            "could not read /no/such.wasm",
        ),
        ("lp", b"[]".to_vec(), "invalid request"),
        ("bogus", b"{}".to_vec(), "unknown host command"),
    ];
    for (command, body, expected) in cases {
        let subject = h
            .ctl()
            .subject(CtlSubject::Command(&h.host.public_key(), command))
            .unwrap();
        let reply = h.client.request(subject, body.into()).await.unwrap();
        let ack: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        assert_eq!(ack["accepted"], false, "{command}: {ack}");
        let error = ack["error"].as_str().unwrap();
        assert!(
            error.contains(expected),
            "{command}: {error:?} should say {expected:?}"
        );
    }
    let reply = h
        .client
        .request(
            h.ctl().subject(CtlSubject::LinkPut).unwrap(),
            b"{\"actor_id\": 1}".to_vec().into(),
        )
        .await
        .unwrap();
    let ack: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(ack["accepted"], false, "{ack}");
    // A launch whose module cannot be read is accepted, then fails with an event.
    let ack = h.launch(std::path::Path::new("/no/such/actor.wasm")).await;
    assert!(!ack.accepted);
    assert!(
        ack.error.contains("could not read /no/such/actor.wasm"),
        "{ack:?}"
    );
    // Still serving.
    let echo_path = fixtures::sample_actor("echo");
    assert!(h.launch(&echo_path).await.accepted, "{}", h.logs());
    assert!(
        h.control_plane
            .log()
            .lines()
            .all(|l| !l.contains("panicked"))
    );
}

#[tokio::test]
async fn live_update_swaps_the_module_without_dropping_a_call() {
    let h = Harness::start().await;
    let (v1, v2, key) = fixtures::tagged_revisions();
    let v1_path = h.dir.path().join("tagged-v1.wasm");
    let v2_path = h.dir.path().join("tagged-v2.wasm");
    std::fs::write(&v1_path, &v1).unwrap();
    std::fs::write(&v2_path, &v2).unwrap();
    assert!(h.launch(&v1_path).await.accepted);
    let ack = h
        .command(
            "scale",
            &serde_json::json!({"actor_id": key, "actor_ref": "", "count": 4}),
        )
        .await;
    assert!(ack.accepted, "{ack:?}");
    assert_eq!(h.invoke(&key, "Any.Op", b"x".to_vec()).await.msg, b"v01");

    // Calls keep flowing from 8 callers while the update happens.
    let stop = tokio_util::sync::CancellationToken::new();
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let client = h.client.clone();
            let stop = stop.clone();
            let invocations: Vec<_> = (0..2000)
                .map(|_| h.invocation(&key, "Any.Op", b"x".to_vec()).encode())
                .collect();
            let subject = subjects::actor_rpc(&h.lattice, &key);
            tokio::spawn(async move {
                let (mut ok, mut failed, mut v2_seen) = (0u32, Vec::new(), 0u32);
                for bytes in invocations {
                    if stop.is_cancelled() {
                        break;
                    }
                    match client.request(subject.clone(), bytes.into()).await {
                        Ok(reply) => {
                            let response =
                                kiln_types::invocation::InvocationResponse::decode(&reply.payload)
                                    .unwrap();
                            match response.error {
                                None => {
                                    ok += 1;
                                    if response.msg == b"v02" {
                                        v2_seen += 1;
                                    }
                                }
                                Some(error) => failed.push(error),
                            }
                        }
                        Err(error) => failed.push(error.to_string()),
                    }
                }
                (ok, failed, v2_seen)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A lower or equal revision is refused.
    let ack = h
        .command(
            "upd",
            &serde_json::json!({"new_actor_ref": format!("file://{}", v1_path.display())}),
        )
        .await;
    assert!(!ack.accepted);
    assert!(
        ack.error.contains("not higher than the running revision 1"),
        "{ack:?}"
    );
    let mut events = h.events().await;
    let ack = h
        .command(
            "upd",
            &serde_json::json!({"new_actor_ref": format!("file://{}", v2_path.display())}),
        )
        .await;
    assert!(ack.accepted, "{ack:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.cancel();
    let (mut ok, mut v2_seen) = (0, 0);
    for caller in callers {
        let (n, failed, v2) = caller.await.unwrap();
        assert!(
            failed.is_empty(),
            "calls failed during the update: {failed:?}"
        );
        ok += n;
        v2_seen += v2;
    }
    assert!(ok > 50, "only {ok} calls went through");
    assert!(
        v2_seen > 0 && v2_seen < ok,
        "{v2_seen} of {ok} served by v02"
    );
    let updated = collect_until(&mut events, "actor_updated").await;
    assert_eq!(updated[0].1["revision"], 2);
    assert_eq!(h.invoke(&key, "Any.Op", b"x".to_vec()).await.msg, b"v02");
    let inventory = h.inventory().await;
    assert_eq!(
        inventory["actors"][0]["instances"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(inventory["actors"][0]["instances"][0]["revision"], 2);
}
