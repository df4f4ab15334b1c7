//! The floor of the data-plane hop: a process serving the data plane's own `InvokeStream`
//! with tonic, on a unix socket, that sends each request's payload straight back (no
//! wasm, no plane, no spawn). "Data plane alone" measured against it is the data plane's
//! own cost over what gRPC itself costs on this machine.

use std::pin::Pin;

use futures::{Stream, StreamExt as _};
use kiln_proto::dataplane::v1 as pb;
use pb::data_plane_server::{DataPlane, DataPlaneServer};
use tonic::{Request, Response, Status, Streaming};

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Answers `InvokeStream` only: the baseline for the hop.
struct Echo;

fn only_invoke_stream<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented(
        "the baseline serves InvokeStream only",
    ))
}

#[tonic::async_trait]
impl DataPlane for Echo {
    type InvokeStreamStream = BoxStream<pb::InvokeResponse>;
    type ReadArtifactStream = BoxStream<pb::ReadArtifactResponse>;

    async fn invoke_stream(
        &self,
        request: Request<Streaming<pb::InvokeRequest>>,
    ) -> Result<Response<Self::InvokeStreamStream>, Status> {
        let responses = request.into_inner().map(|r| {
            r.map(|r| pb::InvokeResponse {
                call_id: r.call_id,
                result: Some(pb::invoke_response::Result::Payload(r.payload)),
            })
        });
        Ok(Response::new(Box::pin(responses)))
    }

    async fn push_artifact(
        &self,
        _: Request<Streaming<pb::PushArtifactRequest>>,
    ) -> Result<Response<pb::PushArtifactResponse>, Status> {
        only_invoke_stream()
    }

    async fn start_actor(
        &self,
        _: Request<pb::StartActorRequest>,
    ) -> Result<Response<pb::StartActorResponse>, Status> {
        only_invoke_stream()
    }

    async fn scale_actor(
        &self,
        _: Request<pb::ScaleActorRequest>,
    ) -> Result<Response<pb::ScaleActorResponse>, Status> {
        only_invoke_stream()
    }

    async fn stop_actor(
        &self,
        _: Request<pb::StopActorRequest>,
    ) -> Result<Response<pb::StopActorResponse>, Status> {
        only_invoke_stream()
    }

    async fn invoke(
        &self,
        _: Request<pb::InvokeRequest>,
    ) -> Result<Response<pb::InvokeResponse>, Status> {
        only_invoke_stream()
    }

    async fn start_provider(
        &self,
        _: Request<pb::StartProviderRequest>,
    ) -> Result<Response<pb::StartProviderResponse>, Status> {
        only_invoke_stream()
    }

    async fn stop_provider(
        &self,
        _: Request<pb::StopProviderRequest>,
    ) -> Result<Response<pb::StopProviderResponse>, Status> {
        only_invoke_stream()
    }

    async fn shutdown(
        &self,
        _: Request<pb::ShutdownRequest>,
    ) -> Result<Response<pb::ShutdownResponse>, Status> {
        only_invoke_stream()
    }

    async fn read_artifact(
        &self,
        _: Request<pb::ReadArtifactRequest>,
    ) -> Result<Response<Self::ReadArtifactStream>, Status> {
        only_invoke_stream()
    }

    async fn inventory(
        &self,
        _: Request<pb::InventoryRequest>,
    ) -> Result<Response<pb::InventoryResponse>, Status> {
        only_invoke_stream()
    }
}

/// Serves the baseline on `socket` until killed.
pub async fn serve(socket: &std::path::Path) {
    let listener = tokio::net::UnixListener::bind(socket).unwrap();
    tonic::transport::Server::builder()
        .add_service(DataPlaneServer::new(Echo))
        .serve_with_incoming(tokio_stream::wrappers::UnixListenerStream::new(listener))
        .await
        .unwrap();
}

/// The baseline's process, killed when dropped.
pub struct Floor {
    child: std::process::Child,
    /// Where it listens.
    pub socket: std::path::PathBuf,
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the baseline as its own process (as the data plane is) on a socket in `dir`,
/// and waits until it listens.
pub async fn start(dir: &std::path::Path) -> Floor {
    let socket = dir.join("grpc-floor.sock");
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("grpc-floor-server")
        .arg(&socket)
        .spawn()
        .unwrap();
    let floor = Floor { child, socket };
    for _ in 0..500 {
        if tokio::net::UnixStream::connect(&floor.socket).await.is_ok() {
            return floor;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!(
        "the gRPC baseline did not listen on {}",
        floor.socket.display()
    );
}
