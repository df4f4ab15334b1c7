//! The actors and providers named at start (`--actor`, `--provider`): started once the
//! workload found on the data plane is adopted, retried while the data plane or the
//! lattice cannot take them, and skipped when they already run (a restart adopted
//! them). Each one settles the host's readiness when it runs or is refused for good.

use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::config::BootProvider;
use crate::control::ControlError;
use crate::control::ProviderError;
use crate::host::Shared;

const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Starts every boot actor and provider, until each runs or is refused, or shutdown;
/// each settles the host's readiness.
pub async fn run(host: Shared) {
    let (actors, providers) = (
        host.config.autostart.clone(),
        host.config.autostart_providers.clone(),
    );
    start_workload(&host, &actors, &providers, true).await;
}

/// Starts `actors` and `providers` once the workload found on the data plane is
/// adopted, each until it runs or is refused, or shutdown; with `settle`, each counts
/// toward readiness.
pub async fn start_workload(
    host: &Shared,
    actors: &[String],
    providers: &[BootProvider],
    settle: bool,
) {
    // What a restart adopts must not be started a second time.
    while !host.readiness.is_adopted() {
        tokio::select! {
            () = host.shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    for reference in actors {
        let outcome = retry(&host.shutdown, || start_actor(host, reference)).await;
        let failure = outcome.map(|reason| format!("actor {reference}: {reason}"));
        settled(host, settle, failure);
    }
    for provider in providers {
        let outcome = retry(&host.shutdown, || start_provider(host, provider)).await;
        let failure = outcome.map(|reason| {
            format!(
                "provider {} ({}): {reason}",
                provider.reference, provider.link_name
            )
        });
        settled(host, settle, failure);
    }
}

fn settled(host: &Shared, settle: bool, failure: Option<String>) {
    if let Some(failure) = &failure {
        tracing::warn!("not started: {failure}");
    }
    if settle {
        host.readiness.boot_settled(failure);
    }
}

/// What one attempt came to.
enum Attempt {
    /// It runs.
    Done,
    /// It cannot run now; try again.
    Again(String),
    /// It will never run as asked.
    Refused(String),
}

/// Repeats `attempt` with backoff until it is done or refused; returns the refusal.
async fn retry<F, Fut>(shutdown: &CancellationToken, mut attempt: F) -> Option<String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt>,
{
    let mut wait = FIRST_RETRY;
    loop {
        match attempt().await {
            Attempt::Done => return None,
            Attempt::Refused(reason) => return Some(reason),
            Attempt::Again(reason) => {
                tracing::warn!(retry_in = ?wait, "boot start postponed: {reason}");
                tokio::select! {
                    () = shutdown.cancelled() => return Some("the host stopped first".into()),
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(MAX_RETRY);
            }
        }
    }
}

async fn start_actor(host: &Shared, reference: &str) -> Attempt {
    if host.actors.all().iter().any(|a| a.image_ref == reference) {
        tracing::info!(%reference, "boot actor already runs");
        return Attempt::Done;
    }
    match crate::control::start_actor(host, reference, 1, BTreeMap::new()).await {
        Ok(started) => {
            tracing::info!(actor = %started.key, %reference, "started at boot");
            Attempt::Done
        }
        Err(error @ (ControlError::DataPlane(_) | ControlError::Lattice(_))) => {
            Attempt::Again(error.to_string())
        }
        Err(error) => {
            tracing::error!(%reference, "could not start at boot: {error}");
            Attempt::Refused(error.to_string())
        }
    }
}

async fn start_provider(host: &Shared, provider: &BootProvider) -> Attempt {
    if crate::control::providers::running_here(host, &provider.reference, &provider.link_name) {
        tracing::info!(reference = %provider.reference, link = %provider.link_name, "boot provider already runs");
        return Attempt::Done;
    }
    match crate::control::start_provider(
        host,
        &provider.reference,
        &provider.link_name,
        None,
        BTreeMap::new(),
    )
    .await
    {
        Ok(started) => {
            tracing::info!(provider = %started.key, reference = %provider.reference, "started at boot");
            Attempt::Done
        }
        Err(error @ ProviderError::DataPlane(_)) => Attempt::Again(error.to_string()),
        Err(ProviderError::AlreadyRunning { .. }) => Attempt::Done,
        Err(error) => {
            tracing::error!(reference = %provider.reference, "could not start at boot: {error}");
            Attempt::Refused(error.to_string())
        }
    }
}
