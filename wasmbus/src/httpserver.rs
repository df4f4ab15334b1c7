//! The `wasmcloud:httpserver` contract served over HTTP, for kiln's httpserver provider
//! and the control plane's built-in server alike: the address a link asks for, one
//! listener per address, each request as an `HttpServer.HandleRequest` call to the
//! actor linked there and its answer as the response.
//!
//! A link listens on its `address` (`host:port` or `:port`) or `port`; the values a
//! link does not set come from the configuration string, a JSON object
//! (`{"address": "0.0.0.0:8080"}`). When the configuration names an address, it listens
//! from the start, and answers 503 with the reason until an actor is linked there.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kiln_types::interfaces::httpserver::{HttpRequest, HttpResponse};
use kiln_types::interfaces::{decode, encode};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

/// The contract.
pub const CONTRACT: &str = "wasmcloud:httpserver";
/// Where a link listens when neither it nor the configuration names an address.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:8000";
/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 32 << 20;

/// Why a call to the actor gave no response: the status to answer and the reason, which
/// is the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Status answered.
    pub status: StatusCode,
    /// What went wrong.
    pub reason: String,
}

/// How a server reaches the actor linked to an address.
pub trait Forward: Send + Sync + 'static {
    /// Calls `HttpServer.HandleRequest` on `actor` with the encoded request; returns
    /// the encoded response.
    fn handle(
        &self,
        actor: &str,
        request: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, Failure>> + Send;

    /// What a request to an address no actor is linked to is told.
    fn unlinked(&self) -> String;
}

