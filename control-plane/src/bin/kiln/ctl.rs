//! `kiln ctl`: the wasmbus control interface over NATS (`wasmbus.ctl.{prefix}.…`), as
//! `wash ctl` speaks it.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::StreamExt as _;

use crate::output::{Format, emit};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    /// Lattice prefix.
    #[arg(
        long,
        env = "WASMCLOUD_LATTICE_PREFIX",
        default_value = "default",
        global = true
    )]
    lattice_prefix: String,
    /// NATS host.
    #[arg(
        long,
        env = "WASMCLOUD_CTL_HOST",
        default_value = "127.0.0.1",
        global = true
    )]
    ctl_host: String,
    /// NATS port.
    #[arg(
        long,
        env = "WASMCLOUD_CTL_PORT",
        default_value_t = 4222,
        global = true
    )]
    ctl_port: u16,
    /// How long to wait for answers, in milliseconds.
    #[arg(long, default_value_t = 5_000, global = true)]
    timeout_ms: u64,
}

#[derive(clap::Subcommand)]
enum Command {
    /// List the hosts of the lattice.
    Hosts,
    /// Show what a host runs.
    Inventory {
        /// Host id; the first host that answers a ping when absent.
        #[arg(long)]
        host: Option<String>,
    },
    /// Start an actor or a provider on a host.
    #[command(subcommand)]
    Start(Start),
    /// Put, delete or list link definitions.
    #[command(subcommand)]
    Link(Link),
}

#[derive(clap::Subcommand)]
enum Start {
    /// Start an actor from a reference (file://…).
    Actor {
        /// Reference.
        reference: String,
        /// Instances to start.
        #[arg(long, default_value_t = 1)]
        count: u16,
        /// Host id; the first host that answers a ping when absent.
        #[arg(long)]
        host: Option<String>,
    },
    /// Start a provider from an archive reference (file://….par.gz).
    Provider {
        /// Reference.
        reference: String,
        /// Link name.
        #[arg(long, default_value = "default")]
        link_name: String,
        /// Host id; the first host that answers a ping when absent.
        #[arg(long)]
        host: Option<String>,
    },
}

#[derive(clap::Subcommand)]
enum Link {
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

pub async fn run(args: Args, format: Format) -> anyhow::Result<()> {
    let address = format!("{}:{}", args.ctl_host, args.ctl_port);
    let client = async_nats::ConnectOptions::new()
        .request_timeout(Some(Duration::from_millis(args.timeout_ms)))
        .connect(&address)
        .await
        .with_context(|| format!("connecting to NATS at {address}"))?;
    let ctl = Ctl {
        client,
        prefix: format!("wasmbus.ctl.{}", args.lattice_prefix),
        timeout: Duration::from_millis(args.timeout_ms),
    };
    match args.command {
        Command::Hosts => {
            let hosts = ctl.hosts().await?;
            emit(format, &hosts, || {
                hosts
                    .iter()
                    .map(|h| {
                        format!(
                            "{}  {}",
                            h["id"].as_str().unwrap_or_default(),
                            h["friendly_name"].as_str().unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Inventory { host } => {
            let host = ctl.host_or_first(host).await?;
            let inventory = ctl
                .request(&format!("get.{host}.inv"), &serde_json::json!({}))
                .await?;
            emit(format, &inventory, || {
                serde_json::to_string_pretty(&inventory).unwrap_or_default()
            });
        }
        Command::Start(Start::Actor {
            reference,
            count,
            host,
        }) => {
            let host = ctl.host_or_first(host).await?;
            let ack = ctl
                .request(
                    &format!("cmd.{host}.la"),
                    &serde_json::json!({ "actor_ref": reference, "count": count }),
                )
                .await?;
            ack_or_fail(format, &ack)?;
        }
        Command::Start(Start::Provider {
            reference,
            link_name,
            host,
        }) => {
            let host = ctl.host_or_first(host).await?;
            let body = serde_json::json!({ "provider_ref": reference, "link_name": link_name });
            let ack = ctl.request(&format!("cmd.{host}.lp"), &body).await?;
            ack_or_fail(format, &ack)?;
        }
        Command::Link(Link::Put {
            actor,
            provider,
            contract,
            link_name,
            values,
        }) => {
            let mut map = BTreeMap::new();
            for value in values {
                let (k, v) = value
                    .split_once('=')
                    .with_context(|| format!("{value:?} is not KEY=VALUE"))?;
                map.insert(k.to_string(), v.to_string());
            }
            let body = serde_json::json!({
                "actor_id": actor, "provider_id": provider, "contract_id": contract,
                "link_name": link_name, "values": map,
            });
            ack_or_fail(format, &ctl.request("linkdefs.put", &body).await?)?;
        }
        Command::Link(Link::Del {
            actor,
            contract,
            link_name,
        }) => {
            let body = serde_json::json!({ "actor_id": actor, "contract_id": contract, "link_name": link_name });
            ack_or_fail(format, &ctl.request("linkdefs.del", &body).await?)?;
        }
        Command::Link(Link::List) => {
            let links = ctl.request("get.links", &serde_json::json!({})).await?;
            emit(format, &links, || {
                serde_json::to_string_pretty(&links["links"]).unwrap_or_default()
            });
        }
    }
    Ok(())
}

struct Ctl {
    client: async_nats::Client,
    prefix: String,
    timeout: Duration,
}

impl Ctl {
    async fn request(
        &self,
        suffix: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let subject = format!("{}.{suffix}", self.prefix);
        let reply = self
            .client
            .request(subject.clone(), body.to_string().into())
            .await
            .with_context(|| format!("no answer on {subject}"))?;
        serde_json::from_slice(&reply.payload).context("the answer is not JSON")
    }

    /// Every host that answers a ping within the timeout.
    async fn hosts(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let inbox = self.client.new_inbox();
        let mut replies = self.client.subscribe(inbox.clone()).await?;
        self.client
            .publish_with_reply(format!("{}.ping.hosts", self.prefix), inbox, "".into())
            .await?;
        let mut hosts = Vec::new();
        let deadline = tokio::time::Instant::now() + self.timeout.min(Duration::from_secs(1));
        while let Ok(Some(reply)) = tokio::time::timeout_at(deadline, replies.next()).await {
            if let Ok(host) = serde_json::from_slice(&reply.payload) {
                hosts.push(host);
            }
        }
        Ok(hosts)
    }

    async fn host_or_first(&self, host: Option<String>) -> anyhow::Result<String> {
        if let Some(host) = host {
            return Ok(host);
        }
        let hosts = self.hosts().await?;
        match hosts.first().and_then(|h| h["id"].as_str()) {
            Some(id) => Ok(id.to_string()),
            None => bail!("no host answered on {}.ping.hosts", self.prefix),
        }
    }
}

fn ack_or_fail(format: Format, ack: &serde_json::Value) -> anyhow::Result<()> {
    if ack["accepted"].as_bool() == Some(true) {
        emit(format, ack, || "accepted".to_string());
        Ok(())
    } else {
        bail!(
            "refused: {}",
            ack["error"].as_str().unwrap_or("no reason given")
        )
    }
}
