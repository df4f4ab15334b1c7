//! Pinger: calls the actor with call alias `demo/ponger` and answers "Ping <reply>".

use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_httpserver::{HttpRequest, HttpResponse, HttpServer, HttpServerReceiver, HttpServerSender};

const PONGER: &str = "demo/ponger";

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, HttpServer)]
struct Pinger {}

#[async_trait]
impl HttpServer for Pinger {
    async fn handle_request(&self, ctx: &Context, req: &HttpRequest) -> RpcResult<HttpResponse> {
        let ponger = HttpServerSender::to_actor(PONGER);
        match ponger.handle_request(ctx, req).await {
            Ok(reply) => Ok(HttpResponse {
                status_code: 200,
                body: format!("Ping {}", String::from_utf8_lossy(&reply.body)).into_bytes(),
                ..Default::default()
            }),
            Err(error) => Ok(HttpResponse {
                status_code: 502,
                body: format!("could not reach {PONGER}: {error}").into_bytes(),
                ..Default::default()
            }),
        }
    }
}
