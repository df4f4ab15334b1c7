//! `kiln-bench`: latency and throughput of the echo actor through the lattice and both
//! planes, against a bare NATS request/reply echo measured in the same run; then the
//! cold start from a launch command to the first reply; HTTP through the httpserver
//! provider against a plain hyper server; the control interface; density (10,000
//! instances of one actor, 1,000 distinct actors, in one data plane).
//!
//! Run it with `scripts/bench` (release build). It prints a table and the ratios, and
//! with `--json FILE` writes them as JSON too. `--smoke` runs every path briefly, to
//! show each answers (CI runs it; its numbers mean nothing).
#![allow(clippy::print_stdout, reason = "a benchmark's report is its output")]
#![allow(
    clippy::unwrap_used,
    reason = "a benchmark that cannot run should stop loudly"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt as _;
use kiln_integration_tests::{Harness, Options, data_plane_client, fixtures, http};
use kiln_wasmbus::subjects;

mod cold_start;
mod control;
mod cpu;
mod density;
mod grpc_floor;
mod http_server;
mod report;
mod scale;
mod soak;

use scale::scale;

/// Calls in flight in the throughput runs, and echo's instances.
pub(crate) const CONCURRENCY: usize = 64;

#[derive(Clone, Copy)]
pub(crate) struct Figures {
    p50_us: f64,
    p99_us: f64,
    per_second: f64,
}

impl Figures {
    /// Each figure's median over rounds: the machine is shared and noisy, so single
    /// rounds are not trusted.
    fn median(rounds: &[Figures]) -> Figures {
        let median = |f: fn(&Figures) -> f64| {
            let mut values: Vec<f64> = rounds.iter().map(f).collect();
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        Figures {
            p50_us: median(|f| f.p50_us),
            p99_us: median(|f| f.p99_us),
            per_second: median(|f| f.per_second),
        }
    }
}

#[tokio::main]
async fn main() {
    // `kiln-bench hello-server PORT`: the baseline HTTP server, run as its own process.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("hello-server") {
        http_server::hello_server(args[2].parse().unwrap()).await;
        return;
    }
    // `kiln-bench grpc-floor-server SOCKET`: the baseline of the data-plane hop.
    if args.get(1).map(String::as_str) == Some("grpc-floor-server") {
        grpc_floor::serve(std::path::Path::new(&args[2])).await;
        return;
    }
    // `kiln-bench soak [SECONDS]`: the long run at 80 % of saturation.
    if args.get(1).map(String::as_str) == Some("soak") {
        let seconds = args.get(2).map_or(600, |s| s.parse().unwrap());
        soak::run(seconds).await;
        return;
    }
    // `kiln-bench [--smoke] [--json FILE]`.
    let mut json = None;
    let mut flags = args.iter().skip(1);
    while let Some(flag) = flags.next() {
        match flag.as_str() {
            "--smoke" => scale::choose_smoke(),
            "--json" => json = Some(std::path::PathBuf::from(flags.next().expect("--json FILE"))),
            other => panic!(
                "unknown argument {other:?}; usage: kiln-bench [--smoke] [--json FILE] | soak [SECONDS]"
            ),
        }
    }
    let echo_path = fixtures::sample_actor("echo");
    let echo = fixtures::actor_key(&std::fs::read(&echo_path).unwrap());
    host_paths(&echo_path, &echo).await;
    // KILN_BENCH_ONLY=HTTP (or CONTROL, or DENSITY) runs only that part.
    let only = std::env::var("KILN_BENCH_ONLY").ok();
    if only.as_deref().is_none_or(|only| "HTTP".contains(only)) {
        http_server::run(&echo_path, &echo).await;
    }
    if only.as_deref().is_none_or(|only| "CONTROL".contains(only)) {
        control::run().await;
    }
    if only.as_deref().is_none_or(|only| "DENSITY".contains(only)) {
        density::run(&echo_path, &echo).await;
    }
    if let Some(file) = json {
        report::write(&file);
        println!("\nwrote {}", file.display());
    }
}

