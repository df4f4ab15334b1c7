//! How large the fields of what arrives from the lattice may be.
//!
//! Every decoder of input from outside checks these before it copies or works on a
//! field, so that no field can make a host build an oversized subject or object-store
//! key, allocate without bound or spend time in proportion to a hostile value. The
//! limits are far above what real clients send (UUIDs, 56-character keys, contract ids
//! such as `wasmcloud:httpserver`, registry references).

/// Nesting depth of a msgpack or JSON document (maps and arrays inside each other).
/// Real payloads nest a handful of levels; each level costs stack while decoding.
pub const DEPTH: usize = 32;

/// An invocation id, a JWT id, a request or instance id (UUIDs are 36 characters).
pub const ID: usize = 128;
/// A public key or a host id (nkeys public keys are 56 characters).
pub const KEY: usize = 128;
/// A contract id such as `wasmcloud:keyvalue`.
pub const CONTRACT_ID: usize = 256;
/// A link name.
pub const LINK_NAME: usize = 128;
/// An operation such as `HttpServer.HandleRequest`.
pub const OPERATION: usize = 256;
/// An artifact reference: `file://…` or a registry reference.
pub const REFERENCE: usize = 2048;
/// The JWT of an invocation.
pub const INVOCATION_CLAIMS: usize = 16 << 10;
/// The JWT of an actor or a provider archive (names, tags, capabilities, hashes).
pub const ARTIFACT_CLAIMS: usize = 64 << 10;
/// Entries in a string map of a request: annotations, labels, link values, the trace
/// context of an invocation.
pub const MAP_ENTRIES: usize = 256;
/// A key in such a map.
pub const MAP_KEY: usize = 256;
/// A value in such a map (link values may hold a certificate).
pub const MAP_VALUE: usize = 64 << 10;
/// An error message in a response.
pub const ERROR_TEXT: usize = 64 << 10;
/// A short free-text field: a label, a lattice prefix, a JetStream domain.
pub const TEXT: usize = 1024;
/// A configuration string given to a provider at start.
pub const CONFIG: usize = 1 << 20;
/// A JSON control request or reply, a lattice-cache value, an event read back.
pub const JSON_BODY: usize = 4 << 20;
/// A msgpack envelope (invocation or response) carried in one NATS message; the
/// server's own `max_payload` is usually far lower.
pub const MESSAGE: usize = 64 << 20;

/// Checks a string map given by a client that did not go through a bounded decoder
/// (the gRPC API, the dashboard): at most [`MAP_ENTRIES`] entries, keys of at most
/// [`MAP_KEY`] and values of at most [`MAP_VALUE`] bytes.
///
/// # Errors
/// Which bound `what` (annotations, link values) passes.
pub fn check_map<'a>(
    what: &str,
    entries: impl ExactSizeIterator<Item = (&'a String, &'a String)>,
) -> Result<(), String> {
    if entries.len() > MAP_ENTRIES {
        return Err(format!(
            "{what} have {} entries, more than {MAP_ENTRIES}",
            entries.len()
        ));
    }
    for (key, value) in entries {
        if key.len() > MAP_KEY || value.len() > MAP_VALUE {
            return Err(format!(
                "{what}: an entry is longer than {MAP_KEY} bytes (key) or {MAP_VALUE} bytes (value)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn maps_are_checked_against_their_bounds() {
        let small = BTreeMap::from([("a".to_string(), "b".to_string())]);
        assert!(check_map("annotations", small.iter()).is_ok());
        let long = BTreeMap::from([("a".to_string(), "v".repeat(MAP_VALUE + 1))]);
        assert!(check_map("annotations", long.iter()).is_err());
        let many: BTreeMap<String, String> = (0..=MAP_ENTRIES)
            .map(|i| (i.to_string(), String::new()))
            .collect();
        let error = check_map("link values", many.iter()).unwrap_err();
        assert!(error.starts_with("link values have 257 entries"), "{error}");
    }
}
