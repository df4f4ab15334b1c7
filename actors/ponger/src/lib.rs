//! Ponger: answers "pong". Signed with a call alias so other actors can find it by name.

use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_httpserver::{HttpRequest, HttpResponse, HttpServer, HttpServerReceiver};

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, HttpServer)]
struct Ponger {}

#[async_trait]
impl HttpServer for Ponger {
    async fn handle_request(&self, _ctx: &Context, _req: &HttpRequest) -> RpcResult<HttpResponse> {
        Ok(HttpResponse {
            status_code: 200,
            body: b"pong".to_vec(),
            ..Default::default()
        })
    }
}
