//! Randlogger: logs through `wasmcloud:builtin:logging` and draws numbers from
//! `wasmcloud:builtin:numbergen`, then reports what it got.

use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_httpserver::{HttpRequest, HttpResponse, HttpServer, HttpServerReceiver};
use wasmcloud_interface_logging::info;
use wasmcloud_interface_numbergen::{generate_guid, random_32, random_in_range};

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, HttpServer)]
struct RandLogger {}

#[async_trait]
impl HttpServer for RandLogger {
    async fn handle_request(&self, _ctx: &Context, req: &HttpRequest) -> RpcResult<HttpResponse> {
        info!("randlogger handling {} {}", req.method, req.path);
        let guid = generate_guid().await?;
        let in_range = random_in_range(10, 20).await?;
        let random = random_32().await?;
        let body = serde_json::json!({
            "message": "I did it",
            "guid": guid,
            "in_range": in_range,
            "random": random,
        });
        Ok(HttpResponse {
            status_code: 200,
            body: serde_json::to_vec(&body).map_err(|e| RpcError::Ser(e.to_string()))?,
            ..Default::default()
        })
    }
}
