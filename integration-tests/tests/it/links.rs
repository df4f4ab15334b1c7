//! Link definitions and host calls to providers: the link and the claim are both
//! required, links live in the lattice cache and reach the provider.
//!
//! The provider here is a stand-in on the real NATS server: it checks each invocation
//! the way a wasmbus provider does and answers with what it received.

use std::time::Duration;

use futures::StreamExt as _;
use kiln_integration_tests::{Harness, eventually, fixtures};
use kiln_types::claims::ActorSpec;
use kiln_types::invocation::{Entity, Invocation, InvocationResponse, Issuers};
use kiln_types::keys::KeyKind;
use kiln_types::link::LinkDefinition;
use kiln_wasmbus::subjects::{self, CtlSubject};

const KEYVALUE: &str = "wasmcloud:keyvalue";

/// Subscribes like a provider on `link` and answers `stored:<payload>`.
async fn stand_in_provider(h: &Harness, provider: &str, link: &str) -> tokio::task::JoinHandle<()> {
    let client = async_nats::connect(h.nats.url()).await.unwrap();
    let subject = subjects::provider_rpc(&h.lattice, provider, link);
    let mut calls = client.queue_subscribe(subject, "rpc".into()).await.unwrap();
    client.flush().await.unwrap();
    let issuers = Issuers::new([h.cluster.public_key()]).unwrap();
    let provider = provider.to_string();
    tokio::spawn(async move {
        while let Some(message) = calls.next().await {
            let invocation = Invocation::decode(&message.payload).unwrap();
            let claims = invocation.verify(&issuers, kiln_types::unix_now()).unwrap();
            invocation.check_hash(&claims, &invocation.msg).unwrap();
            assert_eq!(
                invocation.target,
                Entity::provider(&provider, KEYVALUE, "default")
            );
            assert!(invocation.origin.is_actor());
            let mut reply = b"stored:".to_vec();
            reply.extend_from_slice(&invocation.msg);
            let response = InvocationResponse::success(invocation.id, reply);
            client
                .publish(message.reply.unwrap(), response.encode().into())
                .await
                .unwrap();
        }
    })
}

async fn launch_caller(h: &Harness, caps: &[&str]) -> String {
    let spec = ActorSpec {
        caps: caps.iter().map(ToString::to_string).collect(),
        ..ActorSpec::default()
    };
    let (module, key) = fixtures::sign(&fixtures::wat("hostcall"), &spec);
    let ack = h
        .launch_bytes(&format!("caller-{}.wasm", caps.len()), &module)
        .await;
    assert!(ack.accepted, "{ack:?}");
    key.public_key()
}

async fn set(h: &Harness, actor: &str, provider: &str) {
    let ack = h
        .command_lattice(
            CtlSubject::LinkPut,
            &serde_json::json!({
                "actor_id": actor, "provider_id": provider, "link_name": "default",
                "contract_id": KEYVALUE, "values": {"URL": "redis://127.0.0.1:6379"}
            }),
        )
        .await;
    assert!(ack.accepted, "{ack:?}");
}

async fn call(h: &Harness, actor: &str) -> Result<Vec<u8>, String> {
    let payload = fixtures::host_call("default", KEYVALUE, "KeyValue.Set", b"k=v");
    let response = h.invoke(actor, "Call.Provider", payload).await;
    match response.error {
        None => Ok(response.msg),
        Some(error) => Err(error),
    }
}

