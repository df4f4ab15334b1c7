//! The control plane's client of its data plane: one lazily (re)connecting gRPC
//! channel, the multiplexed invoke stream, and commands by digest.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt as _;
use hyper_util::rt::TokioIo;
use kiln_proto::dataplane::v1 as pb;
use kiln_types::endpoint::Endpoint;
use kiln_types::waiting::Waiting;
use pb::data_plane_client::DataPlaneClient;
use pb::host_calls_client::HostCallsClient;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tracing::Instrument as _;

use crate::config::InvokePath;

use kiln_proto::MAX_MESSAGE_BYTES;
use kiln_telemetry::spans;
/// Bytes per chunk when pushing an artifact.
const CHUNK_BYTES: usize = 1 << 20;
/// How long a call waits for a data plane that is (re)connecting.
const READY_WAIT: Duration = Duration::from_secs(2);
/// Calls queued on the invoke stream before senders wait.
const STREAM_QUEUE: usize = 4096;

/// A call that did not produce a result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvokeFailure {
    /// The actor failed the call (trap, deadline, memory, its own error).
    #[error("{message}")]
    Actor {
        /// Kind reported by the data plane.
        kind: pb::invoke_error::Kind,
        /// For people.
        message: String,
    },
    /// The data plane could not be reached.
    #[error("data plane unavailable: {0}")]
    Unavailable(String),
}

type Pending = oneshot::Sender<Result<Vec<u8>, InvokeFailure>>;

/// The invoke stream and the calls waiting on it, under one lock: a call is either
/// registered while its stream is open, or refused; it is never left waiting on a
/// stream that already ended.
type Calls = Waiting<mpsc::Sender<pb::InvokeRequest>, Pending>;

/// The tonic interceptor that puts the current span's trace context in each call's
/// metadata.
type Inject = fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status>;
/// A channel whose calls carry trace context.
type Traced = InterceptedService<Channel, Inject>;

/// The service name in spans, as the proto declares it.
const DATA_PLANE: &str = kiln_proto::dataplane::v1::data_plane_server::SERVICE_NAME;

/// The connection to one data plane.
pub struct Link {
    client: DataPlaneClient<Traced>,
    host_calls: HostCallsClient<Traced>,
    path: InvokePath,
    calls: Mutex<Calls>,
    next_call: AtomicU64,
    ready: watch::Sender<bool>,
}

impl Link {
    /// A link to `endpoint`; no I/O until the first call.
    ///
    /// # Errors
    /// Only for an endpoint tonic cannot represent.
    pub fn new(endpoint: &Endpoint, path: InvokePath) -> anyhow::Result<Link> {
        let channel = match endpoint {
            Endpoint::Unix(socket) => {
                let socket = socket.clone();
                // The URI is required by tonic but unused: the connector dials the socket.
                tuned(tonic::transport::Endpoint::from_static(
                    "http://data-plane.local",
                ))
                .connect_with_connector_lazy(tower::service_fn(
                    move |_: tonic::transport::Uri| {
                        let socket = socket.clone();
                        async move {
                            Ok::<_, std::io::Error>(TokioIo::new(
                                tokio::net::UnixStream::connect(socket).await?,
                            ))
                        }
                    },
                ))
            }
            Endpoint::Tcp(addr) => tuned(tonic::transport::Endpoint::from_shared(format!(
                "http://{addr}"
            ))?)
            .connect_lazy(),
        };
        let inject: Inject = kiln_telemetry::grpc::inject;
        let client = DataPlaneClient::with_interceptor(channel.clone(), inject)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let host_calls = HostCallsClient::with_interceptor(channel, inject)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok(Link {
            client,
            host_calls,
            path,
            calls: Mutex::new(Calls::default()),
            next_call: AtomicU64::new(1),
            ready: watch::Sender::new(false),
        })
    }

    /// Whether the data plane is connected and in line with the desired state.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits (briefly) for the link to be ready; returns whether it is.
    pub async fn wait_ready(&self) -> bool {
        if self.is_ready() {
            return true;
        }
        let mut ready = self.ready.subscribe();
        matches!(
            tokio::time::timeout(READY_WAIT, ready.wait_for(|r| *r)).await,
            Ok(Ok(_))
        )
    }

    /// Marks the link ready or not; calls wait while it is not.
    pub fn set_ready(&self, ready: bool) {
        self.ready.send_replace(ready);
    }

