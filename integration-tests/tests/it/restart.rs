//! Either plane may be killed and restarted: a restarted data plane is given its
//! workload again; a restarted control plane adopts what its data plane runs and stops
//! none of it; readiness says when a host can serve.

use std::time::{Duration, Instant};

use kiln_integration_tests::{Harness, eventually, fixtures, http, process::free_port};

#[tokio::test]
async fn a_restarted_data_plane_gets_its_actors_back() {
    let mut h = Harness::start().await;
    let path = fixtures::sample_actor("echo");
    assert!(h.launch(&path).await.accepted);
    let echo = fixtures::actor_key(&std::fs::read(path).unwrap());
    assert_eq!(
        h.invoke(&echo, "HttpServer.HandleRequest", http::get("/"))
            .await
            .error,
        None
    );

    h.kill_data_plane();
    let error = h
        .invoke(&echo, "HttpServer.HandleRequest", http::get("/"))
        .await
        .error;
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.starts_with("data plane unavailable")),
        "{error:?}"
    );
    // A new machine: nothing cached, so the control plane must push the module again.
    std::fs::remove_dir_all(h.dir.path().join("dp-cache")).unwrap();
    h.restart_data_plane();

    let back = eventually(Duration::from_secs(20), || async {
        h.invoke(&echo, "HttpServer.HandleRequest", http::get("/again"))
            .await
            .error
            .is_none()
    })
    .await;
    assert!(back, "echo never answered again\n{}", h.logs());
    let pushes = h
        .control_plane
        .log()
        .matches("artifact pushed to the data plane")
        .count();
    assert_eq!(
        pushes,
        2,
        "pushed at launch and again after the restart\n{}",
        h.logs()
    );
}

#[tokio::test]
async fn both_planes_drain_and_exit_cleanly_on_sigterm() {
    let mut h = Harness::start().await;
    assert!(h.launch(&fixtures::sample_actor("echo")).await.accepted);
    let status = h.control_plane.terminate(Duration::from_secs(10)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        h.logs()
    );
    let status = h.data_plane.terminate(Duration::from_secs(10)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        h.logs()
    );
}