/// Default link values from the configuration string: a JSON object's string, number
/// and boolean members. Anything else is not configuration for an HTTP server.
///
/// # Errors
/// When the string is neither empty nor a JSON object.
pub fn defaults(configuration: Option<&str>) -> Result<HashMap<String, String>, String> {
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

/// The value of `name` in `values`, compared without case.
fn value<'a>(values: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    values
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// The address `values` ask for, if they name one: `address` (`host:port` or `:port`),
/// else `port`.
///
/// # Errors
/// When what they name is no `host:port` address.
fn named_address(values: &HashMap<String, String>) -> Result<Option<SocketAddr>, String> {
    let text = match (value(values, "address"), value(values, "port")) {
        (Some(address), _) if address.starts_with(':') => format!("0.0.0.0{address}"),
        (Some(address), _) => address.to_string(),
        (None, Some(port)) => format!("0.0.0.0:{port}"),
        (None, None) => return Ok(None),
    };
    text.parse()
        .map(Some)
        .map_err(|_| format!("{text:?} is not a host:port address"))
}

/// The address a link with `values` listens on: its own, else the configuration's,
/// else [`DEFAULT_ADDRESS`].
///
/// # Errors
/// When the address named is no `host:port` address.
pub fn link_address(
    values: &HashMap<String, String>,
    defaults: &HashMap<String, String>,
) -> Result<SocketAddr, String> {
    match named_address(values)? {
        Some(address) => Ok(address),
        None => Ok(named_address(defaults)?.unwrap_or_else(|| {
            DEFAULT_ADDRESS
                .parse()
                .expect("invariant: the default address parses")
        })),
    }
}

/// One listening address and the actor linked there.
struct Listener {
    actor: Arc<RwLock<Option<Arc<str>>>>,
    stop: CancellationToken,
    /// The configuration's address: it listens while the server runs, linked or not.
    standing: bool,
}

/// The listeners of one HTTP server, by address.
pub struct Listeners<F> {
    forward: Arc<F>,
    defaults: HashMap<String, String>,
    shutdown: CancellationToken,
    by_address: Mutex<HashMap<SocketAddr, Listener>>,
    /// Set when a listener fails while it serves.
    failed: Arc<AtomicBool>,
}

impl<F: Forward> Listeners<F> {
    /// Listeners that reach actors through `forward`, with the link values of the
    /// configuration string, all closed when `shutdown` is cancelled.
    #[must_use]
    pub fn new(
        forward: F,
        defaults: HashMap<String, String>,
        shutdown: CancellationToken,
    ) -> Listeners<F> {
        Listeners {
            forward: Arc::new(forward),
            defaults,
            shutdown,
            by_address: Mutex::new(HashMap::new()),
            failed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Listens on the configuration's address, if it names one.
    ///
    /// # Errors
    /// When it is no address or cannot be listened on.
    pub fn open_standing(&self) -> Result<Option<SocketAddr>, String> {
        let Some(address) = named_address(&self.defaults)? else {
            return Ok(None);
        };
        let listener = self.bind(address, None, true)?;
        self.lock().insert(address, listener);
        Ok(Some(address))
    }

    /// Serves `actor` on the address its link values ask for: a link changed to
    /// another address moves there.
    ///
    /// # Errors
    /// When the address is malformed, serves another actor, or cannot be listened on.
    pub fn put_link(
        &self,
        actor: &str,
        values: &HashMap<String, String>,
    ) -> Result<SocketAddr, String> {
        let address = link_address(values, &self.defaults)?;
        {
            let listeners = self.lock();
            if let Some(listener) = listeners.get(&address) {
                let mut linked = write(&listener.actor);
                match linked.as_deref() {
                    Some(other) if other != actor => {
                        return Err(format!("{address} already serves actor {other}"));
                    }
                    _ => *linked = Some(Arc::from(actor)),
                }
            }
        }
        self.leave_others(actor, Some(address));
        if self.lock().contains_key(&address) {
            return Ok(address);
        }
        let listener = self.bind(address, Some(actor), false)?;
        self.lock().insert(address, listener);
        tracing::info!(%actor, %address, "listening");
        Ok(address)
    }

    /// Stops serving `actor`: its own listener closes, the standing one stays.
    pub fn delete_link(&self, actor: &str) {
        self.leave_others(actor, None);
    }

    /// The addresses listened on, each with the actor linked there.
    #[must_use]
    pub fn addresses(&self) -> Vec<(SocketAddr, Option<String>)> {
        let mut all: Vec<_> = self
            .lock()
            .iter()
            .map(|(address, l)| (*address, read(&l.actor).as_deref().map(str::to_string)))
            .collect();
        all.sort();
        all
    }

    /// Whether every listener has served without failing.
    #[must_use]
    pub fn serving(&self) -> bool {
        !self.failed.load(Ordering::Relaxed)
    }

    /// Closes every listener.
    pub fn close(&self) {
        for (_, listener) in self.lock().drain() {
            listener.stop.cancel();
        }
    }

    /// Takes `actor` off every address but `kept`.
    fn leave_others(&self, actor: &str, kept: Option<SocketAddr>) {
        self.lock().retain(|address, listener| {
            if Some(*address) == kept || read(&listener.actor).as_deref() != Some(actor) {
                return true;
            }
            if listener.standing {
                *write(&listener.actor) = None;
                true
            } else {
                listener.stop.cancel();
                tracing::info!(%actor, %address, "stopped listening");
                false
            }
        });
    }

    /// Listens on `address` (a bind does not block, so neither does this); call it
    /// within a Tokio runtime.
    fn bind(
        &self,
        address: SocketAddr,
        actor: Option<&str>,
        standing: bool,
    ) -> Result<Listener, String> {
        let cannot = |e: std::io::Error| format!("could not listen on {address}: {e}");
        let socket = std::net::TcpListener::bind(address).map_err(cannot)?;
        socket.set_nonblocking(true).map_err(cannot)?;
        let socket = tokio::net::TcpListener::from_std(socket).map_err(cannot)?;
        let linked = Arc::new(RwLock::new(actor.map(Arc::from)));
        let stop = self.shutdown.child_token();
        let route = Arc::new(Route {
            forward: self.forward.clone(),
            actor: linked.clone(),
        });
        let app = axum::Router::new().fallback(serve).with_state(route);
        let (closed, failed) = (stop.clone(), self.failed.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(socket, app)
                .with_graceful_shutdown(closed.cancelled_owned())
                .await
            {
                failed.store(true, Ordering::Relaxed);
                tracing::error!(%address, %error, "listener failed");
            }
        });
        Ok(Listener {
            actor: linked,
            stop,
            standing,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Listener>> {
        self.by_address
            .lock()
            .expect("invariant: listeners lock is never poisoned")
    }
}

fn read(actor: &RwLock<Option<Arc<str>>>) -> std::sync::RwLockReadGuard<'_, Option<Arc<str>>> {
    actor
        .read()
        .expect("invariant: route lock is never poisoned")
}

fn write(actor: &RwLock<Option<Arc<str>>>) -> std::sync::RwLockWriteGuard<'_, Option<Arc<str>>> {
    actor
        .write()
        .expect("invariant: route lock is never poisoned")
}

struct Route<F> {
    forward: Arc<F>,
    actor: Arc<RwLock<Option<Arc<str>>>>,
}

/// Serves one request in an `http.server` span, the root of the request's trace
/// unless the client sent a `traceparent`.
async fn serve<F: Forward>(State(route): State<Arc<Route<F>>>, request: Request) -> Response {
    let Some(actor) = read(&route.actor).clone() else {
        return failure(Failure {
            status: StatusCode::SERVICE_UNAVAILABLE,
            reason: route.forward.unlinked(),
        });
    };
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
        wasmcloud.actor.key = %actor,
    );
    kiln_telemetry::grpc::from_headers(request.headers()).set_as_parent_of(&span);
    let response = call(&*route.forward, &actor, request)
        .instrument(span.clone())
        .await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
    response
}

async fn call<F: Forward>(forward: &F, actor: &str, request: Request) -> Response {
    let request = match http_request(request).await {
        Ok(request) => request,
        Err(refused) => return failure(refused),
    };
    match forward.handle(actor, encode(&request)).await {
        Ok(bytes) => match decode::<HttpResponse>(&bytes) {
            Ok(response) => into_response(response),
            Err(error) => failure(Failure {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                reason: format!("the actor's answer is not an HttpResponse: {error}"),
            }),
        },
        Err(failed) => failure(failed),
    }
}

/// The request as the contract carries it.
async fn http_request(request: Request) -> Result<HttpRequest, Failure> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|error| Failure {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            reason: format!("could not read the request body: {error}"),
        })?;
    let mut header: HashMap<String, Vec<String>> = HashMap::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        header
            .entry(name.as_str().to_string())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    Ok(HttpRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query_string: parts.uri.query().unwrap_or_default().to_string(),
        header,
        body: body.into(),
    })
}

