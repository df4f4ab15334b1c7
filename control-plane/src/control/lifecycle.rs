//! The host as a whole: its stop, and the wait for the takeover of its workload.

use std::sync::atomic::Ordering;

use crate::control::errors::ControlError;
use crate::host::Shared;
use crate::state::readiness::Readiness;

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
pub async fn adopted(readiness: &Readiness) -> Result<(), ControlError> {
    let deadline = tokio::time::Instant::now() + ADOPTION_WAIT;
    while !readiness.is_adopted() {
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
