//! kiln's own providers as real processes under the data plane: HTTP through the
//! httpserver provider, counters in a real Redis, chunking, restarts and orphans.

use std::time::{Duration, Instant};

use kiln_integration_tests::{Harness, Redis, eventually, fixtures, http, process::free_port};

const HTTPSERVER: &str = "wasmcloud:httpserver";
const KEYVALUE: &str = "wasmcloud:keyvalue";

async fn actor(h: &Harness, name: &str) -> String {
    h.launch_sample(name).await
}

async fn provider(h: &Harness, name: &str) -> String {
    let path = fixtures::provider_archive(name);
    let ack = h.launch_provider(&path, "default").await;
    assert!(ack.accepted, "{name}: {ack:?}\n{}", h.logs());
    fixtures::provider_key(&path)
}

/// Links `actor` to the httpserver on a free port and waits until it answers there.
async fn serve_http(h: &Harness, actor: &str, httpserver: &str) -> u16 {
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    assert!(
        h.put_link(actor, httpserver, HTTPSERVER, &[("address", &address)])
            .await
            .accepted
    );
    let up = eventually(Duration::from_secs(10), || async {
        http(port, "GET", "/", b"").await.is_ok()
    })
    .await;
    assert!(up, "nothing listens on {address}\n{}", h.logs());
    port
}

async fn get(port: u16, path: &str) -> (u16, String) {
    let (status, body) = http(port, "GET", path, b"").await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn http_requests_reach_echo_through_the_httpserver_provider() {
    let h = Harness::start().await;
    let echo = actor(&h, "echo").await;
    let httpserver = provider(&h, "httpserver").await;
    let port = serve_http(&h, &echo, &httpserver).await;
    let (status, body) = http(port, "POST", "/hello?x=1", b"from curl")
        .await
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["path"], "/hello");
    assert_eq!(body["query_string"], "x=1");
    assert_eq!(body["body"], "from curl");
    let inventory = h.inventory().await;
    assert_eq!(inventory["providers"][0]["id"], httpserver);
    assert_eq!(inventory["providers"][0]["contract_id"], HTTPSERVER);
}

