//! The runtime of a capability provider: everything but the capability itself.
//!
//! [`run`] reads the host data from stdin, connects to NATS, keeps the link definitions
//! (from the host data, then from `…linkdefs.put|del`), answers health checks, checks
//! every incoming invocation like a host does (signature, issuer, hash, target, and a
//! link for the calling actor) before handing it to the [`Capability`], and exits on a
//! shutdown request, SIGTERM, or when stdin closes because the host is gone.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt as _;
use kiln_types::hostdata::HostData;
use kiln_types::invocation::{Entity, Invocation, InvocationResponse, Issuers};
use kiln_types::keys::{KeyKind, KeyPair};
use kiln_types::link::LinkDefinition;
use kiln_types::replay::{Guard, Settings as ReplaySettings};
use tokio::io::AsyncBufReadExt as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::chunks::Chunks;
use crate::rpc::{self, CallError, Caller};
use crate::subjects;
use crate::tracecontext;
use kiln_telemetry::spans;

/// Calls a provider runs at once at most; past it a call is answered "busy".
const MAX_IN_FLIGHT: usize = 1024;
/// Links a provider keeps at most.
const MAX_LINKS: usize = 10_000;

/// The checks every incoming invocation passes before the capability sees it.
struct Checks {
    issuers: Arc<Issuers>,
    replay: Guard,
}

/// What a provider does with links and calls.
pub trait Capability: Send + Sync + 'static {
    /// An actor was linked (or its link changed); `values` are the link's settings.
    fn put_link(&self, link: &LinkDefinition) -> impl Future<Output = Result<(), String>> + Send;
    /// An actor's link was deleted.
    fn delete_link(&self, link: &LinkDefinition) -> impl Future<Output = ()> + Send;
    /// An actor calls `operation`.
    fn call(
        &self,
        link: &LinkDefinition,
        operation: &str,
        payload: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, String>> + Send;
}

/// The provider as the capability sees it: its identity and a way to call actors.
pub struct Provider {
    /// The host data it was started with.
    pub host_data: HostData,
    /// Its contract id.
    pub contract: String,
    caller: Caller,
    links: RwLock<HashMap<String, LinkDefinition>>,
    /// Cancelled when the provider shuts down.
    pub shutdown: CancellationToken,
}

