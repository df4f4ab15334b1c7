//! The control plane's client of its data plane: one lazily (re)connecting gRPC
//! channel, the multiplexed invoke stream, and commands by digest.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use futures::StreamExt as _;
use hyper_util::rt::TokioIo;
use kiln_proto::dataplane::v1 as pb;
use kiln_types::endpoint::Endpoint;
use pb::data_plane_client::DataPlaneClient;
use pb::host_calls_client::HostCallsClient;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use crate::config::InvokePath;

/// Messages on the channel may carry payloads this large.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;
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

/// The connection to one data plane.
pub struct Link {
    client: DataPlaneClient<Channel>,
    host_calls: HostCallsClient<Channel>,
    path: InvokePath,
    invoke_tx: RwLock<Option<mpsc::Sender<pb::InvokeRequest>>>,
    pending: Mutex<HashMap<u64, Pending>>,
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
        let client = DataPlaneClient::new(channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let host_calls = HostCallsClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok(Link {
            client,
            host_calls,
            path,
            invoke_tx: RwLock::new(None),
            pending: Mutex::new(HashMap::new()),
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

    /// Runs one call on `actor`.
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
        if !self.wait_ready().await {
            return Err(InvokeFailure::Unavailable("not connected".into()));
        }
        let call_id = self.next_call.fetch_add(1, Ordering::Relaxed);
        let request = pb::InvokeRequest {
            call_id,
            actor: actor.to_string(),
            operation,
            payload,
            invocation_id,
        };
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
                let sender = self
                    .invoke_tx
                    .read()
                    .expect("invariant: invoke lock is never poisoned")
                    .clone()
                    .ok_or_else(|| InvokeFailure::Unavailable("no invoke stream".into()))?;
                let (tx, rx) = oneshot::channel();
                self.lock_pending().insert(call_id, tx);
                if sender.send(request).await.is_err() {
                    self.lock_pending().remove(&call_id);
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
        *self
            .invoke_tx
            .write()
            .expect("invariant: invoke lock is never poisoned") = Some(tx);
        Ok(async move {
            while let Some(Ok(response)) = responses.next().await {
                if let Some(waiter) = self.lock_pending().remove(&response.call_id) {
                    let _ = waiter.send(outcome(response));
                }
            }
            *self
                .invoke_tx
                .write()
                .expect("invariant: invoke lock is never poisoned") = None;
            for (_, waiter) in self.lock_pending().drain() {
                let _ = waiter.send(Err(InvokeFailure::Unavailable("connection lost".into())));
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
    ) -> Result<(), tonic::Status> {
        let start = pb::StartActorRequest {
            actor: actor.to_string(),
            digest: digest.to_string(),
            instances,
            limits: None,
        };
        match self.client.clone().start_actor(start.clone()).await {
            Err(status) if status.code() == tonic::Code::NotFound => {
                self.push(digest, module).await?;
                self.client.clone().start_actor(start).await?;
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
    pub async fn push(&self, digest: &str, bytes: &[u8]) -> Result<(), tonic::Status> {
        let header = pb::PushArtifactRequest {
            part: Some(pb::push_artifact_request::Part::Header(
                pb::ArtifactHeader {
                    digest: digest.to_string(),
                    size: bytes.len() as u64,
                },
            )),
        };
        let chunks = bytes
            .chunks(CHUNK_BYTES)
            .map(|chunk| pb::PushArtifactRequest {
                part: Some(pb::push_artifact_request::Part::Chunk(chunk.to_vec())),
            });
        let parts: Vec<_> = std::iter::once(header).chain(chunks).collect();
        self.client
            .clone()
            .push_artifact(futures::stream::iter(parts))
            .await?;
        tracing::info!(
            digest,
            size = bytes.len(),
            "artifact pushed to the data plane"
        );
        Ok(())
    }

    /// Changes the instance count of a running actor.
    ///
    /// # Errors
    /// The data plane's refusal.
    pub async fn scale(&self, actor: &str, instances: u32) -> Result<(), tonic::Status> {
        self.client
            .clone()
            .scale_actor(pb::ScaleActorRequest {
                actor: actor.to_string(),
                instances,
            })
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
            .await?;
        Ok(response.into_inner().was_running)
    }

    /// What the data plane runs.
    ///
    /// # Errors
    /// When the data plane cannot be reached.
    pub async fn inventory(&self) -> Result<pb::InventoryResponse, tonic::Status> {
        Ok(self
            .client
            .clone()
            .inventory(pb::InventoryRequest {})
            .await?
            .into_inner())
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Pending>> {
        self.pending
            .lock()
            .expect("invariant: pending lock is never poisoned")
    }
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
        Some(pb::invoke_response::Result::Payload(payload)) => Ok(payload),
        Some(pb::invoke_response::Result::Error(error)) => Err(InvokeFailure::Actor {
            kind: pb::invoke_error::Kind::try_from(error.kind)
                .unwrap_or(pb::invoke_error::Kind::Unspecified),
            message: error.message,
        }),
        None => Err(InvokeFailure::Unavailable("empty response".into())),
    }
}
