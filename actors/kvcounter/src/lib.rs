//! Kvcounter: increments a counter per request path through `wasmcloud:keyvalue` and
//! answers `{"counter": n}`.

use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_httpserver::{HttpRequest, HttpResponse, HttpServer, HttpServerReceiver};
use wasmcloud_interface_keyvalue::{IncrementRequest, KeyValue, KeyValueSender};

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, HttpServer)]
struct KvCounter {}

#[async_trait]
impl HttpServer for KvCounter {
    async fn handle_request(&self, ctx: &Context, req: &HttpRequest) -> RpcResult<HttpResponse> {
        let key = format!("counter:{}", req.path.trim_matches('/').replace('/', ":"));
        let increment = IncrementRequest { key, value: 1 };
        match KeyValueSender::new().increment(ctx, &increment).await {
            Ok(counter) => Ok(HttpResponse {
                status_code: 200,
                body: serde_json::json!({ "counter": counter }).to_string().into_bytes(),
                ..Default::default()
            }),
            Err(error) => Ok(HttpResponse {
                status_code: 500,
                body: format!("could not increment the counter: {error}").into_bytes(),
                ..Default::default()
            }),
        }
    }
}
