//! `kiln`: the command line for people: keys, actor claims, and calls on the lattice.
#![allow(clippy::print_stdout, reason = "a CLI's output is its interface")]

mod call;
mod claims;
mod ctl;
mod keys;
mod output;
mod par;

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
    /// Drive hosts through the wasmbus control interface.
    Ctl(ctl::Args),
    /// Call an actor on the lattice with a signed invocation.
    Call(call::Args),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keys(command) => keys::run(command, cli.output),
        Command::Claims(command) => claims::run(command, cli.output),
        Command::Par(command) => par::run(command, cli.output),
        Command::Call(args) => call::run(args, cli.output).await,
        Command::Ctl(args) => ctl::run(args, cli.output).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
