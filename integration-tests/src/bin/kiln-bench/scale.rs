//! How much each measurement does: the full run, or the smoke (`--smoke`) that CI runs
//! to show every path answers. A smoke's numbers are too few to mean anything.

use std::sync::OnceLock;
use std::time::Duration;

/// The sizes of one run.
#[derive(Debug)]
pub struct Scale {
    /// Sequential calls timed per round.
    pub latency_calls: usize,
    /// Calls before timing starts.
    pub warmup_calls: usize,
    /// How long each throughput run lasts.
    pub throughput_for: Duration,
    /// Interleaved rounds of baseline and host.
    pub rounds: usize,
    /// Cold starts timed.
    pub cold_starts: usize,
    /// Invocations signed for one round.
    pub signed_per_round: usize,
    /// Seconds of each wrk run.
    pub wrk_seconds: u32,
    /// Distinct actors started in the control benchmark.
    pub control_actors: usize,
    /// Requests per control round-trip figure.
    pub control_requests: usize,
    /// Instances of one actor in the density run.
    pub density_instances: usize,
    /// Distinct actors in the density run.
    pub density_actors: usize,
    /// Whether this is the smoke.
    pub smoke: bool,
}

const FULL: Scale = Scale {
    latency_calls: 2_000,
    warmup_calls: 200,
    throughput_for: Duration::from_secs(3),
    rounds: 3,
    cold_starts: 30,
    // The latency calls, and more than the throughput run can send at the rates seen
    // on this machine.
    signed_per_round: 200 + 2_000 + 200_000,
    wrk_seconds: 3,
    control_actors: 100,
    control_requests: 1_000,
    density_instances: 10_000,
    density_actors: 1_000,
    smoke: false,
};

const SMOKE: Scale = Scale {
    latency_calls: 50,
    warmup_calls: 10,
    throughput_for: Duration::from_millis(300),
    rounds: 1,
    cold_starts: 3,
    signed_per_round: 10 + 50 + 5_000,
    wrk_seconds: 1,
    control_actors: 5,
    control_requests: 20,
    density_instances: 100,
    density_actors: 5,
    smoke: true,
};

static CHOSEN: OnceLock<&'static Scale> = OnceLock::new();

/// Makes this run the smoke; call before the first [`scale`].
pub fn choose_smoke() {
    let _ = CHOSEN.set(&SMOKE);
}

/// The sizes of this run.
pub fn scale() -> &'static Scale {
    CHOSEN.get_or_init(|| &FULL)
}
