//! Where the CPU goes in a throughput run: the CPU time each process (the NATS server,
//! both planes, providers, the benchmark's own client or `wrk`) spent per call. On 2
//! cores, throughput is what these add up to; the baseline's figures show what NATS or
//! a plain HTTP server and the client cost alone.

use kiln_integration_tests::process::{children, cpu_seconds, waited_children_cpu_seconds};

/// Whose CPU time is counted.
#[derive(Clone, Copy)]
pub enum Source {
    /// One process.
    Process(u32),
    /// Every child of a process (the providers a data plane runs).
    ChildrenOf(u32),
    /// This process's children that have ended and been waited for (`wrk`).
    Waited,
}

impl Source {
    fn seconds(self) -> f64 {
        match self {
            Source::Process(pid) => cpu_seconds(pid),
            Source::ChildrenOf(pid) => children(pid).into_iter().map(cpu_seconds).sum(),
            Source::Waited => waited_children_cpu_seconds(),
        }
    }
}

/// The CPU time of some sources, from a start.
pub struct Meter {
    sources: Vec<Source>,
    start: Vec<f64>,
}

impl Meter {
    /// Starts counting for `sources` (name, source).
    pub fn start(sources: &[(&str, Source)]) -> Meter {
        let sources: Vec<Source> = sources.iter().map(|(_, source)| *source).collect();
        let start = sources.iter().map(|source| source.seconds()).collect();
        Meter { sources, start }
    }

    /// Each source's CPU time since the start, per call of `calls`, in µs.
    pub fn per_call_us(&self, calls: usize) -> Vec<f64> {
        self.sources
            .iter()
            .zip(&self.start)
            .map(|(source, start)| (source.seconds() - start) * 1e6 / calls.max(1) as f64)
            .collect()
    }
}

/// Each process's median over rounds.
pub fn median(rounds: &[Vec<f64>]) -> Vec<f64> {
    let processes = rounds.first().map_or(0, Vec::len);
    (0..processes)
        .map(|i| {
            let mut values: Vec<f64> = rounds.iter().map(|round| round[i]).collect();
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        })
        .collect()
}

/// One line for the host's CPU per call and one for the baseline's, and both in the
/// JSON report.
pub fn print(label: &str, processes: &[(&str, Source)], host: &[f64], baseline: &[f64]) {
    let line = |figures: &[f64]| {
        let parts: Vec<String> = processes
            .iter()
            .zip(figures)
            // A process the path does not go through (the planes, in the baseline)
            // still ticks a little.
            .filter(|(_, us)| **us >= 0.5)
            .map(|((name, _), us)| format!("{name} {us:.0}"))
            .collect();
        format!(
            "{} µs (total {:.0})",
            parts.join(", "),
            figures.iter().sum::<f64>()
        )
    };
    println!(
        "  {label}: CPU per call at {} in flight: {}",
        crate::CONCURRENCY,
        line(host)
    );
    println!("    baseline: {}", line(baseline));
    let named = |figures: &[f64]| -> serde_json::Value {
        processes
            .iter()
            .zip(figures)
            .map(|((name, _), us)| ((*name).to_string(), serde_json::json!(us)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    crate::report::figure(
        &format!(
            "{label}: CPU µs per call at {} in flight",
            crate::CONCURRENCY
        ),
        serde_json::json!({"host": named(host), "baseline": named(baseline)}),
    );
}
