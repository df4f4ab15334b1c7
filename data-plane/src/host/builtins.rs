//! The two capabilities every actor has without a provider: logging and numbergen.
//!
//! Answered here in the data plane, never sent to the lattice, and (as in the wasmbus
//! host since 0.62) not checked against the actor's caps: they reach nothing outside.

use serde::Deserialize;

/// Contract id of the logging builtin.
pub const LOGGING: &str = "wasmcloud:builtin:logging";
/// Contract id of the number generator builtin.
pub const NUMBERGEN: &str = "wasmcloud:builtin:numbergen";
/// Prefix of every builtin contract id.
pub const PREFIX: &str = "wasmcloud:builtin:";

#[derive(Deserialize)]
struct LogEntry {
    #[serde(default)]
    level: String,
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
struct RangeLimit {
    #[serde(default)]
    min: u32,
    #[serde(default)]
    max: u32,
}

/// Answers a builtin host call, or says why it cannot.
///
/// # Errors
/// An unknown builtin or operation, or a payload that does not decode.
pub fn call(
    actor: &str,
    namespace: &str,
    operation: &str,
    payload: &[u8],
) -> Result<Vec<u8>, String> {
    match (namespace, operation) {
        (LOGGING, "Logging.WriteLog") => {
            let entry: LogEntry = decode(payload, operation)?;
            let text = entry.text.as_str();
            match entry.level.to_ascii_lowercase().as_str() {
                "error" => tracing::error!(actor, text, "actor log"),
                "warn" | "warning" => tracing::warn!(actor, text, "actor log"),
                "debug" => tracing::debug!(actor, text, "actor log"),
                "trace" => tracing::trace!(actor, text, "actor log"),
                _ => tracing::info!(actor, text, "actor log"),
            }
            Ok(Vec::new())
        }
        (NUMBERGEN, "NumberGen.GenerateGuid") => Ok(encode(&uuid::Uuid::new_v4().to_string())),
        (NUMBERGEN, "NumberGen.Random32") => Ok(encode(&rand::random::<u32>())),
        (NUMBERGEN, "NumberGen.RandomInRange") => {
            let range: RangeLimit = decode(payload, operation)?;
            // min <= n <= max, as wasmCloud's runtime answers and its SDK documents;
            // a reversed range gives min.
            let value = if range.max >= range.min {
                rand::random_range(range.min..=range.max)
            } else {
                range.min
            };
            Ok(encode(&value))
        }
        (LOGGING | NUMBERGEN, _) => {
            Err(format!("builtin {namespace} has no operation {operation}"))
        }
        _ => Err(format!("unknown builtin capability {namespace}")),
    }
}

/// The guest's payload, bounded in size and depth: the decoder runs on the guest's
/// fiber stack, which deep nesting must not exhaust.
fn decode<'a, T: Deserialize<'a>>(payload: &'a [u8], operation: &str) -> Result<T, String> {
    kiln_types::decode::msgpack("a builtin payload", payload, kiln_types::limits::MESSAGE)
        .map_err(|e| format!("could not decode {operation} payload: {e}"))
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).expect("invariant: strings and integers always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_is_a_msgpack_uuid_string() {
        let bytes = call("M", NUMBERGEN, "NumberGen.GenerateGuid", &[]).unwrap();
        let guid: String = rmp_serde::from_slice(&bytes).unwrap();
        assert!(uuid::Uuid::parse_str(&guid).is_ok(), "{guid}");
    }

    #[test]
    fn random_in_range_includes_both_ends() {
        #[derive(serde::Serialize)]
        struct Range {
            min: u32,
            max: u32,
        }
        let draw = |min, max| {
            let payload = rmp_serde::to_vec_named(&Range { min, max }).unwrap();
            let bytes = call("M", NUMBERGEN, "NumberGen.RandomInRange", &payload).unwrap();
            rmp_serde::from_slice::<u32>(&bytes).unwrap()
        };
        let seen: std::collections::BTreeSet<u32> = (0..300).map(|_| draw(10, 12)).collect();
        // Missing one of three values in 300 draws has a chance of about 1e-52.
        assert_eq!(seen, [10, 11, 12].into(), "{seen:?}");
        assert_eq!(draw(7, 7), 7);
        assert_eq!(draw(9, 3), 9, "a reversed range gives min");
        // The whole u32 range is drawn from without overflowing.
        draw(0, u32::MAX);
    }

    #[test]
    fn logging_accepts_entries_and_refuses_garbage() {
        #[derive(serde::Serialize)]
        struct Entry<'a> {
            level: &'a str,
            text: &'a str,
        }
        let payload = rmp_serde::to_vec_named(&Entry {
            level: "info",
            text: "hi",
        })
        .unwrap();
        assert_eq!(
            call("M", LOGGING, "Logging.WriteLog", &payload).unwrap(),
            b""
        );
        let err = call("M", LOGGING, "Logging.WriteLog", &[0xc1]).unwrap_err();
        assert!(
            err.starts_with("could not decode Logging.WriteLog payload"),
            "{err}"
        );
    }

    #[test]
    fn unknown_builtins_are_refused() {
        assert_eq!(
            call("M", "wasmcloud:builtin:clock", "Clock.Now", &[]).unwrap_err(),
            "unknown builtin capability wasmcloud:builtin:clock"
        );
        assert!(call("M", NUMBERGEN, "NumberGen.Nope", &[]).is_err());
    }
}
