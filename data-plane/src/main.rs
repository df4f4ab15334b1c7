//! `kiln-data-plane`: parse flags, start logging and traces, run until a signal.

use std::process::ExitCode;

use clap::Parser as _;
use kiln_data_plane::config::{Args, Config};
use tokio_util::sync::CancellationToken;

/// Exit code for a bad configuration (EX_USAGE).
const EXIT_CONFIG: u8 = 64;
/// `service.name` of its spans unless `OTEL_SERVICE_NAME` says otherwise.
const SERVICE: &str = "kiln-data-plane";

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let probe = args.probe;
    let config = match Config::try_from(args) {
        Ok(config) => config,
        Err(problems) => {
            eprintln!(
                "kiln-data-plane: bad configuration: {}",
                problems.join("; ")
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if probe {
        return match kiln_data_plane::probe::probe(&config.listen).await {
            Ok((actors, providers)) => {
                eprintln!(
                    "kiln-data-plane: {} answers ({actors} actors, {providers} providers)",
                    config.listen
                );
                ExitCode::SUCCESS
            }
            Err(reason) => {
                eprintln!("kiln-data-plane: {}: {reason}", config.listen);
                ExitCode::FAILURE
            }
        };
    }
    let logs = kiln_telemetry::Logs::from_vars(std::env::vars());
    let telemetry = kiln_telemetry::init(
        &kiln_telemetry::Config::from_vars(SERVICE, std::env::vars()),
        logs.env_filter(),
        logs.json,
    );
    for ignored in &logs.ignored {
        tracing::warn!("log setting ignored: {ignored}");
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let code = match kiln_data_plane::run(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("data plane failed: {error:#}");
            ExitCode::FAILURE
        }
    };
    // After the drain: the spans of the last calls go out before the process does.
    telemetry.shutdown().await;
    code
}

/// SIGTERM or SIGINT starts the drain.
async fn cancel_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("could not install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("signal received, draining");
    shutdown.cancel();
}
