#![no_main]
//! The JSON of control requests, and any JSON document read from the lattice (cache
//! values, events read back, policy answers), through the bounded decoder.

use kiln_types::ctl;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ctl::parse::<ctl::LaunchActor>(data);
    let _ = ctl::parse::<ctl::StopActor>(data);
    let _ = ctl::parse::<ctl::ScaleActor>(data);
    let _ = ctl::parse::<ctl::UpdateActor>(data);
    let _ = ctl::parse::<ctl::StopHost>(data);
    let _ = ctl::parse::<ctl::LaunchProvider>(data);
    let _ = ctl::parse::<ctl::StopProvider>(data);
    let _ = ctl::parse::<ctl::DeleteLink>(data);
    let _ = ctl::parse::<ctl::ActorAuction>(data);
    let _ = ctl::parse::<ctl::ProviderAuction>(data);
    let _ = kiln_types::decode::json::<serde_json::Value>("a document", data, 1 << 20);
});
