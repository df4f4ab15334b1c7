//! The NATS control interface (`{ctl}.{lattice}.…`, JSON), as far as this host
//! implements it so far: ping, inventory, launch / stop / scale actor, and link
//! definitions (put, delete, list).
//!
//! Unlike the OTP host, a launch answers after the actor runs: a refusal (bad claims, a
//! file that cannot be read) comes back in the ack, where the caller sees it.

use std::collections::BTreeMap;

use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use tracing::Instrument as _;

use crate::control;
use crate::host::Shared;
use crate::subjects;

/// The common reply.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ack {
    /// Whether the command was carried out.
    pub accepted: bool,
    /// Why not; empty on success.
    pub error: String,
}

impl Ack {
    fn ok() -> Ack {
        Ack {
            accepted: true,
            error: String::new(),
        }
    }

    fn failed(error: impl ToString) -> Ack {
        Ack {
            accepted: false,
            error: error.to_string(),
        }
    }
}

/// `cmd.{host}.la`.
#[derive(Debug, Deserialize)]
struct LaunchActor {
    actor_ref: String,
    #[serde(default = "one")]
    count: u16,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

/// `cmd.{host}.sa`.
#[derive(Debug, Deserialize)]
struct StopActor {
    actor_ref: String,
    #[serde(default)]
    count: u16,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

/// `cmd.{host}.scale`.
#[derive(Debug, Deserialize)]
struct ScaleActor {
    actor_id: String,
    actor_ref: String,
    count: u16,
}

/// `linkdefs.del`.
#[derive(Debug, Deserialize)]
struct DeleteLink {
    actor_id: String,
    contract_id: String,
    #[serde(default)]
    link_name: String,
}

/// `get.links` reply.
#[derive(Serialize)]
struct Links {
    links: Vec<kiln_types::link::LinkDefinition>,
}

async fn put_link(host: &Shared, payload: &[u8]) -> Ack {
    let link: kiln_types::link::LinkDefinition = match parse(payload) {
        Ok(link) => link,
        Err(ack) => return ack,
    };
    match control::put_link(host, link).await {
        Ok(()) => Ack::ok(),
        Err(error) => Ack::failed(error),
    }
}

async fn delete_link(host: &Shared, payload: &[u8]) -> Ack {
    let request: DeleteLink = match parse(payload) {
        Ok(r) => r,
        Err(ack) => return ack,
    };
    match control::delete_link(
        host,
        &request.actor_id,
        &request.contract_id,
        &request.link_name,
    )
    .await
    {
        Ok(_) => Ack::ok(),
        Err(error) => Ack::failed(error),
    }
}

/// `cmd.{host}.lp`.
#[derive(Debug, Deserialize)]
struct LaunchProvider {
    provider_ref: String,
    #[serde(default)]
    link_name: String,
    #[serde(default)]
    configuration: Option<String>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

/// `cmd.{host}.sp`.
#[derive(Debug, Deserialize)]
struct StopProvider {
    provider_ref: String,
    #[serde(default)]
    link_name: String,
}

#[derive(Serialize)]
struct ProviderView {
    id: String,
    image_ref: String,
    contract_id: String,
    link_name: String,
    name: Option<String>,
    instance_id: String,
    annotations: BTreeMap<String, String>,
    revision: i64,
}

async fn launch_provider(host: &Shared, payload: &[u8]) -> Ack {
    let request: LaunchProvider = match parse(payload) {
        Ok(r) => r,
        Err(ack) => return ack,
    };
    let configuration = request.configuration.filter(|c| !c.is_empty());
    match crate::providers::start(
        host,
        &request.provider_ref,
        &request.link_name,
        configuration,
        request.annotations.unwrap_or_default(),
    )
    .await
    {
        Ok(_) => Ack::ok(),
        Err(error) => {
            tracing::warn!(reference = %request.provider_ref, "provider start failed: {error}");
            Ack::failed(error)
        }
    }
}

async fn stop_provider(host: &Shared, payload: &[u8]) -> Ack {
    let request: StopProvider = match parse(payload) {
        Ok(r) => r,
        Err(ack) => return ack,
    };
    if request.provider_ref.len() != kiln_types::keys::PUBLIC_KEY_LEN {
        return Ack::failed(format!(
            "provider_ref {:?} must be the provider's 56-character public key",
            request.provider_ref
        ));
    }
    match crate::providers::stop(host, &request.provider_ref, &request.link_name).await {
        Ok(()) => Ack::ok(),
        Err(error) => Ack::failed(error),
    }
}

fn one() -> u16 {
    1
}

/// Serves the control subjects of this host until shutdown.
///
/// # Errors
/// When NATS refuses a subscription.
pub async fn serve(host: Shared) -> anyhow::Result<()> {
    let config = &host.config;
    let host_id = config.host_id();
    let mut commands = host
        .ctl
        .subscribe(subjects::host_commands(
            &config.ctl_prefix,
            &config.lattice,
            &host_id,
        ))
        .await?;
    let mut inventory = host
        .ctl
        .subscribe(subjects::host_inventory(
            &config.ctl_prefix,
            &config.lattice,
            &host_id,
        ))
        .await?;
    let mut pings = host
        .ctl
        .subscribe(subjects::ping_hosts(&config.ctl_prefix, &config.lattice))
        .await?;
    // Lattice-wide commands: one host of the queue group answers each.
    let group = subjects::lattice_queue_group(&config.ctl_prefix, &config.lattice);
    let mut linkdefs = host
        .ctl
        .queue_subscribe(
            subjects::linkdefs(&config.ctl_prefix, &config.lattice),
            group.clone(),
        )
        .await?;
    let mut get_links = host
        .ctl
        .queue_subscribe(
            subjects::get_links(&config.ctl_prefix, &config.lattice),
            group,
        )
        .await?;
    host.ctl.flush().await?;
    loop {
        let message = tokio::select! {
            () = host.shutdown.cancelled() => return Ok(()),
            Some(m) = commands.next() => m,
            Some(m) = inventory.next() => m,
            Some(m) = pings.next() => m,
            Some(m) = linkdefs.next() => m,
            Some(m) = get_links.next() => m,
            else => return Ok(()),
        };
        let task_host = host.clone();
        let span = tracing::info_span!("ctl", subject = %message.subject);
        host.tasks
            .spawn(async move { handle(&task_host, message).await }.instrument(span));
    }
}

async fn handle(host: &Shared, message: async_nats::Message) {
    let Some(reply) = message.reply.clone() else {
        return;
    };
    let operation = message
        .subject
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_string();
    let body = match operation.as_str() {
        "la" => json(&launch(host, &message.payload).await),
        "sa" => json(&stop(host, &message.payload).await),
        "scale" => json(&scale(host, &message.payload).await),
        "lp" => json(&launch_provider(host, &message.payload).await),
        "sp" => json(&stop_provider(host, &message.payload).await),
        "inv" => json(&inventory(host)),
        "hosts" => json(&ping(host)),
        "put" => json(&put_link(host, &message.payload).await),
        "del" => json(&delete_link(host, &message.payload).await),
        "links" => json(&Links {
            links: host.links.all().iter().map(|l| (**l).clone()).collect(),
        }),
        other => json(&Ack::failed(format!("unknown control command {other:?}"))),
    };
    if let Err(error) = host.ctl.publish(reply, body.into()).await {
        tracing::warn!(%error, "could not answer control request");
    }
}

fn parse<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, Ack> {
    serde_json::from_slice(payload).map_err(|e| Ack::failed(format!("invalid request: {e}")))
}

async fn launch(host: &Shared, payload: &[u8]) -> Ack {
    let request: LaunchActor = match parse(payload) {
        Ok(r) => r,
        Err(ack) => return ack,
    };
    match control::start_actor(
        host,
        &request.actor_ref,
        u32::from(request.count),
        request.annotations.unwrap_or_default(),
    )
    .await
    {
        Ok(_) => Ack::ok(),
        Err(error) => {
            tracing::warn!(reference = %request.actor_ref, "actor start failed: {error}");
            Ack::failed(error)
        }
    }
}

async fn stop(host: &Shared, payload: &[u8]) -> Ack {
    let request: StopActor = match parse(payload) {
        Ok(r) => r,
        Err(ack) => return ack,
    };
    match control::stop_actor(
        host,
        &request.actor_ref,
        u32::from(request.count),
        &request.annotations.unwrap_or_default(),
    )
    .await
    {
        Ok(_) => Ack::ok(),
        Err(error) => Ack::failed(error),
    }
}

async fn scale(host: &Shared, payload: &[u8]) -> Ack {
    let request: ScaleActor = match parse(payload) {
        Ok(r) => r,
        Err(ack) => return ack,
    };
    match control::scale_actor(
        host,
        &request.actor_id,
        &request.actor_ref,
        u32::from(request.count),
    )
    .await
    {
        Ok(_) => Ack::ok(),
        Err(error) => Ack::failed(error),
    }
}

#[derive(Serialize)]
struct InstanceView {
    annotations: BTreeMap<String, String>,
    instance_id: String,
    revision: i64,
}

#[derive(Serialize)]
struct ActorView {
    id: String,
    image_ref: String,
    name: Option<String>,
    instances: Vec<InstanceView>,
}

#[derive(Serialize)]
struct Inventory {
    host_id: String,
    issuer: String,
    labels: BTreeMap<String, String>,
    friendly_name: String,
    actors: Vec<ActorView>,
    providers: Vec<ProviderView>,
}

fn inventory(host: &Shared) -> Inventory {
    let actors = host
        .actors
        .all()
        .iter()
        .map(|entry| {
            let revision = kiln_types::claims::revision(&entry.claims);
            ActorView {
                id: entry.key.to_string(),
                image_ref: entry.image_ref.clone(),
                name: entry.meta().name.clone(),
                instances: entry
                    .instances
                    .iter()
                    .map(|i| InstanceView {
                        annotations: i.annotations.clone(),
                        instance_id: i.id.clone(),
                        revision,
                    })
                    .collect(),
            }
        })
        .collect();
    Inventory {
        host_id: host.config.host_id(),
        issuer: host.config.cluster_key.public_key(),
        labels: host.config.labels.clone(),
        friendly_name: host.friendly_name.clone(),
        actors,
        providers: host
            .providers
            .all()
            .iter()
            .map(|p| ProviderView {
                id: p.key.clone(),
                image_ref: p.image_ref.clone(),
                contract_id: p.contract_id().to_string(),
                link_name: p.link_name.clone(),
                name: p.claims.metadata.as_ref().and_then(|m| m.name.clone()),
                instance_id: p.instance_id.clone(),
                annotations: p.annotations.clone(),
                revision: i64::from(
                    p.claims
                        .metadata
                        .as_ref()
                        .and_then(|m| m.rev)
                        .unwrap_or_default(),
                ),
            })
            .collect(),
    }
}

#[derive(Serialize)]
struct Ping {
    id: String,
    issuer: String,
    labels: BTreeMap<String, String>,
    friendly_name: String,
    uptime_seconds: u64,
    uptime_human: String,
    version: &'static str,
    cluster_issuers: String,
    js_domain: Option<String>,
    ctl_host: String,
    prov_rpc_host: String,
    rpc_host: String,
    lattice_prefix: String,
}

fn ping(host: &Shared) -> Ping {
    let config = &host.config;
    let uptime = host.started.elapsed().as_secs();
    Ping {
        id: config.host_id(),
        issuer: config.cluster_key.public_key(),
        labels: config.labels.clone(),
        friendly_name: host.friendly_name.clone(),
        uptime_seconds: uptime,
        uptime_human: format!("{}h {}m {}s", uptime / 3600, uptime / 60 % 60, uptime % 60),
        version: env!("CARGO_PKG_VERSION"),
        cluster_issuers: config.cluster_issuers.join(","),
        js_domain: config.js_domain.clone(),
        ctl_host: config.ctl.host.clone(),
        prov_rpc_host: config.prov_rpc.host.clone(),
        rpc_host: config.rpc.host.clone(),
        lattice_prefix: config.lattice.clone(),
    }
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("invariant: control replies always serialise")
}
