//! What a run measured, kept as it is printed and written as JSON with `--json FILE`, so
//! runs can be compared by a program.

use std::sync::Mutex;

use serde_json::{Value, json};

use crate::Figures;

static ROWS: Mutex<Vec<Value>> = Mutex::new(Vec::new());

fn rows() -> std::sync::MutexGuard<'static, Vec<Value>> {
    ROWS.lock()
        .expect("invariant: the report lock is never poisoned")
}

/// One measured path, with its baseline and the ratios when it has one.
pub fn path(label: &str, figures: &Figures, baseline: Option<&Figures>) {
    let mut row = json!({
        "path": label.trim(),
        "p50_us": figures.p50_us,
        "p99_us": figures.p99_us,
        "per_second": figures.per_second,
    });
    if let Some(baseline) = baseline {
        row["baseline"] = json!({
            "p50_us": baseline.p50_us,
            "p99_us": baseline.p99_us,
            "per_second": baseline.per_second,
        });
        row["p50_ratio"] = json!(figures.p50_us / baseline.p50_us);
        row["throughput_ratio"] = json!(figures.per_second / baseline.per_second);
    }
    rows().push(row);
}

/// One figure that is not a path's (a cold start, a control round trip), with its
/// numbers.
pub fn figure(label: &str, numbers: Value) {
    rows().push(json!({ "path": label, "figures": numbers }));
}

/// Writes everything recorded to `file`.
///
/// # Panics
/// When the file cannot be written: the run asked for it.
pub fn write(file: &std::path::Path) {
    let report = json!({
        "cores": std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        "smoke": crate::scale::scale().smoke,
        "unix_time": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        "rows": *rows(),
    });
    let text = serde_json::to_string_pretty(&report).expect("a report as JSON");
    std::fs::write(file, text + "\n").unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
}
