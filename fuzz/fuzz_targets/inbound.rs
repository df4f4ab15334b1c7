#![no_main]
//! The whole inbound path of an actor's RPC subject: raw message bytes in, run or
//! refused out, stopping where the data plane would be called.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kiln_fuzz::inbound(data);
});
