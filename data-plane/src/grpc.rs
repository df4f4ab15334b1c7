//! The gRPC services of the data plane: `DataPlane` and `HostCalls`.
//!
//! Handlers convert at entry and call [`Plane`]; errors become `Status` in `status()`.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kiln_proto::dataplane::v1 as pb;
use kiln_telemetry::TraceContext;
use pb::data_plane_server::DataPlane;
use pb::host_calls_server::HostCalls;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status, Streaming};
use tracing::{Instrument as _, Span};

use crate::plane::{CommandError, Plane};
use crate::workload::CallError;

/// Largest artifact accepted (a wasm module or provider binary).
const MAX_ARTIFACT_BYTES: u64 = 512 << 20;
/// Time between SIGTERM and SIGKILL when a stop request gives none.
const DEFAULT_PROVIDER_GRACE: Duration = Duration::from_secs(2);
/// Bytes per message when an artifact is read back.
const READ_CHUNK: usize = 1 << 20;
/// Responses queued per invoke stream before the sender waits.
const STREAM_QUEUE: usize = 1024;
/// The service name in spans, as the proto declares it.
const DATA_PLANE: &str = kiln_proto::dataplane::v1::data_plane_server::SERVICE_NAME;

/// Serves both services over one [`Plane`].
#[derive(Clone)]
pub struct Service {
    host: Arc<Plane>,
    tasks: TaskTracker,
    shutdown: tokio_util::sync::CancellationToken,
}

