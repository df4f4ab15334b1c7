//! The public gRPC control API through a tonic client: every method, on this host and
//! forwarded to another host of the lattice; the event stream; the token; the status
//! codes of bad requests; reflection and health.

use std::time::Duration;

use futures::StreamExt as _;
use kiln_integration_tests::{Harness, Options, api_client, fixtures, http, process::free_port};
use kiln_proto::control::v1 as pb;
use tonic::Code;

fn file(path: &std::path::Path) -> String {
    format!("file://{}", path.display())
}

#[tokio::test]
async fn every_method_works_here_and_on_another_host() {
    let h = Harness::start().await;
    let peer = h.join("peer", &["--label", "zone=far"]).await;
    let mut api = api_client(h.api_port).await;
    let echo_path = fixtures::sample_actor("echo");
    let echo = fixtures::actor_key(&std::fs::read(&echo_path).unwrap());

    let hosts = api
        .list_hosts(pb::ListHostsRequest {})
        .await
        .unwrap()
        .into_inner()
        .hosts;
    let mut ids: Vec<&str> = hosts.iter().map(|h| h.id.as_str()).collect();
    ids.sort_unstable();
    let mut expected = vec![h.host.public_key(), peer.id()];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(
        hosts
            .iter()
            .all(|x| x.lattice == h.lattice && !x.version.is_empty())
    );
    assert!(
        hosts
            .iter()
            .any(|x| x.labels.get("zone").map(String::as_str) == Some("far"))
    );

    // Start here, and on the peer through the lattice.
    let started = api
        .start_actor(pb::StartActorRequest {
            reference: file(&echo_path),
            count: 2,
            annotations: [("team".to_string(), "a".to_string())].into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (started.actor_id.as_str(), started.instances),
        (echo.as_str(), 2)
    );
    let remote = api
        .start_actor(pb::StartActorRequest {
            host_id: peer.id(),
            reference: file(&echo_path),
            count: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (remote.actor_id.as_str(), remote.instances),
        (echo.as_str(), 1)
    );
    let inventory = api
        .get_inventory(pb::GetInventoryRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inventory.host_id, h.host.public_key());
    assert_eq!(inventory.actors[0].instances.len(), 2);
    assert_eq!(inventory.actors[0].instances[0].annotations["team"], "a");
    let far = api
        .get_inventory(pb::GetInventoryRequest { host_id: peer.id() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(far.host_id, peer.id());
    assert_eq!(far.labels["zone"], "far");
    assert_eq!(far.actors[0].instances.len(), 1);

    let scaled = api
        .scale_actor(pb::ScaleActorRequest {
            actor_id: echo.clone(),
            count: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(scaled.instances, 3);
    let claims = api
        .list_claims(pb::ListClaimsRequest {})
        .await
        .unwrap()
        .into_inner()
        .claims;
    let echo_claims = claims.iter().find(|c| c.subject == echo).unwrap();
    assert_eq!(echo_claims.name, "Echo");
    assert!(
        echo_claims
            .capabilities
            .iter()
            .any(|c| c == "wasmcloud:httpserver")
    );

    // A provider and a link: HTTP reaches echo.
    let archive = fixtures::provider_archive("httpserver");
    let provider = api
        .start_provider(pb::StartProviderRequest {
            reference: file(&archive),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(provider.contract_id, "wasmcloud:httpserver");
    let port = free_port();
    let link = api
        .put_link(pb::PutLinkRequest {
            actor_id: echo.clone(),
            provider_id: provider.provider_id.clone(),
            contract_id: "wasmcloud:httpserver".into(),
            values: [("port".to_string(), port.to_string())].into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .link
        .unwrap();
    assert_eq!(link.link_name, "default");
    assert_eq!(link.id.len(), 64);
    let served = kiln_integration_tests::eventually(Duration::from_secs(10), || async {
        kiln_integration_tests::http(port, "GET", "/via-api", b"")
            .await
            .is_ok_and(|(status, body)| {
                status == 200 && String::from_utf8_lossy(&body).contains("/via-api")
            })
    })
    .await;
    assert!(served, "{}", h.logs());
    let links = api
        .list_links(pb::ListLinksRequest {})
        .await
        .unwrap()
        .into_inner()
        .links;
    assert_eq!(links.len(), 1);
    api.delete_link(pb::DeleteLinkRequest {
        actor_id: echo.clone(),
        contract_id: "wasmcloud:httpserver".into(),
        link_name: String::new(),
    })
    .await
    .unwrap();
    let again = api
        .delete_link(pb::DeleteLinkRequest {
            actor_id: echo.clone(),
            contract_id: "wasmcloud:httpserver".into(),
            link_name: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound);

    // Auctions: both hosts bid for an actor, only the far one for a far constraint;
    // the provider only where it does not run.
    let bids = api
        .auction_actor(pb::AuctionActorRequest {
            reference: file(&echo_path),
            constraints: Default::default(),
        })
        .await
        .unwrap()
        .into_inner()
        .host_ids;
    assert_eq!(bids, expected);
    let bids = api
        .auction_actor(pb::AuctionActorRequest {
            reference: file(&echo_path),
            constraints: [("zone".to_string(), "far".to_string())].into(),
        })
        .await
        .unwrap()
        .into_inner()
        .host_ids;
    assert_eq!(bids, vec![peer.id()]);
    let bids = api
        .auction_provider(pb::AuctionProviderRequest {
            reference: provider.provider_id.clone(),
            link_name: "default".into(),
            constraints: Default::default(),
        })
        .await
        .unwrap()
        .into_inner()
        .host_ids;
    assert_eq!(bids, vec![peer.id()]);

    // Invoke, then a live update seen through Invoke.
    let answer = api
        .invoke(pb::InvokeRequest {
            actor: echo.clone(),
            operation: "HttpServer.HandleRequest".into(),
            payload: http::get("/invoked"),
        })
        .await
        .unwrap()
        .into_inner();
    let response: serde_json::Value = serde_json::from_slice(
        &kiln_types::interfaces::decode::<kiln_types::interfaces::httpserver::HttpResponse>(
            &answer.payload,
        )
        .unwrap()
        .body,
    )
    .unwrap();
    assert_eq!(response["path"], "/invoked");
    let (v1, v2, tagged) = fixtures::tagged_revisions();
    let (v1_path, v2_path) = (h.dir.path().join("v1.wasm"), h.dir.path().join("v2.wasm"));
    std::fs::write(&v1_path, v1).unwrap();
    std::fs::write(&v2_path, v2).unwrap();
    api.start_actor(pb::StartActorRequest {
        reference: file(&v1_path),
        ..Default::default()
    })
    .await
    .unwrap();
    let updated = api
        .update_actor(pb::UpdateActorRequest {
            actor_id: tagged.clone(),
            reference: file(&v2_path),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.revision, 2);
    let answer = api
        .invoke(pb::InvokeRequest {
            actor: tagged.clone(),
            operation: "Any.Op".into(),
            payload: Vec::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.payload, b"v02");

    // Stops, credentials, and a remote host stop.
    api.stop_provider(pb::StopProviderRequest {
        provider_id: provider.provider_id.clone(),
        link_name: "default".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let stopped = api
        .stop_actor(pb::StopActorRequest {
            actor_id: echo.clone(),
            count: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stopped.remaining, 2);
    let stopped = api
        .stop_actor(pb::StopActorRequest {
            host_id: peer.id(),
            actor_id: echo.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stopped.remaining, 0);
    api.put_registry_credentials(pb::PutRegistryCredentialsRequest {
        credentials: [(
            "localhost:5000".to_string(),
            pb::RegistryCredential {
                username: "user".into(),
                password: "secret".into(),
                ..Default::default()
            },
        )]
        .into(),
    })
    .await
    .unwrap();
    let mut peer = peer;
    api.stop_host(pb::StopHostRequest {
        host_id: peer.id(),
        grace_ms: 1000,
    })
    .await
    .unwrap();
    let status = peer
        .control_plane
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("the peer stops");
    assert!(status.success());
}

#[tokio::test]
async fn watch_events_delivers_a_start_stop_sequence_in_order() {
    let h = Harness::start().await;
    let mut api = api_client(h.api_port).await;
    let mut events = api
        .watch_events(pb::WatchEventsRequest {
            types: vec![
                "actor_started".into(),
                "com.wasmcloud.lattice.actors_started".into(),
                "actor_stopped".into(),
                "actors_stopped".into(),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    let echo_path = fixtures::sample_actor("echo");
    let started = api
        .start_actor(pb::StartActorRequest {
            reference: file(&echo_path),
            count: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    api.stop_actor(pb::StopActorRequest {
        actor_id: started.actor_id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 6 {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("events in time")
            .unwrap()
            .unwrap();
        assert_eq!(event.source, h.host.public_key());
        assert!(event.time.is_some());
        let data = event.data.unwrap();
        assert_eq!(
            data.fields["public_key"].kind,
            Some(prost_types::value::Kind::StringValue(
                started.actor_id.clone()
            ))
        );
        kinds.push(event.r#type);
    }
    assert_eq!(
        kinds,
        [
            "actor_started",
            "actor_started",
            "actors_started",
            "actor_stopped",
            "actor_stopped",
            "actors_stopped"
        ]
    );
}

#[tokio::test]
async fn a_token_guards_the_api_and_bad_requests_get_the_right_codes() {
    let h = Harness::with(Options {
        control_plane_args: vec!["--api-token".into(), "s3cret".into()],
        ..Options::default()
    })
    .await;
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", h.api_port))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut anonymous = pb::control_api_client::ControlApiClient::new(channel.clone());
    let refused = anonymous
        .list_claims(pb::ListClaimsRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let token = |value: &'static str| {
        move |mut request: tonic::Request<()>| {
            request
                .metadata_mut()
                .insert("authorization", value.parse().unwrap());
            Ok(request)
        }
    };
    let mut wrong = pb::control_api_client::ControlApiClient::with_interceptor(
        channel.clone(),
        token("Bearer nope"),
    );
    assert_eq!(
        wrong
            .list_claims(pb::ListClaimsRequest {})
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let mut api = pb::control_api_client::ControlApiClient::with_interceptor(
        channel.clone(),
        token("Bearer s3cret"),
    );
    api.list_claims(pb::ListClaimsRequest {}).await.unwrap();

    let code = |result: Result<tonic::Response<pb::StartActorResponse>, tonic::Status>| {
        let status = result.unwrap_err();
        assert!(!status.message().is_empty());
        (status.code(), status.message().to_string())
    };
    let start = |reference: String| pb::StartActorRequest {
        reference,
        ..Default::default()
    };
    assert_eq!(
        code(api.start_actor(start(String::new())).await).0,
        Code::InvalidArgument
    );
    let (missing, message) = code(api.start_actor(start("file:///no/such.wasm".into())).await);
    assert_eq!(
        (missing, message.as_str()),
        (Code::NotFound, "could not read /no/such.wasm")
    );
    assert_eq!(
        code(api.start_actor(start("ftp://example/x.wasm".into())).await).0,
        Code::InvalidArgument
    );
    let unsigned = h.dir.path().join("unsigned.wasm");
    std::fs::write(&unsigned, fixtures::wat("echo")).unwrap();
    assert_eq!(
        code(
            api.start_actor(start(format!("file://{}", unsigned.display())))
                .await
        )
        .0,
        Code::PermissionDenied
    );
    let unknown = kiln_types::keys::KeyKind::Module.generate().public_key();
    let status = api
        .stop_actor(pb::StopActorRequest {
            actor_id: unknown.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = api
        .invoke(pb::InvokeRequest {
            actor: "no-such-alias".into(),
            operation: "X.Y".into(),
            payload: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = api
        .invoke(pb::InvokeRequest {
            actor: unknown,
            operation: "X.Y".into(),
            payload: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let status = api
        .put_link(pb::PutLinkRequest {
            actor_id: "not-a-key".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = api
        .get_inventory(pb::GetInventoryRequest {
            host_id: kiln_types::keys::KeyKind::Server.generate().public_key(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // Maps from the API are held to the same bounds as those from the lattice.
    let many: std::collections::HashMap<String, String> =
        (0..300).map(|i| (format!("k{i}"), "v".into())).collect();
    let status = api
        .start_actor(pb::StartActorRequest {
            reference: "file:///x.wasm".into(),
            annotations: many.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("more than 256"), "{status:?}");
    let status = api
        .put_link(pb::PutLinkRequest {
            actor_id: kiln_types::keys::KeyKind::Module.generate().public_key(),
            provider_id: kiln_types::keys::KeyKind::Service.generate().public_key(),
            contract_id: "wasmcloud:keyvalue".into(),
            values: many,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    // A host id is part of a subject: a wildcard or a space never reaches NATS.
    for host_id in ["*", ">", "a b", "wasmbus.>"] {
        let status = api
            .get_inventory(pb::GetInventoryRequest {
                host_id: host_id.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{host_id}: {status:?}"
        );
        let status = api
            .start_actor(pb::StartActorRequest {
                reference: "file:///x.wasm".into(),
                host_id: host_id.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{host_id}: {status:?}"
        );
    }

    // Reflection and health need no token: grpcurl can list the service.
    let mut reflection =
        tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(
            channel.clone(),
        );
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            tonic_reflection::pb::v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            ),
        ),
    };
    let mut answers = reflection
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.next().await.unwrap().unwrap();
    let Some(
        tonic_reflection::pb::v1::server_reflection_response::MessageResponse::ListServicesResponse(
            list,
        ),
    ) = answer.message_response
    else {
        panic!("{answer:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"kiln.control.v1.ControlApi".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "{names:?}"
    );
    // The same over reflection v1alpha, for the clients that speak only it, down to the
    // descriptor a client builds its calls from.
    {
        use tonic_reflection::pb::v1alpha as alpha;
        let mut reflection =
            alpha::server_reflection_client::ServerReflectionClient::new(channel.clone());
        let ask = |request| alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        };
        let mut answers = reflection
            .server_reflection_info(futures::stream::iter([
                ask(alpha::server_reflection_request::MessageRequest::ListServices(String::new())),
                ask(
                    alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                        "kiln.control.v1.ControlApi".into(),
                    ),
                ),
            ]))
            .await
            .unwrap()
            .into_inner();
        let listed = answers.next().await.unwrap().unwrap();
        let Some(alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
            listed.message_response
        else {
            panic!("{listed:?}");
        };
        assert!(
            list.service
                .iter()
                .any(|s| s.name == "kiln.control.v1.ControlApi"),
            "{list:?}"
        );
        let file = answers.next().await.unwrap().unwrap();
        let Some(alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(files)) =
            file.message_response
        else {
            panic!("{file:?}");
        };
        let descriptor = <prost_types::FileDescriptorProto as prost::Message>::decode(
            files.file_descriptor_proto[0].as_slice(),
        )
        .unwrap();
        assert_eq!(descriptor.package(), "kiln.control.v1");
        assert!(
            descriptor
                .service
                .iter()
                .any(|s| s.name() == "ControlApi"
                    && s.method.iter().any(|m| m.name() == "ListHosts")),
            "{descriptor:?}"
        );
    }
    let health = tonic_health::pb::health_client::HealthClient::new(channel);
    // The health service follows readiness, which the harness has seen: it says
    // serving within a moment.
    let serving = kiln_integration_tests::eventually(std::time::Duration::from_secs(2), || {
        let mut health = health.clone();
        async move {
            health
                .check(tonic_health::pb::HealthCheckRequest {
                    service: "kiln.control.v1.ControlApi".into(),
                })
                .await
                .unwrap()
                .into_inner()
                .status
                == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        }
    })
    .await;
    assert!(serving, "the health service says the API serves");
}

#[tokio::test]
async fn with_a_certificate_the_api_speaks_tls() {
    let scratch = tempfile::tempdir().unwrap();
    let (cert, key) = (
        scratch.path().join("cert.pem"),
        scratch.path().join("key.pem"),
    );
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args(["-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // A server certificate, not a CA: rustls refuses a CA as the end entity.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let h = Harness::with(Options {
        control_plane_args: vec![
            "--api-tls-cert".into(),
            cert.display().to_string(),
            "--api-tls-key".into(),
            key.display().to_string(),
        ],
        ..Options::default()
    })
    .await;
    let run = |args: &[&str]| {
        std::process::Command::new(kiln_integration_tests::binary("kiln"))
            .args(args)
            .output()
            .unwrap()
    };
    let https = format!("https://127.0.0.1:{}", h.api_port);
    let output = run(&["hosts", "--api", &https, "--api-ca", cert.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains(&h.host.public_key()));
    // Without trusting the certificate, or in plain text, nothing gets through.
    let output = run(&["hosts", "--api", &https]);
    assert_eq!(
        output.status.code(),
        Some(69),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = run(&[
        "hosts",
        "--api",
        &format!("http://127.0.0.1:{}", h.api_port),
    ]);
    assert!(!output.status.success());
}
