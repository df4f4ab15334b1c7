//! `kiln ctl`: the wasmbus control interface over NATS (`wasmbus.ctl.{prefix}.…`), as
//! `wash ctl` speaks it.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt as _;

use crate::lattice::Link;
use crate::output::{Format, emit};
use kiln_types::ctl as body;
use kiln_wasmbus::ctl::{Client, check_ack};
use kiln_wasmbus::subjects::{Command as C, CtlSubject};

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
    /// How long to wait for answers and outcomes, in milliseconds.
    #[arg(long, default_value_t = 15_000, global = true)]
    timeout_ms: u64,
    /// Return once the host acknowledges a start, without waiting for its outcome.
    #[arg(long, global = true)]
    skip_wait: bool,
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
    /// Stop an actor, a provider or a host.
    #[command(subcommand)]
    Stop(Stop),
    /// Set the number of instances of an actor on a host.
    Scale {
        /// Actor key (M…).
        actor: String,
        /// Instances wanted.
        count: u16,
        /// Where to start it from if it does not run there yet.
        #[arg(long, default_value = "")]
        reference: String,
        /// Host id; the first host that answers a ping when absent.
        #[arg(long)]
        host: Option<String>,
    },
    /// Replace a running actor with a higher revision of the same key.
    Update {
        /// Actor key (M…).
        actor: String,
        /// Reference of the new revision.
        reference: String,
        /// Host id; the first host that answers a ping when absent.
        #[arg(long)]
        host: Option<String>,
    },
    /// Put, delete or list link definitions.
    #[command(subcommand)]
    Link(Link),
    /// The claims of every actor and provider of the lattice.
    Claims,
    /// Which hosts would take an actor (or, with --provider, a provider).
    Auction {
        /// Reference to place.
        reference: String,
        /// Auction a provider instead of an actor.
        #[arg(long)]
        provider: bool,
        /// Link name, for a provider.
        #[arg(long, default_value = "default")]
        link_name: String,
        /// A label the host must have, KEY=VALUE (repeatable).
        #[arg(long = "constraint", value_name = "KEY=VALUE")]
        constraints: Vec<String>,
    },
    /// Print the lattice's events as they happen, one JSON document per line.
    Events,
}

