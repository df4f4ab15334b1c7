//! `kiln-bench soak [SECONDS]`: echo through NATS and both planes at about 80 % of the
//! throughput measured just before, for ten minutes unless told otherwise. Every
//! interval it prints the calls answered, the errors (refusals, failures, timeouts),
//! the p50 and p99 of that interval and the resident memory of NATS and both planes;
//! at the end the totals and each process's memory growth after the warm-up (the
//! replay window of the host, during which its replay memory fills).
//!
//! Calls are sent open-loop at a fixed rate (not one after another), each signed once
//! by a thread of the benchmark ahead of time, so a host that slows down shows it as
//! latency and errors, not as a lower rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kiln_integration_tests::{Harness, Options, fixtures};
use tokio::sync::Semaphore;

use crate::{CONCURRENCY, check_echo, echo_host, signed_calls, signed_echo};
use kiln_wasmbus::subjects;

/// Length of one reporting interval.
const INTERVAL: Duration = Duration::from_secs(10);
/// Warm-up: memory growth is measured from its end. It covers the host's replay
/// window (120 s by default), during which the replay memory fills to its steady size.
const WARM_UP: Duration = Duration::from_secs(180);
/// Share of the measured saturation the soak runs at.
const LOAD: f64 = 0.8;
/// Calls in flight at most; past it the benchmark itself is saturated.
const MAX_IN_FLIGHT: usize = 4096;
/// A call not answered within this counts as an error.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// What one interval saw.
#[derive(Default)]
struct Interval {
    latencies_us: Vec<u32>,
    errors: u64,
    /// Errors by kind: a timeout, a NATS error or the start of the host's error.
    kinds: std::collections::BTreeMap<String, u64>,
}

pub async fn run(seconds: u64) {
    let echo_path = fixtures::sample_actor("echo");
    let echo = fixtures::actor_key(&std::fs::read(&echo_path).unwrap());
    let h = echo_host(Options::default(), &echo_path, &echo).await;
    let subject = subjects::actor_rpc(&h.lattice, &echo);

    let saturation = saturation(&h, &echo, &subject).await;
    let rate = saturation * LOAD;
    header(saturation, rate, seconds);

    // Signed ahead, a second's worth at a time, on a thread of its own.
    let (mut calls, stop, signer) = sign_ahead(h.cluster.seed().unwrap(), echo.clone(), rate);

    // The clock starts once a few seconds are signed ahead, so the first calls are not
    // a burst that waited for the signer.
    let mut pending: Vec<Bytes> = Vec::new();
    for _ in 0..3 {
        pending.extend(calls.recv().await.unwrap());
    }
    let intervals: Arc<std::sync::Mutex<Vec<Interval>>> = Arc::default();
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let overloaded = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = 0f64;
    let mut reported = 0usize;
    let mut memory = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        ticker.tick().await;
        let due = (started.elapsed().as_secs_f64() * rate) - sent;
        for _ in 0..due.max(0.0) as usize {
            if pending.is_empty() {
                pending = calls.recv().await.unwrap();
            }
            let payload = pending.pop().unwrap();
            sent += 1.0;
            let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                overloaded.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let (client, subject) = (h.client.clone(), subject.clone());
            let intervals = intervals.clone();
            tokio::spawn(async move {
                call(&client, subject, payload, started, &intervals).await;
                drop(permit);
            });
        }
        // An interval is reported once its calls had time to finish.
        let finished =
            (started.elapsed().saturating_sub(CALL_TIMEOUT)).as_secs_f64() / INTERVAL.as_secs_f64();
        while reported < finished as usize {
            let line = report(&h, &intervals, reported);
            memory.push(line);
            reported += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    drop(calls);
    tokio::time::sleep(CALL_TIMEOUT).await;
    let total = intervals.lock().unwrap().len();
    while reported < total {
        memory.push(report(&h, &intervals, reported));
        reported += 1;
    }
    let _ = signer.join();

    summarize(
        &intervals.lock().unwrap(),
        overloaded.load(Ordering::Relaxed),
        &memory,
    );
}

/// The soak's first lines: the load it runs at, and the columns of its intervals.
fn header(saturation: f64, rate: f64, seconds: u64) {
    println!(
        "soak: saturation {saturation:.0} calls/s ({CONCURRENCY} in flight); running {seconds} s at {rate:.0} calls/s ({:.0} %), intervals of {} s",
        LOAD * 100.0,
        INTERVAL.as_secs()
    );
    println!(
        "{:>6} {:>9} {:>7} {:>8} {:>8} | {:>9} {:>9} {:>9}",
        "t s", "answered", "errors", "p50 µs", "p99 µs", "NATS MiB", "ctl MiB", "data MiB"
    );
}

/// Signs echo calls a second's worth (`rate`) at a time on a thread of its own, until
/// the flag is set or the receiver dropped.
fn sign_ahead(
    seed: String,
    echo: String,
    rate: f64,
) -> (
    tokio::sync::mpsc::Receiver<Vec<Bytes>>,
    Arc<std::sync::atomic::AtomicBool>,
    std::thread::JoinHandle<()>,
) {
    let (ahead, calls) = tokio::sync::mpsc::channel::<Vec<Bytes>>(4);
    let batch = rate.ceil() as usize;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let signer_stop = stop.clone();
    let signer = std::thread::spawn(move || {
        let cluster = kiln_types::keys::KeyKind::Cluster
            .parse_seed(&seed)
            .unwrap();
        let origin = kiln_types::invocation::Entity::actor(
            kiln_types::keys::KeyKind::Module.generate().public_key(),
        );
        let mut n = 0u64;
        while !signer_stop.load(Ordering::Relaxed) {
            let calls: Vec<Bytes> = (0..batch)
                .map(|_| {
                    n += 1;
                    signed_echo(&cluster, &origin, &echo, &format!("/soak/{n}"))
                })
                .collect();
            if ahead.blocking_send(calls).is_err() {
                return;
            }
        }
    });
    (calls, stop, signer)
}

/// Makes one call and records its latency, or its error's kind, in the interval it
/// was sent in.
async fn call(
    client: &async_nats::Client,
    subject: String,
    payload: Bytes,
    started: Instant,
    intervals: &std::sync::Mutex<Vec<Interval>>,
) {
    let at = Instant::now();
    let reply = tokio::time::timeout(CALL_TIMEOUT, client.request(subject, payload)).await;
    let latency = at.elapsed();
    let error = match reply {
        Err(_) => Some("timeout".to_string()),
        Ok(Err(error)) => Some(format!("nats: {}", error.kind())),
        Ok(Ok(message)) => {
            match kiln_types::invocation::InvocationResponse::decode(&message.payload) {
                Ok(response) => response
                    .error
                    .map(|error| error.split(':').next().unwrap_or_default().to_string()),
                Err(error) => Some(format!("undecodable reply: {error}")),
            }
        }
    };
    let index = (at.duration_since(started).as_secs_f64() / INTERVAL.as_secs_f64()) as usize;
    let mut intervals = intervals.lock().unwrap();
    while intervals.len() <= index {
        intervals.push(Interval::default());
    }
    let interval = &mut intervals[index];
    match error {
        None => interval
            .latencies_us
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX)),
        Some(kind) => {
            interval.errors += 1;
            *interval.kinds.entry(kind).or_default() += 1;
        }
    }
}

