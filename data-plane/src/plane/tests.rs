//! The data plane without gRPC: artifacts, starts and calls on hostile modules.

use std::sync::Arc;

use bytes::Bytes;
use std::time::Duration;

use kiln_proto::dataplane::v1::Limits as PbLimits;
use kiln_proto::dataplane::v1::invoke_error::Kind;

use super::*;
use crate::config::{Config, InstanceMode};
use crate::hostcalls::Broker;
use crate::{engine, host};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../integration-tests/fixtures/{name}.wat",
        env!("CARGO_MANIFEST_DIR")
    );
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Fixture {
    host: Plane,
    _dir: tempfile::TempDir,
    _ticker: engine::EpochTicker,
}

async fn host(mode: InstanceMode) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path());
    config.instance_mode = mode;
    config.deadline = Duration::from_millis(300);
    config.memory_limit = 8 << 20;
    let engine = engine::build(
        &engine::Sizing {
            max_instances: config.max_instances,
            max_memory: config.memory_limit,
        },
        &config.cache_dir,
    )
    .unwrap();
    let runtime = Runtime {
        linker: host::linker(&engine).unwrap(),
        broker: Arc::new(Broker::default()),
        mode,
    };
    let ticker = engine::EpochTicker::start(engine.clone(), config.epoch_tick).unwrap();
    let artifacts = artifacts::Store::new(engine, config.cache_dir.join("artifacts"));
    Fixture {
        host: Plane::new(
            runtime,
            artifacts,
            &config,
            tokio_util::task::TaskTracker::new(),
        ),
        _dir: dir,
        _ticker: ticker,
    }
}

async fn start(host: &Plane, key: &str, wat_name: &str) -> Result<(), CommandError> {
    let bytes = fixture(wat_name);
    let digest = kiln_types::ids::Digest::of(&bytes).to_string();
    host.artifacts().put(&digest, bytes).await.unwrap();
    host.start_actor(key, &digest, 2, None, Bytes::new()).await
}

