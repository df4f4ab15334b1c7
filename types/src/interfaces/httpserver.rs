//! `wasmcloud:httpserver`: `HttpServer.HandleRequest`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The operation an HTTP server provider calls on actors.
pub const HANDLE_REQUEST: &str = "HttpServer.HandleRequest";

/// An HTTP request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// Method.
    #[serde(default)]
    pub method: String,
    /// Path.
    #[serde(default)]
    pub path: String,
    /// Query string without the `?`.
    #[serde(rename = "queryString", default)]
    pub query_string: String,
    /// Headers, each with all its values.
    #[serde(default)]
    pub header: HashMap<String, Vec<String>>,
    /// Body.
    #[serde(with = "serde_bytes", default)]
    pub body: Vec<u8>,
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// Status code.
    #[serde(rename = "statusCode", default = "ok")]
    pub status_code: u16,
    /// Headers.
    #[serde(default)]
    pub header: HashMap<String, Vec<String>>,
    /// Body.
    #[serde(with = "serde_bytes", default)]
    pub body: Vec<u8>,
}

fn ok() -> u16 {
    200
}

impl Default for HttpResponse {
    /// Status 200, as the interface crate's default.
    fn default() -> Self {
        HttpResponse {
            status_code: ok(),
            header: HashMap::new(),
            body: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces::encode;

    #[test]
    fn encodes_like_the_interface_crate() {
        // Byte counts and markers measured with wasmcloud-interface-httpserver 0.10 (see
        // the dependency notes): a 200 response with one header and a 13-byte body is 73
        // bytes, the status a msgpack u8 `cc c8`.
        let response = HttpResponse {
            status_code: 200,
            header: HashMap::from([("content-type".into(), vec!["application/json".into()])]),
            body: br#"{"counter":1}"#.to_vec(),
        };
        let bytes = encode(&response);
        assert_eq!(bytes.len(), 73);
        assert_eq!(&bytes[..13], b"\x83\xaastatusCode\xcc");
        let request = HttpRequest {
            method: "GET".into(),
            path: "/counter/x".into(),
            query_string: "a=1&b=2".into(),
            header: HashMap::from([("host".into(), vec!["localhost:8080".into()])]),
            body: b"hello\0\xff".to_vec(),
        };
        let bytes = encode(&request);
        assert_eq!(bytes.len(), 91);
        assert_eq!(&bytes[..8], b"\x85\xa6method");
    }
}
