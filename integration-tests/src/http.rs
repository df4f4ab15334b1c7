//! The wasmCloud HttpServer payloads, with the interface's field names and encoding.

pub use kiln_types::interfaces::httpserver::{HttpRequest as Request, HttpResponse as Response};

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
