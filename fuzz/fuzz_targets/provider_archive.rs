#![no_main]
//! A provider archive: gzip, tar, claims and the binary's hash, bounded while unpacked.

use kiln_types::{claims, par};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = par::read_par(
        data,
        "x86_64-linux",
        &claims::Policy::default(),
        kiln_fuzz::NOW,
    );
    let _ = par::inspect_par(data);
});
