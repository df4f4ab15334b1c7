//! The connection to a host's control API, and what its errors mean as exit codes.

use std::path::PathBuf;

use anyhow::Context as _;
use kiln_proto::control::v1::control_api_client::ControlApiClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status};

/// Where the control API is and how to be let in.
#[derive(clap::Args, Clone)]
pub struct Connection {
    /// Control API address: http://host:port, or https:// for TLS.
    #[arg(
        long = "api",
        env = "KILN_API",
        default_value = "http://127.0.0.1:4001",
        global = true
    )]
    pub address: String,
    /// API token (sent as `authorization: Bearer …`).
    #[arg(long, env = "KILN_API_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// PEM certificate of the CA to trust for an https:// API.
    #[arg(long = "api-ca", env = "KILN_API_CA", global = true)]
    pub ca: Option<PathBuf>,
}

/// Adds the token to every request.
#[derive(Clone)]
pub struct Bearer(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

pub type Client = ControlApiClient<InterceptedService<Channel, Bearer>>;

/// Connects to the control API.
pub async fn connect(connection: &Connection) -> anyhow::Result<Client> {
    let mut endpoint = Endpoint::from_shared(connection.address.clone())
        .with_context(|| format!("{:?} is not an API address", connection.address))?;
    if connection.address.starts_with("https://") {
        let mut tls = ClientTlsConfig::new();
        if let Some(ca) = &connection.ca {
            let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        endpoint = endpoint.tls_config(tls).context("configuring TLS")?;
    }
    let channel = endpoint.connect().await.map_err(|e| {
        // The transport error alone says little; its causes say what went wrong.
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            reason.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        Status::unavailable(format!(
            "cannot reach the control API at {}: {reason}",
            connection.address
        ))
    })?;
    let token = connection
        .token
        .as_deref()
        .map(|t| format!("Bearer {t}").parse())
        .transpose()
        .context("the token has characters a header cannot carry")?;
    Ok(ControlApiClient::with_interceptor(channel, Bearer(token)))
}

/// The exit code for a failed command (sysexits.h): 64 a bad request, 65 a request the
/// host cannot carry out in its state, 66 something that does not exist, 69 the host is
/// unreachable, 77 not allowed; 1 otherwise.
#[must_use]
pub fn exit_code(error: &anyhow::Error) -> u8 {
    let Some(status) = error.downcast_ref::<Status>() else {
        return 1;
    };
    match status.code() {
        Code::InvalidArgument => 64,
        Code::FailedPrecondition | Code::AlreadyExists | Code::Aborted => 65,
        Code::NotFound => 66,
        Code::Unavailable | Code::DeadlineExceeded => 69,
        Code::PermissionDenied | Code::Unauthenticated => 77,
        _ => 1,
    }
}
