//! The control plane's built-in HTTP server, started from `kiln+builtin://httpserver`
//! like a provider: the demo's actors through it, its link values and configuration,
//! refusals with their reasons, an actor on another host, stop and restart.

use std::time::Duration;

use futures::StreamExt as _;
use kiln_integration_tests::{
    Harness, Options, Redis, eventually, fixtures, http, process::free_port,
};

use kiln_integration_tests::fixtures::{
    BUILTIN_HTTPSERVER as REFERENCE, BUILTIN_HTTPSERVER_KEY as KEY,
};
const HTTPSERVER: &str = "wasmcloud:httpserver";
const KEYVALUE: &str = "wasmcloud:keyvalue";

/// Starts the built-in server on `link_name` with `configuration`.
async fn start(h: &Harness, link_name: &str, configuration: Option<&str>) {
    let ack = h
        .launch_provider_ref(REFERENCE, link_name, configuration)
        .await;
    assert!(ack.accepted, "{ack:?}\n{}", h.logs());
}

/// Links `actor` to the built-in server on a free port; returns the port once it answers.
async fn serve(h: &Harness, actor: &str) -> u16 {
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    assert!(
        h.put_link(actor, KEY, HTTPSERVER, &[("ADDRESS", &address)])
            .await
            .accepted
    );
    assert!(
        listens(port).await,
        "nothing listens on {address}\n{}",
        h.logs()
    );
    port
}

async fn listens(port: u16) -> bool {
    eventually(Duration::from_secs(10), || async {
        http(port, "GET", "/", b"").await.is_ok()
    })
    .await
}

async fn closed(port: u16) -> bool {
    eventually(Duration::from_secs(10), || async {
        http(port, "GET", "/", b"").await.is_err()
    })
    .await
}

