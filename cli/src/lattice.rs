//! `kiln hosts|inventory|start|stop|scale|update|link|events` and `kiln claims list`:
//! the lattice through a host's gRPC control API.

use std::collections::HashMap;

use anyhow::Context as _;
use futures::StreamExt as _;
use kiln_proto::control::v1 as pb;
use serde_json::json;

use crate::api_client::{Client, Connection, connect};
use crate::output::{Format, emit};

#[derive(clap::Subcommand)]
pub enum Start {
    /// Start an actor from a reference (file://… or a registry reference).
    Actor {
        /// Reference.
        reference: String,
        /// Instances to start.
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// Host id; the host serving the API when absent.
        #[arg(long, default_value = "")]
        host: String,
    },
    /// Start a provider from an archive reference.
    Provider {
        /// Reference (`kiln+builtin://httpserver` for the built-in HTTP server).
        reference: String,
        /// Link name.
        #[arg(long, default_value = "default")]
        link_name: String,
        /// Host id; the host serving the API when absent.
        #[arg(long, default_value = "")]
        host: String,
        /// Configuration string handed to the provider, e.g. `{"address": "0.0.0.0:8080"}`.
        #[arg(long, default_value = "")]
        configuration: String,
    },
}

#[derive(clap::Subcommand)]
pub enum Stop {
    /// Stop instances of an actor (all by default).
    Actor {
        /// Actor key (M…).
        actor: String,
        /// Instances to stop; 0 stops all.
        #[arg(long, default_value_t = 0)]
        count: u32,
        /// Host id; the host serving the API when absent.
        #[arg(long, default_value = "")]
        host: String,
    },
    /// Stop a provider.
    Provider {
        /// Provider key (V…).
        provider: String,
        /// Link name.
        #[arg(long, default_value = "default")]
        link_name: String,
        /// Host id; the host serving the API when absent.
        #[arg(long, default_value = "")]
        host: String,
    },
    /// Stop a host: it drains, stops its providers and both planes exit.
    Host {
        /// Host id; the host serving the API when absent.
        #[arg(default_value = "")]
        host: String,
        /// Drain grace in milliseconds.
        #[arg(long, default_value_t = 0)]
        grace_ms: u64,
    },
}

#[derive(clap::Subcommand)]
pub enum Link {
    /// Link an actor to a provider for a contract.
    Put {
        /// Actor key (M…).
        actor: String,
        /// Provider key (V…).
        provider: String,
        /// Contract id, e.g. wasmcloud:keyvalue.
        contract: String,
        /// Link name.
        #[arg(long, default_value = "default")]
        link_name: String,
        /// A link value KEY=VALUE (repeatable).
        #[arg(long = "value", value_name = "KEY=VALUE")]
        values: Vec<String>,
    },
    /// Delete a link.
    Del {
        /// Actor key.
        actor: String,
        /// Contract id.
        contract: String,
        /// Link name.
        #[arg(long, default_value = "default")]
        link_name: String,
    },
    /// List the links of the lattice.
    List,
}

/// The commands of this module.
pub enum Command {
    Hosts,
    Inventory {
        host: String,
    },
    Start(Start),
    Stop(Stop),
    Scale {
        actor: String,
        count: u32,
        reference: String,
        host: String,
    },
    Update {
        actor: String,
        reference: String,
        host: String,
    },
    Link(Link),
    Claims,
    Events {
        types: Vec<String>,
    },
}

pub async fn run(command: Command, connection: &Connection, format: Format) -> anyhow::Result<()> {
    let mut api = connect(connection).await?;
    match command {
        Command::Hosts => hosts(&mut api, format).await,
        Command::Inventory { host } => {
            let inventory = api
                .get_inventory(pb::GetInventoryRequest { host_id: host })
                .await?
                .into_inner();
            emit(format, &inventory_json(&inventory), || {
                inventory_text(&inventory)
            });
            Ok(())
        }
        Command::Start(what) => start(&mut api, what, format).await,
        Command::Stop(what) => stop(&mut api, what, format).await,
        Command::Scale {
            actor,
            count,
            reference,
            host,
        } => {
            let scaled = api
                .scale_actor(pb::ScaleActorRequest {
                    host_id: host,
                    actor_id: actor,
                    reference,
                    count,
                })
                .await?
                .into_inner();
            emit(format, &json!({"instances": scaled.instances}), || {
                format!("{} instances", scaled.instances)
            });
            Ok(())
        }
        Command::Update {
            actor,
            reference,
            host,
        } => {
            let updated = api
                .update_actor(pb::UpdateActorRequest {
                    host_id: host,
                    actor_id: actor,
                    reference,
                })
                .await?
                .into_inner();
            emit(format, &json!({"revision": updated.revision}), || {
                format!("updated to revision {}", updated.revision)
            });
            Ok(())
        }
        Command::Link(link) => links(&mut api, link, format).await,
        Command::Claims => claims(&mut api, format).await,
        Command::Events { types } => events(&mut api, types).await,
    }
}