#[tokio::test]
async fn kvcounter_counts_in_redis_and_survives_a_link_change() {
    let h = Harness::start().await;
    let redis = Redis::start(h.dir.path()).await;
    let counter = actor(&h, "kvcounter").await;
    let httpserver = provider(&h, "httpserver").await;
    let keyvalue = provider(&h, "keyvalue").await;
    assert!(
        h.put_link(&counter, &keyvalue, KEYVALUE, &[("URL", &redis.url())])
            .await
            .accepted
    );
    let port = serve_http(&h, &counter, &httpserver).await;
    for expected in 1..=3 {
        assert_eq!(
            get(port, "/visits").await,
            (200, format!(r#"{{"counter":{expected}}}"#)),
            "{}",
            h.logs()
        );
    }
    assert_eq!(redis.cli(&["GET", "counter:visits"]), "3");

    // Without the link the call fails with the link error; with it back, counting goes on.
    assert!(h.delete_link(&counter, KEYVALUE).await.accepted);
    let (status, body) = get(port, "/visits").await;
    assert_eq!(status, 500);
    assert!(
        body.contains("missing link definition for wasmcloud:keyvalue"),
        "{body}"
    );
    assert!(
        h.put_link(&counter, &keyvalue, KEYVALUE, &[("URL", &redis.url())])
            .await
            .accepted
    );
    let back = eventually(Duration::from_secs(5), || async {
        get(port, "/visits").await.0 == 200
    })
    .await;
    assert!(back, "{}", h.logs());
    assert_eq!(redis.cli(&["GET", "counter:visits"]), "4");
}

#[tokio::test]
async fn a_missing_claim_or_link_is_a_500_with_the_reason_never_a_hang() {
    let h = Harness::start().await;
    let redis = Redis::start(h.dir.path()).await;
    let unprivileged = actor(&h, "kvcounter_unpriv").await;
    let unlinked = actor(&h, "kvcounter").await;
    let httpserver = provider(&h, "httpserver").await;
    let keyvalue = provider(&h, "keyvalue").await;
    assert!(
        h.put_link(&unprivileged, &keyvalue, KEYVALUE, &[("URL", &redis.url())])
            .await
            .accepted
    );
    let no_claim = serve_http(&h, &unprivileged, &httpserver).await;
    let no_link = serve_http(&h, &unlinked, &httpserver).await;

    let started = Instant::now();
    let (status, body) = get(no_claim, "/x").await;
    assert_eq!(status, 500);
    assert!(
        body.contains("missing capability claim for wasmcloud:keyvalue"),
        "{body}"
    );
    let (status, body) = get(no_link, "/x").await;
    assert_eq!(status, 500);
    assert!(
        body.contains("missing link definition for wasmcloud:keyvalue"),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let log = h.control_plane.log();
    assert!(
        log.contains("ERROR") && log.contains("missing capability claim for wasmcloud:keyvalue"),
        "{log}"
    );
}

#[tokio::test]
async fn requests_and_responses_over_a_mebibyte_are_chunked_intact() {
    let h = Harness::start().await;
    let echo = actor(&h, "echo").await;
    let httpserver = provider(&h, "httpserver").await;
    let port = serve_http(&h, &echo, &httpserver).await;
    let body: Vec<u8> = (0..1_500_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let (status, reply) = http(port, "PUT", "/big", &body).await.unwrap();
    assert_eq!(
        status,
        200,
        "{}",
        String::from_utf8_lossy(&reply[..reply.len().min(300)])
    );
    assert!(reply.len() > 1_500_000);
    let reply: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply["body_len"], 1_500_000);
    assert_eq!(reply["body"].as_str().unwrap().as_bytes(), body.as_slice());
}

#[tokio::test]
async fn a_killed_provider_is_serving_again_within_a_second_with_its_links() {
    let h = Harness::start().await;
    let echo = actor(&h, "echo").await;
    let httpserver = provider(&h, "httpserver").await;
    let port = serve_http(&h, &echo, &httpserver).await;
    let pid = h.data_plane_inventory().await.providers[0].pid;
    let killed = Instant::now();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let back = eventually(Duration::from_secs(10), || async {
        matches!(http(port, "GET", "/again", b"").await, Ok((200, _)))
    })
    .await;
    let recovery = killed.elapsed();
    assert!(back, "{}", h.logs());
    eprintln!("provider recovery after kill -9: {recovery:?}");
    assert!(recovery < Duration::from_secs(5), "{recovery:?}");
    let status = h.data_plane_inventory().await.providers[0].clone();
    assert_ne!(status.pid, pid);
    assert_eq!(status.restarts, 1);
}

#[tokio::test]
async fn killing_the_data_plane_leaves_no_provider_behind() {
    let mut h = Harness::start().await;
    provider(&h, "httpserver").await;
    provider(&h, "keyvalue").await;
    let pids: Vec<u32> = h
        .data_plane_inventory()
        .await
        .providers
        .iter()
        .map(|p| p.pid)
        .collect();
    assert_eq!(pids.len(), 2);
    let alive = |pid: u32| std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(pids.iter().all(|p| alive(*p)));
    h.kill_data_plane();
    let gone = eventually(Duration::from_secs(5), || async {
        pids.iter().all(|p| !alive(*p))
    })
    .await;
    assert!(gone, "providers survived the data plane: {pids:?}");
}

#[tokio::test]
async fn tampered_or_forged_archives_are_refused() {
    let h = Harness::start().await;
    let original = std::fs::read(fixtures::provider_archive("keyvalue")).unwrap();
    // Swap the binary for another one under the same signed claims.
    let (claims, _) = kiln_types::par::inspect_par(&original).unwrap();
    let mut forged = Vec::new();
    {
        let gz = flate2_writer(&mut forged);
        let mut tar = tar_builder(gz);
        let token = extract(&original, "claims.jwt");
        append(&mut tar, "claims.jwt", &token);
        append(
            &mut tar,
            &format!("{}.bin", kiln_types::par::native_target()),
            b"#!/bin/sh\necho evil\n",
        );
        tar.into_inner().unwrap().finish().unwrap();
    }
    let path = h.dir.path().join("forged.par.gz");
    std::fs::write(&path, &forged).unwrap();
    let ack = h.launch_provider(&path, "default").await;
    assert!(!ack.accepted);
    assert!(ack.error.contains("but the claims sign"), "{}", ack.error);
    assert!(claims.subject.starts_with('V'));

    let path = h.dir.path().join("garbage.par.gz");
    std::fs::write(&path, b"not an archive").unwrap();
    let ack = h.launch_provider(&path, "default").await;
    assert!(!ack.accepted);
    assert!(
        ack.error.starts_with("not a provider archive"),
        "{}",
        ack.error
    );
}

fn extract(archive: &[u8], name: &str) -> Vec<u8> {
    use std::io::Read as _;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_string_lossy() == name {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            return bytes;
        }
    }
    panic!("{name} not in the archive");
}

fn flate2_writer(out: &mut Vec<u8>) -> flate2::write::GzEncoder<&mut Vec<u8>> {
    flate2::write::GzEncoder::new(out, flate2::Compression::default())
}

fn tar_builder<W: std::io::Write>(w: W) -> tar::Builder<W> {
    tar::Builder::new(w)
}

fn append<W: std::io::Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    tar.append_data(&mut header, name, bytes).unwrap();
}

#[tokio::test]
async fn health_checks_mark_a_running_provider_healthy() {
    let h = Harness::with(kiln_integration_tests::Options {
        control_plane_args: vec!["--health-interval-ms".into(), "200".into()],
        ..kiln_integration_tests::Options::default()
    })
    .await;
    let key = provider(&h, "httpserver").await;
    let healthy = eventually(Duration::from_secs(10), || async {
        let (_, page) = h.http_get("/").await;
        page.contains(&key) && page.contains(r#"data-health="healthy">healthy</span>"#)
    })
    .await;
    assert!(healthy, "{}", h.http_get("/").await.1);
}

/// A link put while a provider is still starting is published before the provider
/// subscribes; the host sends it again at the provider's first passing health check,
/// even when that comes after failed ones.
#[tokio::test]
async fn a_provider_slow_to_subscribe_still_gets_a_link_put_while_it_started() {
    let h = Harness::with(kiln_integration_tests::Options {
        control_plane_args: vec!["--health-interval-ms".into(), "300".into()],
        ..Default::default()
    })
    .await;
    // Our httpserver behind a second of sleep: its first health checks go unanswered.
    let script = h.dir.path().join("slow-httpserver");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nsleep 1\nexec {}\n",
            kiln_integration_tests::binary("kiln-httpserver").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let archive = h.dir.path().join("slow.par.gz");
    let account = kiln_types::keys::KeyKind::Account
        .generate()
        .seed()
        .unwrap();
    let (ok, _, err) = h
        .cli(&[
            "par",
            "create",
            "--binary",
            script.to_str().unwrap(),
            "--capid",
            "wasmcloud:httpserver",
            "--name",
            "slow",
            "--issuer",
            &account,
            "--destination",
            archive.to_str().unwrap(),
        ])
        .await;
    assert!(ok, "{err}");
    let echo_path = fixtures::sample_actor("echo");
    let echo = fixtures::actor_key(&std::fs::read(&echo_path).unwrap());
    assert!(h.launch(&echo_path).await.accepted);
    assert!(
        h.launch_provider(&archive, "default").await.accepted,
        "{}",
        h.logs()
    );
    let port = kiln_integration_tests::process::free_port();
    let ack = h
        .put_link(
            &echo,
            &fixtures::provider_key(&archive),
            "wasmcloud:httpserver",
            &[("port", &port.to_string())],
        )
        .await;
    assert!(ack.accepted, "{ack:?}");
    let served = kiln_integration_tests::eventually(Duration::from_secs(10), || async {
        kiln_integration_tests::http(port, "GET", "/late", b"")
            .await
            .is_ok_and(|(status, _)| status == 200)
    })
    .await;
    assert!(served, "the link never reached the provider\n{}", h.logs());
}
