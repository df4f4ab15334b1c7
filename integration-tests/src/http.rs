//! The wasmCloud HttpServer payloads, with the interface's field names and encoding.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// `HttpServer.HandleRequest` argument.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Request {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string.
    #[serde(rename = "queryString")]
    pub query_string: String,
    /// Headers.
    pub header: HashMap<String, Vec<String>>,
    /// Body.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
}

/// `HttpServer.HandleRequest` result.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Response {
    /// Status.
    #[serde(rename = "statusCode", default)]
    pub status_code: u16,
    /// Headers.
    #[serde(default)]
    pub header: HashMap<String, Vec<String>>,
    /// Body.
    #[serde(with = "serde_bytes", default)]
    pub body: Vec<u8>,
}

/// A GET of `path` as msgpack.
#[must_use]
pub fn get(path: &str) -> Vec<u8> {
    request("GET", path, b"")
}

/// A request as msgpack.
#[must_use]
pub fn request(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    rmp_serde::to_vec_named(&Request {
        method: method.into(),
        path: path.into(),
        body: body.to_vec(),
        ..Request::default()
    })
    .expect("encode request")
}

/// Decodes a response.
///
/// # Panics
/// When the bytes are not a response.
#[must_use]
pub fn response(bytes: &[u8]) -> Response {
    rmp_serde::from_slice(bytes).expect("an HttpResponse")
}