/// Starts an actor or a provider.
async fn start(api: &mut Client, what: Start, format: Format) -> anyhow::Result<()> {
    match what {
        Start::Actor {
            reference,
            count,
            host,
        } => {
            let started = api
                .start_actor(pb::StartActorRequest {
                    host_id: host,
                    reference,
                    count,
                    annotations: HashMap::new(),
                })
                .await?
                .into_inner();
            let value = json!({"actor_id": started.actor_id, "instances": started.instances});
            emit(format, &value, || {
                format!(
                    "started {} ({} running)",
                    started.actor_id, started.instances
                )
            });
            Ok(())
        }
        Start::Provider {
            reference,
            link_name,
            host,
            configuration,
        } => {
            let started = api
                .start_provider(pb::StartProviderRequest {
                    host_id: host,
                    reference,
                    link_name,
                    configuration,
                    ..Default::default()
                })
                .await?
                .into_inner();
            let value =
                json!({"provider_id": started.provider_id, "contract_id": started.contract_id});
            emit(format, &value, || {
                format!("started {} ({})", started.provider_id, started.contract_id)
            });
            Ok(())
        }
    }
}

/// Stops an actor, a provider or a host.
async fn stop(api: &mut Client, what: Stop, format: Format) -> anyhow::Result<()> {
    match what {
        Stop::Actor { actor, count, host } => {
            let stopped = api
                .stop_actor(pb::StopActorRequest {
                    host_id: host,
                    actor_id: actor,
                    count,
                    annotations: HashMap::new(),
                })
                .await?
                .into_inner();
            emit(format, &json!({"remaining": stopped.remaining}), || {
                format!("stopped; {} remaining", stopped.remaining)
            });
            Ok(())
        }
        Stop::Provider {
            provider,
            link_name,
            host,
        } => {
            api.stop_provider(pb::StopProviderRequest {
                host_id: host,
                provider_id: provider,
                link_name,
            })
            .await?;
            emit(format, &json!({"stopped": true}), || "stopped".into());
            Ok(())
        }
        Stop::Host { host, grace_ms } => {
            api.stop_host(pb::StopHostRequest {
                host_id: host,
                grace_ms,
            })
            .await?;
            emit(format, &json!({"stopping": true}), || "stopping".into());
            Ok(())
        }
    }
}

