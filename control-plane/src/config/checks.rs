//! The checks that read only the flags: names, keys named by other keys, and bounds.
//! Each problem is one line for the operator, naming its flag.

use kiln_types::keys::KeyKind;

use super::args::Args;

/// Every problem of names and bounds in `args`, appended to `problems`.
pub fn names_and_bounds(args: &Args, problems: &mut Vec<String>) {
    issuers(args, problems);
    if args.lattice_prefix.is_empty() || args.lattice_prefix.contains(['.', ' ', '*', '>']) {
        problems.push(format!(
            "--lattice-prefix: {:?} must be a non-empty NATS token (no dots, spaces or wildcards)",
            args.lattice_prefix
        ));
    }
    if args.ctl_topic_prefix.split('.').count() != 2 {
        problems.push(format!(
            "--ctl-topic-prefix: {:?} must have exactly two tokens, like wasmbus.ctl",
            args.ctl_topic_prefix
        ));
    }
    if args.rpc_timeout_ms == 0 {
        problems.push("--rpc-timeout-ms must be above 0".into());
    }
    if args.ctl_timeout_ms == 0 {
        problems.push("--ctl-timeout-ms must be above 0".into());
    }
    sizes(args, problems);
    if args.max_in_flight == 0 || args.max_in_flight_per_actor == 0 {
        problems.push("--max-in-flight and --max-in-flight-per-actor must be above 0".into());
    }
    if args.replay_window_s > 0 && args.replay_cache == 0 {
        problems.push("--replay-cache must be above 0 while the replay check is on".into());
    }
    if !(1..=5).contains(&args.lattice_replicas) {
        problems.push(format!(
            "--lattice-replicas: {} must be between 1 and 5",
            args.lattice_replicas
        ));
    }
    for (flag, hosts) in [
        ("--rpc-host", Some(&args.rpc_host)),
        ("--ctl-host", Some(&args.ctl_host)),
        ("--prov-rpc-host", args.prov_rpc_host.as_ref()),
    ] {
        if let Some(hosts) = hosts
            && hosts.split(',').all(|h| h.trim().is_empty())
        {
            problems.push(format!("{flag}: names no server"));
        }
    }
}

/// Trusted cluster keys must be cluster keys, allowed signers account keys.
fn issuers(args: &Args, problems: &mut Vec<String>) {
    for issuer in args.cluster_issuers.iter().filter(|s| !s.is_empty()) {
        if KeyKind::of_public_key(issuer) != Some(KeyKind::Cluster) {
            problems.push(format!(
                "--cluster-issuers: {issuer:?} is not a cluster (C…) public key"
            ));
        }
    }
    for issuer in args.allowed_issuers.iter().filter(|s| !s.is_empty()) {
        if KeyKind::of_public_key(issuer) != Some(KeyKind::Account) {
            problems.push(format!(
                "--allowed-issuers: {issuer:?} is not an account (A…) public key"
            ));
        }
    }
}

/// Every size in MiB is at least 1 and at most what one archive entry may hold.
fn sizes(args: &Args, problems: &mut Vec<String>) {
    let max_mib = crate::artifacts::fetch::MAX_LIMIT >> 20;
    for (flag, mib) in [
        ("--upload-limit-mib", args.upload_limit_mib),
        ("--actor-limit-mib", args.actor_limit_mib),
        ("--provider-limit-mib", args.provider_limit_mib),
        ("--chunk-limit-mib", args.chunk_limit_mib),
        ("--max-in-flight-mib", args.max_in_flight_mib),
    ] {
        if mib == 0 || mib > max_mib {
            problems.push(format!("{flag}: {mib} must be between 1 and {max_mib}"));
        }
    }
}