#[derive(clap::Subcommand)]
enum Stop {
    /// Stop instances of an actor (all by default).
    Actor {
        /// Actor key (M…).
        actor: String,
        /// Instances to stop; 0 stops all.
        #[arg(long, default_value_t = 0)]
        count: u16,
        /// Host id; the first host that answers a ping when absent.
        #[arg(long)]
        host: Option<String>,
    },
    /// Stop a provider.
    Provider {
        /// Provider key (V…).
        provider: String,
        /// Link name.
        #[arg(long, default_value = "default")]
        link_name: String,
        /// Host id; the first host that answers a ping when absent.
        #[arg(long)]
        host: Option<String>,
    },
    /// Stop a host: it drains, stops its providers and exits.
    Host {
        /// Host id.
        host: String,
        /// Drain grace, in milliseconds.
        #[arg(long)]
        grace_ms: Option<u64>,
    },
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

pub async fn run(args: Args, format: Format) -> anyhow::Result<()> {
    let address = format!("{}:{}", args.ctl_host, args.ctl_port);
    let timeout = Duration::from_millis(args.timeout_ms);
    let client = async_nats::ConnectOptions::new()
        .request_timeout(Some(timeout))
        .connect(&address)
        .await
        .with_context(|| format!("connecting to NATS at {address}"))?;
    let ctl = Client::new(
        client,
        kiln_wasmbus::subjects::DEFAULT_CTL_PREFIX,
        &args.lattice_prefix,
        timeout,
    );
    let wait = !args.skip_wait;
    match args.command {
        Command::Hosts => hosts(&ctl, format).await,
        Command::Inventory { host } => {
            let host = ctl.host_or_first(host).await?;
            pretty(format, &ctl.inventory(&host).await?);
            Ok(())
        }
        Command::Start(what) => start(&ctl, what, wait, format).await,
        Command::Stop(what) => stop(&ctl, what, wait, timeout, format).await,
        Command::Scale {
            actor,
            count,
            reference,
            host,
        } => {
            let host = ctl.host_or_first(host).await?;
            let body = body::ScaleActor {
                actor_id: actor,
                actor_ref: reference,
                count,
            };
            acknowledged(format, &ctl.command(&host, C::ScaleActor, &body).await?);
            Ok(())
        }
        Command::Update {
            actor,
            reference,
            host,
        } => {
            let host = ctl.host_or_first(host).await?;
            let body = body::UpdateActor {
                actor_id: Some(actor),
                new_actor_ref: reference,
            };
            acknowledged(format, &ctl.command(&host, C::UpdateActor, &body).await?);
            Ok(())
        }
        Command::Link(what) => link(&ctl, what, format).await,
        Command::Claims => claims(&ctl, format).await,
        Command::Auction {
            reference,
            provider,
            link_name,
            constraints,
        } => auction(&ctl, reference, provider, link_name, &constraints, format).await,
        Command::Events => {
            let mut events = ctl.events().await?;
            while let Some(message) = events.next().await {
                println!("{}", String::from_utf8_lossy(&message.payload));
            }
            Ok(())
        }
    }
}

/// The lattice's hosts, by ping.
async fn hosts(ctl: &Client, format: Format) -> anyhow::Result<()> {
    let hosts = ctl
        .gather(CtlSubject::PingHosts, &serde_json::json!({}))
        .await?;
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

    Ok(())
}

/// Starts an actor or a provider, waiting for its outcome event unless told not to.
async fn start(ctl: &Client, what: Start, wait: bool, format: Format) -> anyhow::Result<()> {
    match what {
        Start::Actor {
            reference,
            count,
            host,
        } => {
            let host = ctl.host_or_first(host).await?;
            let body = body::LaunchActor {
                actor_ref: reference,
                count: Some(count),
                annotations: None,
            };
            started(format, wait, &ctl.start_actor(&host, &body, wait).await?);
        }
        Start::Provider {
            reference,
            link_name,
            host,
        } => {
            let host = ctl.host_or_first(host).await?;
            let body = body::LaunchProvider {
                provider_ref: reference,
                link_name,
                configuration: None,
                annotations: None,
            };
            started(format, wait, &ctl.start_provider(&host, &body, wait).await?);
        }
    }
    Ok(())
}

/// Stops an actor, a provider or a host (waiting for `host_stopped` unless told not to).
async fn stop(
    ctl: &Client,
    what: Stop,
    wait: bool,
    timeout: Duration,
    format: Format,
) -> anyhow::Result<()> {
    match what {
        Stop::Actor { actor, count, host } => {
            let host = ctl.host_or_first(host).await?;
            let body = body::StopActor {
                actor_ref: actor,
                count,
                annotations: None,
            };
            acknowledged(format, &ctl.command(&host, C::StopActor, &body).await?);
        }
        Stop::Provider {
            provider,
            link_name,
            host,
        } => {
            let host = ctl.host_or_first(host).await?;
            let body = body::StopProvider {
                provider_ref: provider,
                link_name,
            };
            acknowledged(format, &ctl.command(&host, C::StopProvider, &body).await?);
        }
        Stop::Host { host, grace_ms } => {
            let body = body::StopHost { timeout: grace_ms };
            let mut events = ctl.events().await?;
            acknowledged(format, &ctl.command(&host, C::StopHost, &body).await?);
            if wait && !host_stopped(&mut events, &host, timeout).await {
                anyhow::bail!("accepted, but the host did not report host_stopped in time");
            }
        }
    }
    Ok(())
}

/// Whether `host_stopped` from `host` arrives on `events` within `timeout`.
async fn host_stopped(events: &mut async_nats::Subscriber, host: &str, timeout: Duration) -> bool {
    let stopped = async {
        while let Some(message) = events.next().await {
            let event: serde_json::Value = kiln_types::decode::json(
                "an event",
                &message.payload,
                kiln_types::limits::JSON_BODY,
            )
            .unwrap_or_default();
            if event["type"] == "com.wasmcloud.lattice.host_stopped" && event["source"] == host {
                return true;
            }
        }
        false
    };
    tokio::time::timeout(timeout, stopped)
        .await
        .unwrap_or(false)
}

/// Puts, deletes or lists link definitions.
async fn link(ctl: &Client, what: Link, format: Format) -> anyhow::Result<()> {
    match what {
        Link::Put {
            actor,
            provider,
            contract,
            link_name,
            values,
        } => {
            let values = pairs(&values)?.into_iter().collect();
            let body =
                kiln_types::link::LinkDefinition::new(actor, provider, link_name, contract, values);
            let ack = ctl.request(CtlSubject::LinkPut, &body).await?;
            check_ack(&ack)?;
            acknowledged(format, &ack);
        }
        Link::Del {
            actor,
            contract,
            link_name,
        } => {
            let body = body::DeleteLink {
                actor_id: actor,
                contract_id: contract,
                link_name,
            };
            let ack = ctl.request(CtlSubject::LinkDel, &body).await?;
            check_ack(&ack)?;
            acknowledged(format, &ack);
        }
        Link::List => {
            let links = ctl
                .request(CtlSubject::Links, &serde_json::json!({}))
                .await?;
            emit(format, &links, || {
                serde_json::to_string_pretty(&links["links"]).unwrap_or_default()
            });
        }
    }
    Ok(())
}

/// The claims the lattice knows.
async fn claims(ctl: &Client, format: Format) -> anyhow::Result<()> {
    let claims = ctl
        .request(CtlSubject::Claims, &serde_json::json!({}))
        .await?;
    emit(format, &claims, || {
        claims["claims"]
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|c| {
                        format!(
                            "{}  {}  rev {}  {}",
                            c["sub"].as_str().unwrap_or_default(),
                            c["name"].as_str().unwrap_or_default(),
                            c["rev"].as_str().unwrap_or_default(),
                            c["caps"]
                                .as_str()
                                .or(c["contract_id"].as_str())
                                .unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    });

    Ok(())
}

/// The hosts that bid in an actor or provider auction.
async fn auction(
    ctl: &Client,
    reference: String,
    provider: bool,
    link_name: String,
    constraints: &[String],
    format: Format,
) -> anyhow::Result<()> {
    let constraints = pairs(constraints)?;
    let bids = if provider {
        let body = body::ProviderAuction {
            provider_ref: reference,
            link_name,
            constraints,
            host_id: String::new(),
        };
        ctl.gather(CtlSubject::ProviderAuction, &body).await?
    } else {
        let body = body::ActorAuction {
            actor_ref: reference,
            constraints,
            host_id: String::new(),
        };
        ctl.gather(CtlSubject::ActorAuction, &body).await?
    };
    emit(format, &bids, || {
        bids.iter()
            .filter_map(|b| b["host_id"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    });

    Ok(())
}

fn pairs(values: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    values
        .iter()
        .map(|value| {
            value
                .split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("{value:?} is not KEY=VALUE"))
        })
        .collect()
}

/// The outcome of a start: the started key, or the ack with --skip-wait.
fn started(format: Format, waited: bool, result: &serde_json::Value) {
    emit(format, result, || {
        if waited {
            format!(
                "started {}",
                result["public_key"].as_str().unwrap_or_default()
            )
        } else {
            "accepted".into()
        }
    });
}

fn pretty(format: Format, value: &serde_json::Value) {
    emit(format, value, || {
        serde_json::to_string_pretty(value).unwrap_or_default()
    });
}

/// An accepted ack (the client checked it).
fn acknowledged(format: Format, ack: &serde_json::Value) {
    emit(format, ack, || "accepted".to_string());
}