#[tokio::test]
async fn provider_calls_need_a_link_and_the_claim() {
    let h = Harness::start().await;
    let provider = KeyKind::Service.generate().public_key();
    let _provider = stand_in_provider(&h, &provider, "default").await;
    let mut notices = h
        .client
        .subscribe(subjects::provider_linkdefs(
            &h.lattice, &provider, "default",
        ))
        .await
        .unwrap();
    let privileged = launch_caller(&h, &[KEYVALUE]).await;
    let unprivileged = launch_caller(&h, &[]).await;

    let error = call(&h, &privileged).await.unwrap_err();
    assert!(error.starts_with("invocation not authorized: missing link definition for wasmcloud:keyvalue (link default)"), "{error}");
    let error = call(&h, &unprivileged).await.unwrap_err();
    assert_eq!(
        error,
        "invocation not authorized: missing capability claim for wasmcloud:keyvalue"
    );

    set(&h, &privileged, &provider).await;
    set(&h, &unprivileged, &provider).await;
    assert_eq!(call(&h, &privileged).await.unwrap(), b"stored:k=v");
    let error = call(&h, &unprivileged).await.unwrap_err();
    assert_eq!(
        error,
        "invocation not authorized: missing capability claim for wasmcloud:keyvalue"
    );

    // The provider was told, with the wasmbus msgpack shape.
    let notice = tokio::time::timeout(Duration::from_secs(5), notices.next())
        .await
        .unwrap()
        .unwrap();
    assert!(notice.subject.ends_with(".linkdefs.put"));
    let link: LinkDefinition = rmp_serde::from_slice(&notice.payload).unwrap();
    assert_eq!(link.provider_id, provider);
    assert_eq!(link.values["URL"], "redis://127.0.0.1:6379");

    // get.links lists both; the lattice cache holds them under LINKDEF_{id}.
    let links = h.query_lattice(CtlSubject::Links).await;
    assert_eq!(links["links"].as_array().unwrap().len(), 2, "{links}");
    let kv = async_nats::jetstream::new(h.client.clone())
        .get_key_value(format!("LATTICEDATA_{}", h.lattice))
        .await
        .unwrap();
    let id = kiln_types::link::link_id(&privileged, KEYVALUE, "default");
    let stored: LinkDefinition =
        serde_json::from_slice(&kv.get(format!("LINKDEF_{id}")).await.unwrap().unwrap()).unwrap();
    assert_eq!(stored.actor_id, privileged);

    // Deleting the link fails the next call with the link error; putting it back works.
    let ack = h
        .command_lattice(CtlSubject::LinkDel, &serde_json::json!({"actor_id": privileged, "contract_id": KEYVALUE, "link_name": "default"}))
        .await;
    assert!(ack.accepted, "{ack:?}");
    assert!(
        call(&h, &privileged)
            .await
            .unwrap_err()
            .contains("missing link definition")
    );
    assert!(kv.get(format!("LINKDEF_{id}")).await.unwrap().is_none());
    set(&h, &privileged, &provider).await;
    assert_eq!(call(&h, &privileged).await.unwrap(), b"stored:k=v");
}

#[tokio::test]
async fn links_written_by_another_host_are_picked_up() {
    let h = Harness::start().await;
    let provider = KeyKind::Service.generate().public_key();
    let _provider = stand_in_provider(&h, &provider, "default").await;
    let actor = launch_caller(&h, &[KEYVALUE]).await;
    // Another wasmbus host writes the link straight into the lattice cache.
    let kv = async_nats::jetstream::new(h.client.clone())
        .get_key_value(format!("LATTICEDATA_{}", h.lattice))
        .await
        .unwrap();
    let link = LinkDefinition::new(&actor, &provider, "default", KEYVALUE, Default::default());
    kv.put(link.cache_key(), serde_json::to_vec(&link).unwrap().into())
        .await
        .unwrap();
    let seen = eventually(Duration::from_secs(5), || async {
        call(&h, &actor).await.is_ok()
    })
    .await;
    assert!(seen, "{}", h.logs());
    kv.purge(link.cache_key()).await.unwrap();
    let gone = eventually(Duration::from_secs(5), || async {
        call(&h, &actor).await.is_err()
    })
    .await;
    assert!(gone);
}

#[tokio::test]
async fn malformed_link_requests_are_refused_with_a_reason() {
    let h = Harness::start().await;
    let ack = h
        .command_lattice(
            CtlSubject::LinkPut,
            &serde_json::json!({"actor_id": "nope"}),
        )
        .await;
    assert!(!ack.accepted);
    assert!(ack.error.starts_with("invalid request"), "{}", ack.error);
    let ack = h
        .command_lattice(
            CtlSubject::LinkPut,
            &serde_json::json!({"actor_id": "Mshort", "provider_id": "V", "link_name": "default", "contract_id": KEYVALUE}),
        )
        .await;
    assert_eq!(
        ack.error,
        "invalid link definition: actor_id \"Mshort\" is not an actor public key"
    );
}
