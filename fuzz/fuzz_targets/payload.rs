#![no_main]
//! Interface payloads kiln's providers and builtins decode (HTTP requests and
//! responses, key-value requests, logging and random-number requests).

use kiln_types::interfaces::{self, httpserver, keyvalue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = interfaces::decode::<httpserver::HttpRequest>(data);
    let _ = interfaces::decode::<httpserver::HttpResponse>(data);
    let _ = interfaces::decode::<keyvalue::IncrementRequest>(data);
    let _ = interfaces::decode::<keyvalue::SetRequest>(data);
    let _ = interfaces::decode::<String>(data);
    let _ = interfaces::decode::<serde_json::Value>(data);
});
