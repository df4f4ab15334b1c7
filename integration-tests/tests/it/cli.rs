//! The `kiln` CLI: keys and claims, checked against the library and wascap.

use kiln_integration_tests::{binary, fixtures};

fn kiln(args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(binary("kiln"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn generate(kind: &str) -> serde_json::Value {
    let (ok, stdout, stderr) = kiln(&["keys", "gen", kind, "-o", "json"]);
    assert!(ok, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn keys_gen_makes_every_kind() {
    for (kind, prefix) in [
        ("account", "A"),
        ("module", "M"),
        ("server", "N"),
        ("cluster", "C"),
    ] {
        let key = generate(kind);
        assert!(
            key["public_key"].as_str().unwrap().starts_with(prefix),
            "{key}"
        );
        assert!(
            key["seed"]
                .as_str()
                .unwrap()
                .starts_with(&format!("S{prefix}")),
            "{key}"
        );
    }
    let (ok, _, stderr) = kiln(&["keys", "gen", "bogus"]);
    assert!(!ok);
    assert!(stderr.contains("unknown key kind"), "{stderr}");
}

#[test]
fn claims_sign_then_inspect_shows_what_was_signed() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("echo.wasm");
    std::fs::write(&module, fixtures::wat("echo")).unwrap();
    let account = generate("account");
    let subject = generate("module");
    let signed = dir.path().join("echo_s.wasm");
    let (ok, _, stderr) = kiln(&[
        "claims",
        "sign",
        module.to_str().unwrap(),
        "--issuer",
        account["seed"].as_str().unwrap(),
        "--subject",
        subject["seed"].as_str().unwrap(),
        "--name",
        "Echo",
        "--cap",
        "wasmcloud:httpserver",
        "--cap",
        "wasmcloud:keyvalue",
        "--call-alias",
        "demo/echo",
        "--rev",
        "4",
        "--ver",
        "1.0.0",
        "--expires-in-days",
        "3",
        "-d",
        signed.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = kiln(&["claims", "inspect", signed.to_str().unwrap(), "-o", "json"]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["module"], subject["public_key"]);
    assert_eq!(report["account"], account["public_key"]);
    assert_eq!(
        report["capabilities"],
        serde_json::json!(["wasmcloud:httpserver", "wasmcloud:keyvalue"])
    );
    assert_eq!(report["call_alias"], "demo/echo");
    assert_eq!(report["revision"], 4);
    assert_eq!(report["valid"], true);
    assert!(report["expires"].as_u64().unwrap() > kiln_types::unix_now() + 2 * 86_400);

    // wascap, the reference reader, agrees.
    let token = wascap::wasm::extract_claims(std::fs::read(&signed).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        token.claims.subject,
        subject["public_key"].as_str().unwrap()
    );
    let meta = token.claims.metadata.unwrap();
    assert_eq!(meta.call_alias.as_deref(), Some("demo/echo"));
    assert_eq!(meta.rev, Some(4));

    // Text output for people names the problem of a tampered module.
    let mut bytes = std::fs::read(&signed).unwrap();
    let at = fixtures::wat("echo").len() - 2;
    bytes[at] ^= 1;
    std::fs::write(&signed, bytes).unwrap();
    let (ok, stdout, _) = kiln(&["claims", "inspect", signed.to_str().unwrap()]);
    assert!(ok);
    assert!(
        stdout.contains("Valid         NO: module hash mismatch"),
        "{stdout}"
    );
}

#[test]
fn call_without_a_cluster_seed_says_what_is_missing() {
    let output = std::process::Command::new(binary("kiln"))
        .args(["call", "MXXX", "Op.Name"])
        .env_remove("WASMCLOUD_CLUSTER_SEED")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("a cluster seed is needed"), "{stderr}");
}
