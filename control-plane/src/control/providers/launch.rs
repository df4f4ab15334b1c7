//! Fetching, checking and starting a provider, taking over one found running, and
//! stopping one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kiln_types::ids::Digest;
use kiln_types::link::LinkDefinition;
use kiln_types::par::ProviderClaims;
use kiln_wasmbus::subjects;

use super::deploy::deploy;
use super::health::spawn_health_checks;
use crate::control::errors::{ControlError, ProviderError};
use crate::host::Shared;
use crate::lattice::events::{data as eventdata, kind};
use crate::state::claims::StoredClaims;
use crate::state::providers::{Entry, Health, Process, Runs};

/// Fetches, checks and starts the provider in the archive at `reference` on
/// `link_name` (already defaulted), recording it here; the control service
/// ([`crate::control::start_provider`]) adds the claims, events and reference.
///
/// # Errors
/// See [`ProviderError`].
pub(crate) async fn launch(
    host: &Shared,
    reference: &str,
    link_name: &str,
    config_json: Option<String>,
    annotations: BTreeMap<String, String>,
) -> Result<Arc<Entry>, ProviderError> {
    if let Err(ControlError::DataPlane(reason)) =
        crate::control::lifecycle::adopted(&host.readiness).await
    {
        return Err(ProviderError::DataPlane(reason));
    }
    check_request(&annotations, config_json.as_deref())?;
    if reference == crate::builtin::httpserver::REFERENCE {
        use crate::builtin::httpserver;
        let claims = httpserver::claims(&host.config.host_id());
        let contract = kiln_wasmbus::httpserver::CONTRACT;
        may_start(host, httpserver::KEY, &claims.issuer, contract, link_name).await?;
        return super::builtin::start(host, link_name, claims, config_json, annotations).await;
    }
    let verified = host
        .fetcher
        .fetch_provider(reference, &host.config.claims_policy)
        .await?;
    let key = verified.key().to_string();
    may_start(
        host,
        &key,
        &verified.claims.issuer,
        &verified.meta().capid,
        link_name,
    )
    .await?;
    if !host.data_plane.wait_ready().await {
        return Err(ProviderError::DataPlane(
            "the data plane is not connected".into(),
        ));
    }
    let links = host.links.definitions_for(&key, link_name);
    let entry = entry(
        host,
        Prepared {
            digest: Digest::of(&verified.binary),
            binary: verified.binary,
            claims: verified.claims,
            token: verified.token,
            key: key.clone(),
            link_name: link_name.to_string(),
            image_ref: reference.to_string(),
            instance_id: uuid::Uuid::new_v4().to_string(),
            config_json,
            annotations,
            links,
        },
    );
    let pid = run(host, &entry).await?;
    tracing::info!(provider = %key, link = link_name, contract = entry.contract_id(), pid, "provider started");
    Ok(entry)
}

/// What every provider start passes, built in or not: the policy service allows it, and
/// nothing runs on its key and link here yet.
async fn may_start(
    host: &Shared,
    key: &str,
    issuer: &str,
    contract: &str,
    link_name: &str,
) -> Result<(), ProviderError> {
    if let Some(policy) = &host.policy {
        policy
            .allow_start("start_provider", key, issuer, contract, link_name)
            .await
            .map_err(ProviderError::Denied)?;
    }
    if host.providers.get(key, link_name).is_some() {
        return Err(ProviderError::AlreadyRunning {
            key: key.to_string(),
            link_name: link_name.to_string(),
        });
    }
    Ok(())
}

/// The annotations and configuration string pass their bounds.
fn check_request(
    annotations: &BTreeMap<String, String>,
    config_json: Option<&str>,
) -> Result<(), ProviderError> {
    kiln_types::limits::check_map("the annotations", annotations.iter())
        .map_err(ProviderError::Invalid)?;
    if config_json.is_some_and(|c| c.len() > kiln_types::limits::CONFIG) {
        return Err(ProviderError::Invalid(format!(
            "the configuration is longer than {} bytes",
            kiln_types::limits::CONFIG
        )));
    }
    Ok(())
}

