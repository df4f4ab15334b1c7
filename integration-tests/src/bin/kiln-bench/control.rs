//! The control interface: 100 distinct actors started by `la` commands until every one
//! answers a call, and the round trip of control requests.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use kiln_integration_tests::{Harness, Options, fixtures};
use kiln_types::claims::ActorSpec;
use kiln_wasmbus::subjects::{self, CtlSubject};

use crate::report;
use crate::scale::scale;

pub async fn run() {
    let (actors_n, requests) = (scale().control_actors, scale().control_requests);
    let h = Harness::with(Options {
        log: Some("warn".into()),
        ..Options::default()
    })
    .await;
    let host = h.host.public_key();
    let actors = tagged_actors(&h);

    let started = Instant::now();
    let acks = futures::stream::iter(&actors)
        .map(|(reference, _, _)| {
            let (h, host) = (&h, &host);
            async move {
                let body = serde_json::json!({"actor_ref": reference, "count": 1});
                h.command_to(host, "la", &body).await
            }
        })
        .buffer_unordered(actors_n)
        .collect::<Vec<_>>()
        .await;
    let acked = started.elapsed();
    assert!(acks.iter().all(|a| a.accepted), "{acks:?}");
    all_answering(&h, &actors).await;
    let answering = started.elapsed();
    println!(
        "\nControl interface ({actors_n} distinct actors, each compiled; {requests} sequential requests per row)"
    );
    println!(
        "  start {actors_n} actors by `la`: all acknowledged after {:.0} ms, all answering calls after {:.0} ms ({:.1} ms per actor)",
        acked.as_secs_f64() * 1e3,
        answering.as_secs_f64() * 1e3,
        answering.as_secs_f64() * 1e3 / actors_n as f64
    );

    let inventory = h.ctl().subject(CtlSubject::Inventory(&host)).unwrap();
    let (p50, p99) = round_trips(&h, &inventory, &[]).await;
    println!("  get.{{host}}.inv with {actors_n} actors: p50 {p50:.0} µs, p99 {p99:.0} µs");
    report::figure(
        "control: get.{host}.inv",
        serde_json::json!({"actors": actors_n, "p50_us": p50, "p99_us": p99}),
    );
    let links = h.ctl().subject(CtlSubject::Links).unwrap();
    let (p50, p99) = round_trips(&h, &links, &[]).await;
    println!("  get.links (one host of the queue group): p50 {p50:.0} µs, p99 {p99:.0} µs");
    report::figure(
        "control: get.links",
        serde_json::json!({"p50_us": p50, "p99_us": p99}),
    );
    let scale = h
        .ctl()
        .subject(CtlSubject::Command(&host, "scale"))
        .unwrap();
    let body = serde_json::json!({"actor_id": actors[0].1, "actor_ref": "", "count": 1})
        .to_string()
        .into_bytes();
    let (p50, p99) = round_trips(&h, &scale, &body).await;
    println!("  cmd.{{host}}.scale (no change, data plane told): p50 {p50:.0} µs, p99 {p99:.0} µs");
    report::figure(
        "control: cmd.{host}.scale",
        serde_json::json!({"p50_us": p50, "p99_us": p99}),
    );
}

/// `scale().control_actors` distinct signed modules (each answers its own tag), written to files so
/// each start compiles one: (reference, key, tag).
fn tagged_actors(h: &Harness) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(
        kiln_integration_tests::workspace_root().join("integration-tests/fixtures/tagged.wat"),
    )
    .unwrap();
    // Distinct modules (each answers its own tag), so each is compiled: a real start.
    (0..scale().control_actors)
        .map(|i| {
            let tag = format!("{i:03}");
            let module = wat::parse_str(text.replace("\"TAG\"", &format!("\"{tag}\""))).unwrap();
            let spec = ActorSpec {
                name: Some(format!("tagged-{tag}")),
                ..ActorSpec::default()
            };
            let (signed, key) = fixtures::sign(&module, &spec);
            let path = h.dir.path().join(format!("tagged-{tag}.wasm"));
            std::fs::write(&path, signed).unwrap();
            (format!("file://{}", path.display()), key.public_key(), tag)
        })
        .collect()
}

/// Returns once every actor answers a call with its tag.
async fn all_answering(h: &Harness, actors: &[(String, String, String)]) {
    futures::stream::iter(actors)
        .for_each_concurrent(scale().control_actors, |(_, key, tag)| async move {
            let subject = subjects::actor_rpc(&h.lattice, key);
            loop {
                let invocation = h.invocation(key, "Any.Op", Vec::new()).encode();
                match h.client.request(subject.clone(), invocation.into()).await {
                    Ok(reply) => {
                        let response =
                            kiln_types::invocation::InvocationResponse::decode(&reply.payload)
                                .unwrap();
                        assert_eq!(response.msg, tag.as_bytes(), "{:?}", response.error);
                        return;
                    }
                    Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        })
        .await;
}

/// p50 and p99 in µs of `scale().control_requests` sequential requests.
async fn round_trips(h: &Harness, subject: &str, body: &[u8]) -> (f64, f64) {
    let mut times = Vec::with_capacity(scale().control_requests);
    for _ in 0..scale().control_requests {
        let started = Instant::now();
        let reply = h
            .client
            .request(subject.to_string(), body.to_vec().into())
            .await
            .unwrap();
        times.push(started.elapsed().as_secs_f64() * 1e6);
        assert!(!reply.payload.is_empty());
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[times.len() * 99 / 100])
}
