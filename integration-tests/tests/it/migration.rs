//! An OTP host's deployment swapped for kiln: its `host_config.json`, `.env` and
//! environment boot kiln with the same identity, lattice, credentials and log format,
//! and with the workload its config service hands out.

use std::time::Duration;

use futures::StreamExt as _;
use kiln_integration_tests::process::{self, Nats, Process, Registry, binary};
use kiln_integration_tests::{Options, eventually, fixtures, http, start_data_plane};
use kiln_types::invocation::{Entity, Invocation, InvocationResponse};
use kiln_types::keys::KeyKind;
use kiln_wasmbus::subjects;

#[tokio::test]
async fn an_otp_hosts_configuration_boots_kiln_as_that_host() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let nats = Nats::start(dir).await;
    let registry = Registry::start(dir, Some(("otp", "s3cret"))).await;
    let echo_ref = format!("{}/otp/echo:1.0.0", registry.address());
    let pushed = tokio::process::Command::new(binary("kiln"))
        .args(["push", &echo_ref])
        .arg(fixtures::sample_actor("echo"))
        .args(["--insecure", "--user", "otp", "--password", "s3cret"])
        .output()
        .await
        .unwrap();
    assert!(pushed.status.success(), "{pushed:?}");

    let (host, cluster) = (KeyKind::Server.generate(), KeyKind::Cluster.generate());
    let lattice = "otp-migrated";
    let client = async_nats::connect(nats.url()).await.unwrap();
    // The config service hands out the registry's credentials and the actor.
    let mut asked = client
        .subscribe(subjects::config_service(lattice))
        .await
        .unwrap();
    client.flush().await.unwrap();
    let service_client = client.clone();
    let server = registry.address();
    let echo_handed = echo_ref.clone();
    let service = tokio::spawn(async move {
        let request = asked.next().await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&request.payload).unwrap();
        let answer = serde_json::json!({
            "registryCredentials": {
                server: { "registryType": "oci", "username": "otp", "password": "s3cret" }
            },
            "autoStartActors": [echo_handed],
            "autoStartProviders": [],
        });
        service_client
            .publish(request.reply.unwrap(), answer.to_string().into())
            .await
            .unwrap();
        body
    });

    // The OTP host's files in the working directory, and its environment.
    let cwd = dir.join("host");
    std::fs::create_dir_all(&cwd).unwrap();
    let effective = cwd.join("effective.json");
    let host_config = serde_json::json!({
        "lattice_prefix": lattice,
        "host_seed": host.seed().unwrap(),
        "cluster_seed": cluster.seed().unwrap(),
        "rpc_host": "127.0.0.1", "rpc_port": nats.port,
        "ctl_host": "127.0.0.1", "ctl_port": nats.port,
        "rpc_timeout_ms": 2500,
        "config_service_enabled": "true",
        "allowed_insecure": [registry.address()],
        "host_config": effective.display().to_string(),
    });
    std::fs::write(cwd.join("host_config.json"), host_config.to_string()).unwrap();
    std::fs::write(
        cwd.join(".env"),
        "WASMCLOUD_STRUCTURED_LOGGING_ENABLED=yes\nWASMCLOUD_LOG_LEVEL=debug\nHOST_zone=eu-west\n",
    )
    .unwrap();
    let data_plane = start_data_plane(dir, &Options::default());
    let control_plane = Process::spawn_in(
        "control-plane",
        dir,
        Some(&cwd),
        binary("kiln-control-plane"),
        "debug",
        vec![
            "--data-plane".into(),
            format!("unix:{}", dir.join("dp.sock").display()),
            "--http-addr".into(),
            format!("127.0.0.1:{}", process::free_port()),
            "--api-addr".into(),
            "off".into(),
        ],
        // The environment wins over the file.
        &[("WASMCLOUD_RPC_TIMEOUT_MS".into(), "3000".into())],
    );
    let logs = || format!("{}\n{}", control_plane.log(), data_plane.log());

    // The same identity and lattice: the host answers a ping there, with its labels.
    let ctl = subjects::Ctl::new(subjects::DEFAULT_CTL_PREFIX, lattice);
    let ping = ctl.subject(subjects::CtlSubject::PingHosts).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let seen: serde_json::Value = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer to a ping:\n{}",
            logs()
        );
        if let Ok(Ok(reply)) = tokio::time::timeout(
            Duration::from_millis(500),
            client.request(ping.clone(), "".into()),
        )
        .await
        {
            break serde_json::from_slice(&reply.payload).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(seen["id"], host.public_key().as_str(), "{seen}");
    assert_eq!(seen["labels"]["zone"], "eu-west", "{seen}");
    let asked = tokio::time::timeout(Duration::from_secs(5), service)
        .await
        .expect("the config service was asked")
        .unwrap();
    assert_eq!(asked["labels"]["zone"], "eu-west", "{asked}");

    // The workload the service handed out, pulled with its credentials, answers calls
    // signed with the cluster seed of the file.
    let echo = fixtures::actor_key(&std::fs::read(fixtures::sample_actor("echo")).unwrap());
    let call = |path: &str| {
        Invocation::new_signed(
            &cluster,
            Entity::actor(KeyKind::Module.generate().public_key()),
            Entity::actor(&echo),
            "HttpServer.HandleRequest",
            http::get(path),
            kiln_types::unix_now(),
        )
        .unwrap()
        .encode()
    };
    let serving = eventually(Duration::from_secs(30), || {
        let (client, subject) = (client.clone(), subjects::actor_rpc(lattice, &echo));
        let body = call("/migrated");
        async move {
            match tokio::time::timeout(
                Duration::from_millis(500),
                client.request(subject, body.into()),
            )
            .await
            {
                Ok(Ok(reply)) => {
                    InvocationResponse::decode(&reply.payload).is_ok_and(|r| r.error.is_none())
                }
                _ => false,
            }
        }
    })
    .await;
    assert!(serving, "{}", logs());

    // The log format of the .env, and the effective configuration written back: the
    // environment's timeout, the seeds, not the host's seed.
    for line in control_plane.log().lines().filter(|l| !l.trim().is_empty()) {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(event["level"].is_string(), "{line}");
    }
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&effective).expect("the effective configuration"))
            .unwrap();
    assert_eq!(written["lattice_prefix"], lattice);
    assert_eq!(written["rpc_timeout_ms"], 3000);
    assert_eq!(written["cluster_seed"], cluster.seed().unwrap().as_str());
    assert_eq!(written["config_service_enabled"], true);
    assert_eq!(written["structured_logging_enabled"], true);
    assert!(written.get("host_seed").is_none(), "{written}");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&effective).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "it holds seeds: {mode:o}");
}

#[tokio::test]
async fn a_host_config_in_toml_or_yaml_is_read_and_a_bad_one_is_refused() {
    for (name, text) in [
        (
            "host_config.toml",
            "lattice_prefix = \"from-toml\"\nrpc_timeout_ms = 0\n",
        ),
        (
            "host_config.yaml",
            "lattice_prefix: from-yaml\nrpc_timeout_ms: 0\n",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(name), text).unwrap();
        // A timeout of 0 is refused: proof the file was read, without starting a host.
        let output = tokio::process::Command::new(binary("kiln-control-plane"))
            .current_dir(dir.path())
            .env_remove("WASMCLOUD_RPC_TIMEOUT_MS")
            .output()
            .await
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(64), "{name}: {err}");
        assert!(
            err.contains("--rpc-timeout-ms must be above 0"),
            "{name}: {err}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("host_config.json"),
        r#"{"lattice_prefx": "typo"}"#,
    )
    .unwrap();
    let output = tokio::process::Command::new(binary("kiln-control-plane"))
        .current_dir(dir.path())
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(64), "{err}");
    assert!(err.contains("unknown key \"lattice_prefx\""), "{err}");
}
