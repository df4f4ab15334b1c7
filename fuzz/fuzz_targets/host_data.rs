#![no_main]
//! The host data line a provider reads on stdin.

use kiln_types::hostdata::HostData;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = HostData::from_stdin_line(&String::from_utf8_lossy(data));
});
