#![no_main]
//! InvocationResponse::decode (host-call replies, provider answers) on any bytes.

use kiln_types::invocation::InvocationResponse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = InvocationResponse::decode(data) {
        let again =
            InvocationResponse::decode(&response.encode()).expect("an encoded response decodes");
        assert_eq!(again, response);
    }
});