fn failure(failed: Failure) -> Response {
    tracing::warn!(status = failed.status.as_u16(), reason = %failed.reason, "request failed");
    (failed.status, failed.reason).into_response()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn address(pairs: &[(&str, &str)]) -> Result<String, String> {
        link_address(&values(pairs), &HashMap::new()).map(|a| a.to_string())
    }

    #[test]
    fn addresses_come_from_address_or_port() {
        assert_eq!(
            address(&[("ADDRESS", "127.0.0.1:8081")]).unwrap(),
            "127.0.0.1:8081"
        );
        assert_eq!(address(&[("address", ":9000")]).unwrap(), "0.0.0.0:9000");
        assert_eq!(address(&[("port", "8082")]).unwrap(), "0.0.0.0:8082");
        assert_eq!(address(&[]).unwrap(), DEFAULT_ADDRESS);
        assert!(address(&[("port", "eighty")]).is_err());
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
            link_address(&values(&[]), &config).unwrap().to_string(),
            "127.0.0.1:9001"
        );
        // The link's own value wins, whatever its case.
        assert_eq!(
            link_address(&values(&[("ADDRESS", "127.0.0.1:9003")]), &config)
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

    /// Answers every request with the actor's key, or refuses one actor.
    struct Echo;

    impl Forward for Echo {
        async fn handle(&self, actor: &str, request: Vec<u8>) -> Result<Vec<u8>, Failure> {
            if actor == "MREFUSED" {
                return Err(Failure {
                    status: StatusCode::FORBIDDEN,
                    reason: "no claim".into(),
                });
            }
            let request: HttpRequest = decode(&request).unwrap();
            Ok(encode(&HttpResponse {
                body: format!("{actor} {} {}", request.method, request.path).into_bytes(),
                ..HttpResponse::default()
            }))
        }

        fn unlinked(&self) -> String {
            "nothing is linked here".into()
        }
    }

    fn free_address() -> SocketAddr {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }

    async fn get(address: SocketAddr, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        let status = answer[9..12].parse().unwrap();
        let body = answer
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_string();
        (status, body)
    }

    #[tokio::test]
    async fn the_standing_address_answers_until_linked_and_after() {
        let standing = free_address();
        let config = format!(r#"{{"address": "{standing}"}}"#);
        let listeners = Listeners::new(
            Echo,
            defaults(Some(&config)).unwrap(),
            CancellationToken::new(),
        );
        assert_eq!(listeners.open_standing().unwrap(), Some(standing));
        assert_eq!(
            get(standing, "/").await,
            (503, "nothing is linked here".into())
        );

        listeners.put_link("MONE", &HashMap::new()).unwrap();
        assert_eq!(get(standing, "/a").await, (200, "MONE GET /a".into()));
        // A second actor cannot take the same address.
        let taken = listeners.put_link("MTWO", &HashMap::new()).unwrap_err();
        assert!(taken.contains("already serves actor MONE"), "{taken}");

        // The first moves to its own address: the standing one is free again.
        let own = free_address();
        let moved = values(&[("address", &own.to_string())]);
        listeners.put_link("MONE", &moved).unwrap();
        assert_eq!(get(own, "/b").await, (200, "MONE GET /b".into()));
        assert_eq!(get(standing, "/").await.0, 503);
        listeners.put_link("MREFUSED", &HashMap::new()).unwrap();
        assert_eq!(get(standing, "/").await, (403, "no claim".into()));

        listeners.delete_link("MONE");
        // The listener closes once its task sees the cancellation.
        let mut closed = false;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(own).await.is_err() {
                closed = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(closed, "{own} still listens after its link was deleted");
        listeners.delete_link("MREFUSED");
        assert_eq!(get(standing, "/").await.0, 503);
        assert_eq!(listeners.addresses(), vec![(standing, None)]);
        assert!(listeners.serving());
        listeners.close();
    }
}
