//! Booleans as the wasmbus (OTP) host reads its settings: `1`, `true`, `yes`, `y`,
//! `enabled`, `enable` (any case) and their opposites; empty is false.

/// The boolean `text` spells.
///
/// # Errors
/// When it spells none, with what to write instead.
pub fn parse(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "y" | "enabled" | "enable" => Ok(true),
        "" | "0" | "false" | "no" | "n" | "disabled" | "disable" => Ok(false),
        other => Err(format!("{other:?} is not a boolean (use true or false)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_otp_spelling_is_read_and_others_are_refused() {
        for yes in ["1", "true", "YES", "y", "Enabled", " enable "] {
            assert_eq!(parse(yes), Ok(true), "{yes}");
        }
        for no in ["", "0", "false", "No", "n", "disabled", "DISABLE"] {
            assert_eq!(parse(no), Ok(false), "{no}");
        }
        assert!(parse("sometimes").unwrap_err().contains("not a boolean"));
    }
}
