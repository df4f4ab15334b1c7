//! Providers as real processes: a shell script stands in for a provider binary.

use std::time::Duration;

use super::*;

/// Writes what it read on stdin to `out`, then waits.
fn script(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join("provider.sh");
    let out = dir.join("host-data");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nread line\necho \"$line\" >> {}\necho started\nexec sleep 600\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn alive(pid: u32) -> bool {
    nix::sys::signal::kill(Pid::from_raw(i32::try_from(pid).unwrap()), None).is_ok()
}

async fn until(within: Duration, mut probe: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if probe() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    probe()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_a_killed_provider_with_its_latest_host_data() {
    let dir = tempfile::tempdir().unwrap();
    let exe = script(dir.path());
    let providers = Providers::new(TaskTracker::new());
    let (pid, already) = providers
        .start(
            "VP",
            "default",
            "d1",
            &exe,
            bytes::Bytes::from_static(b"first\n"),
            bytes::Bytes::from_static(b"r1"),
        )
        .await
        .unwrap();
    assert!(!already);
    assert!(
        until(Duration::from_secs(5), || std::fs::read_to_string(
            dir.path().join("host-data")
        )
        .is_ok_and(|s| s == "first\n"))
        .await
    );

    // Same digest again: no restart, new host data for the next start.
    let (same, already) = providers
        .start(
            "VP",
            "default",
            "d1",
            &exe,
            bytes::Bytes::from_static(b"second\n"),
            bytes::Bytes::from_static(b"r2"),
        )
        .await
        .unwrap();
    assert_eq!((same, already), (pid, true));
    assert_eq!(
        providers.inventory()[0].record,
        &b"r2"[..],
        "the newest record is kept"
    );

    nix::sys::signal::kill(Pid::from_raw(i32::try_from(pid).unwrap()), Signal::SIGKILL).unwrap();
    let started = Instant::now();
    let restarted = until(Duration::from_secs(5), || {
        let status = providers.inventory();
        status[0].pid != 0 && status[0].pid != pid
    })
    .await;
    assert!(restarted, "{:?}", providers.inventory());
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(providers.inventory()[0].restarts, 1);
    assert!(
        until(Duration::from_secs(5), || std::fs::read_to_string(
            dir.path().join("host-data")
        )
        .is_ok_and(|s| s == "first\nsecond\n"))
        .await
    );

    let current = providers.inventory()[0].pid;
    assert!(
        providers
            .stop("VP", "default", Duration::from_secs(2))
            .await
    );
    assert!(
        until(Duration::from_secs(5), || !alive(current)).await,
        "stopped provider still runs"
    );
    assert!(providers.inventory().is_empty());
    assert!(
        !providers
            .stop("VP", "default", Duration::from_secs(1))
            .await
    );
}

#[tokio::test]
async fn a_missing_executable_is_a_clear_error() {
    let providers = Providers::new(TaskTracker::new());
    let err = providers
        .start(
            "VP",
            "default",
            "d",
            Path::new("/nonexistent/provider"),
            bytes::Bytes::new(),
            bytes::Bytes::new(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("could not start provider VP"),
        "{err}"
    );
}
