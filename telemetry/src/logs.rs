//! What each process logs, and how: `KILN_LOG` (a tracing filter) when set, else the
//! OTP host's `WASMCLOUD_LOG_LEVEL` (and its deprecated `WASMCLOUD_STRUCTURED_LOG_LEVEL`),
//! else `info`; one JSON object per line with `WASMCLOUD_STRUCTURED_LOGGING_ENABLED`.
//! The control plane hands the same level and format to its providers in their host
//! data.

/// The tracing filter of this process.
pub const KILN_LOG: &str = "KILN_LOG";
/// The OTP host's log level.
pub const WASMCLOUD_LOG_LEVEL: &str = "WASMCLOUD_LOG_LEVEL";
/// Its deprecated predecessor, read when the level is not set.
pub const WASMCLOUD_STRUCTURED_LOG_LEVEL: &str = "WASMCLOUD_STRUCTURED_LOG_LEVEL";
/// JSON logs when true (the OTP host's boolean spellings).
pub const WASMCLOUD_STRUCTURED_LOGGING_ENABLED: &str = "WASMCLOUD_STRUCTURED_LOGGING_ENABLED";

/// The log settings of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logs {
    /// The tracing filter (`info`, `kiln_control_plane=debug,info`, …).
    pub filter: String,
    /// The level, as providers are told it (`KILN_LOG` does not change it).
    pub level: &'static str,
    /// One JSON object per line instead of text.
    pub json: bool,
    /// Settings that were ignored, and why; logged once logging is up.
    pub ignored: Vec<String>,
}

impl Logs {
    /// Reads the variables among `vars` (pass `std::env::vars()`).
    #[must_use]
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Logs {
        let vars: std::collections::HashMap<String, String> = vars
            .into_iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| (k, v.trim().to_string()))
            .collect();
        let get = |name: &str| vars.get(name).map(String::as_str);
        let mut ignored = Vec::new();
        let mut level = "info";
        for name in [WASMCLOUD_LOG_LEVEL, WASMCLOUD_STRUCTURED_LOG_LEVEL] {
            if let Some(text) = get(name) {
                match level_of(text) {
                    Some(found) => {
                        level = found;
                        break;
                    }
                    None => ignored.push(format!("{name}: {text:?} is not a log level")),
                }
            }
        }
        let json = match get(WASMCLOUD_STRUCTURED_LOGGING_ENABLED).map(kiln_types::flag::parse) {
            Some(Ok(json)) => json,
            Some(Err(problem)) => {
                ignored.push(format!("{WASMCLOUD_STRUCTURED_LOGGING_ENABLED}: {problem}"));
                false
            }
            None => false,
        };
        Logs {
            filter: get(KILN_LOG).unwrap_or(level).to_string(),
            level,
            json,
            ignored,
        }
    }

    /// The filter to install; an unreadable `KILN_LOG` falls back to the level.
    #[must_use]
    pub fn env_filter(&self) -> tracing_subscriber::EnvFilter {
        tracing_subscriber::EnvFilter::try_new(&self.filter)
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(self.level))
    }
}

/// A level in tracing's terms, from a Rust or an Erlang/OTP level name.
#[must_use]
pub fn level_of(text: &str) -> Option<&'static str> {
    Some(match text.trim().to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "info" | "notice" => "info",
        "warn" | "warning" => "warn",
        "error" | "critical" | "alert" | "emergency" => "error",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(vars: &[(&str, &str)]) -> Logs {
        Logs::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn the_level_comes_from_kiln_log_then_the_otp_variables() {
        assert_eq!(logs(&[]).filter, "info");
        let otp = logs(&[(WASMCLOUD_LOG_LEVEL, "WARNING")]);
        assert_eq!((otp.filter.as_str(), otp.level), ("warn", "warn"));
        let deprecated = logs(&[(WASMCLOUD_STRUCTURED_LOG_LEVEL, "debug")]);
        assert_eq!(deprecated.level, "debug");
        let both = logs(&[
            (WASMCLOUD_LOG_LEVEL, "error"),
            (WASMCLOUD_STRUCTURED_LOG_LEVEL, "debug"),
        ]);
        assert_eq!(both.level, "error");
        let kiln = logs(&[
            (KILN_LOG, "kiln=trace,info"),
            (WASMCLOUD_LOG_LEVEL, "error"),
        ]);
        assert_eq!(
            (kiln.filter.as_str(), kiln.level),
            ("kiln=trace,info", "error")
        );
        let bad = logs(&[(WASMCLOUD_LOG_LEVEL, "loud")]);
        assert_eq!(bad.level, "info");
        assert!(bad.ignored[0].contains("loud"), "{:?}", bad.ignored);
    }

    #[test]
    fn json_logs_take_the_otp_boolean_spellings() {
        for yes in ["1", "true", "YES", "y", "Enabled", "enable"] {
            assert!(
                logs(&[(WASMCLOUD_STRUCTURED_LOGGING_ENABLED, yes)]).json,
                "{yes}"
            );
        }
        for no in ["0", "false", "No", "disabled"] {
            assert!(
                !logs(&[(WASMCLOUD_STRUCTURED_LOGGING_ENABLED, no)]).json,
                "{no}"
            );
        }
        let bad = logs(&[(WASMCLOUD_STRUCTURED_LOGGING_ENABLED, "sometimes")]);
        assert!(!bad.json);
        assert_eq!(bad.ignored.len(), 1);
    }
}
