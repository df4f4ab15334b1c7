//! `kiln-httpserver`: the `wasmcloud:httpserver` contract. Each linked actor gets an HTTP
//! listener on the address its link names (`address`, e.g. `127.0.0.1:8080`, or just
//! `port`); every request becomes an `HttpServer.HandleRequest` call to that actor.
//! Failures answer 500 (503 when the actor does not answer in time) with the reason in
//! the body, and are logged. The provider's configuration string, when it is a JSON
//! object (`{"address": "0.0.0.0:8080"}`), gives the values a link does not set.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kiln_types::interfaces::httpserver::{HANDLE_REQUEST, HttpRequest, HttpResponse};
use kiln_types::interfaces::{decode, encode};
use kiln_types::link::LinkDefinition;
use kiln_wasmbus::provider::{self, Capability, Provider};
use kiln_wasmbus::rpc::CallError;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

const CONTRACT: &str = "wasmcloud:httpserver";
/// `service.name` of its spans unless `OTEL_SERVICE_NAME` says otherwise.
const SERVICE: &str = "kiln-httpserver";
const DEFAULT_ADDRESS: &str = "127.0.0.1:8000";
/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 32 << 20;

struct HttpServer {
    provider: Arc<Provider>,
    listeners: Mutex<HashMap<String, CancellationToken>>,
    /// Link values from the configuration string, for links that do not set them.
    defaults: HashMap<String, String>,
}

/// Default link values from the configuration string: a JSON object's string, number
/// and boolean members. Anything else is not configuration for this provider.
fn defaults(configuration: Option<&str>) -> Result<HashMap<String, String>, String> {
    let Some(text) = configuration.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(HashMap::new());
    };
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
        .map_err(|e| format!("the configuration is not a JSON object: {e}"))?;
    Ok(object
        .into_iter()
        .filter_map(|(key, value)| match value {
            serde_json::Value::String(text) => Some((key, text)),
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {
                Some((key, value.to_string()))
            }
            _ => None,
        })
        .collect())
}

/// A link's values with the defaults it does not set (names compared without case).
fn with_defaults(
    values: &HashMap<String, String>,
    defaults: &HashMap<String, String>,
) -> HashMap<String, String> {
    let mut merged = values.clone();
    for (key, value) in defaults {
        if !values.keys().any(|k| k.eq_ignore_ascii_case(key)) {
            merged.insert(key.clone(), value.clone());
        }
    }
    merged
}

/// The address a link asks for: `address` (`host:port` or `:port`), else `port`.
fn address(values: &HashMap<String, String>) -> Result<SocketAddr, String> {
    let get = |name: &str| {
        values
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    let text = match (get("address"), get("port")) {
        (Some(address), _) if address.starts_with(':') => format!("0.0.0.0{address}"),
        (Some(address), _) => address.to_string(),
        (None, Some(port)) => format!("0.0.0.0:{port}"),
        (None, None) => DEFAULT_ADDRESS.to_string(),
    };
    text.parse()
        .map_err(|_| format!("{text:?} is not a host:port address"))
}

impl Capability for HttpServer {
    async fn put_link(&self, link: &LinkDefinition) -> Result<(), String> {
        let addr = address(&with_defaults(&link.values, &self.defaults))?;
        // A changed link replaces the listener.
        if let Some(old) = self.lock().remove(&link.actor_id) {
            old.cancel();
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("could not listen on {addr}: {e}"))?;
        let stop = self.provider.shutdown.child_token();
        self.lock().insert(link.actor_id.clone(), stop.clone());
        let route = Route {
            provider: self.provider.clone(),
            actor: link.actor_id.clone(),
        };
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(Arc::new(route));
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
            {
                tracing::error!(%addr, %error, "listener failed");
            }
        });
        tracing::info!(actor = %link.actor_id, %addr, "listening");
        Ok(())
    }

    async fn delete_link(&self, link: &LinkDefinition) {
        if let Some(stop) = self.lock().remove(&link.actor_id) {
            stop.cancel();
        }
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

impl HttpServer {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.listeners
            .lock()
            .expect("invariant: listeners lock is never poisoned")
    }
}

struct Route {
    provider: Arc<Provider>,
    actor: String,
}