/// The host path against bare NATS, in each invoke path and instance mode.
async fn host_paths(echo_path: &std::path::Path, echo: &str) {
    println!(
        "kiln-bench: {} interleaved rounds of baseline and host; per round {} sequential calls (latency) and {CONCURRENCY} in flight for {:?} (throughput); medians shown{}",
        scale().rounds,
        scale().latency_calls,
        scale().throughput_for,
        if scale().smoke {
            " (smoke: too few calls to mean anything)"
        } else {
            ""
        }
    );
    println!(
        "machine: {} cores\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<40} {:>8} {:>8} {:>9} | {:>8} {:>8} {:>9} | {:>6} {:>6}",
        "host path (baseline: bare NATS echo)",
        "p50 µs",
        "p99 µs",
        "calls/s",
        "base p50",
        "base p99",
        "base c/s",
        "p50 ×",
        "tput ×"
    );
    for (label, invoke_path, instance_mode) in [
        ("echo actor (stream, reuse)", "stream", "reuse"),
        ("echo actor (unary, reuse)", "unary", "reuse"),
        ("echo actor (stream, fresh)", "stream", "fresh"),
    ] {
        host_path(label, invoke_path, instance_mode, echo_path, echo).await;
    }
}

/// One row of the host path (and, on the stream, the data plane alone; with reuse,
/// a signing client and the cold start).
async fn host_path(
    label: &str,
    invoke_path: &str,
    instance_mode: &str,
    echo_path: &std::path::Path,
    echo: &str,
) {
    // KILN_BENCH_ONLY=<substring> runs only matching paths (for profiling).
    if std::env::var("KILN_BENCH_ONLY").is_ok_and(|only| !label.contains(&only)) {
        return;
    }
    let h = echo_host(
        Options {
            control_plane_args: vec!["--invoke-path".into(), invoke_path.into()],
            data_plane_args: vec!["--instance-mode".into(), instance_mode.into()],
            ..Options::default()
        },
        echo_path,
        echo,
    )
    .await;
    // The baseline runs on the same NATS server with the same bytes, in turns with
    // the host, so both see the same machine.
    let _responder = bare_responder(&h).await;
    let subject = subjects::actor_rpc(&h.lattice, echo);
    let (mut base, mut host) = (Vec::new(), Vec::new());
    let (mut base_cpu, mut host_cpu) = (Vec::new(), Vec::new());
    let processes = [
        ("NATS server", cpu::Source::Process(h.nats.pid())),
        ("control plane", cpu::Source::Process(h.control_plane.pid())),
        ("data plane", cpu::Source::Process(h.data_plane.pid())),
        ("client", cpu::Source::Process(std::process::id())),
    ];
    for _ in 0..scale().rounds {
        // A host accepts each signed invocation once: every round gets its own,
        // signed before it is timed (the baseline echoes the same bytes).
        let signed = signed_calls(&h, echo, scale().signed_per_round).await;
        let (figures, cpu) = measure(&h.client, "bench.echo", &signed, |_| {}, &processes).await;
        base.push(figures);
        base_cpu.push(cpu);
        let (figures, cpu) = measure(&h.client, &subject, &signed, check_echo, &processes).await;
        host.push(figures);
        host_cpu.push(cpu);
    }
    print_row(label, &Figures::median(&host), &Figures::median(&base));
    cpu::print(
        label,
        &processes,
        &cpu::median(&host_cpu),
        &cpu::median(&base_cpu),
    );
    batched_share(&h, label).await;
    if invoke_path == "stream" {
        // The same client on the same stream against a bare tonic echo of the same
        // proto, in turns with the data plane.
        let floor_server = grpc_floor::start(h.dir.path()).await;
        let (mut alone, mut floor) = (Vec::new(), Vec::new());
        for _ in 0..scale().rounds {
            floor.push(data_plane_alone(&floor_server.socket, echo).await);
            alone.push(data_plane_alone(&h.dir.path().join("dp.sock"), echo).await);
        }
        drop(floor_server);
        let (alone, floor) = (Figures::median(&alone), Figures::median(&floor));
        report::path(&format!("{label}: data plane alone"), &alone, Some(&floor));
        println!(
            "{:<40} {:>8.0} {:>8.0} {:>9.0} | {:>8.0} {:>8.0} {:>9.0} | {:>6.2} {:>6.2}",
            "  data plane alone (baseline: bare gRPC)",
            alone.p50_us,
            alone.p99_us,
            alone.per_second,
            floor.p50_us,
            floor.p99_us,
            floor.per_second,
            alone.p50_us / floor.p50_us,
            alone.per_second / floor.per_second
        );
    }
    if invoke_path == "stream" && instance_mode == "reuse" {
        let f = signing_client(&h, echo).await;
        report::path(&format!("{label}: client signs every call"), &f, None);
        println!(
            "{:<40} {:>8.0} {:>8.0} {:>9.0} |",
            "  same, client signs every call", f.p50_us, f.p99_us, f.per_second
        );
        let cold = cold_start::run(&h, echo_path, echo).await;
        let r = &cold.reply;
        println!(
            "  cold start, launch command to first reply, compiled module cached ({} runs): p50 {:.2} ms, p99 {:.2} ms, min {:.2} ms",
            scale().cold_starts,
            r.p50,
            r.p99,
            r.min
        );
        println!(
            "    of which: command answered p50 {:.2} ms, actors_started event p50 {:.2} ms",
            cold.ack.p50, cold.started.p50
        );
        report::figure(
            "cold start, launch command to first reply (ms)",
            serde_json::json!({"p50": r.p50, "p99": r.p99, "min": r.min,
                "answered_p50": cold.ack.p50, "started_event_p50": cold.started.p50}),
        );
    }
}

