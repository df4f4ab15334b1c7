//! The `kiln` CLI: keys and claims, checked against the library and wascap; `kiln ctl`
//! against a running host.

use kiln_integration_tests::{Harness, binary, fixtures};

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
        .args(["call", "MXXX", "Op.Name", "--nats"])
        .env_remove("WASMCLOUD_CLUSTER_SEED")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("a cluster seed is needed"), "{stderr}");
}

#[tokio::test]
async fn ctl_starts_scales_updates_and_stops_waiting_for_the_outcome() {
    let h = Harness::start().await;
    let host = h.host.public_key();
    let (v1, v2, key) = fixtures::tagged_revisions();
    let v1_path = h.dir.path().join("v1.wasm");
    let v2_path = h.dir.path().join("v2.wasm");
    std::fs::write(&v1_path, v1).unwrap();
    std::fs::write(&v2_path, v2).unwrap();
    let v1_ref = format!("file://{}", v1_path.display());

    let (ok, out, err) = h
        .cli(&["ctl", "start", "actor", &v1_ref, "--host", &host])
        .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("started {key}"));
    // A start that fails reports the reason and exits non-zero.
    let (ok, _, err) = h
        .cli(&[
            "ctl",
            "start",
            "actor",
            "file:///no/such.wasm",
            "--host",
            &host,
        ])
        .await;
    assert!(!ok);
    assert!(err.contains("could not read /no/such.wasm"), "{err}");

    let (ok, _, err) = h.cli(&["ctl", "scale", &key, "3", "--host", &host]).await;
    assert!(ok, "{err}");
    let (ok, out, _) = h
        .cli(&["ctl", "-o", "json", "inventory", "--host", &host])
        .await;
    assert!(ok);
    let inventory: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        inventory["actors"][0]["instances"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let v2_ref = format!("file://{}", v2_path.display());
    let (ok, _, err) = h
        .cli(&["ctl", "update", &key, &v2_ref, "--host", &host])
        .await;
    assert!(ok, "{err}");
    assert_eq!(h.invoke(&key, "Any.Op", Vec::new()).await.msg, b"v02");
    let (ok, _, err) = h
        .cli(&["ctl", "update", &key, &v1_ref, "--host", &host])
        .await;
    assert!(!ok);
    assert!(
        err.contains("not higher than the running revision 2"),
        "{err}"
    );

    let (ok, out, _) = h.cli(&["ctl", "claims"]).await;
    assert!(ok);
    assert!(out.contains(&key) && out.contains("tagged  rev 2"), "{out}");
    let (ok, out, _) = h.cli(&["ctl", "auction", &v1_ref]).await;
    assert!(ok);
    assert_eq!(out.trim(), host);

    let (ok, _, err) = h
        .cli(&["ctl", "stop", "actor", &key, "--host", &host])
        .await;
    assert!(ok, "{err}");
    assert!(h.inventory().await["actors"].as_array().unwrap().is_empty());
    let (ok, _, err) = h
        .cli(&["ctl", "stop", "actor", &key, "--host", &host])
        .await;
    assert!(!ok);
    assert!(err.contains("is not running on this host"), "{err}");
}

#[tokio::test]
async fn the_cli_drives_the_host_through_the_control_api_with_meaningful_exit_codes() {
    let h = Harness::with(kiln_integration_tests::Options {
        control_plane_args: vec!["--api-token".into(), "t0ken".into()],
        ..Default::default()
    })
    .await;
    let cli = |args: Vec<String>| {
        let mut command = std::process::Command::new(binary("kiln"));
        command
            .args(&args)
            .env("KILN_API", format!("http://127.0.0.1:{}", h.api_port))
            .env("KILN_API_TOKEN", "t0ken");
        let output = command.output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let args = |list: &[&str]| list.iter().map(ToString::to_string).collect::<Vec<_>>();
    let echo_path = fixtures::sample_actor("echo");
    let echo = fixtures::actor_key(&std::fs::read(&echo_path).unwrap());
    let reference = format!("file://{}", echo_path.display());

    let (code, out, err) = cli(args(&["start", "actor", &reference, "--count", "2"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("started {echo} (2 running)"));
    let (code, out, _) = cli(args(&["hosts"]));
    assert_eq!(code, 0);
    assert!(out.starts_with(&h.host.public_key()), "{out}");
    let (code, out, _) = cli(args(&["inventory", "-o", "json"]));
    assert_eq!(code, 0);
    let inventory: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        inventory["actors"][0]["instances"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (code, out, _) = cli(args(&["scale", &echo, "3"]));
    assert_eq!((code, out.trim()), (0, "3 instances"));
    let (code, out, _) = cli(args(&["claims", "list"]));
    assert_eq!(code, 0);
    assert!(out.contains(&echo) && out.contains("Echo"), "{out}");
    let provider = kiln_types::keys::KeyKind::Service.generate().public_key();
    let (code, _, err) = cli(args(&[
        "link",
        "put",
        &echo,
        &provider,
        "wasmcloud:keyvalue",
        "--value",
        "URL=redis://x",
    ]));
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = cli(args(&["link", "list", "-o", "json"]));
    assert_eq!(code, 0);
    let links: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(links[0]["values"]["URL"], "redis://x");
    let (code, _, _) = cli(args(&["link", "del", &echo, "wasmcloud:keyvalue"]));
    assert_eq!(code, 0);
    let (code, out, _) = cli(args(&[
        "call", &echo, "--http", "GET", "/via-cli", "-o", "json",
    ]));
    assert_eq!(code, 0);
    assert!(out.contains("/via-cli"), "{out}");
    let (code, out, _) = cli(args(&["stop", "actor", &echo]));
    assert_eq!((code, out.trim()), (0, "stopped; 0 remaining"));

    // Exit codes: 66 not found, 64 bad request, 77 refused, 69 unreachable.
    let (code, _, err) = cli(args(&["stop", "actor", &echo]));
    assert_eq!(code, 66, "{err}");
    assert_eq!(
        err.trim(),
        format!("error: actor {echo} is not running on this host")
    );
    let (code, _, err) = cli(args(&[
        "link",
        "put",
        "nope",
        &provider,
        "wasmcloud:keyvalue",
    ]));
    assert_eq!(code, 64, "{err}");
    let (code, _, err) = cli(args(&["hosts", "--token", "wrong"]));
    assert_eq!(code, 77, "{err}");
    let dead = kiln_integration_tests::process::free_port();
    let (code, _, err) = cli(args(&[
        "hosts",
        "--api",
        &format!("http://127.0.0.1:{dead}"),
    ]));
    assert_eq!(code, 69, "{err}");
    assert!(err.contains("cannot reach the control API"), "{err}");
}
