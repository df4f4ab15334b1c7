#![no_main]
//! Invocation::decode on any bytes; what decodes encodes and decodes to itself.

use kiln_types::invocation::Invocation;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(invocation) = Invocation::decode(data) {
        let again =
            Invocation::decode(&invocation.encode()).expect("an encoded invocation decodes");
        assert_eq!(again, invocation);
    }
});
