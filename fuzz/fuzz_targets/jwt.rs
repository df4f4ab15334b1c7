#![no_main]
//! Claims tokens: the JWT envelope and the actor and provider checks on it.

use kiln_types::{claims, jwt, par};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let _ = jwt::decode_verified::<serde_json::Value>(&token);
    let _ = jwt::decode_unverified::<serde_json::Value>(&token);
    let policy = claims::Policy::default();
    let _ = claims::verify_token(&token, "00", &policy, kiln_fuzz::NOW);
    let _ = par::verify_provider_token(&token, "x86_64-linux", Some("00"), &policy, kiln_fuzz::NOW);
});