/// How many of the host's verified invocation signatures were checked in batches.
async fn batched_share(h: &Harness, label: &str) {
    let (_, text) = h.http_get("/metrics").await;
    let total = |name: &str| -> f64 {
        text.lines()
            .filter(|line| line.starts_with(name))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let batched = total("kiln_invocation_signatures_batched_total");
    let calls = total("kiln_invocations_total");
    println!(
        "  signatures checked in batches: {batched:.0} of {calls:.0} calls ({:.0} %)",
        100.0 * batched / calls.max(1.0)
    );
    report::figure(
        &format!("{label}: signatures checked in batches"),
        serde_json::json!({"batched": batched, "calls": calls}),
    );
}

/// One row: the path's figures, the baseline's, and their ratios.
pub(crate) fn print_row(label: &str, path: &Figures, baseline: &Figures) {
    report::path(label, path, Some(baseline));
    println!(
        "{label:<40} {:>8.0} {:>8.0} {:>9.0} | {:>8.0} {:>8.0} {:>9.0} | {:>6.2} {:>6.2}",
        path.p50_us,
        path.p99_us,
        path.per_second,
        baseline.p50_us,
        baseline.p99_us,
        baseline.per_second,
        path.p50_us / baseline.p50_us,
        path.per_second / baseline.per_second
    );
}

/// A host (logging warnings only) running echo with `CONCURRENCY` instances, so that
/// instances, not the pool, are never the limit.
pub(crate) async fn echo_host(options: Options, path: &std::path::Path, echo: &str) -> Harness {
    let h = Harness::with(Options {
        log: Some("warn".into()),
        ..options
    })
    .await;
    let ack = h.launch(path).await;
    assert!(ack.accepted, "{ack:?}\n{}", h.logs());
    let ack = h
        .command(
            "scale",
            &serde_json::json!({"actor_id": echo, "actor_ref": "", "count": CONCURRENCY}),
        )
        .await;
    assert!(ack.accepted, "{ack:?}");
    h
}

/// One echo call signed by `cluster` as from `origin`, for `path`.
pub(crate) fn signed_echo(
    cluster: &kiln_types::keys::KeyPair,
    origin: &kiln_types::invocation::Entity,
    echo: &str,
    path: &str,
) -> Bytes {
    Bytes::from(
        kiln_types::invocation::Invocation::new_signed(
            cluster,
            origin.clone(),
            kiln_types::invocation::Entity::actor(echo),
            "HttpServer.HandleRequest",
            http::get(path),
            kiln_types::unix_now(),
        )
        .unwrap()
        .encode(),
    )
}

pub(crate) fn check_echo(reply: &[u8]) {
    let response = kiln_types::invocation::InvocationResponse::decode(reply).unwrap();
    assert!(response.error.is_none(), "{:?}", response.error);
}

/// A responder on `bench.echo` that sends every request back; stops when dropped.
async fn bare_responder(h: &Harness) -> tokio::task::JoinHandle<()> {
    let responder = async_nats::connect(h.nats.url()).await.unwrap();
    let mut subscription = responder.subscribe("bench.echo").await.unwrap();
    responder.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(message) = subscription.next().await {
            if let Some(reply) = message.reply {
                let _ = responder.publish(reply, message.payload).await;
            }
        }
    })
}

