//! Data-plane configuration: command-line flags and `KILN_DP_*` variables.

use std::path::PathBuf;
use std::time::Duration;

use kiln_types::endpoint::Endpoint;

const DEFAULT_DEADLINE_MS: u64 = 5_000;
const DEFAULT_MEMORY_LIMIT_MIB: u64 = 64;
const DEFAULT_MAX_INSTANCES: u32 = 1_000;
const DEFAULT_EPOCH_TICK_MS: u64 = 10;
const DEFAULT_GRACE_MS: u64 = 5_000;

/// Whether an instance serves many calls or one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InstanceMode {
    /// Keep each instance between calls; throw it away only after a failure. Instances
    /// come up as concurrent calls need them, and the one used last serves next.
    Reuse,
    /// Instantiate for every call and drop the instance after it.
    Fresh,
    /// As `reuse`, but every instance comes up when the actor starts or scales (a scale
    /// the pool cannot hold fails), and they serve in turn, so each keeps answering.
    Warm,
}

impl InstanceMode {
    /// Whether an instance is kept for the next call.
    #[must_use]
    pub fn reuses(self) -> bool {
        self != InstanceMode::Fresh
    }
}

/// Flags of `kiln-data-plane`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "kiln-data-plane",
    version,
    about = "Runs wasmbus actors for a kiln control plane"
)]
pub struct Args {
    /// Where to serve the data-plane gRPC API: unix:/path/to.sock or tcp:host:port.
    #[arg(
        long,
        env = "KILN_DP_LISTEN",
        default_value = "unix:/tmp/kiln/data-plane.sock"
    )]
    pub listen: String,
    /// Directory for artifacts and compiled code; kept across restarts.
    #[arg(long, env = "KILN_DP_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Default deadline of one call, in milliseconds.
    #[arg(long, env = "KILN_DP_DEADLINE_MS", default_value_t = DEFAULT_DEADLINE_MS)]
    pub deadline_ms: u64,
    /// Default and maximum linear memory per instance, in MiB.
    #[arg(long, env = "KILN_DP_MEMORY_LIMIT_MIB", default_value_t = DEFAULT_MEMORY_LIMIT_MIB)]
    pub memory_limit_mib: u64,
    /// Instances this data plane can hold at once, over all actors (the pool size).
    #[arg(long, env = "KILN_DP_MAX_INSTANCES", default_value_t = DEFAULT_MAX_INSTANCES)]
    pub max_instances: u32,
    /// Reuse instances between calls, or make a fresh one per call.
    #[arg(long, env = "KILN_DP_INSTANCE_MODE", value_enum, default_value_t = InstanceMode::Reuse)]
    pub instance_mode: InstanceMode,
    /// Epoch tick: the granularity of deadlines, in milliseconds.
    #[arg(long, env = "KILN_DP_EPOCH_TICK_MS", default_value_t = DEFAULT_EPOCH_TICK_MS)]
    pub epoch_tick_ms: u64,
    /// How long calls in flight may run after a shutdown signal, in milliseconds.
    #[arg(long, env = "KILN_DP_GRACE_MS", default_value_t = DEFAULT_GRACE_MS)]
    pub grace_ms: u64,
    /// Do not serve: ask the data plane listening on --listen for its inventory and
    /// exit 0 if it answers within 2 s, 1 if not (a health check for containers and
    /// service managers).
    #[arg(long)]
    pub probe: bool,
}

/// Validated data-plane configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listening endpoint.
    pub listen: Endpoint,
    /// Cache directory.
    pub cache_dir: PathBuf,
    /// Default call deadline.
    pub deadline: Duration,
    /// Memory limit per instance, in bytes; also the pool's slot size.
    pub memory_limit: u64,
    /// Pool size.
    pub max_instances: u32,
    /// Instance reuse policy.
    pub instance_mode: InstanceMode,
    /// Epoch tick.
    pub epoch_tick: Duration,
    /// Drain grace period.
    pub grace: Duration,
}

impl Config {
    /// A configuration for tests: a socket and cache under `dir`, small pool.
    #[must_use]
    pub fn for_tests(dir: &std::path::Path) -> Config {
        Config {
            listen: Endpoint::Unix(dir.join("dp.sock")),
            cache_dir: dir.join("cache"),
            deadline: Duration::from_millis(DEFAULT_DEADLINE_MS),
            memory_limit: DEFAULT_MEMORY_LIMIT_MIB << 20,
            max_instances: 64,
            instance_mode: InstanceMode::Reuse,
            epoch_tick: Duration::from_millis(DEFAULT_EPOCH_TICK_MS),
            grace: Duration::from_millis(DEFAULT_GRACE_MS),
        }
    }
}

impl TryFrom<Args> for Config {
    type Error = Vec<String>;

    /// Collects every problem instead of stopping at the first.
    fn try_from(args: Args) -> Result<Self, Self::Error> {
        let mut problems = Vec::new();
        let listen = args
            .listen
            .parse()
            .map_err(|e| problems.push(format!("--listen: {e}")))
            .ok();
        if args.deadline_ms == 0 {
            problems.push("--deadline-ms must be above 0".into());
        }
        if !(1..=4096).contains(&args.memory_limit_mib) {
            problems.push("--memory-limit-mib must be between 1 and 4096".into());
        }
        if args.max_instances == 0 {
            problems.push("--max-instances must be above 0".into());
        }
        if !(1..=1000).contains(&args.epoch_tick_ms) {
            problems.push("--epoch-tick-ms must be between 1 and 1000".into());
        }
        match listen {
            Some(listen) if problems.is_empty() => Ok(Config {
                listen,
                cache_dir: args
                    .cache_dir
                    .unwrap_or_else(|| std::env::temp_dir().join("kiln").join("data-plane")),
                deadline: Duration::from_millis(args.deadline_ms),
                memory_limit: args.memory_limit_mib << 20,
                max_instances: args.max_instances,
                instance_mode: args.instance_mode,
                epoch_tick: Duration::from_millis(args.epoch_tick_ms),
                grace: Duration::from_millis(args.grace_ms),
            }),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn reports_every_bad_field_at_once() {
        let args = Args::try_parse_from([
            "kiln-data-plane",
            "--listen",
            "nowhere",
            "--deadline-ms",
            "0",
            "--memory-limit-mib",
            "0",
        ])
        .unwrap();
        let problems = Config::try_from(args).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn defaults_are_valid() {
        let args = Args::try_parse_from(["kiln-data-plane"]).unwrap();
        let config = Config::try_from(args).unwrap();
        assert_eq!(config.memory_limit, 64 << 20);
        assert_eq!(config.instance_mode, InstanceMode::Reuse);
    }
}
