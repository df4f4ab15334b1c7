//! The data plane is cattle: killed, it is restarted and given its workload again.

use std::time::Duration;

use kiln_integration_tests::{Harness, eventually, fixtures, http};

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
