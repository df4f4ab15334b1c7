//! Installs the process-wide `tracing` subscriber: the fmt layer on stderr, and the
//! OpenTelemetry layer with its OTLP/gRPC batch exporter when traces are on.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{Config, Protocol};

/// How long the last export may take when the process exits.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Keeps traces flowing; exports what is buffered and stops the exporter on
/// [`Guard::shutdown`] or, failing that, when dropped.
#[must_use = "dropping the guard stops exporting traces"]
#[derive(Debug)]
pub struct Guard {
    provider: Option<SdkTracerProvider>,
}

impl Guard {
    /// Exports the spans still buffered and stops the exporter. Call it inside the
    /// runtime when the process is done (after the drain), before it exits.
    pub async fn shutdown(mut self) {
        let Some(provider) = self.provider.take() else {
            return;
        };
        // The SDK blocks until its export thread is done, and that export needs the
        // runtime's I/O: keep it off the async workers.
        match tokio::task::spawn_blocking(move || shutdown(&provider)).await {
            Ok(()) => {}
            Err(error) => tracing::warn!(%error, "could not flush traces"),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            shutdown(&provider);
        }
    }
}

fn shutdown(provider: &SdkTracerProvider) {
    if let Err(error) = provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT) {
        tracing::warn!(%error, "could not flush traces");
    }
}

/// Installs logging (`log_filter` decides which events reach stderr, as text or, with
/// `json`, one JSON object per line) and, when
/// `config` has an endpoint, span export. Must run inside a Tokio runtime (the gRPC
/// exporter lives on it). A second call in one process leaves the first subscriber.
pub fn init(config: &Config, log_filter: EnvFilter, json: bool) -> Guard {
    let fmt = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(log_filter)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(log_filter)
            .boxed()
    };
    let mut problems = Vec::new();
    let provider =
        config
            .endpoint
            .as_deref()
            .and_then(|endpoint| match tracer_provider(config, endpoint) {
                Ok(provider) => Some(provider),
                Err(error) => {
                    problems.push(format!(
                        "traces are off: no OTLP exporter for {endpoint}: {error}"
                    ));
                    None
                }
            });
    // Its own filter, apart from the log level: with traces on, the request spans
    // (debug level) are exported even when the log shows info only.
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("kiln"))
            // Code location stays (code.*); thread ids, busy/idle clocks and the target
            // say little about async request spans and cost on every poll.
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_target(false)
            .with_filter(filter_fn(exported))
    });
    if let Err(error) = tracing_subscriber::registry()
        .with(otel)
        .with(fmt)
        .try_init()
    {
        eprintln!("telemetry: a subscriber is already installed: {error}");
    }
    for ignored in &config.ignored {
        tracing::warn!("telemetry setting ignored: {ignored}");
    }
    for problem in problems {
        tracing::error!("{problem}");
    }
    if let (Some(endpoint), Some(_)) = (&config.endpoint, &provider) {
        tracing::info!(%endpoint, protocol = ?config.protocol, service = %config.service_name, "exporting traces");
    }
    Guard { provider }
}

fn tracer_provider(
    config: &Config,
    endpoint: &str,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let exporter = match config.protocol {
        Protocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()?,
        Protocol::HttpProtobuf => {
            // The HTTP client is built with rustls; a process that has not chosen its
            // TLS provider gets ring, as the control plane does.
            let _ = rustls::crypto::ring::default_provider().install_default();
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(endpoint)
                .build()?
        }
    };
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_resource(resource)
        // The batch processor's own thread; OTEL_BSP_* tune it.
        .with_batch_exporter(exporter)
        .build())
}

/// What the OpenTelemetry layer sees: spans that declare an `otel.kind` (the request
/// spans at process boundaries and the calls inside them), not the long-lived task
/// spans; and events from info up, which become events of the span they happen in.
fn exported(metadata: &Metadata<'_>) -> bool {
    if metadata.is_span() {
        metadata.fields().field("otel.kind").is_some()
    } else {
        *metadata.level() <= Level::INFO
    }
}
