//! Three hosts on one lattice: each answers for itself, calls to an actor that runs on
//! all of them spread across them, auctions pick by labels, links and claims written
//! through one host are seen by the others, and a host killed with SIGKILL leaves the
//! others' view of the lattice within the expiry while they keep serving.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use kiln_integration_tests::{Harness, Options, eventually, fixtures, http};
use kiln_wasmbus::subjects::{self, CtlSubject};

const EXPIRY_MS: u64 = 1500;

fn lattice_args(zone: &str) -> Vec<String> {
    vec![
        "--label".into(),
        format!("zone={zone}"),
        "--heartbeat-interval-ms".into(),
        "300".into(),
        "--host-expiry-ms".into(),
        EXPIRY_MS.to_string(),
    ]
}

/// The hosts `port`'s control plane sees.
async fn seen_hosts(port: u16) -> Vec<String> {
    let (status, body) = kiln_integration_tests::http(port, "GET", "/api/hosts", b"")
        .await
        .unwrap();
    assert_eq!(status, 200);
    let view: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut ids: Vec<String> = view["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn three_hosts_share_calls_links_and_a_view_that_forgets_dead_hosts() {
    let h = Harness::with(Options {
        control_plane_args: lattice_args("a"),
        ..Options::default()
    })
    .await;
    let b = h.join("b", &["--label", "zone=b"]).await;
    let mut c = h.join("c", &["--label", "zone=c"]).await;
    let a_id = h.host.public_key();
    let mut all = vec![a_id.clone(), b.id(), c.id()];
    all.sort();

    // Every host sees every host.
    for port in [h.http_port, b.http_port, c.http_port] {
        let complete = eventually(Duration::from_secs(10), || async {
            seen_hosts(port).await == all
        })
        .await;
        assert!(complete, "host on {port} sees {:?}", seen_hosts(port).await);
    }

    // The same actor on all three.
    let echo_path = fixtures::sample_actor("echo");
    let echo = fixtures::actor_key(&std::fs::read(&echo_path).unwrap());
    let reference = format!("file://{}", echo_path.display());
    for id in &all {
        let ack = h.launch_on(id, &reference, 2).await;
        assert!(ack.accepted, "{id}: {ack:?}");
    }
    // Each host's inventory is its own.
    for id in &all {
        let reply = h
            .client
            .request(
                h.ctl().subject(CtlSubject::Inventory(id)).unwrap(),
                "".into(),
            )
            .await
            .unwrap();
        let inventory: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        assert_eq!(inventory["host_id"], id.as_str());
        assert_eq!(inventory["actors"][0]["id"], echo.as_str());
        assert_eq!(
            inventory["actors"][0]["instances"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    // Calls spread: count who answered each from the invocation events.
    let mut results = h
        .client
        .subscribe(subjects::rpc_events(&h.lattice))
        .await
        .unwrap();
    h.client.flush().await.unwrap();
    const CALLS: usize = 300;
    let harness = &h;
    let calls = futures::stream::iter(0..CALLS)
        .map(|i| {
            let invocation = harness.invocation(
                &echo,
                "HttpServer.HandleRequest",
                http::get(&format!("/{i}")),
            );
            async move { harness.send(&invocation).await }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    assert!(calls.iter().all(|r| r.error.is_none()));
    let mut per_host: HashMap<String, usize> = HashMap::new();
    for _ in 0..CALLS {
        let message = tokio::time::timeout(Duration::from_secs(5), results.next())
            .await
            .unwrap()
            .unwrap();
        let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(event["type"], "com.wasmcloud.lattice.invocation_succeeded");
        *per_host
            .entry(event["source"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    eprintln!("calls per host: {per_host:?}");
    assert_eq!(per_host.len(), 3, "{per_host:?}");
    assert!(per_host.values().all(|n| *n >= CALLS / 10), "{per_host:?}");

    // Auctions pick by labels.
    let inbox = h.client.new_inbox();
    let mut bids = h.client.subscribe(inbox.clone()).await.unwrap();
    h.client
        .publish_with_reply(
            h.ctl().subject(CtlSubject::ActorAuction).unwrap(),
            inbox,
            serde_json::json!({"actor_ref": reference, "constraints": {"zone": "b"}})
                .to_string()
                .into(),
        )
        .await
        .unwrap();
    let bid: serde_json::Value = serde_json::from_slice(
        &tokio::time::timeout(Duration::from_secs(2), bids.next())
            .await
            .unwrap()
            .unwrap()
            .payload,
    )
    .unwrap();
    assert_eq!(bid["host_id"], b.id().as_str());
    assert!(
        tokio::time::timeout(Duration::from_millis(500), bids.next())
            .await
            .is_err()
    );

    // A link put through the lattice reaches every host's view; claims too.
    let provider = kiln_types::keys::KeyKind::Service.generate().public_key();
    assert!(
        h.put_link(&echo, &provider, "wasmcloud:keyvalue", &[])
            .await
            .accepted
    );
    let claims = h.query_lattice(CtlSubject::Claims).await;
    assert!(
        claims["claims"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["sub"] == echo.as_str())
    );

    // SIGKILL one host: the others keep serving and forget it within the expiry.
    c.control_plane.kill();
    c.data_plane.kill();
    let killed = Instant::now();
    let mut survivors = vec![a_id.clone(), b.id()];
    survivors.sort();
    // The two left share the calls; none fails.
    let after = futures::stream::iter(0..100)
        .map(|i| {
            let invocation = harness.invocation(
                &echo,
                "HttpServer.HandleRequest",
                http::get(&format!("/after/{i}")),
            );
            async move { harness.send(&invocation).await }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    assert!(after.iter().all(|r| r.error.is_none()), "{after:?}");
    let mut per_host: HashMap<String, usize> = HashMap::new();
    for _ in 0..after.len() {
        let message = tokio::time::timeout(Duration::from_secs(5), results.next())
            .await
            .unwrap()
            .unwrap();
        let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        *per_host
            .entry(event["source"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    eprintln!("calls per host after the kill: {per_host:?}");
    assert_eq!(per_host.len(), 2, "{per_host:?}");
    assert!(!per_host.contains_key(&c.id()), "{per_host:?}");
    let forgotten = eventually(Duration::from_millis(EXPIRY_MS * 4), || async {
        seen_hosts(h.http_port).await == survivors && seen_hosts(b.http_port).await == survivors
    })
    .await;
    let took = killed.elapsed();
    assert!(forgotten, "still seen: {:?}", seen_hosts(h.http_port).await);
    eprintln!("killed host left the lattice view after {took:?} (expiry {EXPIRY_MS} ms)");
}
