//! OCI registries: a real `docker-registry` (with and without basic auth), artifacts
//! pushed with our CLI in wash's layout, started by reference through the gRPC API;
//! bad references get the right status codes.

use std::time::Duration;

use kiln_integration_tests::{Harness, Options, Redis, Registry, api_client, eventually, fixtures};
use kiln_proto::control::v1 as pb;
use tonic::Code;

fn host_options(registry: &Registry, cache: &std::path::Path) -> Options {
    Options {
        control_plane_args: vec![
            "--oci-allowed-insecure".into(),
            registry.address(),
            "--cache-dir".into(),
            cache.display().to_string(),
        ],
        ..Options::default()
    }
}

#[tokio::test]
async fn the_kvcounter_demo_runs_from_registry_artifacts() {
    let scratch = tempfile::tempdir().unwrap();
    let registry = Registry::start(scratch.path(), None).await;
    let cache = scratch.path().join("cache");
    let h = Harness::with(host_options(&registry, &cache)).await;
    let redis = Redis::start(h.dir.path()).await;
    let at = |name: &str| format!("{}/kiln/{name}:0.1.0", registry.address());
    h.push(&at("kvcounter"), &fixtures::sample_actor("kvcounter"), &[])
        .await;
    h.push(
        &at("httpserver"),
        &fixtures::provider_archive("httpserver"),
        &[],
    )
    .await;
    h.push(
        &at("keyvalue"),
        &fixtures::provider_archive("keyvalue"),
        &[],
    )
    .await;

    let mut api = api_client(h.api_port).await;
    // A reference with capitals is pulled and recorded lowercased, as on the OTP host.
    let counter = api
        .start_actor(pb::StartActorRequest {
            reference: format!("{}/Kiln/KVCounter:0.1.0", registry.address()),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", h.logs(), registry.log()))
        .into_inner();
    let http = api
        .start_provider(pb::StartProviderRequest {
            reference: at("httpserver"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let keyvalue = api
        .start_provider(pb::StartProviderRequest {
            reference: at("keyvalue"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(keyvalue.contract_id, "wasmcloud:keyvalue");
    let port = kiln_integration_tests::process::free_port();
    for (provider, contract, key, value) in [
        (
            &http.provider_id,
            "wasmcloud:httpserver",
            "port",
            port.to_string(),
        ),
        (
            &keyvalue.provider_id,
            "wasmcloud:keyvalue",
            "URL",
            redis.url(),
        ),
    ] {
        api.put_link(pb::PutLinkRequest {
            actor_id: counter.actor_id.clone(),
            provider_id: provider.clone(),
            contract_id: contract.into(),
            values: [(key.to_string(), value)].into(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let ready = eventually(Duration::from_secs(10), || async {
        kiln_integration_tests::http(port, "GET", "/warm-up", b"")
            .await
            .is_ok_and(|(status, _)| status == 200)
    })
    .await;
    assert!(ready, "{}", h.logs());
    let mut counts = Vec::new();
    for _ in 0..3 {
        let (status, body) = kiln_integration_tests::http(port, "GET", "/from-registry", b"")
            .await
            .unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        counts.push(json["counter"].as_i64().unwrap());
    }
    assert_eq!(counts, [1, 2, 3]);

    // The inventory names the references; the layers sit in the cache by digest.
    let inventory = api
        .get_inventory(pb::GetInventoryRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inventory.actors[0].image_ref, at("kvcounter"));
    assert!(
        inventory
            .providers
            .iter()
            .any(|p| p.image_ref == at("keyvalue"))
    );
    let cached = std::fs::read_dir(cache.join("oci/sha256")).unwrap().count();
    assert_eq!(cached, 3);
    // The reference map went to the lattice cache, where other hosts find it.
    let kv = async_nats::jetstream::new(h.client.clone())
        .get_key_value(format!("LATTICEDATA_{}", h.lattice))
        .await
        .unwrap();
    let key = format!(
        "REFMAP_{}",
        data_encoding::BASE64URL_NOPAD.encode(at("kvcounter").as_bytes())
    );
    let refmap: serde_json::Value =
        serde_json::from_slice(&kv.get(key).await.unwrap().expect("refmap stored")).unwrap();
    assert_eq!(refmap["public_key"], counter.actor_id.as_str());
}

#[tokio::test]
async fn registry_credentials_and_bad_references_get_clear_status_codes() {
    let scratch = tempfile::tempdir().unwrap();
    let registry = Registry::start(scratch.path(), Some(("kiln", "s3cret"))).await;
    let open = Registry::start(scratch.path(), None).await;
    let h = Harness::with(Options {
        control_plane_args: vec![
            "--oci-allowed-insecure".into(),
            format!("{},{}", registry.address(), open.address()),
            "--cache-dir".into(),
            scratch.path().join("cache").display().to_string(),
        ],
        ..Options::default()
    })
    .await;
    let echo_ref = format!("{}/kiln/echo:0.1.0", registry.address());
    h.push(
        &echo_ref,
        &fixtures::sample_actor("echo"),
        &["--user", "kiln", "--password", "s3cret"],
    )
    .await;
    let (ok, _, err) = h
        .cli(&[
            "push",
            &echo_ref,
            fixtures::sample_actor("echo").to_str().unwrap(),
            "--insecure",
        ])
        .await;
    assert!(!ok, "an anonymous push to a registry with auth must fail");
    assert!(err.contains("refused access"), "{err}");

    let mut api = api_client(h.api_port).await;
    let start = |reference: String| pb::StartActorRequest {
        reference,
        ..Default::default()
    };
    let status = api.start_actor(start(echo_ref.clone())).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let credentials = |password: &str| pb::PutRegistryCredentialsRequest {
        credentials: [(
            registry.address(),
            pb::RegistryCredential {
                username: "kiln".into(),
                password: password.into(),
                ..Default::default()
            },
        )]
        .into(),
    };
    api.put_registry_credentials(credentials("wrong"))
        .await
        .unwrap();
    let status = api.start_actor(start(echo_ref.clone())).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    api.put_registry_credentials(credentials("s3cret"))
        .await
        .unwrap();
    let started = api
        .start_actor(start(echo_ref.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.instances, 1);

    // Unknown tag, unreachable registry, latest, not wasm, tampered blob.
    let missing = format!("{}/kiln/echo:9.9.9", registry.address());
    let status = api.start_actor(start(missing)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let dead = kiln_integration_tests::process::free_port();
    let status = api
        .start_actor(start(format!("127.0.0.1:{dead}/kiln/echo:0.1.0")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    // A registry not on the insecure list is reached over HTTPS only, which a plain
    // HTTP registry cannot answer.
    let status = api
        .start_actor(start(format!("localhost:{}/kiln/echo:0.1.0", open.port)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let status = api
        .start_actor(start(format!("{}/kiln/echo:latest", open.address())))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().contains("WASMCLOUD_OCI_ALLOW_LATEST"),
        "{}",
        status.message()
    );

    let garbage_ref = format!("{}/kiln/garbage:1", open.address());
    // The registry client here needs a TLS provider even for plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = oci_client::Client::new(oci_client::client::ClientConfig {
        protocol: oci_client::client::ClientProtocol::Http,
        ..Default::default()
    });
    let reference: oci_client::Reference = garbage_ref.parse().unwrap();
    client
        .push(
            &reference,
            &[oci_client::client::ImageLayer::new(
                b"not wasm at all".to_vec(),
                "application/vnd.module.wasm.content.layer.v1+wasm".into(),
                None,
            )],
            oci_client::client::Config::new(
                b"{}".to_vec(),
                "application/vnd.wasmcloud.actor.archive.config".into(),
                None,
            ),
            &oci_client::secrets::RegistryAuth::Anonymous,
            None,
        )
        .await
        .unwrap();
    let status = api.start_actor(start(garbage_ref)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    let tampered_ref = format!("{}/kiln/tampered:1", open.address());
    h.push(&tampered_ref, &fixtures::sample_actor("pinger"), &[])
        .await;
    let (manifest, _) = client
        .pull_image_manifest(
            &tampered_ref.parse().unwrap(),
            &oci_client::secrets::RegistryAuth::Anonymous,
        )
        .await
        .unwrap();
    let blob = open.blob_path(&manifest.layers[0].digest);
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    let status = api.start_actor(start(tampered_ref)).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("digest"), "{}", status.message());
}
