//! NATS as a cluster: three servers routed together with JetStream on each, hosts
//! attached to different servers, the lattice cache replicated on all three. One server
//! killed with SIGKILL: calls keep being answered, the cache survives, and the hosts
//! that used it reconnect to another.

use std::time::{Duration, Instant};

use kiln_integration_tests::{Harness, Options, eventually, fixtures, http};
use kiln_types::invocation::InvocationResponse;
use kiln_wasmbus::subjects::{self, CtlSubject};

#[tokio::test]
async fn a_lost_nats_server_costs_a_moment_and_no_state() {
    let mut h = Harness::with(Options {
        nats_servers: 3,
        control_plane_args: vec!["--lattice-replicas".into(), "3".into()],
        ..Options::default()
    })
    .await;
    // Host A on server 0 (the harness's own), host B on server 1.
    let b = h.join_on("b", 1, &[]).await;
    let path = fixtures::sample_actor("echo");
    let reference = format!("file://{}", path.display());
    let echo = fixtures::actor_key(&std::fs::read(&path).unwrap());
    for host in [h.host.public_key(), b.id()] {
        assert!(
            h.launch_on(&host, &reference, 1).await.accepted,
            "{}",
            h.logs()
        );
    }
    let provider = kiln_types::keys::KeyKind::Service.generate().public_key();
    assert!(
        h.put_link(
            &echo,
            &provider,
            "wasmcloud:keyvalue",
            &[("URL", "redis://x")]
        )
        .await
        .accepted
    );

    // A client on server 2 calls echo all along.
    let caller = async_nats::connect(h.more_nats[1].url()).await.unwrap();
    let subject = subjects::actor_rpc(&h.lattice, &echo);
    let signer = kiln_types::keys::KeyPair::from_seed(&h.cluster.seed().unwrap()).unwrap();
    let call = || {
        let caller = caller.clone();
        let subject = subject.clone();
        let invocation = kiln_types::invocation::Invocation::new_signed(
            &signer,
            kiln_types::invocation::Entity::actor(
                kiln_types::keys::KeyKind::Module.generate().public_key(),
            ),
            kiln_types::invocation::Entity::actor(&echo),
            "HttpServer.HandleRequest",
            http::get("/"),
            kiln_types::unix_now(),
        )
        .unwrap()
        .encode();
        async move {
            let reply = tokio::time::timeout(
                Duration::from_millis(500),
                caller.request(subject, invocation.into()),
            )
            .await;
            matches!(reply, Ok(Ok(message))
                if InvocationResponse::decode(&message.payload).is_ok_and(|r| r.error.is_none()))
        }
    };
    assert!(call().await, "echo answers before the kill\n{}", h.logs());

    // Kill server 0 (host A's) and keep calling for a while.
    h.nats.kill();
    let killed = Instant::now();
    let mut last_success = killed;
    let mut longest_gap = Duration::ZERO;
    let (mut answered, mut failed) = (0u32, 0u32);
    let mut host_a_back = None;
    while killed.elapsed() < Duration::from_secs(8) {
        if host_a_back.is_none()
            && h.readyz().await.is_some_and(|(status, _)| status == 200)
            && killed.elapsed() > Duration::from_millis(100)
        {
            host_a_back = Some(killed.elapsed());
        }
        if call().await {
            answered += 1;
            longest_gap = longest_gap.max(last_success.elapsed());
            last_success = Instant::now();
        } else {
            failed += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "after the kill: {answered} calls answered, {failed} failed; the longest gap between answers was {longest_gap:?}; host A ready again after {host_a_back:?}"
    );
    assert!(answered > 50, "{answered} answered, {failed} failed");
    assert!(
        longest_gap < Duration::from_secs(5),
        "calls went unanswered for {longest_gap:?}"
    );

    // The lattice cache survived on the other two servers.
    let links: serde_json::Value = {
        let reply = caller
            .request(h.ctl().subject(CtlSubject::Links).unwrap(), "".into())
            .await
            .unwrap();
        serde_json::from_slice(&reply.payload).unwrap()
    };
    assert_eq!(links["links"][0]["actor_id"], echo.as_str(), "{links}");
    // The link's entry is still in the replicated bucket. Reading it needs the
    // stream's leader, which the cluster elects again when the lost server led it: the
    // state is there, the read may take a few tries (each bounded, so a read that waits
    // on the election does not use up the deadline).
    let js = async_nats::jetstream::new(caller.clone());
    let bucket = format!("LATTICEDATA_{}", h.lattice);
    let key = format!("LINKDEF_{}", links["links"][0]["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let entry = loop {
        // Opening the bucket asks the JetStream API, which waits on the meta leader's
        // election too: both are retried, each try bounded.
        let read = tokio::time::timeout(Duration::from_secs(2), async {
            js.get_key_value(&bucket).await.ok()?.get(&key).await.ok()?
        })
        .await;
        match read {
            Ok(Some(value)) => break value,
            _ if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!("the lattice cache's {key} could not be read in 30 s: {other:?}"),
        }
    };
    let stored: serde_json::Value = serde_json::from_slice(&entry).unwrap();
    assert_eq!(stored["actor_id"], echo.as_str(), "{stored}");

    // Host A's connections moved to another server: it is ready and answers again.
    let back = eventually(Duration::from_secs(20), || async {
        h.readyz().await.is_some_and(|(status, _)| status == 200)
    })
    .await;
    assert!(back, "{:?}\n{}", h.readyz().await, h.logs());
    let inventory = caller
        .request(
            h.ctl()
                .subject(CtlSubject::Inventory(&h.host.public_key()))
                .unwrap(),
            "".into(),
        )
        .await
        .expect("host A answers its inventory through another server");
    let inventory: serde_json::Value = serde_json::from_slice(&inventory.payload).unwrap();
    assert_eq!(inventory["actors"][0]["id"], echo.as_str());
    assert!(
        h.control_plane.log().contains("lost the NATS server"),
        "{}",
        h.logs()
    );
    drop(b);
}
