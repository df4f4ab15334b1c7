//! Drives one kiln host through `wasmcloud-control-interface` 0.25 (the client inside
//! wash 0.18, the last wash of the OTP-host era), the way wash does, and checks every
//! result. The integration test `interop::the_wasmcloud_control_interface_client_drives_the_host`
//! starts the host and runs this binary; it exits non-zero at the first wrong answer.
//!
//! Input (environment): `NATS_URL`, `LATTICE`, `HOST_ID`, `ECHO_REF` and `ECHO_KEY` (the
//! SDK-built echo actor), `TAGGED_V1_REF`, `TAGGED_V2_REF` and `TAGGED_KEY` (two revisions
//! of one actor), `PROVIDER_REF` and `PROVIDER_KEY` (the httpserver provider archive),
//! `HTTP_PORT` (a free port for the link).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{bail, ensure, Context as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use wasmcloud_control_interface::{Client, ClientBuilder, RegistryCredential};

const HTTPSERVER: &str = "wasmcloud:httpserver";

fn var(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set"))
}

/// Events as JSON, from the client's own event receiver.
struct Events(tokio::sync::mpsc::Receiver<cloudevents::Event>);

impl Events {
    /// Waits for the event of type `com.wasmcloud.lattice.{kind}` whose data passes `check`.
    async fn wait_for(
        &mut self,
        kind: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> anyhow::Result<serde_json::Value> {
        let wanted = format!("com.wasmcloud.lattice.{kind}");
        let wait = async {
            while let Some(event) = self.0.recv().await {
                let json = serde_json::to_value(&event)?;
                if json["type"] == wanted.as_str() && check(&json["data"]) {
                    return Ok(json["data"].clone());
                }
            }
            bail!("event stream ended before {kind}")
        };
        tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .with_context(|| format!("no {kind} event within 20 s"))?
    }
}

fn step(text: &str) {
    println!("ok: {text}");
}

async fn http_get(port: u16, path: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await?;
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status line")?;
    Ok((status, raw))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let lattice = var("LATTICE")?;
    let host = var("HOST_ID")?;
    let nats = async_nats::connect(var("NATS_URL")?).await?;
    let client = ClientBuilder::new(nats)
        .lattice_prefix(&lattice)
        .rpc_timeout(Duration::from_secs(10))
        .auction_timeout(Duration::from_millis(1500))
        .build()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut events = Events(
        client
            .events_receiver()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    run(&client, &mut events, &lattice, &host).await
}

async fn run(
    client: &Client,
    events: &mut Events,
    lattice: &str,
    host: &str,
) -> anyhow::Result<()> {
    let e = |e: Box<dyn std::error::Error + Send + Sync>| anyhow::anyhow!("{e}");
    let (echo_ref, echo) = (var("ECHO_REF")?, var("ECHO_KEY")?);
    let (provider_ref, provider) = (var("PROVIDER_REF")?, var("PROVIDER_KEY")?);

    let hosts = client.get_hosts().await.map_err(e)?;
    let me = hosts
        .iter()
        .find(|h| h.id == host)
        .with_context(|| format!("get_hosts did not list {host}: {hosts:?}"))?;
    ensure!(
        me.lattice_prefix.as_deref() == Some(lattice),
        "lattice prefix: {me:?}"
    );
    ensure!(
        me.labels
            .as_ref()
            .is_some_and(|l| l.contains_key("hostcore.os")),
        "labels: {me:?}"
    );
    step("get_hosts");

    let annotations = HashMap::from([("by".to_string(), "interop".to_string())]);
    let ack = client
        .start_actor(host, &echo_ref, 2, Some(annotations.clone()))
        .await
        .map_err(e)?;
    ensure!(ack.accepted, "start_actor: {}", ack.error);
    events
        .wait_for("actors_started", |d| {
            d["public_key"] == echo.as_str() && d["count"] == 2
        })
        .await?;
    let inventory = client.get_host_inventory(host).await.map_err(e)?;
    let actor = inventory
        .actors
        .iter()
        .find(|a| a.id == echo)
        .with_context(|| format!("inventory lacks echo: {inventory:?}"))?;
    ensure!(actor.instances.len() == 2, "instances: {actor:?}");
    ensure!(
        actor.instances[0].annotations.as_ref() == Some(&annotations),
        "annotations: {actor:?}"
    );
    ensure!(actor.name.as_deref() == Some("Echo"), "name: {actor:?}");
    step("start_actor, get_host_inventory");

    let ack = client
        .scale_actor(host, "", &echo, 3, None)
        .await
        .map_err(e)?;
    ensure!(ack.accepted, "scale_actor: {}", ack.error);
    let inventory = client.get_host_inventory(host).await.map_err(e)?;
    ensure!(
        inventory.actors[0].instances.len() == 3,
        "after scale: {inventory:?}"
    );
    step("scale_actor");

    let claims = client.get_claims().await.map_err(e)?;
    let echo_claims = claims
        .claims
        .iter()
        .find(|c| c.get("sub") == Some(&echo))
        .with_context(|| format!("get_claims lacks echo: {claims:?}"))?;
    ensure!(
        echo_claims.get("name").map(String::as_str) == Some("Echo"),
        "{echo_claims:?}"
    );
    ensure!(echo_claims["caps"].contains(HTTPSERVER), "{echo_claims:?}");
    step("get_claims (read from the lattice cache bucket)");

    let ack = client
        .start_provider(host, &provider_ref, Some("default".into()), None, None)
        .await
        .map_err(e)?;
    ensure!(ack.accepted, "start_provider: {}", ack.error);
    events
        .wait_for("provider_started", |d| d["public_key"] == provider.as_str())
        .await?;
    let inventory = client.get_host_inventory(host).await.map_err(e)?;
    ensure!(
        inventory
            .providers
            .iter()
            .any(|p| p.id == provider && p.contract_id == HTTPSERVER),
        "providers: {:?}",
        inventory.providers
    );
    step("start_provider");

    let port: u16 = var("HTTP_PORT")?.parse()?;
    let values = HashMap::from([("port".to_string(), port.to_string())]);
    let ack = client
        .advertise_link(&echo, &provider, HTTPSERVER, "default", values)
        .await
        .map_err(e)?;
    ensure!(ack.accepted, "advertise_link: {}", ack.error);
    let links = client.query_links().await.map_err(e)?;
    ensure!(
        links
            .links
            .iter()
            .any(|l| l.actor_id == echo && l.provider_id == provider),
        "query_links: {links:?}"
    );
    // The client wrote the link straight into the bucket: the host must pick it up and
    // the provider start listening.
    let mut served = None;
    for _ in 0..100 {
        if let Ok((200, body)) = http_get(port, "/interop").await {
            served = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = served.context("the linked provider never served the actor over HTTP")?;
    ensure!(body.contains("/interop"), "echo answer: {body}");
    step("advertise_link, query_links, HTTP through the link");

    let ack = client
        .remove_link(&echo, HTTPSERVER, "default")
        .await
        .map_err(e)?;
    ensure!(ack.accepted, "remove_link: {}", ack.error);
    events
        .wait_for("linkdef_deleted", |d| d["actor_id"] == echo.as_str())
        .await?;
    let links = client.query_links().await.map_err(e)?;
    ensure!(
        links.links.iter().all(|l| l.actor_id != echo),
        "after remove: {links:?}"
    );
    step("remove_link");

    let bids = client
        .perform_actor_auction(&echo_ref, HashMap::new())
        .await
        .map_err(e)?;
    ensure!(
        bids.len() == 1 && bids[0].host_id == host,
        "actor auction: {bids:?}"
    );
    let none = client
        .perform_actor_auction(
            &echo_ref,
            HashMap::from([("zone".to_string(), "nowhere".to_string())]),
        )
        .await
        .map_err(e)?;
    ensure!(none.is_empty(), "constrained actor auction: {none:?}");
    let none = client
        .perform_provider_auction(&provider_ref, "default", HashMap::new())
        .await
        .map_err(e)?;
    ensure!(
        none.is_empty(),
        "provider already running, yet a bid: {none:?}"
    );
    let bids = client
        .perform_provider_auction(&provider_ref, "other", HashMap::new())
        .await
        .map_err(e)?;
    ensure!(
        bids.len() == 1 && bids[0].link_name == "other",
        "provider auction: {bids:?}"
    );
    step("perform_actor_auction, perform_provider_auction");

    let (v1, v2, tagged) = (
        var("TAGGED_V1_REF")?,
        var("TAGGED_V2_REF")?,
        var("TAGGED_KEY")?,
    );
    let ack = client.start_actor(host, &v1, 1, None).await.map_err(e)?;
    ensure!(ack.accepted, "start tagged: {}", ack.error);
    events
        .wait_for("actors_started", |d| d["public_key"] == tagged.as_str())
        .await?;
    let ack = client
        .update_actor(host, &tagged, &v2, None)
        .await
        .map_err(e)?;
    ensure!(ack.accepted, "update_actor: {}", ack.error);
    events
        .wait_for("actor_updated", |d| {
            d["public_key"] == tagged.as_str() && d["revision"] == 2
        })
        .await?;
    let inventory = client.get_host_inventory(host).await.map_err(e)?;
    let updated = inventory
        .actors
        .iter()
        .find(|a| a.id == tagged)
        .context("tagged actor gone after the update")?;
    ensure!(updated.instances[0].revision == 2, "revision: {updated:?}");
    let ack = client
        .update_actor(host, &tagged, &v1, None)
        .await
        .map_err(e)?;
    ensure!(
        !ack.accepted && ack.error.contains("not higher"),
        "downgrade accepted: {ack:?}"
    );
    step("update_actor");

    let ack = client
        .stop_provider(host, &provider, "default", HTTPSERVER, None)
        .await
        .map_err(e)?;
    ensure!(ack.accepted, "stop_provider: {}", ack.error);
    events
        .wait_for("provider_stopped", |d| d["public_key"] == provider.as_str())
        .await?;
    step("stop_provider");

    let ack = client.stop_actor(host, &echo, 0, None).await.map_err(e)?;
    ensure!(ack.accepted, "stop_actor: {}", ack.error);
    events
        .wait_for("actors_stopped", |d| {
            d["public_key"] == echo.as_str() && d["remaining"] == 0
        })
        .await?;
    let inventory = client.get_host_inventory(host).await.map_err(e)?;
    ensure!(
        inventory.actors.iter().all(|a| a.id != echo),
        "after stop: {inventory:?}"
    );
    step("stop_actor");

    let credentials = HashMap::from([(
        "localhost:5000".to_string(),
        RegistryCredential {
            registry_type: "oci".into(),
            username: Some("user".into()),
            password: Some("secret".into()),
            token: None,
        },
    )]);
    client.put_registries(credentials).await.map_err(e)?;
    step("put_registries");

    let ack = client.stop_host(host, Some(2000)).await.map_err(e)?;
    ensure!(ack.accepted, "stop_host: {}", ack.error);
    events.wait_for("host_stopped", |_| true).await?;
    step("stop_host");
    println!("all control-interface checks passed");
    Ok(())
}
