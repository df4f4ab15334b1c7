//! Density: many instances of one actor, then many distinct actors, in one data plane,
//! every instance having answered a call; the data plane's memory (PSS, which shares
//! pages fairly between the processes that map them) before and after.

use std::path::Path;
use std::time::Instant;

use futures::StreamExt as _;
use kiln_integration_tests::{Harness, Options, data_plane_client, fixtures, http};
use kiln_proto::dataplane::v1 as pb;

use crate::scale::scale;
use crate::{CONCURRENCY, report};

/// Both density runs.
pub async fn run(echo_path: &Path, echo: &str) {
    println!("\ndensity (data plane memory as PSS, after every instance answered a call)");
    instances(echo_path, echo).await;
    distinct_actors(echo_path, Code::Shared).await;
    distinct_actors(echo_path, Code::Own).await;
}

/// A host whose data plane's pool holds `slots` instances, in `mode`.
async fn host(slots: usize, mode: &str) -> Harness {
    Harness::with(Options {
        log: Some("warn".into()),
        data_plane_args: vec![
            "--instance-mode".into(),
            mode.into(),
            "--max-instances".into(),
            slots.to_string(),
        ],
        ..Options::default()
    })
    .await
}

/// One actor scaled to `scale().density_instances`, each instance brought up by the
/// scale (`--instance-mode warm`) and, since warm instances serve in turn, each one
/// answering one of as many calls.
async fn instances(echo_path: &Path, echo: &str) {
    let count = scale().density_instances;
    let h = host(count + CONCURRENCY, "warm").await;
    let ack = h.launch(echo_path).await;
    assert!(ack.accepted, "{ack:?}\n{}", h.logs());
    let before = h.data_plane.pss_kib();
    let started = Instant::now();
    let ack = h
        .command(
            "scale",
            &serde_json::json!({"actor_id": echo, "actor_ref": "", "count": count}),
        )
        .await;
    // The scale of a running actor answers once its instances are up.
    assert!(ack.accepted, "{ack:?}\n{}", h.logs());
    let brought_up = started.elapsed();
    assert_eq!(live(&h, echo).await, count, "every instance is up");
    let answered = call_each(&h, &[echo.to_string()], count).await;
    assert_eq!(live(&h, echo).await, count, "every instance is still up");
    let after = h.data_plane.pss_kib();
    print_memory(
        &format!("{count} instances of echo"),
        count,
        (before, after, h.data_plane.mappings()),
        &format!(
            "brought up in {:.2} s, {count} calls answered in {:.2} s",
            brought_up.as_secs_f64(),
            answered.as_secs_f64()
        ),
    );
}

/// Whether distinct actors share their code.
#[derive(Clone, Copy, PartialEq)]
enum Code {
    /// The echo module signed under each key: one artifact, compiled once (hosts keep
    /// modules by the digest of the code without its claims).
    Shared,
    /// Each actor a module of its own, compiled and kept on its own.
    Own,
}

/// `scale().density_actors` actors, each signed under its own key, one instance each,
/// each answering a call.
async fn distinct_actors(echo_path: &Path, code: Code) {
    let count = scale().density_actors;
    let h = host(count + CONCURRENCY, "reuse").await;
    let signed = std::fs::read(echo_path).unwrap();
    let before = h.data_plane.pss_kib();
    let started = Instant::now();
    let mut keys = Vec::with_capacity(count);
    for i in 0..count {
        let spec = kiln_types::claims::ActorSpec {
            name: Some(format!("echo {i}")),
            caps: vec!["wasmcloud:httpserver".into()],
            ..Default::default()
        };
        let module = match code {
            Code::Shared => signed.clone(),
            Code::Own => own_module(&signed, i),
        };
        let (bytes, key) = fixtures::sign(&module, &spec);
        let ack = h.launch_bytes(&format!("echo_{i}.wasm"), &bytes).await;
        assert!(ack.accepted, "{ack:?}\n{}", h.logs());
        keys.push(key.public_key());
    }
    let launched = started.elapsed();
    let answered = call_each(&h, &keys, keys.len()).await;
    let after = h.data_plane.pss_kib();
    print_memory(
        &match code {
            Code::Shared => format!("{count} distinct actors of the same code"),
            Code::Own => format!("{count} distinct actors, each its own module"),
        },
        count,
        (before, after, h.data_plane.mappings()),
        &format!(
            "launched in {:.2} s, one call each answered in {:.2} s",
            launched.as_secs_f64(),
            answered.as_secs_f64()
        ),
    );
}

/// `module` made a module of its own by a custom section naming `variant`: its code
/// digest differs, so it is compiled and kept apart from every other.
fn own_module(module: &[u8], variant: usize) -> Vec<u8> {
    use wasm_encoder::Section as _;
    let mut bytes = module.to_vec();
    wasm_encoder::CustomSection {
        name: "kiln-bench-variant".into(),
        data: variant.to_string().into_bytes().into(),
    }
    .append_to(&mut bytes);
    bytes
}

/// One density row: PSS before and after in KiB, and the mappings after.
fn print_memory(
    label: &str,
    count: usize,
    (before, after, mappings): (u64, u64, usize),
    timing: &str,
) {
    let per = after.saturating_sub(before) as f64 / count as f64;
    println!(
        "  {label}: data plane PSS {:.0} MiB ({:.0} MiB before), {per:.1} KiB each, {mappings} memory mappings; {timing}",
        after as f64 / 1024.0,
        before as f64 / 1024.0,
    );
    report::figure(
        &format!("density: {label}"),
        serde_json::json!({
            "count": count,
            "pss_kib_before": before,
            "pss_kib_after": after,
            "kib_each": per,
            "mappings": mappings,
        }),
    );
}

/// `calls` echo calls straight to the data plane, `CONCURRENCY` in flight, spread over
/// `actors` in turn; every one must answer. Returns how long they took.
async fn call_each(h: &Harness, actors: &[String], calls: usize) -> std::time::Duration {
    let mut client = data_plane_client(&h.dir.path().join("dp.sock")).await;
    let (tx, rx) = tokio::sync::mpsc::channel(CONCURRENCY * 2);
    let mut responses = client
        .invoke_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let request = |i: usize| pb::InvokeRequest {
        call_id: i as u64,
        actor: actors[i % actors.len()].clone(),
        operation: "HttpServer.HandleRequest".into(),
        payload: http::get(&format!("/density/{i}")).into(),
        ..Default::default()
    };
    let started = Instant::now();
    let (mut sent, mut received) = (0, 0);
    while received < calls {
        while sent < calls && sent - received < CONCURRENCY {
            tx.send(request(sent)).await.unwrap();
            sent += 1;
        }
        let response = responses.next().await.unwrap().unwrap();
        assert!(
            matches!(
                response.result,
                Some(pb::invoke_response::Result::Payload(_))
            ),
            "call {} failed: {:?}",
            response.call_id,
            response.result
        );
        received += 1;
    }
    started.elapsed()
}

/// How many instances of `actor` the data plane has in memory.
async fn live(h: &Harness, actor: &str) -> usize {
    h.data_plane_inventory()
        .await
        .actors
        .into_iter()
        .find(|a| a.actor == actor)
        .map_or(0, |a| a.live as usize)
}
