//! HTTP into the echo actor, through the httpserver provider and through the control
//! plane's built-in server, against a plain hyper "hello" server in its own process,
//! all driven by `wrk` in the same run.

use std::time::Duration;

use kiln_integration_tests::{Options, eventually, fixtures, http, process::free_port};

use crate::cpu::{self, Source};
use crate::scale::scale;
use crate::{CONCURRENCY, Figures};

/// Serves `hello` on every path until killed: the baseline HTTP server.
pub async fn hello_server(port: u16) {
    let app = axum::Router::new().fallback(|| async { "hello" });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    axum::serve(listener, app).await.unwrap();
}

pub async fn run(echo_path: &std::path::Path, echo: &str) {
    if std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            !scale().smoke,
            "the smoke runs every path: install wrk (Debian package wrk)"
        );
        println!("\nHTTP: skipped, wrk is not installed (Debian package wrk)");
        return;
    }
    let hello_port = free_port();
    let mut hello = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["hello-server", &hello_port.to_string()])
        .spawn()
        .unwrap();
    let h = crate::echo_host(Options::default(), echo_path, echo).await;
    let archive = fixtures::provider_archive("httpserver");
    assert!(h.launch_provider(&archive, "default").await.accepted);
    let port = free_port();
    link(&h, echo, &fixtures::provider_key(&archive), "default", port).await;
    // The built-in server on its own link name, so the same actor has both.
    let builtin_port = free_port();
    let ack = h
        .launch_provider_ref(fixtures::BUILTIN_HTTPSERVER, "bench", None)
        .await;
    assert!(ack.accepted, "{ack:?}");
    link(
        &h,
        echo,
        fixtures::BUILTIN_HTTPSERVER_KEY,
        "bench",
        builtin_port,
    )
    .await;
    for port in [port, builtin_port, hello_port] {
        let up = eventually(Duration::from_secs(10), || async move {
            http(port, "GET", "/", b"").await.is_ok()
        })
        .await;
        assert!(up, "nothing listens on {port}");
    }

    let sources = [
        ("NATS server", Source::Process(h.nats.pid())),
        ("control plane", Source::Process(h.control_plane.pid())),
        ("data plane", Source::Process(h.data_plane.pid())),
        ("provider", Source::ChildrenOf(h.data_plane.pid())),
        ("hello server", Source::Process(hello.id())),
        ("wrk", Source::Waited),
    ];
    let (mut base, mut host, mut builtin) = (Vec::new(), Vec::new(), Vec::new());
    let (mut base_cpu, mut host_cpu, mut builtin_cpu) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..scale().rounds {
        for (port, figures, cpu) in [
            (hello_port, &mut base, &mut base_cpu),
            (port, &mut host, &mut host_cpu),
            (builtin_port, &mut builtin, &mut builtin_cpu),
        ] {
            let (f, c) = wrk(port, &sources);
            figures.push(f);
            cpu.push(c);
        }
    }
    let b = Figures::median(&base);
    println!(
        "\nHTTP via wrk, {} interleaved rounds of {} s: latency with 1 connection, requests/s with {CONCURRENCY} connections",
        scale().rounds,
        scale().wrk_seconds
    );
    println!(
        "{:<40} {:>8} {:>8} {:>9} | {:>8} {:>8} {:>9} | {:>6} {:>6}",
        "path (baseline: plain hyper hello)",
        "p50 µs",
        "p99 µs",
        "req/s",
        "base p50",
        "base p99",
        "base r/s",
        "p50 ×",
        "tput ×"
    );
    crate::print_row(
        "httpserver provider → echo actor",
        &Figures::median(&host),
        &b,
    );
    crate::print_row(
        "built-in HTTP server → echo actor",
        &Figures::median(&builtin),
        &b,
    );
    let base_cpu = cpu::median(&base_cpu);
    cpu::print(
        "HTTP: httpserver provider",
        &sources,
        &cpu::median(&host_cpu),
        &base_cpu,
    );
    cpu::print(
        "HTTP: built-in HTTP server",
        &sources,
        &cpu::median(&builtin_cpu),
        &base_cpu,
    );
    let _ = hello.kill();
    let _ = hello.wait();
}

/// Links `actor` to `provider` on `link_name`, served on `port`.
async fn link(
    h: &kiln_integration_tests::Harness,
    actor: &str,
    provider: &str,
    link_name: &str,
    port: u16,
) {
    let address = format!("127.0.0.1:{port}");
    let ack = h
        .put_link_named(
            actor,
            provider,
            "wasmcloud:httpserver",
            link_name,
            &[("address", &address)],
        )
        .await;
    assert!(ack.accepted, "{ack:?}");
}

/// Latency percentiles with one connection, and requests/s with `CONCURRENCY`; and the
/// CPU time each of `sources` spent per request with `CONCURRENCY`, in µs.
fn wrk(port: u16, sources: &[(&str, Source)]) -> (Figures, Vec<f64>) {
    let url = format!("http://127.0.0.1:{port}/bench");
    let single = run_wrk(&url, 1, 1);
    let meter = cpu::Meter::start(sources);
    let loaded = run_wrk(&url, CONCURRENCY, 2);
    let cpu = meter.per_call_us(requests(&loaded));
    let figures = Figures {
        p50_us: percentile(&single, "50%"),
        p99_us: percentile(&single, "99%"),
        per_second: requests_per_second(&loaded),
    };
    (figures, cpu)
}

fn run_wrk(url: &str, connections: usize, threads: usize) -> String {
    let output = std::process::Command::new("wrk")
        .args([
            "--latency",
            "-t",
            &threads.to_string(),
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{}s", scale().wrk_seconds),
            url,
        ])
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        !text.contains("Non-2xx"),
        "wrk saw failed requests:\n{text}"
    );
    text
}

/// A latency percentile from wrk's `--latency` table, in microseconds.
fn percentile(report: &str, which: &str) -> f64 {
    let value = report
        .lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix(which))
        .unwrap_or_else(|| panic!("no {which} line in:\n{report}"))
        .trim();
    let (number, unit) = value.split_at(
        value
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(value.len()),
    );
    let number: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => number,
        "ms" => number * 1e3,
        "s" => number * 1e6,
        _ => f64::NAN,
    }
}

/// The requests wrk made, from its "N requests in …" line.
fn requests(report: &str) -> usize {
    report
        .lines()
        .find_map(|line| line.trim().split_once(" requests in "))
        .and_then(|(count, _)| count.trim().parse().ok())
        .unwrap_or_else(|| panic!("no requests line in:\n{report}"))
}

fn requests_per_second(report: &str) -> f64 {
    report
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec line in:\n{report}"))
}