/// The data plane's own share: a direct gRPC client on `socket`, calling the echo actor
/// the control plane started, on one multiplexed stream.
async fn data_plane_alone(socket: &std::path::Path, echo: &str) -> Figures {
    use kiln_proto::dataplane::v1 as pb;
    let mut client = data_plane_client(socket).await;
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let mut responses = client
        .invoke_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let request = |call_id| pb::InvokeRequest {
        call_id,
        actor: echo.to_string(),
        operation: "HttpServer.HandleRequest".into(),
        payload: http::get("/direct").into(),
        invocation_id: String::new(),
        ..Default::default()
    };
    let mut latencies = Vec::with_capacity(scale().latency_calls);
    for i in 0..(scale().warmup_calls + scale().latency_calls) as u64 {
        let started = Instant::now();
        tx.send(request(i)).await.unwrap();
        let response = responses.next().await.unwrap().unwrap();
        assert!(matches!(
            response.result,
            Some(pb::invoke_response::Result::Payload(_))
        ));
        if i >= scale().warmup_calls as u64 {
            latencies.push(started.elapsed());
        }
    }
    latencies.sort();
    let at = |q: f64| latencies[(latencies.len() as f64 * q) as usize].as_secs_f64() * 1e6;
    let started = Instant::now();
    let (mut sent, mut received) = (0u64, 0u64);
    while started.elapsed() < scale().throughput_for {
        while sent - received < CONCURRENCY as u64 {
            tx.send(request(sent)).await.unwrap();
            sent += 1;
        }
        responses.next().await.unwrap().unwrap();
        received += 1;
    }
    Figures {
        p50_us: at(0.50),
        p99_us: at(0.99),
        per_second: received as f64 / started.elapsed().as_secs_f64(),
    }
}

