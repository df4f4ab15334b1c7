//! Providers: start and stop, with the claims, events and lattice-cache writes each
//! front end gets alike; `crate::providers` keeps what runs and checks its health.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::claimscache::StoredClaims;
use crate::eventdata;
use crate::events::kind;
use crate::host::Shared;
use crate::providers::{self, Entry, ProviderError};
use kiln_types::link::name_or_default;

/// Starts the provider in the archive at `reference` on `link_name`, and publishes
/// `provider_started` or `provider_start_failed`.
///
/// # Errors
/// See [`ProviderError`].
pub async fn start_provider(
    host: &Shared,
    reference: &str,
    link_name: &str,
    config_json: Option<String>,
    annotations: BTreeMap<String, String>,
) -> Result<Arc<Entry>, ProviderError> {
    let link_name = name_or_default(link_name);
    match providers::launch(host, reference, link_name, config_json, annotations).await {
        Ok(entry) => {
            let stored = StoredClaims::of_provider(&entry.claims);
            if host.claims.put(stored.clone())
                && let Some(data) = &host.lattice_data
                && let Err(error) = data.put_claims(&stored).await
            {
                tracing::warn!(provider = %entry.key, "could not write claims to the lattice cache: {error:#}");
            }
            super::remember_ref(host, reference, &entry.key).await;
            host.events
                .publish(kind::PROVIDER_STARTED, eventdata::provider_started(&entry))
                .await;
            Ok(entry)
        }
        Err(error) => {
            tracing::warn!(%reference, link = link_name, "provider start failed: {error}");
            host.events
                .publish(
                    kind::PROVIDER_START_FAILED,
                    eventdata::provider_start_failed(reference, link_name, &error.to_string()),
                )
                .await;
            Err(error)
        }
    }
}

/// Stops the provider `key` on `link_name` and publishes `provider_stopped`.
///
/// # Errors
/// When it does not run here or the data plane cannot be told.
pub async fn stop_provider(host: &Shared, key: &str, link_name: &str) -> Result<(), ProviderError> {
    let link_name = name_or_default(link_name);
    let entry = providers::shut_down(host, key, link_name).await?;
    host.events
        .publish(
            kind::PROVIDER_STOPPED,
            eventdata::provider_stopped(&entry, "normal"),
        )
        .await;
    tracing::info!(provider = %key, link = link_name, "provider stopped");
    Ok(())
}
