//! Signed calls on the lattice with chunking both ways.

use std::sync::Arc;
use std::time::Duration;

use kiln_types::invocation::{Entity, Invocation, InvocationResponse};
use kiln_types::keys::KeyPair;

use tracing::Instrument as _;

use crate::chunks::{self, ChunkError, Chunks};
use crate::tracecontext;

/// Extra time a chunked call gets, for the object store round trips (as wasmbus-rpc).
const CHUNKED_EXTRA: Duration = Duration::from_secs(13);

/// A call that did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Nobody listens on the subject.
    #[error("{0} is not running on the lattice")]
    NoResponders(String),
    /// No answer in time.
    #[error("call to {0} timed out")]
    Timeout(String),
    /// The target answered with an error.
    #[error("{0}")]
    Refused(String),
    /// A payload could not be chunked or dechunked.
    #[error(transparent)]
    Chunk(#[from] ChunkError),
    /// A payload too large for one message, with no object store to chunk it.
    #[error("call to {0} failed: the payload is larger than the lattice allows")]
    TooLarge(String),
    /// Anything else.
    #[error("call to {name} failed: {reason}")]
    Failed {
        /// Target.
        name: String,
        /// Why.
        reason: String,
    },
}

/// Sends signed invocations.
#[derive(Clone)]
pub struct Caller {
    client: async_nats::Client,
    signer: Arc<KeyPair>,
    chunks: Option<Chunks>,
    timeout: Duration,
    chunk_limit: u64,
}

/// Default largest chunked payload read back from the object store.
pub const DEFAULT_CHUNK_LIMIT: u64 = 64 << 20;

impl Caller {
    /// A caller signing with `signer` (a cluster key) and waiting up to `timeout`;
    /// chunked responses of more than `chunk_limit` bytes are refused.
    #[must_use]
    pub fn new(
        client: async_nats::Client,
        signer: Arc<KeyPair>,
        chunks: Option<Chunks>,
        timeout: Duration,
        chunk_limit: u64,
    ) -> Caller {
        Caller {
            client,
            signer,
            chunks,
            timeout,
            chunk_limit,
        }
    }

