//! Modules for tests: the signed sample actors and the `.wat` fixtures, signed on demand.

use std::path::PathBuf;

use kiln_types::claims::{self, ActorSpec};
use kiln_types::keys::{KeyKind, KeyPair};

/// The reference the host's built-in HTTP server is started from.
pub const BUILTIN_HTTPSERVER: &str = "kiln+builtin://httpserver";
/// The built-in HTTP server's public key, which links name.
pub const BUILTIN_HTTPSERVER_KEY: &str = "VDRMODRKQRU77PBZVLJOFR6J3BTJFZUBQOURK2Y6Q7YYBJR2IPC7RS7W";

/// Path of a sample actor built and signed by `actors/build.sh`.
///
/// # Panics
/// When it has not been built.
#[must_use]
pub fn sample_actor(name: &str) -> PathBuf {
    let dir = std::env::var_os("KILN_ACTORS_DIR").map_or_else(
        || {
            crate::workspace::workspace_root()
                .join("actors")
                .join("build")
        },
        PathBuf::from,
    );
    let path = dir.join(format!("{name}_s.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run actors/build.sh (scripts/test does it)",
        path.display()
    );
    path
}

/// Path of a provider archive built and signed by `providers/build.sh`.
///
/// # Panics
/// When it has not been built.
#[must_use]
pub fn provider_archive(name: &str) -> PathBuf {
    let path = crate::workspace::workspace_root()
        .join("providers")
        .join("build")
        .join(format!("{name}.par.gz"));
    assert!(
        path.exists(),
        "{} is missing: run providers/build.sh (scripts/test does it)",
        path.display()
    );
    path
}

/// The public key of the provider in an archive.
#[must_use]
pub fn provider_key(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).expect("read archive");
    kiln_types::par::inspect_par(&bytes)
        .expect("an archive")
        .0
        .subject
}

/// The public key of a signed module.
#[must_use]
pub fn actor_key(bytes: &[u8]) -> String {
    claims::verify_actor(bytes, &claims::Policy::default(), kiln_types::unix_now())
        .expect("fixture verifies")
        .key()
        .to_string()
}

/// A `.wat` fixture as binary wasm.
#[must_use]
pub fn wat(name: &str) -> Vec<u8> {
    let path = crate::workspace::workspace_root()
        .join("integration-tests")
        .join("fixtures")
        .join(format!("{name}.wat"));
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Signs `module` as the actor `subject`, issued by `account`.
#[must_use]
pub fn sign_as(module: &[u8], spec: &ActorSpec, account: &KeyPair, subject: &KeyPair) -> Vec<u8> {
    claims::sign_actor(module, spec, account, subject, kiln_types::unix_now()).expect("sign")
}

/// Signs `module` with a fresh account and module key.
#[must_use]
pub fn sign(module: &[u8], spec: &ActorSpec) -> (Vec<u8>, KeyPair) {
    let account = KeyKind::Account.generate();
    let subject = KeyKind::Module.generate();
    let signed =
        claims::sign_actor(module, spec, &account, &subject, kiln_types::unix_now()).expect("sign");
    (signed, subject)
}

/// The payload of the `hostcall.wat` fixture: the host call it should make.
#[must_use]
pub fn host_call(binding: &str, namespace: &str, operation: &str, data: &[u8]) -> Vec<u8> {
    let mut payload = Vec::new();
    for part in [binding, namespace, operation] {
        payload.push(u8::try_from(part.len()).expect("fixture strings are short"));
        payload.extend_from_slice(part.as_bytes());
    }
    payload.extend_from_slice(data);
    payload
}

/// Two revisions (1 and 2) of one actor key, built from the `tagged` fixture: they
/// answer every call with `v01` and `v02`. Returns (v1, v2, actor key).
#[must_use]
pub fn tagged_revisions() -> (Vec<u8>, Vec<u8>, String) {
    let account = KeyKind::Account.generate();
    let subject = KeyKind::Module.generate();
    let path = crate::workspace::workspace_root().join("integration-tests/fixtures/tagged.wat");
    let text = std::fs::read_to_string(&path).expect("tagged.wat");
    let build = |tag: &str, rev: i32| {
        let module = wat::parse_str(text.replace("\"TAG\"", &format!("\"{tag}\"")))
            .expect("tagged.wat parses");
        let spec = ActorSpec {
            name: Some("tagged".into()),
            rev: Some(rev),
            ..ActorSpec::default()
        };
        sign_as(&module, &spec, &account, &subject)
    };
    (build("v01", 1), build("v02", 2), subject.public_key())
}
