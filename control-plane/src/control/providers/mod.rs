//! Providers: start and stop, with the claims, events and lattice-cache writes each
//! front end gets alike. `launch` fetches, checks and deploys one (or adopts one found
//! running), `deploy` hands it to the data plane with its host data, `health` checks
//! it, `links` tells it of link changes; `crate::state::providers` keeps what runs.

mod builtin;
pub mod deploy;
mod health;
mod launch;
pub mod links;

pub use launch::{Prepared, adopt};

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::control::errors::ProviderError;
use crate::host::Shared;
use crate::lattice::events::{data as eventdata, kind};
use crate::state::claims::StoredClaims;
use crate::state::providers::Entry;
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
    let reference = &*kiln_wasmbus::oci::canonical(reference);
    match launch::launch(host, reference, link_name, config_json, annotations).await {
        Ok(entry) => {
            crate::control::actors::remember(
                host,
                StoredClaims::of_provider(&entry.claims),
                reference,
            )
            .await;
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
    let entry = launch::shut_down(host, key, link_name).await?;
    host.events
        .publish(
            kind::PROVIDER_STOPPED,
            eventdata::provider_stopped(&entry, "normal"),
        )
        .await;
    tracing::info!(provider = %key, link = link_name, "provider stopped");
    Ok(())
}

/// Whether this host runs the provider `reference` names (a public key, a reference
/// it was started from, or one the lattice cache maps) on `link_name`.
#[must_use]
pub fn running_here(host: &Shared, reference: &str, link_name: &str) -> bool {
    let key = host.claims.resolve_ref(reference);
    host.providers.all().iter().any(|p| {
        p.link_name == link_name && (p.image_ref == reference || key.as_deref() == Some(&p.key))
    })
}