/// The claims the lattice knows.
async fn claims(api: &mut Client, format: Format) -> anyhow::Result<()> {
    let claims = api
        .list_claims(pb::ListClaimsRequest {})
        .await?
        .into_inner()
        .claims;
    let value: Vec<_> = claims
        .iter()
        .map(|c| {
            json!({
                "subject": c.subject, "issuer": c.issuer, "name": c.name,
                "capabilities": c.capabilities, "contract_id": c.contract_id,
                "revision": c.revision, "version": c.version, "call_alias": c.call_alias,
            })
        })
        .collect();
    emit(format, &value, || {
        claims
            .iter()
            .map(|c| {
                let what = if c.contract_id.is_empty() {
                    c.capabilities.join(",")
                } else {
                    c.contract_id.clone()
                };
                format!("{}  {}  rev {}  {what}", c.subject, c.name, c.revision)
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

/// Lattice events as they come, one JSON line each.
async fn events(api: &mut Client, types: Vec<String>) -> anyhow::Result<()> {
    let mut events = api
        .watch_events(pb::WatchEventsRequest { types })
        .await?
        .into_inner();
    while let Some(event) = events.next().await {
        let event = event?;
        let data = event.data.as_ref().map(struct_json).unwrap_or_default();
        // One line per event, whatever the format: a tail is read line by line.
        let line = json!({"type": event.r#type, "source": event.source, "data": data});
        println!("{line}");
    }
    Ok(())
}

async fn hosts(api: &mut Client, format: Format) -> anyhow::Result<()> {
    let hosts = api
        .list_hosts(pb::ListHostsRequest {})
        .await?
        .into_inner()
        .hosts;
    let value: Vec<_> = hosts
        .iter()
        .map(|h| {
            json!({
                "id": h.id, "friendly_name": h.friendly_name, "labels": h.labels,
                "uptime_seconds": h.uptime_seconds, "version": h.version,
            })
        })
        .collect();
    emit(format, &value, || {
        hosts
            .iter()
            .map(|h| format!("{}  {}  up {} s", h.id, h.friendly_name, h.uptime_seconds))
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

async fn links(api: &mut Client, command: Link, format: Format) -> anyhow::Result<()> {
    match command {
        Link::Put {
            actor,
            provider,
            contract,
            link_name,
            values,
        } => {
            let values = values
                .iter()
                .map(|v| {
                    v.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .with_context(|| format!("{v:?} is not KEY=VALUE"))
                })
                .collect::<anyhow::Result<HashMap<_, _>>>()?;
            let link = api
                .put_link(pb::PutLinkRequest {
                    actor_id: actor,
                    provider_id: provider,
                    contract_id: contract,
                    link_name,
                    values,
                })
                .await?
                .into_inner()
                .link
                .unwrap_or_default();
            emit(format, &json!({"id": link.id}), || {
                format!("link {} put", link.id)
            });
        }
        Link::Del {
            actor,
            contract,
            link_name,
        } => {
            api.delete_link(pb::DeleteLinkRequest {
                actor_id: actor,
                contract_id: contract,
                link_name,
            })
            .await?;
            emit(format, &json!({"deleted": true}), || "deleted".into());
        }
        Link::List => {
            let links = api
                .list_links(pb::ListLinksRequest {})
                .await?
                .into_inner()
                .links;
            let value: Vec<_> = links
                .iter()
                .map(|l| {
                    json!({
                        "id": l.id, "actor_id": l.actor_id, "provider_id": l.provider_id,
                        "contract_id": l.contract_id, "link_name": l.link_name, "values": l.values,
                    })
                })
                .collect();
            emit(format, &value, || {
                links
                    .iter()
                    .map(|l| {
                        format!(
                            "{} → {}  {} ({})",
                            l.actor_id, l.provider_id, l.contract_id, l.link_name
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

fn inventory_json(inventory: &pb::Inventory) -> serde_json::Value {
    json!({
        "host_id": inventory.host_id,
        "friendly_name": inventory.friendly_name,
        "labels": inventory.labels,
        "actors": inventory.actors.iter().map(|a| json!({
            "id": a.id, "name": a.name, "image_ref": a.image_ref,
            "instances": a.instances.iter().map(|i| json!({
                "instance_id": i.instance_id, "revision": i.revision, "annotations": i.annotations,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "providers": inventory.providers.iter().map(|p| json!({
            "id": p.id, "name": p.name, "image_ref": p.image_ref, "contract_id": p.contract_id,
            "link_name": p.link_name, "revision": p.revision,
        })).collect::<Vec<_>>(),
    })
}

fn inventory_text(inventory: &pb::Inventory) -> String {
    let mut lines = vec![format!(
        "{}  {}",
        inventory.host_id, inventory.friendly_name
    )];
    for actor in &inventory.actors {
        lines.push(format!(
            "  actor    {}  {}  ×{}",
            actor.id,
            actor.name,
            actor.instances.len()
        ));
    }
    for provider in &inventory.providers {
        lines.push(format!(
            "  provider {}  {}  {} ({})",
            provider.id, provider.name, provider.contract_id, provider.link_name
        ));
    }
    lines.join("\n")
}

fn struct_json(data: &prost_types::Struct) -> serde_json::Value {
    serde_json::Value::Object(
        data.fields
            .iter()
            .map(|(k, v)| (k.clone(), value_json(v)))
            .collect(),
    )
}

fn value_json(value: &prost_types::Value) -> serde_json::Value {
    use prost_types::value::Kind;
    match &value.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => json!(b),
        Some(Kind::NumberValue(n)) => json!(n),
        Some(Kind::StringValue(s)) => json!(s),
        Some(Kind::ListValue(list)) => list.values.iter().map(value_json).collect(),
        Some(Kind::StructValue(s)) => struct_json(s),
    }
}
