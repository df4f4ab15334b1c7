//! `kiln-control-plane`: parse flags, start logging, run until a signal.

use std::process::ExitCode;

use clap::Parser as _;
use kiln_control_plane::config::{Args, Config};
use tokio_util::sync::CancellationToken;

/// Exit code for a bad configuration (EX_USAGE).
const EXIT_CONFIG: u8 = 64;

#[tokio::main]
async fn main() -> ExitCode {
    kiln_control_plane::install_tls_provider();
    let config = match Config::from_args(Args::parse(), std::env::vars()) {
        Ok(config) => config,
        Err(problems) => {
            eprintln!(
                "kiln-control-plane: bad configuration: {}",
                problems.join("; ")
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KILN_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let shutdown = CancellationToken::new();
    let signals = shutdown.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                signals.cancel();
            }
            _ => tracing::error!("could not install signal handlers"),
        }
    });
    match kiln_control_plane::run(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("control plane failed: {error:#}");
            ExitCode::FAILURE
        }
    }
}
