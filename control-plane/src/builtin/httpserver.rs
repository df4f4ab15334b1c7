//! kiln's built-in HTTP server: the `wasmcloud:httpserver` contract served inside the
//! control plane, the process that faces the network (the data plane has none).
//!
//! It is started as a provider from [`REFERENCE`] and linked with the same values as
//! any HTTP server provider (`ADDRESS`, `PORT`; defaults from the configuration
//! string). A request for an actor of this host goes straight to the data plane: no
//! NATS hop, nothing signed or verified, since the control plane is the trust boundary
//! and the server part of it; the actor's capability claim and the policy service are
//! checked as for any call (`gateway::local`). A request for an actor on another host
//! goes over the lattice as a signed invocation, as an external provider's would.

use std::sync::{Arc, Weak};

use axum::http::StatusCode;
use kiln_types::interfaces::httpserver::HANDLE_REQUEST;
use kiln_types::invocation::Entity;
use kiln_types::link::LinkDefinition;
use kiln_types::par::{Provider, ProviderClaims};
use kiln_wasmbus::httpserver::{self, CONTRACT, Failure, Forward, Listeners};
use kiln_wasmbus::rpc::CallError;
use kiln_wasmbus::subjects;

use crate::dataplane::link::InvokeFailure;
use crate::gateway::inbound::Refusal;
use crate::host::{Host, Shared};
use crate::state::providers::Builtin;

/// The reference it is started from, wherever a provider reference is taken.
pub const REFERENCE: &str = "kiln+builtin://httpserver";
/// Its public key, the same on every kiln host, so one link serves it wherever it
/// runs. Made from a seed that was thrown away: no one can sign as it.
pub const KEY: &str = "VDRMODRKQRU77PBZVLJOFR6J3BTJFZUBQOURK2Y6Q7YYBJR2IPC7RS7W";
/// Its name in inventories and on the dashboard.
pub const NAME: &str = "kiln built-in HTTP server";

/// The built-in server of one link name.
pub struct HttpServer {
    listeners: Listeners<Gateway>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("addresses", &self.listeners.addresses())
            .finish()
    }
}

impl HttpServer {
    /// A server on `link_name` with the configuration string `configuration`,
    /// listening on the address it names, if any.
    ///
    /// # Errors
    /// When the configuration is no JSON object, or its address cannot be listened on.
    pub fn start(
        host: &Shared,
        link_name: &str,
        configuration: Option<&str>,
    ) -> Result<HttpServer, String> {
        let defaults = httpserver::defaults(configuration)?;
        let gateway = Gateway {
            host: Arc::downgrade(host),
            origin: Entity::provider(KEY, CONTRACT, link_name),
        };
        let listeners = Listeners::new(gateway, defaults, host.shutdown.child_token());
        if let Some(address) = listeners.open_standing()? {
            tracing::info!(%address, link = link_name, "built-in HTTP server listening");
        }
        Ok(HttpServer { listeners })
    }
}

impl Builtin for HttpServer {
    fn put_link(&self, link: &LinkDefinition) -> Result<(), String> {
        self.listeners
            .put_link(&link.actor_id, &link.values)
            .map(drop)
    }

    fn delete_link(&self, link: &LinkDefinition) {
        self.listeners.delete_link(&link.actor_id);
    }

    fn healthy(&self) -> bool {
        self.listeners.serving()
    }

    fn stop(&self) {
        self.listeners.close();
    }
}

/// The claims it shows as a provider: issued by the host that runs it.
#[must_use]
pub fn claims(host_id: &str) -> ProviderClaims {
    ProviderClaims {
        expires: None,
        id: String::new(),
        issued_at: kiln_types::unix_now(),
        issuer: host_id.to_string(),
        subject: KEY.to_string(),
        not_before: None,
        metadata: Some(Provider {
            name: Some(NAME.to_string()),
            capid: CONTRACT.to_string(),
            vendor: "kiln".to_string(),
            rev: None,
            ver: Some(env!("CARGO_PKG_VERSION").to_string()),
            target_hashes: std::collections::HashMap::new(),
            config_schema: None,
        }),
        wascap_revision: None,
    }
}

/// Reaches actors from the server: this host's directly, others over the lattice.
struct Gateway {
    /// Weak: the host holds the server.
    host: Weak<Host>,
    origin: Entity,
}

impl Forward for Gateway {
    async fn handle(&self, actor: &str, request: Vec<u8>) -> Result<Vec<u8>, Failure> {
        let Some(host) = self.host.upgrade() else {
            return Err(failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "the host is stopping",
            ));
        };
        if let Some(entry) = host.actors.get(actor) {
            crate::gateway::local::call(&host, &self.origin, &entry, HANDLE_REQUEST, request)
                .await
                .map_err(|refusal| failure(refusal_status(&refusal), &refusal.to_string()))
        } else {
            host.caller
                .call(
                    self.origin.clone(),
                    Entity::actor(actor),
                    subjects::actor_rpc(&host.config.lattice, actor),
                    &format!("actor {actor}"),
                    HANDLE_REQUEST.to_string(),
                    request,
                )
                .await
                .map_err(|error| {
                    let status = match error {
                        CallError::NoResponders(_) => StatusCode::SERVICE_UNAVAILABLE,
                        CallError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                        _ => StatusCode::INTERNAL_SERVER_ERROR,
                    };
                    failure(status, &error.to_string())
                })
        }
    }

    fn unlinked(&self) -> String {
        format!(
            "no actor is linked to this address: link one to provider {KEY} with contract \
             {CONTRACT} and link name {}",
            self.origin.link_name
        )
    }
}

fn failure(status: StatusCode, reason: &str) -> Failure {
    Failure {
        status,
        reason: reason.to_string(),
    }
}

/// The status a refusal is answered with.
fn refusal_status(refusal: &Refusal) -> StatusCode {
    use kiln_proto::dataplane::v1::invoke_error::Kind;
    match refusal {
        Refusal::MissingCapability { .. } | Refusal::Denied(_) => StatusCode::FORBIDDEN,
        Refusal::NotRunning(_) | Refusal::Failed(InvokeFailure::Unavailable(_)) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Refusal::Failed(InvokeFailure::Actor {
            kind: Kind::Deadline,
            ..
        }) => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn its_key_is_a_provider_key() {
        assert_eq!(
            kiln_types::keys::KeyKind::of_public_key(KEY),
            Some(kiln_types::keys::KeyKind::Service)
        );
        assert!(nkeys::KeyPair::from_public_key(KEY).is_ok());
        let claims = claims("NHOST");
        assert_eq!(claims.subject, KEY);
        assert_eq!(claims.metadata.unwrap().capid, CONTRACT);
    }
}
