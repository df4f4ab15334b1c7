//! The public gRPC control API (`kiln.control.v1.ControlApi`), with gRPC server
//! reflection (v1 and v1alpha) and the standard health service, so `grpcurl` works without the proto
//! files. When a token is configured every ControlApi call must carry
//! `authorization: Bearer <token>`; TLS when a certificate is given.

mod convert;
mod service;
pub mod status;

use std::time::Duration;

use anyhow::Context as _;
use kiln_proto::control::v1::control_api_server::ControlApiServer;
use subtle::ConstantTimeEq as _;
use tonic::{Request, Status};
use tracing::Instrument as _;

use crate::control::remote::Remote;
use crate::host::Shared;

/// Checks the bearer token of each call, when one is configured.
#[derive(Clone)]
struct Token(Option<String>);

impl tonic::service::Interceptor for Token {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.0 else {
            return Ok(request);
        };
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match given {
            Some(token) if bool::from(token.as_bytes().ct_eq(expected.as_bytes())) => Ok(request),
            Some(_) => Err(Status::unauthenticated("the API token is wrong")),
            None => Err(Status::unauthenticated(
                "this API needs a token: send `authorization: Bearer <token>`",
            )),
        }
    }
}

/// Serves the API on `listener` until shutdown.
///
/// # Errors
/// A certificate that cannot be read, or a server that fails.
pub async fn serve(listener: tokio::net::TcpListener, host: Shared) -> anyhow::Result<()> {
    let config = &host.config.api;
    let api = ControlApiServer::with_interceptor(
        service::Api::new(host.clone(), Remote::new(host.clone())),
        Token(config.token.clone()),
    );
    // Reflection in both versions: v1, and v1alpha for the clients that speak only it
    // (grpcio-reflection, Postman, grpcurl before 1.8.8).
    let reflection_v1 = reflection()
        .build_v1()
        .context("building the reflection service")?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .context("building the v1alpha reflection service")?;
    let (health, health_service) = tonic_health::server::health_reporter();
    host.tasks
        .spawn(report_health(host.clone(), health).instrument(tracing::info_span!("health")));
    let mut server = tonic::transport::Server::builder();
    if let Some((cert, key)) = &config.tls {
        let cert = std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
        let key = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
        server = server
            .tls_config(
                tonic::transport::ServerTlsConfig::new()
                    .identity(tonic::transport::Identity::from_pem(cert, key)),
            )
            .context("configuring TLS")?;
    }
    // The health service keeps answering (not serving) while the host drains.
    let shutdown = host.drained.clone();
    server
        .add_service(api)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(health_service)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown.cancelled_owned(),
        )
        .await
        .context("serving the control API")
}

/// A reflection builder knowing the API's and the health service's descriptors.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(kiln_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

/// How often readiness is looked at for the health service.
const HEALTH_EVERY: Duration = Duration::from_millis(50);

/// Keeps the health service in line with the host's readiness (see
/// [`crate::state::readiness`]), for the API's service and for the server as a whole (the
/// empty service name), until shutdown; at shutdown both say not serving.
async fn report_health(host: Shared, health: tonic_health::server::HealthReporter) {
    use tonic_health::ServingStatus;
    let mut last = None;
    loop {
        let status = if host.readiness_report().ready {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        if last != Some(status) {
            tracing::info!(?status, "health");
            health
                .set_service_status(
                    <ControlApiServer<service::Api> as tonic::server::NamedService>::NAME,
                    status,
                )
                .await;
            health.set_service_status("", status).await;
            last = Some(status);
        }
        tokio::select! {
            () = host.shutdown.cancelled() => {
                health.set_service_status("", ServingStatus::NotServing).await;
                return;
            }
            () = tokio::time::sleep(HEALTH_EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::service::Interceptor as _;

    fn with(header: Option<&str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(value) = header {
            request
                .metadata_mut()
                .insert("authorization", value.parse().unwrap());
        }
        request
    }

    #[test]
    fn a_configured_token_is_required_and_checked() {
        let mut open = Token(None);
        assert!(open.call(with(None)).is_ok());
        let mut guarded = Token(Some("s3cret".into()));
        assert!(guarded.call(with(Some("Bearer s3cret"))).is_ok());
        let wrong = guarded.call(with(Some("Bearer nope"))).unwrap_err();
        assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
        let missing = guarded.call(with(None)).unwrap_err();
        assert!(missing.message().contains("Bearer"));
        let near = guarded.call(with(Some("Bearer s3cre"))).unwrap_err();
        assert_eq!(near.code(), tonic::Code::Unauthenticated);
    }
}