    /// Runs one call on `actor`, in a client span whose trace context travels in the
    /// request message.
    ///
    /// # Errors
    /// The actor's failure, or [`InvokeFailure::Unavailable`].
    pub async fn invoke(
        &self,
        actor: &str,
        operation: String,
        payload: Vec<u8>,
        invocation_id: String,
    ) -> Result<Vec<u8>, InvokeFailure> {
        let method = match self.path {
            InvokePath::Unary => "Invoke",
            InvokePath::Stream => "InvokeStream",
        };
        let span = spans::grpc_request(spans::Kind::Client, DATA_PLANE, method);
        spans::Domain {
            actor: Some(actor),
            operation: Some(&operation),
            invocation: Some(&invocation_id),
            ..spans::Domain::default()
        }
        .record(&span);
        let trace = kiln_telemetry::TraceContext::of(&span);
        let call_id = self.next_call.fetch_add(1, Ordering::Relaxed);
        let request = pb::InvokeRequest {
            call_id,
            actor: actor.to_string(),
            operation,
            payload: payload.into(),
            invocation_id,
            traceparent: trace.traceparent,
            tracestate: trace.tracestate,
        };
        let result = self.send(request).instrument(span.clone()).await;
        if let Err(error) = &result {
            kiln_telemetry::record_error(&span, &error.to_string());
        }
        result
    }

    /// Sends one call and waits for its outcome.
    async fn send(&self, request: pb::InvokeRequest) -> Result<Vec<u8>, InvokeFailure> {
        if !self.wait_ready().await {
            return Err(InvokeFailure::Unavailable("not connected".into()));
        }
        let call_id = request.call_id;
        match self.path {
            InvokePath::Unary => {
                let response = self
                    .client
                    .clone()
                    .invoke(request)
                    .await
                    .map_err(|s| InvokeFailure::Unavailable(s.message().to_string()))?;
                outcome(response.into_inner())
            }
            InvokePath::Stream => {
                let (tx, rx) = oneshot::channel();
                let sender = self
                    .lock_calls()
                    .register(call_id, tx)
                    .map_err(|_| InvokeFailure::Unavailable("no invoke stream".into()))?;
                if sender.send(request).await.is_err() {
                    self.lock_calls().take(call_id);
                    return Err(InvokeFailure::Unavailable("invoke stream closed".into()));
                }
                rx.await.unwrap_or_else(|_| {
                    Err(InvokeFailure::Unavailable("invoke stream closed".into()))
                })
            }
        }
    }

