//! Human or JSON output.

use serde::Serialize;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// One JSON document, for scripts.
    Json,
}

/// Prints `value` as JSON, or `text` for people.
pub fn emit<T: Serialize>(format: Format, value: &T, text: impl FnOnce() -> String) {
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(value).expect("invariant: CLI output always serialises")
        ),
        Format::Text => println!("{}", text()),
    }
}
