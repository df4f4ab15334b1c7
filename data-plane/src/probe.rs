//! `kiln-data-plane --probe`: is a data plane answering on this endpoint? For health
//! checks of containers and service managers, which have no gRPC client of their own.

use std::time::Duration;

use hyper_util::rt::TokioIo;
use kiln_proto::dataplane::v1::InventoryRequest;
use kiln_proto::dataplane::v1::data_plane_client::DataPlaneClient;
use kiln_types::endpoint::Endpoint;

/// How long the data plane may take to answer.
const WAIT: Duration = Duration::from_secs(2);

/// Asks the data plane at `endpoint` for its inventory; returns how many actors and
/// providers it runs.
///
/// # Errors
/// Why it did not answer.
pub async fn probe(endpoint: &Endpoint) -> Result<(usize, usize), String> {
    let ask = async {
        let channel = match endpoint {
            Endpoint::Unix(socket) => {
                let socket = socket.clone();
                tonic::transport::Endpoint::from_static("http://data-plane.local")
                    .connect_with_connector(tower::service_fn(move |_| {
                        let socket = socket.clone();
                        async move {
                            Ok::<_, std::io::Error>(TokioIo::new(
                                tokio::net::UnixStream::connect(socket).await?,
                            ))
                        }
                    }))
                    .await
            }
            Endpoint::Tcp(addr) => {
                tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                    .map_err(|e| e.to_string())?
                    .connect()
                    .await
            }
        }
        .map_err(|e| format!("cannot connect: {e}"))?;
        let inventory = DataPlaneClient::new(channel)
            .inventory(InventoryRequest {})
            .await
            .map_err(|s| format!("no inventory: {}", s.message()))?
            .into_inner();
        Ok((inventory.actors.len(), inventory.providers.len()))
    };
    tokio::time::timeout(WAIT, ask)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", WAIT.as_secs())))
}