async fn call(host: &Plane, key: &str, payload: &[u8]) -> Result<Vec<u8>, CallError> {
    host.invoke(
        key,
        "Echo.Say".into(),
        Bytes::copy_from_slice(payload),
        "inv-1".into(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_answers_in_both_instance_modes() {
    for mode in [InstanceMode::Reuse, InstanceMode::Fresh] {
        let f = host(mode).await;
        start(&f.host, "echo", "echo").await.unwrap();
        for size in [0, 5, 200_000] {
            let payload = vec![7u8; size];
            assert_eq!(
                call(&f.host, "echo", &payload).await.unwrap(),
                payload,
                "{mode:?} {size}"
            );
        }
        assert_eq!(f.host.inventory().actors[0].calls, 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_modules_fail_their_own_calls_only() {
    let f = host(InstanceMode::Reuse).await;
    start(&f.host, "echo", "echo").await.unwrap();
    start(&f.host, "loop", "loop").await.unwrap();
    start(&f.host, "grow", "grow").await.unwrap();
    start(&f.host, "trap", "trap").await.unwrap();
    start(&f.host, "fails", "guest_error").await.unwrap();

    let started = std::time::Instant::now();
    let err = call(&f.host, "loop", b"").await.unwrap_err();
    assert_eq!(err.kind, Kind::Deadline, "{err}");
    assert_eq!(err.message, "actor call exceeded its deadline of 300 ms");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    let err = call(&f.host, "grow", b"").await.unwrap_err();
    assert_eq!(err.kind, Kind::Memory, "{err}");
    assert_eq!(err.message, "actor exceeded its memory limit of 8 MiB");

    let err = call(&f.host, "trap", b"").await.unwrap_err();
    assert_eq!(err.kind, Kind::Trap, "{err}");
    assert!(err.message.contains("unreachable"), "{err}");

    let err = call(&f.host, "fails", b"").await.unwrap_err();
    assert_eq!(err.kind, Kind::Guest);
    assert_eq!(err.message, "no such operation");

    // The next calls, to the good actor and to the hostile ones again, behave the same.
    assert_eq!(
        call(&f.host, "echo", b"still here").await.unwrap(),
        b"still here"
    );
    assert_eq!(
        call(&f.host, "trap", b"").await.unwrap_err().kind,
        Kind::Trap
    );
    assert_eq!(
        call(&f.host, "fails", b"").await.unwrap_err().kind,
        Kind::Guest
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_does_not_block_other_calls() {
    let f = Arc::new(host(InstanceMode::Reuse).await);
    start(&f.host, "echo", "echo").await.unwrap();
    start(&f.host, "loop", "loop").await.unwrap();
    let spinning: Vec<_> = (0..4)
        .map(|_| {
            let f = f.clone();
            tokio::spawn(async move { call(&f.host, "loop", b"").await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    assert_eq!(call(&f.host, "echo", b"x").await.unwrap(), b"x");
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    for task in spinning {
        assert_eq!(task.await.unwrap().unwrap_err().kind, Kind::Deadline);
    }
}

fn served(reply: &[u8]) -> u32 {
    u32::from_le_bytes(reply.try_into().expect("four bytes"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_instances_come_up_as_needed_and_the_last_used_serves_next() {
    let f = host(InstanceMode::Reuse).await;
    start(&f.host, "counter", "counter").await.unwrap();
    f.host
        .scale_actor("counter", 4, Bytes::new())
        .await
        .unwrap();
    assert_eq!(f.host.inventory().actors[0].live, 1);
    let mut counts = Vec::new();
    for _ in 0..3 {
        counts.push(served(&call(&f.host, "counter", b"").await.unwrap()));
    }
    assert_eq!(counts, [1, 2, 3]);
    assert_eq!(f.host.inventory().actors[0].live, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_instances_come_up_at_start_and_scale_and_serve_in_turn() {
    let f = host(InstanceMode::Warm).await;
    let live = |f: &Fixture| f.host.inventory().actors[0].live;
    start(&f.host, "counter", "counter").await.unwrap();
    assert_eq!(live(&f), 2);
    f.host
        .scale_actor("counter", 4, Bytes::new())
        .await
        .unwrap();
    assert_eq!(live(&f), 4);
    let mut counts = Vec::new();
    for _ in 0..8 {
        counts.push(served(&call(&f.host, "counter", b"").await.unwrap()));
    }
    assert_eq!(counts, [1, 1, 1, 1, 2, 2, 2, 2]);

    // More than the pool holds (64 slots): refused with the numbers, and the actor
    // keeps its instances, which go on in turn.
    let error = f
        .host
        .scale_actor("counter", 100, Bytes::new())
        .await
        .unwrap_err();
    assert!(matches!(error, CommandError::BringUp { .. }), "{error}");
    assert!(
        error.to_string().contains("64 of 100 instances are up"),
        "{error}"
    );
    assert_eq!(f.host.inventory().actors[0].instances, 4);
    assert_eq!(live(&f), 4);
    assert_eq!(served(&call(&f.host, "counter", b"").await.unwrap()), 3);

    f.host
        .scale_actor("counter", 1, Bytes::new())
        .await
        .unwrap();
    assert_eq!(live(&f), 1);
}

#[tokio::test]
async fn broken_modules_are_refused_at_start() {
    let f = host(InstanceMode::Reuse).await;
    let err = start(&f.host, "bad", "bad_imports").await.unwrap_err();
    assert!(err.to_string().contains("__open_socket"), "{err}");
    let err = start(&f.host, "bare", "no_exports").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "actor does not export __guest_call (a function of two i32 returning i32)"
    );
    assert!(f.host.inventory().actors.is_empty());
}

#[tokio::test]
async fn refuses_unknown_artifacts_mismatches_and_big_limits() {
    let f = host(InstanceMode::Reuse).await;
    let missing = "0".repeat(64);
    let err = f
        .host
        .start_actor("a", &missing, 1, None, Bytes::new())
        .await
        .unwrap_err();
    assert!(matches!(err, CommandError::MissingArtifact(_)), "{err}");

    let err = f
        .host
        .artifacts()
        .put(&missing, fixture("echo"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("artifact digest mismatch"),
        "{err}"
    );

    let bytes = fixture("echo");
    let digest = kiln_types::ids::Digest::of(&bytes).to_string();
    f.host.artifacts().put(&digest, bytes).await.unwrap();
    let limits = PbLimits {
        deadline_ms: 0,
        memory_bytes: 1 << 30,
    };
    let err = f
        .host
        .start_actor("a", &digest, 1, Some(&limits), Bytes::new())
        .await
        .unwrap_err();
    assert!(matches!(err, CommandError::Limit { .. }), "{err}");

    let err = call(&f.host, "nobody", b"").await.unwrap_err();
    assert_eq!(err.kind, Kind::NotRunning);
}

#[tokio::test]
async fn artifacts_survive_a_restart_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = fixture("echo");
    let digest = kiln_types::ids::Digest::of(&bytes).to_string();
    let engine = engine::build(
        &engine::Sizing {
            max_instances: 4,
            max_memory: 8 << 20,
        },
        dir.path(),
    )
    .unwrap();
    artifacts::Store::new(engine.clone(), dir.path().join("a"))
        .put(&digest, bytes)
        .await
        .unwrap();
    let reopened = artifacts::Store::new(engine, dir.path().join("a"));
    assert!(!reopened.contains(&digest));
    assert!(reopened.get(&digest).await.unwrap().is_some());
    assert!(reopened.contains(&digest));
}
