//! `kiln`: the command line for people, on the protocol crate (`kiln-wasmbus`), the
//! gRPC contracts and the wire types, not on the control plane: keys, claims and provider archives; the lattice
//! through a host's gRPC control API; the wasmbus control interface on NATS (`kiln ctl`).
#![allow(clippy::print_stdout, reason = "a CLI's output is its interface")]

mod api_client;
mod call;
mod claims;
mod ctl;
mod keys;
mod lattice;
mod output;
mod par;
mod push;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::Format;

/// Tools for a kiln (wasmbus) lattice.
#[derive(Parser)]
#[command(name = "kiln", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Text)]
    output: Format,
    #[command(flatten)]
    api: api_client::Connection,
}

#[derive(Subcommand)]
enum Command {
    /// Generate and inspect nkeys.
    #[command(subcommand)]
    Keys(keys::Command),
    /// Sign and inspect actor claims.
    #[command(subcommand)]
    Claims(claims::Command),
    /// Build and inspect provider archives.
    #[command(subcommand)]
    Par(par::Command),
    /// The hosts of the lattice.
    Hosts,
    /// What a host runs.
    Inventory {
        /// Host id; the host serving the API when absent.
        #[arg(long, default_value = "")]
        host: String,
    },
    /// Start an actor or a provider.
    #[command(subcommand)]
    Start(lattice::Start),
    /// Stop an actor, a provider or a host.
    #[command(subcommand)]
    Stop(lattice::Stop),
    /// Set the number of instances of an actor.
    Scale {
        /// Actor key (M…).
        actor: String,
        /// Instances wanted.
        count: u32,
        /// Where to start it from if it does not run there yet.
        #[arg(long, default_value = "")]
        reference: String,
        /// Host id; the host serving the API when absent.
        #[arg(long, default_value = "")]
        host: String,
    },
    /// Replace a running actor with a higher revision of the same key.
    Update {
        /// Actor key (M…).
        actor: String,
        /// Reference of the new revision.
        reference: String,
        /// Host id; the host serving the API when absent.
        #[arg(long, default_value = "")]
        host: String,
    },
    /// Put, delete or list link definitions.
    #[command(subcommand)]
    Link(lattice::Link),
    /// Print the lattice's events as they happen, one JSON document per line.
    Events {
        /// Only these types (`actor_started`, …; repeatable).
        #[arg(long = "type")]
        types: Vec<String>,
    },
    /// Push an actor module or a provider archive to an OCI registry, as wash does.
    Push(push::Args),
    /// Call an actor through the control API (or, with --nats, a signed invocation).
    Call(call::Args),
    /// Drive hosts through the wasmbus control interface on NATS, as wash does.
    Ctl(ctl::Args),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Registry pushes and an https:// API use rustls, with ring as its provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keys(command) => keys::run(command, cli.output),
        Command::Claims(claims::Command::List) => {
            lattice::run(lattice::Command::Claims, &cli.api, cli.output).await
        }
        Command::Claims(command) => claims::run(command, cli.output),
        Command::Par(command) => par::run(command, cli.output),
        Command::Hosts => lattice::run(lattice::Command::Hosts, &cli.api, cli.output).await,
        Command::Inventory { host } => {
            lattice::run(lattice::Command::Inventory { host }, &cli.api, cli.output).await
        }
        Command::Start(start) => {
            lattice::run(lattice::Command::Start(start), &cli.api, cli.output).await
        }
        Command::Stop(stop) => {
            lattice::run(lattice::Command::Stop(stop), &cli.api, cli.output).await
        }
        Command::Scale {
            actor,
            count,
            reference,
            host,
        } => {
            let command = lattice::Command::Scale {
                actor,
                count,
                reference,
                host,
            };
            lattice::run(command, &cli.api, cli.output).await
        }
        Command::Update {
            actor,
            reference,
            host,
        } => {
            let command = lattice::Command::Update {
                actor,
                reference,
                host,
            };
            lattice::run(command, &cli.api, cli.output).await
        }
        Command::Link(link) => {
            lattice::run(lattice::Command::Link(link), &cli.api, cli.output).await
        }
        Command::Events { types } => {
            lattice::run(lattice::Command::Events { types }, &cli.api, cli.output).await
        }
        Command::Call(args) => call::run(args, &cli.api, cli.output).await,
        Command::Push(args) => push::run(args, cli.output).await,
        Command::Ctl(args) => ctl::run(args, cli.output).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            match error.downcast_ref::<tonic::Status>() {
                Some(status) => eprintln!("error: {}", status.message()),
                None => eprintln!("error: {error:#}"),
            }
            ExitCode::from(api_client::exit_code(&error))
        }
    }
}