/// `count` signed echo calls, each usable once, signed on every core.
pub(crate) async fn signed_calls(h: &Harness, echo: &str, count: usize) -> Vec<Bytes> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let seed = h.cluster.seed().unwrap();
    let signers: Vec<_> = (0..cores)
        .map(|core| {
            let (seed, echo) = (seed.clone(), echo.to_string());
            tokio::task::spawn_blocking(move || {
                let cluster = kiln_types::keys::KeyKind::Cluster
                    .parse_seed(&seed)
                    .unwrap();
                let origin = kiln_types::invocation::Entity::actor(
                    kiln_types::keys::KeyKind::Module.generate().public_key(),
                );
                (0..count / cores + 1)
                    .map(|i| signed_echo(&cluster, &origin, &echo, &format!("/bench/{core}/{i}")))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut calls = Vec::with_capacity(count + cores);
    for signer in signers {
        calls.extend(signer.await.unwrap());
    }
    calls.truncate(count);
    calls
}

/// Latency at concurrency 1 and throughput at `CONCURRENCY`, on one client connection;
/// each payload is sent once (the throughput run ends early if they run out). Also the
/// CPU time each of `processes` spent per call in the throughput run, in µs.
async fn measure(
    client: &async_nats::Client,
    subject: &str,
    payloads: &[Bytes],
    check: fn(&[u8]),
    processes: &[(&str, cpu::Source)],
) -> (Figures, Vec<f64>) {
    let subject = subject.to_string();
    for payload in payloads.iter().take(scale().warmup_calls) {
        check(
            &client
                .request(subject.clone(), payload.clone())
                .await
                .unwrap()
                .payload,
        );
    }
    let mut latencies = Vec::with_capacity(scale().latency_calls);
    for payload in payloads
        .iter()
        .skip(scale().warmup_calls)
        .take(scale().latency_calls)
    {
        let started = Instant::now();
        let reply = client
            .request(subject.clone(), payload.clone())
            .await
            .unwrap();
        latencies.push(started.elapsed());
        check(&reply.payload);
    }
    latencies.sort();
    let at = |q: f64| {
        latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1e6
    };

    let done = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let payloads: Arc<Vec<Bytes>> =
        Arc::new(payloads[scale().warmup_calls + scale().latency_calls..].to_vec());
    let meter = cpu::Meter::start(processes);
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let client = client.clone();
            let subject = subject.clone();
            let (done, next) = (done.clone(), next.clone());
            let payloads = payloads.clone();
            tokio::spawn(async move {
                while started.elapsed() < scale().throughput_for {
                    let Some(payload) = payloads.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let reply = client
                        .request(subject.clone(), payload.clone())
                        .await
                        .unwrap();
                    check(&reply.payload);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let calls = done.load(Ordering::Relaxed);
    let per_second = calls as f64 / started.elapsed().as_secs_f64();
    let figures = Figures {
        p50_us: at(0.50),
        p99_us: at(0.99),
        per_second,
    };
    (figures, meter.per_call_us(calls))
}

/// The same echo calls when the client builds and signs each invocation in the loop.
async fn signing_client(h: &Harness, echo: &str) -> Figures {
    let subject = subjects::actor_rpc(&h.lattice, echo);
    let mut latencies = Vec::with_capacity(scale().latency_calls);
    for i in 0..scale().latency_calls {
        let started = Instant::now();
        let invocation = h.invocation(
            echo,
            "HttpServer.HandleRequest",
            http::get(&format!("/s/{i}")),
        );
        let reply = h
            .client
            .request(subject.clone(), invocation.encode().into())
            .await
            .unwrap();
        latencies.push(started.elapsed());
        check_echo(&reply.payload);
    }
    latencies.sort();
    let at = |q: f64| latencies[(latencies.len() as f64 * q) as usize].as_secs_f64() * 1e6;
    let count = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let h = Arc::new((h.client.clone(), h.cluster.seed().unwrap()));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let h = h.clone();
            let subject = subject.clone();
            let count = count.clone();
            let echo = echo.to_string();
            tokio::spawn(async move {
                let cluster = kiln_types::keys::KeyKind::Cluster.parse_seed(&h.1).unwrap();
                let origin = kiln_types::invocation::Entity::actor(
                    kiln_types::keys::KeyKind::Module.generate().public_key(),
                );
                while started.elapsed() < scale().throughput_for {
                    let invocation = kiln_types::invocation::Invocation::new_signed(
                        &cluster,
                        origin.clone(),
                        kiln_types::invocation::Entity::actor(&echo),
                        "HttpServer.HandleRequest",
                        http::get("/t"),
                        kiln_types::unix_now(),
                    )
                    .unwrap();
                    let reply =
                        h.0.request(subject.clone(), invocation.encode().into())
                            .await
                            .unwrap();
                    check_echo(&reply.payload);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    Figures {
        p50_us: at(0.50),
        p99_us: at(0.99),
        per_second: count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64(),
    }
}
