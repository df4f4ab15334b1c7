//! `kiln-httpserver`: the `wasmcloud:httpserver` contract as a provider process. Each
//! linked actor gets an HTTP listener on the address its link names (`address`, e.g.
//! `127.0.0.1:8080`, or just `port`); every request becomes an
//! `HttpServer.HandleRequest` call to that actor over the lattice. Failures answer 500
//! (503 when the actor does not answer in time) with the reason in the body, and are
//! logged. The provider's configuration string, when it is a JSON object
//! (`{"address": "0.0.0.0:8080"}`), gives the values a link does not set, and an address
//! there is listened on from the start. The serving itself is
//! [`kiln_wasmbus::httpserver`], shared with the host's built-in server.

use std::sync::Arc;

use axum::http::StatusCode;
use kiln_types::interfaces::httpserver::HANDLE_REQUEST;
use kiln_types::link::LinkDefinition;
use kiln_wasmbus::httpserver::{self, CONTRACT, Failure, Forward, Listeners};
use kiln_wasmbus::provider::{self, Capability, Provider};
use kiln_wasmbus::rpc::CallError;

/// `service.name` of its spans unless `OTEL_SERVICE_NAME` says otherwise.
const SERVICE: &str = "kiln-httpserver";

struct HttpServer {
    listeners: Listeners<Lattice>,
}

/// Reaches actors over the lattice, as the provider's host data allows.
struct Lattice {
    provider: Arc<Provider>,
}

impl Forward for Lattice {
    async fn handle(&self, actor: &str, request: Vec<u8>) -> Result<Vec<u8>, Failure> {
        self.provider
            .call_actor(actor, HANDLE_REQUEST, request)
            .await
            .map_err(|error| Failure {
                status: match error {
                    CallError::Timeout(_) | CallError::NoResponders(_) => {
                        StatusCode::SERVICE_UNAVAILABLE
                    }
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                },
                reason: error.to_string(),
            })
    }

    fn unlinked(&self) -> String {
        format!(
            "no actor is linked to this address: link one to provider {} with contract {CONTRACT} and link name {}",
            self.provider.host_data.provider_key, self.provider.host_data.link_name
        )
    }
}

impl Capability for HttpServer {
    async fn put_link(&self, link: &LinkDefinition) -> Result<(), String> {
        self.listeners
            .put_link(&link.actor_id, &link.values)
            .map(drop)
    }

    async fn delete_link(&self, link: &LinkDefinition) {
        self.listeners.delete_link(&link.actor_id);
    }

    async fn call(
        &self,
        _link: &LinkDefinition,
        operation: &str,
        _payload: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        Err(format!(
            "the httpserver contract has no operation {operation} for actors to call"
        ))
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let telemetry = kiln_telemetry::Config::from_vars(SERVICE, std::env::vars());
    let run = provider::run(CONTRACT, &telemetry, |provider| {
        let defaults = httpserver::defaults(provider.host_data.config_json.as_deref())
            .unwrap_or_else(|problem| {
                tracing::warn!(%problem, "ignoring the configuration string");
                std::collections::HashMap::new()
            });
        let shutdown = provider.shutdown.child_token();
        let listeners = Listeners::new(Lattice { provider }, defaults, shutdown);
        match listeners.open_standing() {
            Ok(Some(address)) => {
                tracing::info!(%address, "listening on the configuration's address")
            }
            Ok(None) => {}
            Err(problem) => {
                tracing::error!(%problem, "not listening on the configuration's address")
            }
        }
        HttpServer { listeners }
    });
    match run.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kiln-httpserver: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