    /// Calls `target` on `subject`; `name` describes the target in errors. The call is
    /// a client span whose trace context travels in the request's NATS headers.
    ///
    /// # Errors
    /// See [`CallError`].
    pub async fn call(
        &self,
        origin: Entity,
        target: Entity,
        subject: String,
        name: &str,
        operation: String,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, CallError> {
        let span = kiln_telemetry::spans::nats_request(&subject);
        kiln_telemetry::spans::Domain {
            origin: Some(&origin.public_key),
            target: Some(&target.public_key),
            operation: Some(&operation),
            ..kiln_telemetry::spans::Domain::default()
        }
        .record(&span);
        let result = self
            .request(origin, target, subject, name, operation, payload)
            .instrument(span.clone())
            .await;
        if let Err(error) = &result {
            kiln_telemetry::record_error(&span, &error.to_string());
        }
        result
    }

    /// The call itself, inside its span.
    async fn request(
        &self,
        origin: Entity,
        target: Entity,
        subject: String,
        name: &str,
        operation: String,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, CallError> {
        let mut invocation = Invocation::new_signed(
            &self.signer,
            origin,
            target,
            operation,
            payload,
            kiln_types::unix_now(),
        )
        .map_err(|e| CallError::Failed {
            name: name.to_string(),
            reason: format!("could not sign: {e}"),
        })?;
        let span = tracing::Span::current();
        kiln_telemetry::spans::Domain {
            invocation: Some(&invocation.id),
            ..kiln_telemetry::spans::Domain::default()
        }
        .record(&span);
        let mut timeout = self.timeout;
        if invocation.msg.len() > chunks::THRESHOLD {
            let chunks = self
                .chunks
                .as_ref()
                .ok_or_else(|| CallError::TooLarge(name.to_string()))?;
            chunks.put(&invocation.id, &invocation.msg).await?;
            invocation.msg = Vec::new();
            timeout += CHUNKED_EXTRA;
        }
        let mut request = async_nats::Request::new().payload(invocation.encode().into());
        if let Some(headers) = tracecontext::headers(&span) {
            request = request.headers(headers);
        }
        let request = self.client.send_request(subject, request);
        let message = match tokio::time::timeout(timeout, request).await {
            Err(_) => return Err(CallError::Timeout(name.to_string())),
            Ok(Err(e)) => {
                return Err(match e.kind() {
                    async_nats::RequestErrorKind::NoResponders => {
                        CallError::NoResponders(name.to_string())
                    }
                    async_nats::RequestErrorKind::TimedOut => CallError::Timeout(name.to_string()),
                    async_nats::RequestErrorKind::MaxPayloadExceeded => {
                        CallError::TooLarge(name.to_string())
                    }
                    _ => CallError::Failed {
                        name: name.to_string(),
                        reason: e.to_string(),
                    },
                });
            }
            Ok(Ok(message)) => message,
        };
        let response =
            InvocationResponse::decode(&message.payload).map_err(|e| CallError::Failed {
                name: name.to_string(),
                reason: format!("bad response: {e}"),
            })?;
        if let Some(error) = response.error {
            return Err(CallError::Refused(error));
        }
        whole_response(self.chunks.as_ref(), response, self.chunk_limit).await
    }
}

/// The full payload of a response, fetched from the object store if it was chunked.
///
/// # Errors
/// When a chunked payload cannot be read.
pub async fn whole_response(
    chunks: Option<&Chunks>,
    response: InvocationResponse,
    limit: u64,
) -> Result<Vec<u8>, CallError> {
    let full = usize::try_from(response.content_length.unwrap_or(0)).unwrap_or(usize::MAX);
    if full <= response.msg.len() {
        return Ok(response.msg);
    }
    let chunks = chunks.ok_or_else(|| CallError::TooLarge(response.invocation_id.clone()))?;
    Ok(chunks
        .take(&chunks::response_name(&response.invocation_id), limit)
        .await?)
}

/// Replaces a chunked invocation's empty `msg` with the full payload.
///
/// # Errors
/// When the payload cannot be read.
pub async fn whole_request(
    chunks: Option<&Chunks>,
    invocation: &mut Invocation,
    limit: u64,
) -> Result<(), ChunkError> {
    let full = usize::try_from(invocation.content_length.unwrap_or(0)).unwrap_or(usize::MAX);
    if full <= invocation.msg.len() {
        return Ok(());
    }
    match chunks {
        Some(chunks) => {
            invocation.msg = chunks.take(&invocation.id, limit).await?;
            Ok(())
        }
        None => Err(ChunkError::unavailable(&invocation.id)),
    }
}

/// The response to `invocation_id`, its payload chunked when too large.
pub async fn respond(
    chunks: Option<&Chunks>,
    invocation_id: &str,
    result: Result<Vec<u8>, String>,
) -> InvocationResponse {
    match result {
        Err(error) => InvocationResponse::failure(invocation_id, error),
        Ok(payload) if payload.len() > chunks::THRESHOLD => match chunks {
            Some(chunks) => match chunks
                .put(&chunks::response_name(invocation_id), &payload)
                .await
            {
                Ok(()) => InvocationResponse {
                    msg: Vec::new(),
                    invocation_id: invocation_id.to_string(),
                    error: None,
                    content_length: Some(payload.len() as u64),
                },
                Err(error) => InvocationResponse::failure(invocation_id, error.to_string()),
            },
            None => InvocationResponse::failure(
                invocation_id,
                format!(
                    "response of {} bytes needs chunking, but no object store is available",
                    payload.len()
                ),
            ),
        },
        Ok(payload) => InvocationResponse::success(invocation_id, payload),
    }
}