/// A provider checked and ready to run: started from its archive, or found running
/// after a restart and taken over.
pub struct Prepared {
    /// Public key.
    pub key: String,
    /// Link name.
    pub link_name: String,
    /// Verified claims.
    pub claims: ProviderClaims,
    /// Its `claims.jwt`.
    pub token: String,
    /// Where it came from.
    pub image_ref: String,
    /// Digest of the executable.
    pub digest: Digest,
    /// The executable.
    pub binary: Vec<u8>,
    /// Id of the start it runs from.
    pub instance_id: String,
    /// Configuration string given at start.
    pub config_json: Option<String>,
    /// Annotations given at start.
    pub annotations: BTreeMap<String, String>,
    /// The links its host data carries.
    pub links: Vec<LinkDefinition>,
}

/// The entry of `prepared`: awaiting its first health check, its links to catch up on.
fn entry(host: &Shared, prepared: Prepared) -> Arc<Entry> {
    Arc::new(Entry {
        key: prepared.key,
        link_name: prepared.link_name,
        claims: prepared.claims,
        image_ref: prepared.image_ref,
        runs: Runs::Process(Process {
            token: prepared.token,
            digest: prepared.digest,
            binary: Arc::new(prepared.binary),
        }),
        instance_id: prepared.instance_id,
        config_json: prepared.config_json,
        annotations: prepared.annotations,
        health: Mutex::new(Health::Awaiting),
        catch_up_pending: std::sync::atomic::AtomicBool::new(true),
        host_data_links: Mutex::new(prepared.links),
        stop_checks: host.shutdown.child_token(),
    })
}

/// Hands `entry` to the data plane, records it and starts its health checks; returns
/// the process id.
async fn run(host: &Shared, entry: &Arc<Entry>) -> Result<u32, ProviderError> {
    let process = entry
        .process()
        .expect("invariant: entries made from a Prepared run as processes");
    let pid = deploy(host, entry, process)
        .await
        .map_err(|s| ProviderError::DataPlane(s.message().to_string()))?;
    host.providers.insert(entry.clone());
    spawn_health_checks(host, entry);
    Ok(pid)
}

/// Takes over a provider the data plane runs: registered, given current host data,
/// health-checked, sent the links it missed once it answers. One started with other
/// keys (`keys_changed`) holds the old cluster seed and host id, so it is restarted.
///
/// # Errors
/// When the data plane cannot be told.
pub async fn adopt(
    host: &Shared,
    mut adoptee: Prepared,
    keys_changed: bool,
) -> Result<(), ProviderError> {
    if keys_changed {
        adoptee.links = host.links.definitions_for(&adoptee.key, &adoptee.link_name);
    }
    let entry = entry(host, adoptee);
    if keys_changed {
        tracing::warn!(provider = %entry.key, link = %entry.link_name, "the provider was started with another host or cluster key; restarting it with this host's");
        host.data_plane
            .stop_provider(&entry.key, &entry.link_name)
            .await
            .map_err(|s| ProviderError::DataPlane(s.message().to_string()))?;
    }
    run(host, &entry).await?;
    crate::control::actors::remember(
        host,
        StoredClaims::of_provider(&entry.claims),
        &entry.image_ref,
    )
    .await;
    if keys_changed {
        host.events
            .publish(kind::PROVIDER_STARTED, eventdata::provider_started(&entry))
            .await;
    }
    tracing::info!(provider = %entry.key, link = %entry.link_name, "provider adopted");
    Ok(())
}

/// Asks the provider on `link_name` (already defaulted) to shut down, then has the
/// data plane stop its process; returns what ran. The control service
/// ([`crate::control::stop_provider`]) publishes the event.
///
/// # Errors
/// When it does not run here or the data plane cannot be told.
pub(crate) async fn shut_down(
    host: &Shared,
    key: &str,
    link_name: &str,
) -> Result<Arc<Entry>, ProviderError> {
    let Some(entry) = host.providers.remove(key, link_name) else {
        return Err(ProviderError::NotRunning {
            key: key.to_string(),
            link_name: link_name.to_string(),
        });
    };
    entry.stop_checks.cancel();
    if let Some(builtin) = entry.builtin() {
        builtin.stop();
        return Ok(entry);
    }
    let subject = subjects::provider_shutdown(&host.config.lattice, key, link_name);
    let body = serde_json::json!({ "host_id": host.config.host_id() }).to_string();
    let _ = tokio::time::timeout(
        host.config.provider_shutdown_wait,
        host.rpc.request(subject, body.into()),
    )
    .await;
    host.data_plane
        .stop_provider(key, link_name)
        .await
        .map_err(|s| ProviderError::DataPlane(s.message().to_string()))?;
    Ok(entry)
}
