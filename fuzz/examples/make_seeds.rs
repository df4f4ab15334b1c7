//! Writes the seed corpora of the fuzz targets into `corpus/<target>/`: one valid input
//! of each shape (signed with the fixed keys of the crate, so they reach the checks
//! behind the signature) and a few that each check refuses. Run again only to refresh
//! them: `cargo run --example make-seeds`.

use std::collections::HashMap;
use std::path::Path;

use kiln_fuzz::{ACTOR, NOW, cluster};
use kiln_types::claims::{self, ActorSpec};
use kiln_types::hostdata::HostData;
use kiln_types::interfaces::{self, httpserver, keyvalue};
use kiln_types::invocation::{Entity, Invocation, InvocationResponse};
use kiln_types::keys::KeyKind;
use kiln_types::link::LinkDefinition;
use kiln_types::par::{self, ProviderSpec};

const PROVIDER: &str = "VAT4GJDZRXRHEU2GB2PITAB6KP5VMPWTQS24N52PSBE43D3DUWLTBB6X";

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).expect("corpus directory");
    std::fs::write(dir.join(name), bytes).expect("write a seed");
}

fn main() {
    let cluster = cluster();
    let from_provider = Invocation::new_signed(
        &cluster,
        Entity::provider(PROVIDER, "wasmcloud:httpserver", "default"),
        Entity::actor(ACTOR),
        "HttpServer.HandleRequest",
        interfaces::encode(&httpserver::HttpRequest {
            method: "GET".into(),
            path: "/".into(),
            ..httpserver::HttpRequest::default()
        }),
        NOW,
    )
    .expect("sign");
    let from_actor = Invocation::new_signed(
        &cluster,
        Entity::actor(KeyKind::Module.generate().public_key()),
        Entity::actor(ACTOR),
        "Ponger.Ping",
        b"ping".to_vec(),
        NOW,
    )
    .expect("sign");
    let mut chunked = from_actor.clone();
    chunked.msg = Vec::new();
    chunked.content_length = Some(2_000_000);
    let mut elsewhere = from_actor.clone();
    elsewhere.target = Entity::actor(KeyKind::Module.generate().public_key());
    for (name, invocation) in [
        ("from-provider", &from_provider),
        ("from-actor", &from_actor),
        ("chunked", &chunked),
        ("elsewhere", &elsewhere),
    ] {
        write("inbound", name, &invocation.encode());
        write("invocation", name, &invocation.encode());
    }

    let responses = [
        (
            "success",
            InvocationResponse::success("id-1", b"pong".to_vec()),
        ),
        (
            "failure",
            InvocationResponse::failure("id-2", "actor trapped"),
        ),
        (
            "chunked",
            InvocationResponse {
                msg: Vec::new(),
                invocation_id: "id-3".into(),
                error: None,
                content_length: Some(2_000_000),
            },
        ),
    ];
    for (name, response) in responses {
        write("invocation_response", name, &response.encode());
    }

    let link = LinkDefinition::new(
        ACTOR,
        PROVIDER,
        "default",
        "wasmcloud:httpserver",
        HashMap::from([("address".to_string(), "127.0.0.1:8080".to_string())]),
    );
    write("link", "msgpack", &link.to_msgpack());
    write("link", "json", &serde_json::to_vec(&link).expect("json"));

    for (name, body) in [
        (
            "la",
            r#"{"actor_ref":"registry.example/echo:0.1.0","count":2,"annotations":{"a":"b"}}"#,
        ),
        (
            "sa",
            r#"{"actor_ref":"MDRFHAZK6UXM2VDVVQ3UCYXM2ZL2C5UM75MESRZ435FA6R4RLJLIQLTK","count":1}"#,
        ),
        (
            "scale",
            r#"{"actor_id":"MDRFHAZK6UXM2VDVVQ3UCYXM2ZL2C5UM75MESRZ435FA6R4RLJLIQLTK","actor_ref":"","count":3}"#,
        ),
        (
            "upd",
            r#"{"new_actor_ref":"file:///actors/echo.wasm","actor_id":null}"#,
        ),
        ("stop", r#"{"timeout":1000}"#),
        (
            "lp",
            r#"{"provider_ref":"registry.example/http:0.1","link_name":"default","configuration":"{}"}"#,
        ),
        (
            "sp",
            r#"{"provider_ref":"VAT4GJDZRXRHEU2GB2PITAB6KP5VMPWTQS24N52PSBE43D3DUWLTBB6X","link_name":"default"}"#,
        ),
        (
            "linkdefs-del",
            r#"{"actor_id":"M","contract_id":"wasmcloud:keyvalue","link_name":"default"}"#,
        ),
        (
            "auction",
            r#"{"actor_ref":"registry.example/echo:1","constraints":{"zone":"eu"}}"#,
        ),
        (
            "event",
            r#"{"specversion":"1.0","type":"com.wasmcloud.lattice.host_heartbeat","source":"N","data":{"actors":{"M":1},"labels":{}}}"#,
        ),
    ] {
        write("ctl_request", name, body.as_bytes());
    }

    let account = KeyKind::Account.generate();
    let module_key = KeyKind::Module.generate();
    let module = b"\0asm\x01\0\0\0";
    let spec = ActorSpec {
        name: Some("seed".into()),
        caps: vec!["wasmcloud:httpserver".into()],
        rev: Some(1),
        ..ActorSpec::default()
    };
    let signed = claims::sign_actor(module, &spec, &account, &module_key, NOW).expect("sign actor");
    write("actor_module", "signed", &signed);
    write("actor_module", "unsigned", module);
    let verified =
        claims::verify_actor(&signed, &claims::Policy::default(), NOW).expect("the seed verifies");
    write("jwt", "actor", verified.token.as_bytes());
    write("jwt", "invocation", from_actor.encoded_claims.as_bytes());

    let service = KeyKind::Service.generate();
    let archive = par::write_par(
        &[("x86_64-linux".into(), b"\x7fELF seed".to_vec())],
        &ProviderSpec {
            name: Some("seed".into()),
            capid: "wasmcloud:httpserver".into(),
            vendor: "kiln".into(),
            rev: Some(1),
            ver: Some("0.1.0".into()),
        },
        &account,
        &service,
        NOW,
    )
    .expect("write an archive");
    write("provider_archive", "signed", &archive);
    let provider = par::read_par(&archive, "x86_64-linux", &claims::Policy::default(), NOW)
        .expect("the seed reads back");
    write("jwt", "provider", provider.token.as_bytes());

    let host_data = HostData {
        host_id: KeyKind::Server.generate().public_key(),
        lattice_rpc_prefix: "default".into(),
        link_name: "default".into(),
        lattice_rpc_url: "127.0.0.1:4222".into(),
        provider_key: PROVIDER.into(),
        link_definitions: vec![link],
        cluster_issuers: vec![cluster.public_key()],
        ..HostData::default()
    };
    write("host_data", "line", &host_data.to_stdin_line());

    write(
        "payload",
        "http-request",
        &interfaces::encode(&httpserver::HttpRequest {
            method: "POST".into(),
            path: "/hello".into(),
            query_string: "a=1".into(),
            body: b"hi".to_vec(),
            ..httpserver::HttpRequest::default()
        }),
    );
    write(
        "payload",
        "increment",
        &interfaces::encode(&keyvalue::IncrementRequest {
            key: "counter".into(),
            value: 1,
        }),
    );
}