impl Service {
    /// Wraps a host; per-call tasks are spawned on `tasks` so shutdown can wait for them;
    /// a `Shutdown` call cancels `shutdown`.
    #[must_use]
    pub fn new(
        host: Arc<Plane>,
        tasks: TaskTracker,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Service {
        Service {
            host,
            tasks,
            shutdown,
        }
    }
}

fn status(error: CommandError) -> Status {
    match &error {
        CommandError::MissingArtifact(_)
        | CommandError::NotRunning(_)
        | CommandError::Provider(crate::providers::ProviderError::MissingExecutable(_)) => {
            Status::not_found(error.to_string())
        }
        CommandError::Provider(_) => Status::failed_precondition(error.to_string()),
        CommandError::BringUp { .. } => Status::resource_exhausted(error.to_string()),
        CommandError::Limit { .. } | CommandError::Record(_) => {
            Status::invalid_argument(error.to_string())
        }
        CommandError::Artifact(_) | CommandError::Start(_) => {
            Status::failed_precondition(format!("{error:#}"))
        }
    }
}

fn response(call_id: u64, result: Result<Vec<u8>, CallError>) -> pb::InvokeResponse {
    let result = match result {
        Ok(payload) => pb::invoke_response::Result::Payload(payload.into()),
        Err(error) => pb::invoke_response::Result::Error(pb::InvokeError {
            kind: error.kind as i32,
            message: error.message,
        }),
    };
    pb::InvokeResponse {
        call_id,
        result: Some(result),
    }
}

/// The server span of one invocation. Its parent is the control plane's span named
/// in the request (per message: one stream carries calls of many traces), else in the
/// call's metadata (unary `Invoke` only).
fn invoke_span(method: &'static str, request: &pb::InvokeRequest, metadata: &TraceContext) -> Span {
    let span = kiln_telemetry::spans::wasm_invoke(DATA_PLANE, method);
    if !span.is_disabled() {
        kiln_telemetry::spans::Domain {
            actor: Some(&request.actor),
            operation: Some(&request.operation),
            invocation: Some(&request.invocation_id),
            ..kiln_telemetry::spans::Domain::default()
        }
        .record(&span);
        let fields = TraceContext::new(Some(&request.traceparent), Some(&request.tracestate));
        if !fields.set_as_parent_of(&span) {
            metadata.set_as_parent_of(&span);
        }
    }
    span
}

fn record_outcome(span: &Span, result: &Result<Vec<u8>, CallError>) {
    if let Err(error) = result {
        kiln_telemetry::record_error(span, &error.message);
    }
}

/// The span tonic enters for each request (`Server::trace_fn`): a server span for the
/// unary commands, a child of the span named in the metadata. None for the invocation
/// and host-call methods, whose messages get their own spans, nor for the inventory,
/// which is polled.
pub fn request_span(request: &http::Request<()>) -> Span {
    let Some((service, method)) = request.uri().path().trim_start_matches('/').split_once('/')
    else {
        return Span::none();
    };
    if matches!(method, "Invoke" | "InvokeStream" | "Inventory" | "Open") {
        return Span::none();
    }
    let span =
        kiln_telemetry::spans::grpc_request(kiln_telemetry::spans::Kind::Server, service, method);
    kiln_telemetry::grpc::from_headers(request.headers()).set_as_parent_of(&span);
    span
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl DataPlane for Service {
    async fn push_artifact(
        &self,
        request: Request<Streaming<pb::PushArtifactRequest>>,
    ) -> Result<Response<pb::PushArtifactResponse>, Status> {
        let mut parts = request.into_inner();
        let header = match parts.next().await {
            Some(Ok(pb::PushArtifactRequest {
                part: Some(pb::push_artifact_request::Part::Header(header)),
            })) => header,
            Some(Err(e)) => return Err(e),
            _ => {
                return Err(Status::invalid_argument(
                    "the first message of a push must be the header",
                ));
            }
        };
        if header.size > MAX_ARTIFACT_BYTES {
            return Err(Status::invalid_argument(format!(
                "artifact of {} bytes is above the limit of {MAX_ARTIFACT_BYTES} bytes",
                header.size
            )));
        }
        let executable = header.kind == pb::ArtifactKind::Executable as i32;
        let present = if executable {
            self.host.artifacts().executable(&header.digest).is_some()
        } else {
            self.host.artifacts().contains(&header.digest)
        };
        if present {
            return Ok(Response::new(pb::PushArtifactResponse {
                digest: header.digest,
                already_present: true,
            }));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(header.size).unwrap_or(0));
        while let Some(part) = parts.next().await {
            match part?.part {
                Some(pb::push_artifact_request::Part::Chunk(chunk)) => {
                    if (bytes.len() + chunk.len()) as u64 > header.size {
                        return Err(Status::invalid_argument(
                            "artifact is larger than its header says",
                        ));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                _ => {
                    return Err(Status::invalid_argument(
                        "only chunks may follow the header",
                    ));
                }
            }
        }
        if bytes.len() as u64 != header.size {
            return Err(Status::invalid_argument(format!(
                "artifact ended after {} of {} bytes",
                bytes.len(),
                header.size
            )));
        }
        if executable {
            self.host
                .artifacts()
                .put_executable(&header.digest, bytes)
                .await
                .map_err(|e| status(e.into()))?;
        } else {
            self.host
                .artifacts()
                .put(&header.digest, bytes)
                .await
                .map_err(|e| status(e.into()))?;
        }
        tracing::info!(digest = %header.digest, size = header.size, "artifact received");
        Ok(Response::new(pb::PushArtifactResponse {
            digest: header.digest,
            already_present: false,
        }))
    }

    async fn start_actor(
        &self,
        request: Request<pb::StartActorRequest>,
    ) -> Result<Response<pb::StartActorResponse>, Status> {
        let r = request.into_inner();
        self.host
            .start_actor(
                &r.actor,
                &r.digest,
                r.instances,
                r.limits.as_ref(),
                r.record,
            )
            .await
            .map_err(status)?;
        Ok(Response::new(pb::StartActorResponse {}))
    }

    async fn scale_actor(
        &self,
        request: Request<pb::ScaleActorRequest>,
    ) -> Result<Response<pb::ScaleActorResponse>, Status> {
        let r = request.into_inner();
        self.host
            .scale_actor(&r.actor, r.instances, r.record)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ScaleActorResponse {}))
    }

    async fn stop_actor(
        &self,
        request: Request<pb::StopActorRequest>,
    ) -> Result<Response<pb::StopActorResponse>, Status> {
        let was_running = self.host.stop_actor(&request.into_inner().actor);
        Ok(Response::new(pb::StopActorResponse { was_running }))
    }

    async fn invoke(
        &self,
        request: Request<pb::InvokeRequest>,
    ) -> Result<Response<pb::InvokeResponse>, Status> {
        let metadata = kiln_telemetry::grpc::from_metadata(request.metadata());
        let r = request.into_inner();
        let span = invoke_span("Invoke", &r, &metadata);
        let result = self
            .host
            .invoke(&r.actor, r.operation, r.payload, r.invocation_id)
            .instrument(span.clone())
            .await;
        record_outcome(&span, &result);
        Ok(Response::new(response(r.call_id, result)))
    }

    type InvokeStreamStream = BoxStream<pb::InvokeResponse>;

    async fn invoke_stream(
        &self,
        request: Request<Streaming<pb::InvokeRequest>>,
    ) -> Result<Response<Self::InvokeStreamStream>, Status> {
        let mut requests = request.into_inner();
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        let host = self.host.clone();
        let tasks = self.tasks.clone();
        self.tasks.spawn(async move {
            // Each call runs as its own task, so a slow call never holds up the others.
            while let Some(Ok(r)) = requests.next().await {
                let host = host.clone();
                let tx = tx.clone();
                let span = invoke_span("InvokeStream", &r, &TraceContext::default());
                tasks.spawn(
                    async move {
                        let result = host
                            .invoke(&r.actor, r.operation, r.payload, r.invocation_id)
                            .await;
                        record_outcome(&tracing::Span::current(), &result);
                        let _ = tx.send(Ok(response(r.call_id, result))).await;
                    }
                    .instrument(span),
                );
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn start_provider(
        &self,
        request: Request<pb::StartProviderRequest>,
    ) -> Result<Response<pb::StartProviderResponse>, Status> {
        let r = request.into_inner();
        let (pid, already_running) = self
            .host
            .start_provider(&r.provider, &r.link_name, &r.digest, r.host_data, r.record)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::StartProviderResponse {
            pid,
            already_running,
        }))
    }

    async fn stop_provider(
        &self,
        request: Request<pb::StopProviderRequest>,
    ) -> Result<Response<pb::StopProviderResponse>, Status> {
        let r = request.into_inner();
        let grace = match r.grace_ms {
            0 => DEFAULT_PROVIDER_GRACE,
            ms => Duration::from_millis(u64::from(ms)),
        };
        let was_running = self
            .host
            .providers()
            .stop(&r.provider, &r.link_name, grace)
            .await;
        Ok(Response::new(pb::StopProviderResponse { was_running }))
    }

    async fn shutdown(
        &self,
        _request: Request<pb::ShutdownRequest>,
    ) -> Result<Response<pb::ShutdownResponse>, Status> {
        tracing::info!("shutdown requested by the control plane");
        self.shutdown.cancel();
        Ok(Response::new(pb::ShutdownResponse {}))
    }

    type ReadArtifactStream = BoxStream<pb::ReadArtifactResponse>;

    async fn read_artifact(
        &self,
        request: Request<pb::ReadArtifactRequest>,
    ) -> Result<Response<Self::ReadArtifactStream>, Status> {
        let r = request.into_inner();
        let executable = r.kind == pb::ArtifactKind::Executable as i32;
        let path = self
            .host
            .artifacts()
            .path_of(&r.digest, executable)
            .ok_or_else(|| Status::not_found(format!("artifact {} is not here", r.digest)))?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| Status::not_found(format!("artifact {}: {e}", r.digest)))?;
        let chunks = tokio_util::io::ReaderStream::with_capacity(file, READ_CHUNK).map(|chunk| {
            chunk
                .map(|chunk| pb::ReadArtifactResponse { chunk })
                .map_err(|e| Status::internal(format!("reading the artifact: {e}")))
        });
        Ok(Response::new(Box::pin(chunks)))
    }

    async fn inventory(
        &self,
        _request: Request<pb::InventoryRequest>,
    ) -> Result<Response<pb::InventoryResponse>, Status> {
        Ok(Response::new(self.host.inventory()))
    }
}

#[tonic::async_trait]
impl HostCalls for Service {
    type OpenStream = BoxStream<pb::HostCallRequest>;

    async fn open(
        &self,
        request: Request<Streaming<pb::HostCallReply>>,
    ) -> Result<Response<Self::OpenStream>, Status> {
        let mut replies = request.into_inner();
        let broker = self.host.runtime().broker.clone();
        let (stream, requests) = broker.attach();
        tracing::info!("control plane opened the host-call channel");
        self.tasks.spawn(async move {
            while let Some(Ok(reply)) = replies.next().await {
                broker.reply(reply);
            }
            broker.detach(stream);
            tracing::info!("host-call channel closed");
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(requests))))
    }
}
