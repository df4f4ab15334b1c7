//! Chunked payloads in the JetStream object store, in the two shapes of object metadata
//! NATS clients write: OTP-era clients (async-nats 0.29, under wasmbus-rpc 0.13) require
//! `modified` and `deleted`; today's write `mtime` and leave `deleted` out while false.
//! The fixtures are written from those facts.

use async_nats::jetstream;
use kiln_integration_tests::{Harness, fixtures, http};
use kiln_wasmbus::chunks::{Chunks, digest, response_name};
use kiln_wasmbus::subjects;
use serde::Deserialize;

/// The metadata as an OTP-era client reads it: every field required, none defaulted.
#[derive(Debug, Deserialize)]
#[allow(dead_code, reason = "each field is required, which is the check")]
struct LegacyObjectInfo {
    name: String,
    description: Option<String>,
    bucket: String,
    nuid: String,
    size: usize,
    chunks: usize,
    modified: String,
    digest: String,
    deleted: bool,
}

/// The lattice's object store, as a client of today's async-nats opens it.
async fn chunks(h: &Harness) -> Chunks {
    Chunks::open(h.client.clone(), &h.lattice, None, 1)
        .await
        .unwrap()
}

async fn launch_echo(h: &Harness) -> String {
    let path = fixtures::sample_actor("echo");
    let ack = h.launch(&path).await;
    assert!(ack.accepted, "{ack:?}\n{}", h.logs());
    fixtures::actor_key(&std::fs::read(path).unwrap())
}

/// Writes `bytes` as `name` exactly as an OTP-era client does: 128 KiB chunks, then
/// metadata with `modified` and `deleted` and no `mtime`, under `Nats-Rollup: sub`.
async fn put_legacy(h: &Harness, name: &str, bytes: &[u8]) {
    let js = jetstream::new(h.client.clone());
    let nuid = "LEGACYNUID0000000000000";
    let chunks = bytes.chunks(128 * 1024).count();
    for chunk in bytes.chunks(128 * 1024) {
        js.publish(
            subjects::object_chunks(&h.lattice, nuid),
            chunk.to_vec().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    let meta = serde_json::json!({
        "name": name, "description": null, "link": null, "bucket": h.lattice,
        "nuid": nuid, "size": bytes.len(), "chunks": chunks,
        "modified": "2023-05-04T03:02:01.123456789Z", "digest": digest(bytes), "deleted": false,
    });
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Rollup", "sub");
    js.publish_with_headers(
        subjects::object_meta(&h.lattice, name),
        headers,
        meta.to_string().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
}

#[tokio::test]
async fn a_large_response_is_stored_with_metadata_otp_era_clients_read() {
    let h = Harness::start().await;
    let echo = launch_echo(&h).await;
    // About 1.8 MB of JSON out for 600 KB in: above the 1 MiB NATS payload limit.
    let request = http::request("POST", "/big", &vec![0xff; 600_000]);
    let response = h.invoke(&echo, "HttpServer.HandleRequest", request).await;
    assert_eq!(response.error, None);
    assert!(response.msg.is_empty(), "the response is chunked");
    let name = response_name(&response.invocation_id);

    let stream = jetstream::new(h.client.clone())
        .get_stream(format!("OBJ_{}", h.lattice))
        .await
        .unwrap();
    let meta = stream
        .get_last_raw_message_by_subject(&subjects::object_meta(&h.lattice, &name))
        .await
        .expect("the object's metadata");
    let rollup = meta.headers.get("Nats-Rollup").map(|v| v.as_str());
    assert_eq!(rollup, Some("sub"));
    let legacy: LegacyObjectInfo = serde_json::from_slice(&meta.payload)
        .unwrap_or_else(|e| panic!("an OTP-era client cannot read it: {e}"));
    assert_eq!(legacy.name, name);
    assert_eq!(legacy.bucket, h.lattice);
    assert!(!legacy.deleted);
    assert_eq!(legacy.size as u64, response.content_length.unwrap());
    assert_eq!(legacy.chunks, legacy.size.div_ceil(128 * 1024));
    chrono::DateTime::parse_from_rfc3339(&legacy.modified).expect("modified is RFC 3339");
    let today: serde_json::Value = serde_json::from_slice(&meta.payload).unwrap();
    assert_eq!(
        today["mtime"], today["modified"],
        "today's clients read mtime"
    );

    // And today's client (async-nats, which checks the digest) reads the content.
    let chunks = chunks(&h).await;
    let bytes = kiln_wasmbus::rpc::whole_response(Some(&chunks), response, 64 << 20)
        .await
        .unwrap();
    assert_eq!(bytes.len(), legacy.size);
    assert_eq!(digest(&bytes), legacy.digest);
    let body: serde_json::Value = serde_json::from_slice(&http::response(&bytes).body).unwrap();
    assert_eq!(body["body_len"], 600_000);
}

#[tokio::test]
async fn a_large_request_stored_by_an_otp_era_client_is_read() {
    let h = Harness::start().await;
    let echo = launch_echo(&h).await;
    let request = http::request("POST", "/big", &vec![b'a'; 1_200_000]);
    // Signed over the whole payload; the payload itself goes to the object store.
    let mut invocation = h.invocation(&echo, "HttpServer.HandleRequest", request.clone());
    put_legacy(&h, &invocation.id, &request).await;
    invocation.msg.clear();
    assert_eq!(invocation.content_length, Some(request.len() as u64));
    let response = h.send(&invocation).await;
    assert_eq!(response.error, None, "{}", h.logs());
    let chunks = chunks(&h).await;
    let bytes = kiln_wasmbus::rpc::whole_response(Some(&chunks), response, 64 << 20)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&http::response(&bytes).body).unwrap();
    assert_eq!(body["body_len"], 1_200_000);
}

#[tokio::test]
async fn objects_of_either_shape_round_trip_through_the_chunk_store() {
    let h = Harness::start().await;
    let chunks = chunks(&h).await;
    let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();

    put_legacy(&h, "legacy-shape", &payload).await;
    assert_eq!(chunks.take("legacy-shape", 8 << 20).await.unwrap(), payload);

    chunks.put("both-shapes", &payload).await.unwrap();
    assert_eq!(chunks.take("both-shapes", 8 << 20).await.unwrap(), payload);
    // The reader deleted it.
    assert!(chunks.take("both-shapes", 8 << 20).await.is_err());
}
