//! Flags to configuration: defaults, parsing and the problems reported.

use std::time::Duration;

use clap::Parser as _;
use kiln_types::keys::KeyKind;

use super::*;

fn parse(flags: &[&str]) -> Result<Config, Vec<String>> {
    let mut argv = vec!["kiln-control-plane"];
    argv.extend_from_slice(flags);
    Config::from_args(Args::try_parse_from(argv).unwrap(), Vec::new())
}

#[test]
fn defaults_generate_keys_and_trust_our_own_cluster_key() {
    let config = parse(&[]).unwrap();
    assert_eq!(config.lattice, "default");
    assert!(config.host_id().starts_with('N'));
    assert!(config.cluster_key_generated);
    assert_eq!(
        config.cluster_issuers,
        vec![config.cluster_key.public_key()]
    );
    assert_eq!(config.rpc_timeout, Duration::from_secs(2));
    assert!(!config.allow_file_load);
    assert_eq!(config.labels["hostcore.os"], std::env::consts::OS);
}

#[test]
fn reads_seeds_issuers_and_flags() {
    let cluster = KeyKind::Cluster.generate();
    let other = KeyKind::Cluster.generate().public_key();
    let host = KeyKind::Server.generate();
    let config = parse(&[
        "--cluster-seed",
        &cluster.seed().unwrap(),
        "--host-seed",
        &host.seed().unwrap(),
        "--cluster-issuers",
        &other,
        "--allow-file-load",
        "--rpc-tls",
        "yes",
    ])
    .unwrap();
    assert_eq!(config.host_id(), host.public_key());
    assert!(!config.cluster_key_generated);
    assert_eq!(config.cluster_issuers, vec![cluster.public_key(), other]);
    assert!(config.allow_file_load);
    assert!(config.rpc.tls);
}

#[test]
fn reports_every_problem_at_once() {
    let problems = parse(&[
        "--host-seed",
        "SNBAD",
        "--cluster-issuers",
        "NOTACLUSTERKEY",
        "--lattice-prefix",
        "a.b",
        "--ctl-topic-prefix",
        "one",
        "--data-plane",
        "nowhere",
        "--label",
        "novalue",
    ])
    .unwrap_err();
    assert_eq!(problems.len(), 6, "{problems:#?}");
}

#[test]
fn labels_come_from_host_variables_and_flags() {
    let args = Args::try_parse_from(["kiln-control-plane", "--label", "zone=a"]).unwrap();
    let env = vec![
        ("HOST_REGION".to_string(), "eu".to_string()),
        ("PATH".to_string(), "/bin".to_string()),
    ];
    let config = Config::from_args(args, env).unwrap();
    assert_eq!(config.labels["region"], "eu");
    assert_eq!(config.labels["zone"], "a");
    assert!(!config.labels.contains_key("path"));
}

#[test]
fn boot_providers_take_an_optional_link_name() {
    let config = parse(&[
        "--provider",
        "file:///a=b.par.gz",
        "--provider",
        "web=registry.example/http:1",
    ])
    .unwrap();
    assert_eq!(
        config.autostart_providers,
        vec![
            BootProvider {
                reference: "file:///a=b.par.gz".into(),
                link_name: "default".into()
            },
            BootProvider {
                reference: "registry.example/http:1".into(),
                link_name: "web".into()
            },
        ]
    );
    assert!(parse(&["--provider", "web="]).is_err());
}

#[test]
fn limits_are_checked() {
    let problems = parse(&[
        "--actor-limit-mib",
        "0",
        "--provider-limit-mib",
        "100000",
        "--max-in-flight",
        "0",
        "--ctl-timeout-ms",
        "0",
        "--max-in-flight-mib",
        "0",
    ])
    .unwrap_err();
    assert_eq!(problems.len(), 5, "{problems:#?}");
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("--max-in-flight-mib")),
        "{problems:#?}"
    );
    let config = parse(&["--max-in-flight-mib", "8"]).unwrap();
    assert_eq!(config.in_flight.bytes, 8 << 20);
    let config = parse(&["--replay-window-s", "30", "--clock-skew-s", "2"]).unwrap();
    assert_eq!(config.replay.window_s, 30);
    assert_eq!(config.replay.skew_s, 2);
    assert_eq!(
        config.fetch_limits,
        crate::artifacts::fetch::Limits::default()
    );
}