async fn get(port: u16, path: &str) -> (u16, String) {
    let (status, body) = http(port, "GET", path, b"").await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The next `invocation_*` event whose source is the built-in server.
async fn next_call_event(
    events: &mut async_nats::Subscriber,
    logs: impl Fn() -> String,
) -> serde_json::Value {
    let wait = async {
        while let Some(message) = events.next().await {
            let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
            let kind = event["type"].as_str().unwrap_or_default();
            if kind.contains("invocation_") && event["data"]["source"]["public_key"] == KEY {
                return event;
            }
        }
        panic!("event stream ended")
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("no invocation event from the built-in server\n{}", logs()))
}

#[tokio::test]
async fn echo_and_kvcounter_answer_through_the_built_in_server() {
    let h = Harness::start().await;
    let redis = Redis::start(h.dir.path()).await;
    start(&h, "default", None).await;
    let inventory = h.inventory().await;
    let provider = &inventory["providers"][0];
    assert_eq!(provider["id"], KEY, "{inventory}");
    assert_eq!(provider["contract_id"], HTTPSERVER);
    assert_eq!(provider["image_ref"], REFERENCE);
    assert_eq!(provider["name"], "kiln built-in HTTP server");
    // The dashboard lists it with the providers.
    let (status, page) = h.http_get("/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("kiln built-in HTTP server") && page.contains(KEY),
        "{page}"
    );

    let echo = h.launch_sample("echo").await;
    let port = serve(&h, &echo).await;
    let mut events = h.rpc_events().await;
    let (status, body) = http(port, "POST", "/hello?x=1", b"from curl")
        .await
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["method"], "POST");
    assert_eq!(body["path"], "/hello");
    assert_eq!(body["query_string"], "x=1");
    assert_eq!(body["body"], "from curl");
    let event = next_call_event(&mut events, || h.logs()).await;
    assert_eq!(
        event["type"], "com.wasmcloud.lattice.invocation_succeeded",
        "{event}"
    );
    assert_eq!(event["data"]["dest"]["public_key"], echo.as_str());
    assert_eq!(event["data"]["operation"], "HttpServer.HandleRequest");

    // kvcounter: a host call to the keyvalue provider from a call the server made.
    let counter = h.launch_sample("kvcounter").await;
    let path = fixtures::provider_archive("keyvalue");
    assert!(h.launch_provider(&path, "default").await.accepted);
    let keyvalue = fixtures::provider_key(&path);
    assert!(
        h.put_link(&counter, &keyvalue, KEYVALUE, &[("URL", &redis.url())])
            .await
            .accepted
    );
    let counter_port = serve(&h, &counter).await;
    for expected in 1..=3 {
        assert_eq!(
            get(counter_port, "/visits").await,
            (200, format!(r#"{{"counter":{expected}}}"#)),
            "{}",
            h.logs()
        );
    }
    assert_eq!(redis.cli(&["GET", "counter:visits"]), "3");
}

#[tokio::test]
async fn link_values_and_the_configuration_choose_the_address() {
    let h = Harness::start().await;
    // A configuration that is no JSON object is refused, with the reason.
    let refused = h
        .launch_provider_ref(REFERENCE, "web", Some("address=1"))
        .await;
    assert!(!refused.accepted, "{refused:?}");
    assert!(refused.error.contains("not a JSON object"), "{refused:?}");
    let standing = free_port();
    let configuration = format!(r#"{{"address": "127.0.0.1:{standing}"}}"#);
    start(&h, "web", Some(&configuration)).await;
    // Listening before any link, and saying what is missing.
    assert!(listens(standing).await, "{}", h.logs());
    let (status, body) = get(standing, "/").await;
    assert_eq!(status, 503);
    assert!(body.contains("no actor is linked"), "{body}");
    assert!(
        body.contains(KEY) && body.contains("link name web"),
        "{body}"
    );

    // A link without an address is served on the configuration's.
    let echo = h.launch_sample("echo").await;
    assert!(
        h.put_link_named(&echo, KEY, HTTPSERVER, "web", &[])
            .await
            .accepted
    );
    let served = eventually(Duration::from_secs(10), || async {
        get(standing, "/first").await.0 == 200
    })
    .await;
    assert!(served, "{}", h.logs());

    // PORT moves it (on every interface); the configuration's address is free again.
    let port = free_port();
    assert!(
        h.put_link_named(
            &echo,
            KEY,
            HTTPSERVER,
            "web",
            &[("PORT", &port.to_string())]
        )
        .await
        .accepted
    );
    assert!(listens(port).await, "{}", h.logs());
    let (status, body) = get(port, "/second").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("/second"), "{body}");
    assert_eq!(get(standing, "/").await.0, 503);

    // A deleted link closes its own address; the configuration's stays.
    assert!(h.delete_link_named(&echo, HTTPSERVER, "web").await.accepted);
    assert!(closed(port).await, "{}", h.logs());
    assert_eq!(get(standing, "/").await.0, 503);
}

#[tokio::test]
async fn an_actor_without_the_claim_is_refused_with_the_reason_and_an_event() {
    let h = Harness::start().await;
    start(&h, "default", None).await;
    // Ponger claims no wasmcloud:httpserver.
    let ponger = h.launch_sample("ponger").await;
    let port = serve(&h, &ponger).await;
    let mut events = h.rpc_events().await;
    let (status, body) = get(port, "/").await;
    assert_eq!(status, 403);
    assert!(
        body.contains("does not have the capability claim wasmcloud:httpserver"),
        "{body}"
    );
    let event = next_call_event(&mut events, || h.logs()).await;
    assert_eq!(
        event["type"], "com.wasmcloud.lattice.invocation_failed",
        "{event}"
    );
    assert_eq!(event["data"]["dest"]["public_key"], ponger.as_str());
    // An address no one serves any more is closed, not answered by someone else.
    assert!(h.delete_link(&ponger, HTTPSERVER).await.accepted);
    assert!(closed(port).await);
}

#[tokio::test]
async fn an_actor_on_another_host_is_reached_over_the_lattice() {
    let h = Harness::start().await;
    let peer = h.join("peer", &[]).await;
    start(&h, "default", None).await;
    let echo_path = fixtures::sample_actor("echo");
    let echo = fixtures::actor_key(&std::fs::read(&echo_path).unwrap());
    let reference = format!("file://{}", echo_path.display());
    assert!(h.launch_on(&peer.id(), &reference, 1).await.accepted);
    assert!(h.inventory().await["actors"].as_array().unwrap().is_empty());
    let port = serve(&h, &echo).await;
    let mut events = h.rpc_events().await;
    let (status, body) = get(port, "/far").await;
    assert_eq!(status, 200, "{body}\n{}\n{}", h.logs(), peer.logs());
    assert!(body.contains("/far"), "{body}");
    // The peer ran it: its event names it as the source host.
    let event = next_call_event(&mut events, || format!("{}\n{}", h.logs(), peer.logs())).await;
    assert_eq!(event["source"], peer.id(), "{event}");
    assert_eq!(
        event["type"], "com.wasmcloud.lattice.invocation_succeeded",
        "{event}"
    );
}

#[tokio::test]
async fn stopped_it_closes_and_restarted_it_serves_its_links_again() {
    let h = Harness::start().await;
    start(&h, "default", None).await;
    let echo = h.launch_sample("echo").await;
    let port = serve(&h, &echo).await;
    assert_eq!(get(port, "/").await.0, 200);

    let mut events = h.events().await;
    let ack = h
        .command(
            "sp",
            &serde_json::json!({"provider_ref": KEY, "link_name": "default"}),
        )
        .await;
    assert!(ack.accepted, "{ack:?}");
    let stopped = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(message) = events.next().await {
            let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
            if event["type"] == "com.wasmcloud.lattice.provider_stopped" {
                return event;
            }
        }
        panic!("event stream ended")
    })
    .await
    .expect("provider_stopped");
    assert_eq!(stopped["data"]["public_key"], KEY);
    assert!(closed(port).await, "{}", h.logs());
    assert!(
        h.inventory().await["providers"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The link is the lattice's: started again, it serves the same address.
    start(&h, "default", None).await;
    assert!(listens(port).await, "{}", h.logs());
    assert_eq!(get(port, "/again").await.0, 200);
}

#[tokio::test]
async fn started_at_boot_by_the_provider_flag_it_serves_links() {
    let h = Harness::with(Options {
        control_plane_args: vec!["--provider".into(), REFERENCE.into()],
        ..Options::default()
    })
    .await;
    let running = eventually(Duration::from_secs(10), || async {
        h.inventory().await["providers"][0]["id"] == KEY
    })
    .await;
    assert!(running, "{}\n{}", h.inventory().await, h.logs());
    let echo = h.launch_sample("echo").await;
    let port = serve(&h, &echo).await;
    assert_eq!(get(port, "/booted").await.0, 200);
}
