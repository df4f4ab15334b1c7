//! Waiting until the NATS server has read what a connection sent.
//!
//! `Client::flush` only waits until the bytes are written to the socket. The server
//! reads each connection's commands in order, so once a message this connection sends
//! to itself comes back, every subscription made before it is registered. Without this
//! wait, a message sent on another connection (an event saying an actor is ready, say)
//! can reach a client that then calls a subscription the server has not read yet, and
//! the call gets "no responders".

use std::time::Duration;

use futures::StreamExt as _;

/// How long the server may take to echo the probe.
const WAIT: Duration = Duration::from_secs(10);

/// Why the server did not confirm.
#[derive(Debug, thiserror::Error)]
pub enum RoundTripError {
    /// The probe could not be subscribed or sent.
    #[error("could not reach the NATS server: {0}")]
    Nats(String),
    /// No echo in time.
    #[error("the NATS server did not echo within {0:?}")]
    Timeout(Duration),
}

/// Returns once the server has read everything `client` sent before the call.
///
/// # Errors
/// See [`RoundTripError`].
pub async fn server_has_read(client: &async_nats::Client) -> Result<(), RoundTripError> {
    let inbox = client.new_inbox();
    let mut echo = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| RoundTripError::Nats(e.to_string()))?;
    client
        .publish(inbox, bytes::Bytes::new())
        .await
        .map_err(|e| RoundTripError::Nats(e.to_string()))?;
    match tokio::time::timeout(WAIT, echo.next()).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(RoundTripError::Nats("the probe subscription ended".into())),
        Err(_) => Err(RoundTripError::Timeout(WAIT)),
    }
}