    /// Opens the invoke stream and returns the future that delivers its responses; when
    /// that future ends, the stream is gone and every waiting call has failed.
    ///
    /// # Errors
    /// When the data plane does not accept the stream.
    pub async fn open_invoke_stream(&self) -> Result<impl Future<Output = ()> + '_, tonic::Status> {
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        let mut responses = self
            .client
            .clone()
            .invoke_stream(ReceiverStream::new(rx))
            .await?
            .into_inner();
        let generation = self.lock_calls().attach(tx);
        // The guard ends the stream's life even if this future is dropped half-way
        // (the supervisor drops it when the host-call stream breaks first).
        let ending = StreamEnd {
            link: self,
            generation,
        };
        Ok(async move {
            let _ending = ending;
            while let Some(Ok(response)) = responses.next().await {
                let waiter = self.lock_calls().take(response.call_id);
                if let Some(waiter) = waiter {
                    let _ = waiter.send(outcome(response));
                }
            }
        })
    }

    /// Opens the host-call channel: requests from actors arrive on the stream returned,
    /// replies go into the sender.
    ///
    /// # Errors
    /// When the data plane does not accept the stream.
    pub async fn open_host_calls(
        &self,
    ) -> Result<
        (
            tonic::Streaming<pb::HostCallRequest>,
            mpsc::Sender<pb::HostCallReply>,
        ),
        tonic::Status,
    > {
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        let requests = self
            .host_calls
            .clone()
            .open(ReceiverStream::new(rx))
            .await?
            .into_inner();
        Ok((requests, tx))
    }

    /// Starts (or re-sizes) `actor`, pushing its module first if the data plane lacks it.
    ///
    /// # Errors
    /// The data plane's refusal.
    pub async fn ensure_actor(
        &self,
        actor: &str,
        digest: &str,
        module: &[u8],
        instances: u32,
        record: Vec<u8>,
    ) -> Result<(), tonic::Status> {
        let start = pb::StartActorRequest {
            actor: actor.to_string(),
            digest: digest.to_string(),
            instances,
            limits: None,
            record: record.into(),
        };
        match self
            .client
            .clone()
            .start_actor(start.clone())
            .command("StartActor")
            .await
        {
            Err(status) if status.code() == tonic::Code::NotFound => {
                self.push(digest, module, pb::ArtifactKind::WasmModule)
                    .await?;
                self.client
                    .clone()
                    .start_actor(start)
                    .command("StartActor")
                    .await?;
            }
            other => {
                other?;
            }
        }
        Ok(())
    }

    /// Streams `bytes` to the data plane under `digest`.
    ///
    /// # Errors
    /// The data plane's refusal (a digest mismatch, a module that does not compile).
    pub async fn push(
        &self,
        digest: &str,
        bytes: &[u8],
        kind: pb::ArtifactKind,
    ) -> Result<(), tonic::Status> {
        let header = pb::PushArtifactRequest {
            part: Some(pb::push_artifact_request::Part::Header(
                pb::ArtifactHeader {
                    digest: digest.to_string(),
                    size: bytes.len() as u64,
                    kind: kind as i32,
                },
            )),
        };
        let chunks = bytes
            .chunks(CHUNK_BYTES)
            .map(|chunk| pb::PushArtifactRequest {
                part: Some(pb::push_artifact_request::Part::Chunk(
                    bytes::Bytes::copy_from_slice(chunk),
                )),
            });
        let parts: Vec<_> = std::iter::once(header).chain(chunks).collect();
        self.client
            .clone()
            .push_artifact(futures::stream::iter(parts))
            .command("PushArtifact")
            .await?;
        tracing::info!(
            digest,
            size = bytes.len(),
            "artifact pushed to the data plane"
        );
        Ok(())
    }

    /// Starts (or updates the host data of) a provider, pushing its executable first if
    /// the data plane lacks it. Returns the process id.
    ///
    /// # Errors
    /// The data plane's refusal.
    pub async fn ensure_provider(
        &self,
        provider: &str,
        link_name: &str,
        digest: &str,
        executable: &[u8],
        host_data: Vec<u8>,
        record: Vec<u8>,
    ) -> Result<u32, tonic::Status> {
        let start = pb::StartProviderRequest {
            provider: provider.to_string(),
            link_name: link_name.to_string(),
            digest: digest.to_string(),
            host_data: host_data.into(),
            record: record.into(),
        };
        let response = match self
            .client
            .clone()
            .start_provider(start.clone())
            .command("StartProvider")
            .await
        {
            Err(status) if status.code() == tonic::Code::NotFound => {
                self.push(digest, executable, pb::ArtifactKind::Executable)
                    .await?;
                self.client
                    .clone()
                    .start_provider(start)
                    .command("StartProvider")
                    .await?
            }
            other => other?,
        };
        Ok(response.into_inner().pid)
    }

    /// Stops a provider process (after the caller asked it to shut down over NATS).
    ///
    /// # Errors
    /// When the data plane cannot be reached.
    pub async fn stop_provider(
        &self,
        provider: &str,
        link_name: &str,
    ) -> Result<bool, tonic::Status> {
        let response = self
            .client
            .clone()
            .stop_provider(pb::StopProviderRequest {
                provider: provider.to_string(),
                link_name: link_name.to_string(),
                grace_ms: 0,
            })
            .command("StopProvider")
            .await?;
        Ok(response.into_inner().was_running)
    }

    /// Changes the instance count of a running actor.
    ///
    /// # Errors
    /// The data plane's refusal.
    pub async fn scale(
        &self,
        actor: &str,
        instances: u32,
        record: Vec<u8>,
    ) -> Result<(), tonic::Status> {
        self.client
            .clone()
            .scale_actor(pb::ScaleActorRequest {
                actor: actor.to_string(),
                instances,
                record: record.into(),
            })
            .command("ScaleActor")
            .await?;
        Ok(())
    }

    /// Stops an actor.
    ///
    /// # Errors
    /// When the data plane cannot be reached.
    pub async fn stop(&self, actor: &str) -> Result<bool, tonic::Status> {
        let response = self
            .client
            .clone()
            .stop_actor(pb::StopActorRequest {
                actor: actor.to_string(),
            })
            .command("StopActor")
            .await?;
        Ok(response.into_inner().was_running)
    }

    /// Reads back the artifact `digest` the data plane holds, refusing more than
    /// `limit` bytes.
    ///
    /// # Errors
    /// When the data plane does not have it or the stream fails.
    pub async fn read_artifact(
        &self,
        digest: &str,
        kind: pb::ArtifactKind,
        limit: u64,
    ) -> Result<Vec<u8>, tonic::Status> {
        let read = async {
            let mut chunks = self
                .client
                .clone()
                .read_artifact(pb::ReadArtifactRequest {
                    digest: digest.to_string(),
                    kind: kind as i32,
                })
                .await?
                .into_inner();
            let mut bytes = Vec::new();
            while let Some(chunk) = chunks.next().await {
                bytes.extend_from_slice(&chunk?.chunk);
                if bytes.len() as u64 > limit {
                    return Err(tonic::Status::out_of_range(format!(
                        "artifact {digest} is above the limit of {limit} bytes"
                    )));
                }
            }
            Ok(bytes)
        };
        read.command("ReadArtifact").await
    }

    /// Asks the data plane to stop and exit.
    ///
    /// # Errors
    /// When it cannot be reached.
    pub async fn shutdown(&self) -> Result<(), tonic::Status> {
        self.client
            .clone()
            .shutdown(pb::ShutdownRequest {})
            .command("Shutdown")
            .await?;
        Ok(())
    }

    /// What the data plane runs.
    ///
    /// # Errors
    /// When the data plane cannot be reached.
    pub async fn inventory(&self) -> Result<pb::InventoryResponse, tonic::Status> {
        let mut client = self.client.clone();
        match tokio::time::timeout(COMMAND_TIMEOUT, client.inventory(pb::InventoryRequest {})).await
        {
            Ok(response) => Ok(response?.into_inner()),
            Err(_) => Err(tonic::Status::deadline_exceeded(
                "the data plane did not answer Inventory in time",
            )),
        }
    }

    fn lock_calls(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls
            .lock()
            .expect("invariant: calls lock is never poisoned")
    }
}

