//! The sample actors, signed by our CLI during their build, as wascap reads them.

use kiln_integration_tests::fixtures;
use wascap::jwt::{Component, validate_token};

#[test]
fn sample_actors_are_read_and_validated_by_wascap() {
    for (name, alias) in [
        ("echo", None),
        ("pinger", None),
        ("ponger", Some("demo/ponger")),
        ("randlogger", None),
    ] {
        let bytes = std::fs::read(fixtures::sample_actor(name)).unwrap();
        let token = wascap::wasm::extract_claims(&bytes)
            .unwrap()
            .expect("signed");
        let validation = validate_token::<Component>(&token.jwt).unwrap();
        assert!(validation.signature_valid, "{name}");
        assert!(!validation.expired, "{name}");
        assert_eq!(token.claims.subject, fixtures::actor_key(&bytes));
        assert_eq!(token.claims.metadata.unwrap().call_alias.as_deref(), alias);
    }
}
