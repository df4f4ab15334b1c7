//! `kiln-control-plane`: parse flags, start logging and traces, run until a signal.

use std::process::ExitCode;

use clap::Parser as _;
use kiln_control_plane::config::{Args, Config};
use tokio_util::sync::CancellationToken;

/// Exit code for a bad configuration (EX_USAGE).
const EXIT_CONFIG: u8 = 64;
/// `service.name` of its spans unless `OTEL_SERVICE_NAME` says otherwise.
const SERVICE: &str = "kiln-control-plane";

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
    let telemetry = kiln_telemetry::init(
        &kiln_telemetry::Config::from_vars(SERVICE, std::env::vars()),
        tracing_subscriber::EnvFilter::try_from_env("KILN_LOG").unwrap_or_else(|_| "info".into()),
    );
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
    let code = match kiln_control_plane::run(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("control plane failed: {error:#}");
            ExitCode::FAILURE
        }
    };
    // After the drain: the spans of the last calls go out before the process does.
    telemetry.shutdown().await;
    code
}
