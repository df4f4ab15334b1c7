//! Echo: returns the request it received, as JSON, with status 200.

use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_httpserver::{HttpRequest, HttpResponse, HttpServer, HttpServerReceiver};

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, HttpServer)]
struct Echo {}

#[async_trait]
impl HttpServer for Echo {
    async fn handle_request(&self, _ctx: &Context, req: &HttpRequest) -> RpcResult<HttpResponse> {
        let body = serde_json::json!({
            "method": req.method,
            "path": req.path,
            "query_string": req.query_string,
            "header": req.header,
            "body": String::from_utf8_lossy(&req.body),
            "body_len": req.body.len(),
        });
        let mut header = std::collections::HashMap::new();
        header.insert("content-type".to_string(), vec!["application/json".to_string()]);
        Ok(HttpResponse {
            status_code: 200,
            header,
            body: serde_json::to_vec(&body).map_err(|e| RpcError::Ser(e.to_string()))?,
        })
    }
}
