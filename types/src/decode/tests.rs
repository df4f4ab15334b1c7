use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::*;
use crate::invocation::{Invocation, InvocationResponse};

/// `{"x": [[[…nil…]]]}` with `levels` arrays, in msgpack.
fn deep_msgpack(levels: usize) -> Vec<u8> {
    let mut bytes = vec![0x81, 0xa1, b'x'];
    bytes.extend(std::iter::repeat_n(0x91, levels));
    bytes.push(0xc0);
    bytes
}

/// Runs `f` on a thread with a small stack: a decoder that recursed per level of the
/// input would overflow it and abort the test binary.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn deep_msgpack_is_refused_without_deep_recursion() {
    let error = on_small_stack(|| {
        msgpack::<IgnoredAny>("a test document", &deep_msgpack(100_000), limits::MESSAGE)
            .unwrap_err()
    });
    assert_eq!(
        error,
        DecodeError::TooDeep {
            what: "a test document",
            limit: limits::DEPTH
        }
    );
    assert!(msgpack::<IgnoredAny>("shallow", &deep_msgpack(limits::DEPTH - 1), 1 << 20).is_ok());
}

#[test]
fn deep_nesting_in_an_unknown_invocation_field_is_refused() {
    let error = on_small_stack(|| Invocation::decode(&deep_msgpack(600)).unwrap_err());
    assert_eq!(
        error.to_string(),
        "failed to deserialize invocation: an invocation nests deeper than 32 levels"
    );
    let error = on_small_stack(|| InvocationResponse::decode(&deep_msgpack(600)).unwrap_err());
    assert!(error.to_string().contains("nests deeper"), "{error}");
}

#[test]
fn deep_json_is_refused_before_parsing() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let error =
        on_small_stack(move || json::<IgnoredAny>("a body", deep.as_bytes(), 1 << 20).unwrap_err());
    assert!(matches!(error, DecodeError::TooDeep { .. }), "{error}");
    assert!(json::<IgnoredAny>("a body", br#"{"a":[[1],{"b":2}]}"#, 100).is_ok());
}

#[test]
fn brackets_inside_strings_do_not_count_as_nesting() {
    let text = format!(r#"{{"a":"{}\"{}"}}"#, "[".repeat(100), "{".repeat(100));
    assert!(!json_nests_deeper_than(text.as_bytes(), 2));
    assert!(json_nests_deeper_than(b"[[[]]]", 2));
    assert!(!json_nests_deeper_than(b"[[]][[]]", 2));
}

#[test]
fn oversized_input_is_refused_before_decoding() {
    let error = json::<IgnoredAny>("a body", &[b' '; 101], 100).unwrap_err();
    assert_eq!(
        error.to_string(),
        "a body of 101 bytes is above the limit of 100 bytes"
    );
    assert!(matches!(
        msgpack::<IgnoredAny>("a message", &[0xc0; 11], 10),
        Err(DecodeError::TooLarge { size: 11, .. })
    ));
}

#[derive(Debug, Deserialize)]
struct Request {
    #[serde(deserialize_with = "field::id")]
    id: String,
    #[serde(default, deserialize_with = "field::opt_reference")]
    reference: Option<String>,
    #[serde(default, deserialize_with = "field::string_map")]
    values: HashMap<String, String>,
    #[serde(default, deserialize_with = "field::opt_string_map")]
    annotations: Option<BTreeMap<String, String>>,
}

#[test]
fn fields_over_their_limit_are_refused_with_their_name() {
    let long = "x".repeat(limits::ID + 1);
    let body = format!(r#"{{"id":"{long}"}}"#);
    let error = json::<Request>("a request", body.as_bytes(), 1 << 20).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("an id is 129 bytes long, above the limit of 128"),
        "{error}"
    );
    let ok: Request = json(
        "a request",
        br#"{"id":"a","reference":null,"values":{"k":"v"},"annotations":{"x":"y"}}"#,
        1 << 20,
    )
    .unwrap();
    assert_eq!(ok.id, "a");
    assert_eq!(ok.reference, None);
    assert_eq!(ok.values["k"], "v");
    assert_eq!(ok.annotations.unwrap()["x"], "y");
}

#[test]
fn maps_with_too_many_entries_are_refused() {
    let entries: Vec<String> = (0..=limits::MAP_ENTRIES)
        .map(|i| format!(r#""k{i}":"v""#))
        .collect();
    let body = format!(r#"{{"id":"a","values":{{{}}}}}"#, entries.join(","));
    let error = json::<Request>("a request", body.as_bytes(), 1 << 20).unwrap_err();
    assert!(
        error.to_string().contains("more than 256 entries"),
        "{error}"
    );
}

#[test]
fn msgpack_strings_written_as_bytes_are_read() {
    #[derive(serde::Serialize)]
    struct Raw {
        #[serde(with = "serde_bytes")]
        id: Vec<u8>,
    }
    let bytes = rmp_serde::to_vec_named(&Raw {
        id: b"abc".to_vec(),
    })
    .unwrap();
    let read: Request = msgpack("a request", &bytes, 1 << 20).unwrap();
    assert_eq!(read.id, "abc");
    let long = rmp_serde::to_vec_named(&Raw {
        id: vec![b'a'; 1 << 16],
    })
    .unwrap();
    let error = msgpack::<Request>("a request", &long, 1 << 20).unwrap_err();
    assert!(
        error.to_string().contains("above the limit of 128"),
        "{error}"
    );
}