impl Provider {
    /// Calls `operation` on `actor`, signed as coming from this provider.
    ///
    /// # Errors
    /// See [`CallError`].
    pub async fn call_actor(
        &self,
        actor: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, CallError> {
        let origin = Entity::provider(
            &self.host_data.provider_key,
            &self.contract,
            &self.host_data.link_name,
        );
        let subject = subjects::actor_rpc(&self.host_data.lattice_rpc_prefix, actor);
        self.caller
            .call(
                origin,
                Entity::actor(actor),
                subject,
                &format!("actor {actor}"),
                operation.to_string(),
                payload,
            )
            .await
    }

    /// The link of `actor`, if it has one to this provider.
    #[must_use]
    pub fn link(&self, actor: &str) -> Option<LinkDefinition> {
        self.links
            .read()
            .expect("invariant: links lock is never poisoned")
            .get(actor)
            .cloned()
    }
}

/// Reads the host data, starts logging (at the host data's level) and traces (as
/// `telemetry` says), connects and serves until shutdown, then flushes the traces.
/// `make` builds the capability once the provider is connected.
///
/// # Errors
/// When the host data is unreadable or NATS cannot be reached.
pub async fn run<C: Capability>(
    contract: &str,
    telemetry: &kiln_telemetry::Config,
    make: impl FnOnce(Arc<Provider>) -> C,
) -> anyhow::Result<()> {
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let mut line = String::new();
    stdin
        .read_line(&mut line)
        .await
        .context("reading host data from stdin")?;
    let host_data = HostData::from_stdin_line(&line)?;
    let filter = tracing_subscriber::EnvFilter::try_new(
        host_data.log_level.clone().unwrap_or_else(|| "info".into()),
    )
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let telemetry = kiln_telemetry::init(telemetry, filter, host_data.structured_logging);
    tracing::debug!(
        lattice = %host_data.lattice_rpc_prefix,
        link = %host_data.link_name,
        log_level = host_data.log_level.as_deref().unwrap_or("info"),
        structured = host_data.structured_logging,
        "host data read"
    );
    let served = serve(contract, host_data, stdin, make).await;
    telemetry.shutdown().await;
    served
}

/// Connects and serves until shutdown.
async fn serve<C: Capability>(
    contract: &str,
    host_data: HostData,
    mut stdin: tokio::io::BufReader<tokio::io::Stdin>,
    make: impl FnOnce(Arc<Provider>) -> C,
) -> anyhow::Result<()> {
    let client = connect(&host_data).await?;
    let chunks = match Chunks::open(
        client.clone(),
        &host_data.lattice_rpc_prefix,
        host_data.js_domain.as_deref(),
        1,
    )
    .await
    {
        Ok(chunks) => Some(chunks),
        Err(error) => {
            tracing::warn!("no object store, large payloads will fail: {error:#}");
            None
        }
    };
    let checks = Arc::new(Checks {
        issuers: Arc::new(Issuers::new(&host_data.cluster_issuers).context("cluster issuers")?),
        replay: Guard::new(ReplaySettings::default(), kiln_types::unix_now()),
    });
    let provider = Arc::new(Provider::new(contract, host_data, &client, chunks.clone())?);
    let server = Server {
        capability: Arc::new(make(provider.clone())),
        provider,
        client,
        chunks,
        checks,
        in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
        tasks: TaskTracker::new(),
    };
    let mut subscriptions = Subscriptions::open(&server.client, &server.provider.host_data).await?;
    for link in server.provider.host_data.link_definitions.clone() {
        apply_link(&server.provider, server.capability.as_ref(), link, true).await;
    }
    tracing::info!(provider = %server.provider.host_data.provider_key, link = %server.provider.host_data.link_name, contract, "provider ready");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut stdin_line = String::new();
    loop {
        tokio::select! {
            Some(message) = subscriptions.calls.next() => server.accept(message).await,
            Some(message) = subscriptions.link_puts.next() => server.link_message(&message, true).await,
            Some(message) = subscriptions.link_dels.next() => server.link_message(&message, false).await,
            Some(message) = subscriptions.health.next() => {
                if let Some(reply) = message.reply {
                    let body = rmp_serde::to_vec_named(&serde_json::json!({"healthy": true, "message": ""}))
                        .expect("invariant: a constant map serialises");
                    let _ = server.client.publish(reply, body.into()).await;
                }
            }
            Some(message) = subscriptions.shutdown.next() => {
                if let Some(reply) = message.reply {
                    let _ = server.client.publish(reply, "{\"success\":true}".into()).await;
                }
                tracing::info!("shutdown requested by the host");
                break;
            }
            _ = terminate.recv() => break,
            read = stdin.read_line(&mut stdin_line) => {
                // The host keeps stdin open for as long as it runs.
                if matches!(read, Ok(0) | Err(_)) {
                    tracing::info!("the host is gone (stdin closed)");
                    break;
                }
                stdin_line.clear();
            }
        }
    }
    server.wind_down().await;
    Ok(())
}

impl Provider {
    /// The provider `host_data` describes, calling out on `client`.
    fn new(
        contract: &str,
        host_data: HostData,
        client: &async_nats::Client,
        chunks: Option<Chunks>,
    ) -> anyhow::Result<Provider> {
        let signer = Arc::new(
            KeyKind::Cluster
                .parse_seed(&host_data.invocation_seed)
                .context("invocation seed")?,
        );
        let timeout = Duration::from_millis(host_data.default_rpc_timeout_ms.unwrap_or(2_000));
        Ok(Provider {
            contract: contract.to_string(),
            caller: Caller::new(
                client.clone(),
                signer,
                chunks,
                timeout,
                rpc::DEFAULT_CHUNK_LIMIT,
            ),
            links: RwLock::new(HashMap::new()),
            shutdown: CancellationToken::new(),
            host_data,
        })
    }
}

/// The subjects a provider serves: its calls, link changes, health and shutdown.
struct Subscriptions {
    calls: async_nats::Subscriber,
    link_puts: async_nats::Subscriber,
    link_dels: async_nats::Subscriber,
    health: async_nats::Subscriber,
    shutdown: async_nats::Subscriber,
}

impl Subscriptions {
    /// Subscribes, and returns once the server has registered every subscription.
    async fn open(
        client: &async_nats::Client,
        host_data: &HostData,
    ) -> anyhow::Result<Subscriptions> {
        let (lattice, key, link) = (
            host_data.lattice_rpc_prefix.as_str(),
            host_data.provider_key.as_str(),
            host_data.link_name.as_str(),
        );
        let subscriptions = Subscriptions {
            calls: client
                .queue_subscribe(subjects::provider_rpc(lattice, key, link), "rpc".into())
                .await?,
            link_puts: client
                .subscribe(subjects::provider_linkdefs_put(lattice, key, link))
                .await?,
            link_dels: client
                .subscribe(subjects::provider_linkdefs_del(lattice, key, link))
                .await?,
            health: client
                .subscribe(subjects::provider_health(lattice, key, link))
                .await?,
            shutdown: client
                .subscribe(subjects::provider_shutdown(lattice, key, link))
                .await?,
        };
        crate::roundtrip::server_has_read(client).await?;
        Ok(subscriptions)
    }
}

/// What answering calls shares.
struct Server<C> {
    provider: Arc<Provider>,
    capability: Arc<C>,
    client: async_nats::Client,
    chunks: Option<Chunks>,
    checks: Arc<Checks>,
    in_flight: Arc<tokio::sync::Semaphore>,
    tasks: TaskTracker,
}

impl<C: Capability> Server<C> {
    /// Answers one call in its own task, or "busy" at once past the bound.
    async fn accept(&self, message: async_nats::Message) {
        let Some(reply) = message.reply.clone() else {
            return;
        };
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            let busy = InvocationResponse::failure(
                "",
                format!(
                    "provider busy: {MAX_IN_FLIGHT} invocations already in flight; try again later"
                ),
            );
            let _ = self.client.publish(reply, busy.encode().into()).await;
            return;
        };
        let (provider, capability, chunks, checks) = (
            self.provider.clone(),
            self.capability.clone(),
            self.chunks.clone(),
            self.checks.clone(),
        );
        let client = self.client.clone();
        let span = call_span(&provider, &message);
        self.tasks.spawn(
            async move {
                let response = answer(
                    &provider,
                    capability.as_ref(),
                    chunks.as_ref(),
                    &checks,
                    &message.payload,
                )
                .await;
                if let Some(error) = &response.error {
                    kiln_telemetry::record_error(&tracing::Span::current(), error);
                }
                let _ = client.publish(reply, response.encode().into()).await;
                drop(permit);
            }
            .instrument(span),
        );
    }

