#![no_main]
//! An actor module: its claims section found, stripped and checked.

use kiln_types::claims;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = claims::verify_actor(data, &claims::Policy::default(), kiln_fuzz::NOW);
});