/// Closes one generation of the invoke stream: no more calls are sent on it, and every
/// call still waiting on it fails at once.
struct StreamEnd<'a> {
    link: &'a Link,
    generation: u64,
}

impl Drop for StreamEnd<'_> {
    fn drop(&mut self) {
        let lost = self.link.lock_calls().detach(self.generation);
        for waiter in lost {
            let _ = waiter.send(Err(InvokeFailure::Unavailable("connection lost".into())));
        }
    }
}

/// How long a command may take before the data plane is taken as not answering.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a push may take (the largest artifacts are hundreds of MiB).
const PUSH_TIMEOUT: Duration = Duration::from_secs(300);

/// A unary command to the data plane: in its client span, bounded in time, so a data
/// plane that hangs fails the command instead of holding its caller forever.
trait Command<T>: Future<Output = Result<T, tonic::Status>> + Sized {
    fn command(self, method: &'static str) -> impl Future<Output = Result<T, tonic::Status>> {
        let limit = if matches!(method, "PushArtifact" | "ReadArtifact") {
            PUSH_TIMEOUT
        } else {
            COMMAND_TIMEOUT
        };
        async move {
            tokio::time::timeout(limit, self.instrument(command_span(method)))
                .await
                .unwrap_or_else(|_| {
                    Err(tonic::Status::deadline_exceeded(format!(
                        "the data plane did not answer {method} within {} s",
                        limit.as_secs()
                    )))
                })
        }
    }
}

impl<T, F: Future<Output = Result<T, tonic::Status>>> Command<T> for F {}

/// The client span of a unary command; the interceptor puts its context in the
/// call's metadata. The inventory has none: it is polled.
fn command_span(method: &'static str) -> tracing::Span {
    spans::grpc_request(spans::Kind::Client, DATA_PLANE, method)
}

fn tuned(endpoint: tonic::transport::Endpoint) -> tonic::transport::Endpoint {
    endpoint
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(1))
        .http2_keep_alive_interval(Duration::from_secs(5))
        .keep_alive_timeout(Duration::from_secs(5))
        .initial_stream_window_size(Some(4 << 20))
        .initial_connection_window_size(Some(16 << 20))
}

fn outcome(response: pb::InvokeResponse) -> Result<Vec<u8>, InvokeFailure> {
    match response.result {
        Some(pb::invoke_response::Result::Payload(payload)) => Ok(payload.into()),
        Some(pb::invoke_response::Result::Error(error)) => Err(InvokeFailure::Actor {
            kind: pb::invoke_error::Kind::try_from(error.kind)
                .unwrap_or(pb::invoke_error::Kind::Unspecified),
            message: error.message,
        }),
        None => Err(InvokeFailure::Unavailable("empty response".into())),
    }
}
