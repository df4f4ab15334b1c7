//! The sample actors, signed by our CLI during their build, as wascap reads them.

use kiln_integration_tests::{Harness, binary, fixtures, process::free_port};
use wascap::jwt::{Component, validate_token};

#[test]
fn sample_actors_are_read_and_validated_by_wascap() {
    for (name, alias) in [
        ("echo", None),
        ("pinger", None),
        ("ponger", Some("demo/ponger")),
        ("randlogger", None),
    ] {
        let bytes = std::fs::read(fixtures::sample_actor(name)).unwrap();
        let token = wascap::wasm::extract_claims(&bytes)
            .unwrap()
            .expect("signed");
        let validation = validate_token::<Component>(&token.jwt).unwrap();
        assert!(validation.signature_valid, "{name}");
        assert!(!validation.expired, "{name}");
        assert_eq!(token.claims.subject, fixtures::actor_key(&bytes));
        assert_eq!(token.claims.metadata.unwrap().call_alias.as_deref(), alias);
    }
}

/// The wasmCloud control-interface client (0.25, as in wash 0.18) drives the host
/// through every operation, from its own process and lock file
/// (`integration-tests/ctl-interop`), checking each answer.
#[tokio::test]
async fn the_wasmcloud_control_interface_client_drives_the_host() {
    let mut h = Harness::start().await;
    let echo_path = fixtures::sample_actor("echo");
    let echo = fixtures::actor_key(&std::fs::read(&echo_path).unwrap());
    let archive = fixtures::provider_archive("httpserver");
    let (v1, v2, tagged) = fixtures::tagged_revisions();
    let v1_path = h.dir.path().join("tagged-v1.wasm");
    let v2_path = h.dir.path().join("tagged-v2.wasm");
    std::fs::write(&v1_path, v1).unwrap();
    std::fs::write(&v2_path, v2).unwrap();
    let file = |p: &std::path::Path| format!("file://{}", p.display());
    let output = tokio::process::Command::new(binary("kiln-ctl-interop"))
        .env("NATS_URL", h.nats.url())
        .env("LATTICE", &h.lattice)
        .env("HOST_ID", h.host.public_key())
        .env("ECHO_REF", file(&echo_path))
        .env("ECHO_KEY", &echo)
        .env("TAGGED_V1_REF", file(&v1_path))
        .env("TAGGED_V2_REF", file(&v2_path))
        .env("TAGGED_KEY", &tagged)
        .env("PROVIDER_REF", file(&archive))
        .env("PROVIDER_KEY", fixtures::provider_key(&archive))
        .env("HTTP_PORT", free_port().to_string())
        .output()
        .await
        .expect("run kiln-ctl-interop (cargo build --manifest-path integration-tests/ctl-interop/Cargo.toml --target-dir target)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("all control-interface checks passed"),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        h.logs()
    );
    // stop_host was the last step: the control plane exits by itself, with 0.
    let status = h
        .control_plane
        .wait_exit(std::time::Duration::from_secs(10))
        .await
        .expect("the host stops");
    assert!(status.success(), "{status:?}");
}
