#![no_main]
//! Link definitions as a provider is sent them (msgpack) and as the lattice cache and
//! control requests carry them (JSON); what is accepted passes its own checks again.

use kiln_types::link::LinkDefinition;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for link in [
        LinkDefinition::from_msgpack(data),
        LinkDefinition::from_json(data),
    ]
    .into_iter()
    .flatten()
    {
        link.check().expect("an accepted link passes its checks");
        assert_eq!(
            LinkDefinition::from_msgpack(&link.to_msgpack()).as_ref(),
            Ok(&link)
        );
    }
});
