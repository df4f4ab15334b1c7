//! Starting a built-in provider: no archive, no process; the policy service is asked
//! as for any provider, and the links the lattice already has are served at once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::builtin::httpserver::{self, HttpServer};
use crate::control::errors::ProviderError;
use crate::host::Shared;
use crate::state::providers::{Entry, Health, Runs};

/// Starts the built-in HTTP server on `link_name` (already defaulted) with `claims`,
/// recording it here, once the checks of every start passed (`launch::may_start`);
/// the control service adds the claims and events, as for any provider.
///
/// # Errors
/// See [`ProviderError`].
pub(super) async fn start(
    host: &Shared,
    link_name: &str,
    claims: kiln_types::par::ProviderClaims,
    config_json: Option<String>,
    annotations: BTreeMap<String, String>,
) -> Result<Arc<Entry>, ProviderError> {
    let key = httpserver::KEY;
    let server = Arc::new(
        HttpServer::start(host, link_name, config_json.as_deref())
            .map_err(ProviderError::Builtin)?,
    );
    let entry = Arc::new(Entry {
        key: key.to_string(),
        link_name: link_name.to_string(),
        claims,
        image_ref: httpserver::REFERENCE.to_string(),
        runs: Runs::Builtin(server.clone()),
        instance_id: uuid::Uuid::new_v4().to_string(),
        config_json,
        annotations,
        health: Mutex::new(Health::Awaiting),
        host_data_links: Mutex::new(Vec::new()),
        catch_up_pending: std::sync::atomic::AtomicBool::new(false),
        stop_checks: host.shutdown.child_token(),
    });
    // Recorded first, so a link put from now on reaches it; one put meanwhile is
    // served twice, which changes nothing.
    host.providers.insert(entry.clone());
    for link in host.links.for_provider(key, link_name) {
        if let Err(problem) = crate::state::providers::Builtin::put_link(&*server, &link) {
            tracing::warn!(actor = %link.actor_id, link = link_name, %problem, "the built-in HTTP server cannot serve a link");
        }
    }
    super::health::spawn_health_checks(host, &entry);
    tracing::info!(
        provider = key,
        link = link_name,
        "built-in HTTP server started"
    );
    Ok(entry)
}