/// Serves one request in an `http.server` span, the root of the request's trace
/// unless the client sent a `traceparent`.
async fn forward(State(route): State<Arc<Route>>, request: Request) -> Response {
    let method = request.method().as_str();
    // Named after the method alone: the path is in `url.path`, and a span name must
    // not grow with every distinct path (there is no route template here).
    let span = tracing::debug_span!(
        "http_request",
        otel.name = method,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = method,
        url.path = request.uri().path(),
        url.scheme = "http",
        http.response.status_code = tracing::field::Empty,
        wasmcloud.actor.key = %route.actor,
    );
    kiln_telemetry::grpc::from_headers(request.headers()).set_as_parent_of(&span);
    let response = call_actor(&route, request).instrument(span.clone()).await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
    response
}

async fn call_actor(route: &Route, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body.to_vec(),
        Err(error) => {
            return failure(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("could not read the request body: {error}"),
            );
        }
    };
    let mut header: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in &parts.headers {
        header
            .entry(name.as_str().to_string())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let request = HttpRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query_string: parts.uri.query().unwrap_or_default().to_string(),
        header,
        body,
    };
    match route
        .provider
        .call_actor(&route.actor, HANDLE_REQUEST, encode(&request))
        .await
    {
        Ok(bytes) => match decode::<HttpResponse>(&bytes) {
            Ok(response) => into_response(response),
            Err(error) => failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the actor's answer is not an HttpResponse: {error}"),
            ),
        },
        Err(error @ (CallError::Timeout(_) | CallError::NoResponders(_))) => {
            failure(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
        }
        Err(error) => failure(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}

fn failure(status: StatusCode, reason: String) -> Response {
    tracing::error!(status = status.as_u16(), %reason, "request failed");
    (status, reason).into_response()
}

fn into_response(response: HttpResponse) -> Response {
    let status =
        StatusCode::from_u16(response.status_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = Response::new(Body::from(response.body));
    *out.status_mut() = status;
    for (name, values) in response.header {
        let Ok(name) = HeaderName::try_from(name.as_str()) else {
            continue;
        };
        for value in values {
            if let Ok(value) = HeaderValue::try_from(value.as_str()) {
                out.headers_mut().append(name.clone(), value);
            }
        }
    }
    out
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let telemetry = kiln_telemetry::Config::from_vars(SERVICE, std::env::vars());
    let run = provider::run(CONTRACT, &telemetry, |provider| {
        let defaults =
            defaults(provider.host_data.config_json.as_deref()).unwrap_or_else(|problem| {
                tracing::warn!(%problem, "ignoring the configuration string");
                HashMap::new()
            });
        HttpServer {
            provider,
            listeners: Mutex::new(HashMap::new()),
            defaults,
        }
    });
    match run.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kiln-httpserver: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn addresses_come_from_address_or_port() {
        assert_eq!(
            address(&values(&[("ADDRESS", "127.0.0.1:8081")]))
                .unwrap()
                .port(),
            8081
        );
        assert_eq!(
            address(&values(&[("address", ":9000")]))
                .unwrap()
                .to_string(),
            "0.0.0.0:9000"
        );
        assert_eq!(
            address(&values(&[("port", "8082")])).unwrap().to_string(),
            "0.0.0.0:8082"
        );
        assert_eq!(address(&values(&[])).unwrap().to_string(), DEFAULT_ADDRESS);
        assert!(address(&values(&[("port", "eighty")])).is_err());
    }

    #[test]
    fn the_configuration_gives_the_values_a_link_does_not_set() {
        let config = defaults(Some(
            r#"{"address": "127.0.0.1:9001", "port": 9002, "tls": false, "nested": {}}"#,
        ))
        .unwrap();
        assert_eq!(config.len(), 3);
        assert_eq!(config["port"], "9002");
        assert_eq!(
            address(&with_defaults(&values(&[]), &config))
                .unwrap()
                .to_string(),
            "127.0.0.1:9001"
        );
        // The link's own value wins, whatever its case.
        assert_eq!(
            address(&with_defaults(
                &values(&[("ADDRESS", "127.0.0.1:9003")]),
                &config
            ))
            .unwrap()
            .to_string(),
            "127.0.0.1:9003"
        );
        assert!(defaults(None).unwrap().is_empty());
        assert!(defaults(Some("  ")).unwrap().is_empty());
        assert!(defaults(Some("{}")).unwrap().is_empty());
        assert!(
            defaults(Some("address=1"))
                .unwrap_err()
                .contains("not a JSON object")
        );
        assert!(defaults(Some("[1]")).is_err());
    }
}