#[test]
fn nats_settings_take_several_servers() {
    let config = parse(&[
        "--rpc-host",
        "a, b:4333,[::1]:4444, ::1,nats://c:5000,tls://d",
        "--rpc-port",
        "4222",
    ])
    .unwrap();
    assert_eq!(
        config.rpc.servers(),
        vec![
            "a:4222",
            "b:4333",
            "[::1]:4444",
            "[::1]:4222",
            "nats://c:5000",
            "tls://d:4222"
        ]
    );
    assert_eq!(config.rpc.address(), "a:4222");
    assert_eq!(config.prov_rpc.servers(), config.rpc.servers());
    assert_eq!(config.ctl.servers(), vec!["127.0.0.1:4222"]);
    assert!(parse(&["--ctl-host", " , "]).is_err());
    assert!(parse(&["--lattice-replicas", "0"]).is_err());
}

#[test]
fn secrets_do_not_print() {
    assert_eq!(format!("{:?}", Secret("SUAAA".into())), "<redacted>");
}

#[test]
fn the_otp_hosts_dashboard_ipv6_policy_and_provider_settings_are_read() {
    let config = parse(&[]).unwrap();
    assert_eq!(config.http_addr, Some("127.0.0.1:4000".parse().unwrap()));
    assert!(!config.enable_ipv6);
    assert_eq!(config.provider_shutdown_wait, Duration::from_secs(2));

    let config = parse(&[
        "--dashboard-port",
        "4100",
        "--dashboard-host",
        "::",
        "--enable-ipv6",
        "--prov-shutdown-delay-ms",
        "400",
    ])
    .unwrap();
    assert_eq!(config.http_addr, Some("[::]:4100".parse().unwrap()));
    assert!(config.enable_ipv6);
    assert_eq!(config.provider_shutdown_wait, Duration::from_millis(400));
    let config = parse(&["--dashboard-host", "localhost"]).unwrap();
    assert_eq!(config.http_addr, Some("127.0.0.1:4000".parse().unwrap()));
    let config = parse(&["--http-addr", "off", "--dashboard-port", "4100"]).unwrap();
    assert_eq!(config.http_addr, None, "off stays off");
    let problems = parse(&["--dashboard-host", "dashboard.example"]).unwrap_err();
    assert!(problems[0].contains("--dashboard-host"), "{problems:?}");

    // The lattice's own changes topic wins, its prefix's dashes as underscores.
    let argv = [
        "kiln-control-plane",
        "--lattice-prefix",
        "blue-green",
        "--policy-changes-topic",
        "general.changes",
    ];
    let env = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let own = Config::from_args(
        Args::try_parse_from(argv).unwrap(),
        env(&[("WASMCLOUD_POLICY_CHANGES_TOPIC_blue_green", "blue.changes")]),
    )
    .unwrap();
    assert_eq!(own.policy_changes_topic.as_deref(), Some("blue.changes"));
    let general = Config::from_args(
        Args::try_parse_from(argv).unwrap(),
        env(&[("WASMCLOUD_POLICY_CHANGES_TOPIC_other", "other.changes")]),
    )
    .unwrap();
    assert_eq!(
        general.policy_changes_topic.as_deref(),
        Some("general.changes")
    );
}

#[test]
fn host_config_names_a_file_not_a_label() {
    let config = Config::from_args(
        Args::try_parse_from(["kiln-control-plane"]).unwrap(),
        vec![
            ("HOST_CONFIG".to_string(), "/tmp/effective.json".to_string()),
            ("HOST_ZONE".to_string(), "eu".to_string()),
        ],
    )
    .unwrap();
    assert_eq!(config.labels.get("zone").map(String::as_str), Some("eu"));
    assert!(!config.labels.contains_key("config"), "{:?}", config.labels);
}