#[tokio::test]
async fn the_control_plane_exits_even_when_nats_is_gone() {
    let mut h = Harness::start().await;
    h.nats.kill();
    let started = std::time::Instant::now();
    let status = h.control_plane.terminate(Duration::from_secs(15)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        h.logs()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// Echo with three annotated instances and the httpserver provider linked to it on a
/// free port; returns (echo, provider, port).
async fn echo_behind_http(h: &Harness) -> (String, String, u16) {
    let path = fixtures::sample_actor("echo");
    let reference = format!("file://{}", path.display());
    let echo = fixtures::actor_key(&std::fs::read(&path).unwrap());
    let ack = h
        .until_event(
            h.command(
                "la",
                &serde_json::json!({ "actor_ref": reference, "count": 3, "annotations": {"team": "a"} }),
            ),
            |kind, data| (kind == "actors_started" && data["public_key"] == echo.as_str()).then(|| {
                kiln_integration_tests::Ack { accepted: true, error: String::new() }
            }),
        )
        .await;
    assert!(ack.accepted, "{ack:?}");
    let archive = fixtures::provider_archive("httpserver");
    assert!(h.launch_provider(&archive, "default").await.accepted);
    let provider = fixtures::provider_key(&archive);
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    assert!(
        h.put_link(
            &echo,
            &provider,
            "wasmcloud:httpserver",
            &[("address", &address)]
        )
        .await
        .accepted
    );
    let up = eventually(Duration::from_secs(10), || async {
        status_of(port, "/").await == Some(200)
    })
    .await;
    assert!(up, "no HTTP through the provider\n{}", h.logs());
    (echo, provider, port)
}

/// The status of a GET of `path` on `port`, `None` when nothing answers.
async fn status_of(port: u16, path: &str) -> Option<u16> {
    kiln_integration_tests::http(port, "GET", path, b"")
        .await
        .ok()
        .map(|(status, _)| status)
}

/// The lattice's view of what this host runs, without what changes on its own.
fn workload(inventory: &serde_json::Value) -> serde_json::Value {
    let mut view = inventory.clone();
    view.as_object_mut().unwrap().remove("labels");
    view
}

#[tokio::test]
async fn a_killed_control_plane_adopts_what_its_data_plane_runs_and_stops_none_of_it() {
    let mut h = Harness::start().await;
    let (echo, provider, port) = echo_behind_http(&h).await;
    let before = h.inventory().await;
    let data_plane_before = h.data_plane_inventory().await;
    assert_eq!(
        before["actors"][0]["instances"].as_array().unwrap().len(),
        3
    );

    h.kill_control_plane();
    let data_plane_between = h.data_plane_inventory().await;
    assert_eq!(
        data_plane_between.actors.len(),
        1,
        "the data plane keeps the actor"
    );
    assert_eq!(data_plane_between.providers.len(), 1, "and the provider");

    let restarted = Instant::now();
    h.restart_control_plane(&[]);
    let answered = eventually(Duration::from_secs(10), || async {
        h.try_invoke(&echo, "HttpServer.HandleRequest", http::get("/back"))
            .await
            .is_some_and(|r| r.error.is_none())
    })
    .await;
    let took = restarted.elapsed();
    eprintln!("calls answered {took:?} after the control plane was started again");
    assert!(answered, "echo never answered again\n{}", h.logs());
    assert!(
        took < Duration::from_secs(2),
        "calls answered {took:?} after the restart\n{}",
        h.logs()
    );
    let http_back = eventually(Duration::from_secs(10), || async {
        status_of(port, "/again").await == Some(200)
    })
    .await;
    assert!(
        http_back,
        "HTTP through the provider never came back\n{}",
        h.logs()
    );

    let ready = eventually(Duration::from_secs(10), || async {
        h.readyz().await.is_some_and(|(status, _)| status == 200)
    })
    .await;
    assert!(ready, "{:?}\n{}", h.readyz().await, h.logs());
    assert_eq!(
        workload(&h.inventory().await),
        workload(&before),
        "{}",
        h.logs()
    );
    let data_plane_after = h.data_plane_inventory().await;
    assert_eq!(data_plane_after.boot_id, data_plane_before.boot_id);
    assert_eq!(
        data_plane_after.providers[0].pid,
        data_plane_before.providers[0].pid
    );
    assert_eq!(data_plane_after.providers[0].restarts, 0);
    assert_eq!(data_plane_after.actors[0].instances, 3);
    assert!(
        h.control_plane.log().contains("actor adopted"),
        "{}",
        h.logs()
    );
    assert!(
        !h.control_plane.log().contains("actor stopped"),
        "{}",
        h.logs()
    );
    let _ = provider;
}

#[tokio::test]
async fn a_boot_actor_waits_for_its_data_plane_and_is_not_started_twice() {
    let mut h = Harness::start().await;
    let path = fixtures::sample_actor("echo");
    let echo = fixtures::actor_key(&std::fs::read(&path).unwrap());
    let boot = format!("file://{}", path.display());
    // A data plane that does not answer (stopped, as one busy on every core would be)
    // while the control plane starts with a boot actor.
    let signal = |name: &str, pid: u32| {
        let status = std::process::Command::new("kill")
            .args([name, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    h.kill_control_plane();
    signal("-STOP", h.data_plane.pid());
    h.restart_control_plane(&["--actor", &boot]);
    // Several of the old start's 2 s waits pass with no data plane to take it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (status, report) = h.readyz().await.expect("the status page answers");
    assert_eq!(status, 503, "{report}");
    assert_eq!(report["data_plane"], false, "{report}");
    assert_eq!(report["boot_pending"], 1, "{report}");
    signal("-CONT", h.data_plane.pid());
    let up = eventually(Duration::from_secs(20), || async {
        h.try_invoke(&echo, "HttpServer.HandleRequest", http::get("/boot"))
            .await
            .is_some_and(|r| r.error.is_none())
    })
    .await;
    assert!(up, "the boot actor never came up\n{}", h.logs());
    let ready = eventually(Duration::from_secs(10), || async {
        h.readyz().await.is_some_and(|(status, _)| status == 200)
    })
    .await;
    assert!(ready, "{:?}", h.readyz().await);

    // A second restart adopts it: still one instance.
    h.kill_control_plane();
    h.restart_control_plane(&["--actor", &boot]);
    let ready = eventually(Duration::from_secs(20), || async {
        h.readyz().await.is_some_and(|(status, _)| status == 200)
    })
    .await;
    assert!(ready, "{:?}\n{}", h.readyz().await, h.logs());
    let inventory = h.inventory().await;
    assert_eq!(
        inventory["actors"][0]["instances"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn readiness_follows_nats_and_the_health_service_agrees() {
    let mut h = Harness::start().await;
    let health = tonic_health::pb::health_client::HealthClient::new(
        tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", h.api_port))
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    let serving =
        |health: &tonic_health::pb::health_client::HealthClient<tonic::transport::Channel>| {
            let mut health = health.clone();
            async move {
                health
                    .check(tonic_health::pb::HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .map(|r| r.into_inner().status)
                    .unwrap_or_default()
            }
        };
    let serving_status = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    assert!(
        eventually(Duration::from_secs(5), || async {
            serving(&health).await == serving_status
        })
        .await
    );
    h.nats.kill();
    let not_ready = eventually(Duration::from_secs(10), || async {
        h.readyz()
            .await
            .is_some_and(|(status, report)| status == 503 && report["nats"] == false)
    })
    .await;
    assert!(not_ready, "{:?}", h.readyz().await);
    assert!(
        eventually(Duration::from_secs(5), || async {
            serving(&health).await != serving_status
        })
        .await,
        "the health service still says serving"
    );
    let (status, _) = h.http_get("/api/livez").await;
    assert_eq!(status, 200, "alive all the same");

    h.nats.restart().await;
    let ready = eventually(Duration::from_secs(20), || async {
        h.readyz().await.is_some_and(|(status, _)| status == 200)
    })
    .await;
    assert!(ready, "{:?}\n{}", h.readyz().await, h.logs());
    assert!(
        eventually(Duration::from_secs(5), || async {
            serving(&health).await == serving_status
        })
        .await
    );
}

#[tokio::test]
async fn the_data_plane_probe_says_whether_one_answers() {
    let mut h = Harness::start().await;
    let probe = |h: &Harness| {
        std::process::Command::new(kiln_integration_tests::binary("kiln-data-plane"))
            .args(["--probe", "--listen"])
            .arg(format!("unix:{}", h.dir.path().join("dp.sock").display()))
            .output()
            .unwrap()
    };
    let answered = probe(&h);
    assert!(
        answered.status.success(),
        "{}",
        String::from_utf8_lossy(&answered.stderr)
    );
    h.kill_data_plane();
    let silent = probe(&h);
    assert_eq!(silent.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&silent.stderr).contains("cannot connect"),
        "{}",
        String::from_utf8_lossy(&silent.stderr)
    );
}