    /// A link put or deleted by the host.
    async fn link_message(&self, message: &async_nats::Message, put: bool) {
        match LinkDefinition::from_msgpack(&message.payload) {
            Ok(link) => apply_link(&self.provider, self.capability.as_ref(), link, put).await,
            Err(error) => tracing::warn!(%error, "ignoring a malformed link definition"),
        }
    }

    /// Ends the links, lets calls in flight finish (for a while) and flushes.
    async fn wind_down(self) {
        self.provider.shutdown.cancel();
        let links: Vec<LinkDefinition> = self
            .provider
            .links
            .read()
            .expect("invariant: links lock is never poisoned")
            .values()
            .cloned()
            .collect();
        for link in links {
            self.capability.delete_link(&link).await;
        }
        self.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.tasks.wait()).await;
        let _ = self.client.flush().await;
    }
}

/// The server span of one incoming call, a child of the caller's span when the
/// message's headers name one.
fn call_span(provider: &Provider, message: &async_nats::Message) -> tracing::Span {
    let span = spans::nats_message(&message.subject);
    spans::Domain {
        provider: Some(&provider.host_data.provider_key),
        link: Some(&provider.host_data.link_name),
        contract: Some(&provider.contract),
        ..spans::Domain::default()
    }
    .record(&span);
    tracecontext::set_parent(&span, message.headers.as_ref());
    span
}