/// Prints the totals, the errors by kind and the memory growth after the warm-up.
fn summarize(all: &[Interval], overloaded: usize, memory: &[[u64; 3]]) {
    let answered: usize = all.iter().map(|i| i.latencies_us.len()).sum();
    let errors: u64 = all.iter().map(|i| i.errors).sum();
    let worst_p99 = all
        .iter()
        .filter(|i| !i.latencies_us.is_empty())
        .map(|i| percentile(&i.latencies_us, 0.99))
        .max()
        .unwrap_or(0);
    println!(
        "soak: {answered} calls answered, {errors} errors, {} not sent (the benchmark's own bound of {MAX_IN_FLIGHT} in flight); worst interval p99 {worst_p99} µs",
        overloaded
    );
    let mut kinds = std::collections::BTreeMap::<&str, u64>::new();
    for (kind, n) in all.iter().flat_map(|i| &i.kinds) {
        *kinds.entry(kind).or_default() += n;
    }
    for (kind, n) in kinds {
        println!("soak: {n} errors: {kind}");
    }
    let warm = (WARM_UP.as_secs() / INTERVAL.as_secs()) as usize;
    if let (Some(start), Some(end)) = (memory.get(warm.min(memory.len() - 1)), memory.last()) {
        for (name, (a, b)) in ["NATS", "control plane", "data plane"]
            .iter()
            .zip(start.iter().zip(end))
        {
            println!(
                "soak: {name} RSS {:.1} MiB after warm-up, {:.1} MiB at the end ({:+.1} %)",
                *a as f64 / 1024.0,
                *b as f64 / 1024.0,
                (*b as f64 - *a as f64) / *a as f64 * 100.0
            );
        }
    }
}

/// Prints interval `index` and returns the RSS of NATS and both planes, in KiB.
fn report(h: &Harness, intervals: &std::sync::Mutex<Vec<Interval>>, index: usize) -> [u64; 3] {
    let memory = [
        h.nats.rss_kib(),
        h.control_plane.rss_kib(),
        h.data_plane.rss_kib(),
    ];
    let mut intervals = intervals.lock().unwrap();
    let Some(interval) = intervals.get_mut(index) else {
        return memory;
    };
    interval.latencies_us.sort_unstable();
    println!(
        "{:>6} {:>9} {:>7} {:>8} {:>8} | {:>9.1} {:>9.1} {:>9.1}",
        (index as u64 + 1) * INTERVAL.as_secs(),
        interval.latencies_us.len(),
        interval.errors,
        percentile(&interval.latencies_us, 0.50),
        percentile(&interval.latencies_us, 0.99),
        memory[0] as f64 / 1024.0,
        memory[1] as f64 / 1024.0,
        memory[2] as f64 / 1024.0,
    );
    memory
}

fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

/// Calls per second with `CONCURRENCY` in flight, for five seconds, closed-loop.
async fn saturation(h: &Harness, echo: &str, subject: &str) -> f64 {
    const FOR: Duration = Duration::from_secs(5);
    let calls = Arc::new(signed_calls(h, echo, 300_000).await);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, subject) = (h.client.clone(), subject.to_string());
            let (calls, next, done) = (calls.clone(), next.clone(), done.clone());
            tokio::spawn(async move {
                while started.elapsed() < FOR {
                    let Some(call) = calls.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let reply = client.request(subject.clone(), call.clone()).await.unwrap();
                    check_echo(&reply.payload);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}
