//! `kiln-control-plane`: parse flags, start logging and traces, run until a signal.

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};
use kiln_control_plane::config::{Args, Config, files};
use tokio_util::sync::CancellationToken;

/// Exit code for a bad configuration (EX_USAGE).
const EXIT_CONFIG: u8 = 64;
/// `service.name` of its spans unless `OTEL_SERVICE_NAME` says otherwise.
const SERVICE: &str = "kiln-control-plane";

#[tokio::main]
async fn main() -> ExitCode {
    kiln_control_plane::install_tls_provider();
    let config = match configure() {
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
        config.logs.env_filter(),
        config.logs.json,
    );
    for ignored in &config.logs.ignored {
        tracing::warn!("log setting ignored: {ignored}");
    }
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    if let Some(path) = files::effective_path(config.host_config.as_deref(), home.as_deref()) {
        match files::write_effective(&config, &path) {
            Ok(()) => tracing::info!(path = %path.display(), "effective configuration written"),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "could not write the effective configuration")
            }
        }
    }
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

/// The configuration from `.env` and `host_config.*` in the working directory, the
/// environment and the flags, each later one winning.
fn configure() -> Result<Config, Vec<String>> {
    let dir = std::env::current_dir().map_err(|e| vec![format!("working directory: {e}")])?;
    let from_files = files::read(&dir).map_err(|e| vec![e])?;
    let matches = files::as_defaults(Args::command(), &from_files).get_matches();
    let args = Args::from_arg_matches(&matches).map_err(|e| vec![e.to_string()])?;
    let env = from_files.into_iter().chain(std::env::vars());
    Config::from_args(args, env)
}