async fn connect(host_data: &HostData) -> anyhow::Result<async_nats::Client> {
    let mut options = async_nats::ConnectOptions::new()
        .name(format!("kiln provider {}", host_data.provider_key))
        .require_tls(host_data.lattice_rpc_tls != 0);
    match (
        host_data.lattice_rpc_user_jwt.as_str(),
        host_data.lattice_rpc_user_seed.as_str(),
    ) {
        ("", "") => {}
        ("", seed) => options = options.nkey(seed.to_string()),
        (jwt, seed) => {
            let pair = Arc::new(KeyPair::from_seed(seed).context("NATS seed")?);
            options = options.jwt(jwt.to_string(), move |nonce| {
                let pair = pair.clone();
                async move { pair.sign(&nonce).map_err(async_nats::AuthError::new) }
            });
        }
    }
    // Every server of the cluster when the host gives them, else the one address.
    let urls: Vec<&str> = if !host_data.lattice_rpc_urls.is_empty() {
        host_data
            .lattice_rpc_urls
            .iter()
            .map(String::as_str)
            .collect()
    } else if host_data.lattice_rpc_url.is_empty() {
        vec!["127.0.0.1:4222"]
    } else {
        host_data
            .lattice_rpc_url
            .split(',')
            .map(str::trim)
            .collect()
    };
    let servers = urls
        .iter()
        .map(|url| {
            url.parse::<async_nats::ServerAddr>()
                .with_context(|| format!("{url:?} is not a NATS server address"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let joined = urls.join(",");
    options
        .connect(servers)
        .await
        .with_context(|| format!("connecting to NATS at {joined}"))
}

async fn apply_link<C: Capability>(
    provider: &Provider,
    capability: &C,
    link: LinkDefinition,
    put: bool,
) {
    if link.provider_id != provider.host_data.provider_key
        || link.link_name != provider.host_data.link_name
    {
        return;
    }
    if put {
        let known = provider.link(&link.actor_id);
        if known.as_ref() == Some(&link) {
            return; // every host re-sends links; applying one twice is a no-op
        }
        // Anyone on the lattice can publish a link put: the table is bounded.
        let count = provider
            .links
            .read()
            .expect("invariant: links lock is never poisoned")
            .len();
        if known.is_none() && count >= MAX_LINKS {
            tracing::warn!(actor = %link.actor_id, max = MAX_LINKS, "too many links; ignoring a new one");
            return;
        }
        match capability.put_link(&link).await {
            Ok(()) => {
                tracing::info!(actor = %link.actor_id, "link put");
                provider
                    .links
                    .write()
                    .expect("invariant: links lock is never poisoned")
                    .insert(link.actor_id.clone(), link);
            }
            Err(error) => tracing::error!(actor = %link.actor_id, %error, "could not apply link"),
        }
    } else {
        let removed = provider
            .links
            .write()
            .expect("invariant: links lock is never poisoned")
            .remove(&link.actor_id);
        if let Some(link) = removed {
            capability.delete_link(&link).await;
            tracing::info!(actor = %link.actor_id, "link deleted");
        }
    }
}

/// Checks an incoming invocation as a host would, then runs it.
async fn answer<C: Capability>(
    provider: &Provider,
    capability: &C,
    chunks: Option<&Chunks>,
    checks: &Checks,
    bytes: &[u8],
) -> InvocationResponse {
    let mut invocation = match Invocation::decode(bytes) {
        Ok(invocation) => invocation,
        Err(error) => {
            tracing::warn!(%error, "refused an invocation");
            return InvocationResponse::failure("", error.to_string());
        }
    };
    let id = invocation.id.clone();
    spans::Domain {
        actor: Some(&invocation.origin.public_key),
        operation: Some(&invocation.operation),
        invocation: Some(&id),
        ..spans::Domain::default()
    }
    .record(&tracing::Span::current());
    let result = async {
        let claims = kiln_types::inbound::check(
            &invocation,
            &provider.host_data.provider_key,
            &checks.issuers,
            &checks.replay,
            kiln_types::unix_now(),
        )
        .map_err(|e| e.to_string())?;
        rpc::whole_request(chunks, &mut invocation, rpc::DEFAULT_CHUNK_LIMIT)
            .await
            .map_err(|e| e.to_string())?;
        invocation
            .check_hash(&claims, &invocation.msg)
            .map_err(|e| format!("anti-forgery check failed: {e}"))?;
        let actor = &invocation.origin.public_key;
        let link = provider
            .link(actor)
            .ok_or_else(|| format!("no link definition for actor {actor} on this provider"))?;
        capability
            .call(
                &link,
                &invocation.operation,
                std::mem::take(&mut invocation.msg),
            )
            .await
    }
    .await;
    rpc::respond(chunks, &id, result).await
}
