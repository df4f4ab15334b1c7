//! The control service: every front end (the NATS control interface, start-up flags,
//! the gRPC API and the dashboard) changes the host through these functions and
//! nothing else, so each change has the same checks, events and lattice-cache writes.

mod actors;
mod links;
mod providers;

pub use actors::{
    Started, remember, remember_ref, scale_actor, start_actor, stop_actor, update_actor,
};
pub use links::{LinkError, delete_link, put_link};
pub use providers::{start_provider, stop_provider};

use std::sync::atomic::Ordering;

use crate::artifact::FetchError;
use crate::host::Shared;

/// Stops this host: after a moment (so the request that asked can be answered) the
/// drain begins; `grace_ms` replaces the drain grace when given. Both planes exit.
pub fn stop_host(host: &Shared, grace_ms: Option<u64>) {
    if let Some(grace) = grace_ms.filter(|g| *g > 0) {
        host.stop_grace_ms.store(grace, Ordering::Relaxed);
    }
    host.stop_requested.store(true, Ordering::Relaxed);
    tracing::info!(?grace_ms, "host stop requested");
    let shutdown = host.shutdown.clone();
    host.tasks.spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        shutdown.cancel();
    });
}

/// How long a command waits for the takeover of the workload after a restart.
const ADOPTION_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits (a while) until the workload the data plane ran when this process started is
/// adopted, so that a command never races the adoption of the same actor.
///
/// # Errors
/// [`ControlError::DataPlane`] when adoption takes longer.
pub async fn adopted(host: &Shared) -> Result<(), ControlError> {
    let deadline = tokio::time::Instant::now() + ADOPTION_WAIT;
    while !host.readiness.is_adopted() {
        if tokio::time::Instant::now() >= deadline {
            return Err(ControlError::DataPlane(
                "the host is still taking over the workload its data plane runs; try again shortly"
                    .into(),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Ok(())
}

/// A command that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The module could not be fetched or its claims were refused.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A field of the request passes its bound.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The same key already runs from another module.
    #[error(
        "actor {key} already runs from another module ({running}); use a live update to replace it"
    )]
    Conflict {
        /// Actor key.
        key: String,
        /// Reference it runs from.
        running: String,
    },
    /// No such actor here.
    #[error("actor {0} is not running on this host")]
    NotRunning(String),
    /// A live update was refused.
    #[error("unable to perform live update: {0}")]
    Update(String),
    /// The policy service said no (or did not answer).
    #[error("denied by policy: {0}")]
    Denied(String),
    /// The data plane refused or could not be reached.
    #[error("the data plane refused: {0}")]
    DataPlane(String),
    /// NATS refused the subscription.
    #[error("could not subscribe on the lattice: {0}")]
    Lattice(String),
}

impl From<tonic::Status> for ControlError {
    fn from(status: tonic::Status) -> Self {
        ControlError::DataPlane(status.message().to_string())
    }
}
