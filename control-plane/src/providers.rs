//! Capability providers of this host: desired state, host data, start and stop, and
//! health checks. The processes themselves run under the data plane.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kiln_types::hostdata::HostData;
use kiln_types::ids::Digest;
use kiln_types::link::LinkDefinition;
use kiln_types::par::{ParError, ProviderClaims};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::artifact::FetchError;
use crate::claimscache::StoredClaims;
use crate::eventdata;
use crate::events::kind;
use crate::host::Shared;
use kiln_wasmbus::subjects;

/// How long a provider gets to answer its shutdown request.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);
/// First health check after a start.
const FIRST_HEALTH_CHECK: Duration = Duration::from_millis(500);

/// Health as the last check found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not checked yet.
    Awaiting,
    /// Answered its last health check.
    Healthy,
    /// Did not answer its last health check.
    Unhealthy,
}

/// A provider this host runs.
#[derive(Debug)]
pub struct Entry {
    /// Public key.
    pub key: String,
    /// Link name.
    pub link_name: String,
    /// Verified claims.
    pub claims: ProviderClaims,
    /// The archive's `claims.jwt`, kept so a restarted control plane can check the
    /// claims again (see `adoption`).
    pub token: String,
    /// Where it came from.
    pub image_ref: String,
    /// Digest of the executable.
    pub digest: Digest,
    /// The executable, kept to push again to a restarted data plane.
    pub binary: Arc<Vec<u8>>,
    /// Random id of this start.
    pub instance_id: String,
    /// Configuration string given at start.
    pub config_json: Option<String>,
    /// Annotations given at start.
    pub annotations: BTreeMap<String, String>,
    /// Last health.
    pub health: Mutex<Health>,
    /// The links its host data carried when its process was started (taken before the
    /// host data, so a link put in between is sent again, never missed).
    host_data_links: Mutex<Vec<LinkDefinition>>,
    /// Set until its first passing health check has sent it the links it missed.
    catch_up_pending: std::sync::atomic::AtomicBool,
    stop_checks: CancellationToken,
}

impl Entry {
    /// The contract it implements.
    #[must_use]
    pub fn contract_id(&self) -> &str {
        self.claims
            .metadata
            .as_ref()
            .map_or("", |m| m.capid.as_str())
    }

    /// The links its host data carried when its process was started.
    #[must_use]
    pub fn host_data_links(&self) -> Vec<LinkDefinition> {
        self.host_data_links
            .lock()
            .expect("invariant: host data lock is never poisoned")
            .clone()
    }

    /// Last health.
    #[must_use]
    pub fn health(&self) -> Health {
        *self
            .health
            .lock()
            .expect("invariant: health lock is never poisoned")
    }
}

/// Providers by (key, link name).
#[derive(Debug, Default)]
pub struct Registry {
    entries: RwLock<HashMap<(String, String), Arc<Entry>>>,
}

impl Registry {
    /// The entry of (key, link).
    #[must_use]
    pub fn get(&self, key: &str, link_name: &str) -> Option<Arc<Entry>> {
        self.read()
            .get(&(key.to_string(), link_name.to_string()))
            .cloned()
    }

    /// Every entry, sorted.
    #[must_use]
    pub fn all(&self) -> Vec<Arc<Entry>> {
        let mut all: Vec<_> = self.read().values().cloned().collect();
        all.sort_by(|a, b| (&a.key, &a.link_name).cmp(&(&b.key, &b.link_name)));
        all
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<(String, String), Arc<Entry>>> {
        self.entries
            .read()
            .expect("invariant: provider lock is never poisoned")
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<(String, String), Arc<Entry>>> {
        self.entries
            .write()
            .expect("invariant: provider lock is never poisoned")
    }
}

/// A provider that could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The archive could not be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The archive was refused.
    #[error(transparent)]
    Archive(#[from] ParError),
    /// The same provider and link already run here.
    #[error("provider {key} with link name {link_name} is already running on this host")]
    AlreadyRunning {
        /// Key.
        key: String,
        /// Link.
        link_name: String,
    },
    /// Not running here.
    #[error("provider {key} with link name {link_name} is not running on this host")]
    NotRunning {
        /// Key.
        key: String,
        /// Link.
        link_name: String,
    },
    /// The data plane refused.
    #[error("the data plane refused: {0}")]
    DataPlane(String),
    /// The policy service said no (or did not answer).
    #[error("denied by policy: {0}")]
    Denied(String),
    /// A field of the request passes its bound.
    #[error("invalid request: {0}")]
    Invalid(String),
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
    if let Err(crate::control::ControlError::DataPlane(reason)) =
        crate::control::adopted(host).await
    {
        return Err(ProviderError::DataPlane(reason));
    }
    kiln_types::limits::check_map("the annotations", annotations.iter())
        .map_err(ProviderError::Invalid)?;
    if config_json
        .as_ref()
        .is_some_and(|c| c.len() > kiln_types::limits::CONFIG)
    {
        return Err(ProviderError::Invalid(format!(
            "the configuration is longer than {} bytes",
            kiln_types::limits::CONFIG
        )));
    }
    let verified = host
        .fetcher
        .fetch_provider(reference, &host.config.claims_policy)
        .await?;
    let key = verified.key().to_string();
    if let Some(policy) = &host.policy {
        policy
            .allow_start(host, "start_provider", &key, &verified.claims.issuer)
            .await
            .map_err(ProviderError::Denied)?;
    }
    if host.providers.get(&key, link_name).is_some() {
        return Err(ProviderError::AlreadyRunning {
            key,
            link_name: link_name.to_string(),
        });
    }
    if !host.data_plane.wait_ready().await {
        return Err(ProviderError::DataPlane(
            "the data plane is not connected".into(),
        ));
    }
    let entry = Arc::new(Entry {
        digest: Digest::of(&verified.binary),
        binary: Arc::new(verified.binary),
        claims: verified.claims,
        token: verified.token,
        key: key.clone(),
        link_name: link_name.to_string(),
        image_ref: reference.to_string(),
        instance_id: uuid::Uuid::new_v4().to_string(),
        config_json,
        annotations,
        health: Mutex::new(Health::Awaiting),
        catch_up_pending: std::sync::atomic::AtomicBool::new(true),
        host_data_links: Mutex::new(
            host.links
                .for_provider(&key, link_name)
                .iter()
                .map(|l| (**l).clone())
                .collect(),
        ),
        stop_checks: host.shutdown.child_token(),
    });
    let pid = deploy(host, &entry)
        .await
        .map_err(|s| ProviderError::DataPlane(s.message().to_string()))?;
    host.providers
        .write()
        .insert((key.clone(), link_name.to_string()), entry.clone());
    spawn_health_checks(host, &entry);
    tracing::info!(provider = %key, link = link_name, contract = entry.contract_id(), pid, "provider started");
    Ok(entry)
}

/// A provider found running after a restart, checked and ready to be taken over.
pub struct Adoptee {
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
    /// The links its host data carried.
    pub links: Vec<LinkDefinition>,
}

/// Takes over a provider the data plane runs: registered, given current host data,
/// health-checked, sent the links it missed once it answers. One started with other
/// keys (`keys_changed`) holds the old cluster seed and host id, so it is restarted.
///
/// # Errors
/// When the data plane cannot be told.
pub async fn adopt(
    host: &Shared,
    adoptee: Adoptee,
    keys_changed: bool,
) -> Result<(), ProviderError> {
    let entry = Arc::new(Entry {
        key: adoptee.key.clone(),
        link_name: adoptee.link_name.clone(),
        claims: adoptee.claims,
        token: adoptee.token,
        image_ref: adoptee.image_ref,
        digest: adoptee.digest,
        binary: Arc::new(adoptee.binary),
        instance_id: adoptee.instance_id,
        config_json: adoptee.config_json,
        annotations: adoptee.annotations,
        health: Mutex::new(Health::Awaiting),
        catch_up_pending: std::sync::atomic::AtomicBool::new(true),
        host_data_links: Mutex::new(if keys_changed {
            host.links
                .for_provider(&adoptee.key, &adoptee.link_name)
                .iter()
                .map(|l| (**l).clone())
                .collect()
        } else {
            adoptee.links
        }),
        stop_checks: host.shutdown.child_token(),
    });
    if keys_changed {
        tracing::warn!(provider = %entry.key, link = %entry.link_name, "the provider was started with another host or cluster key; restarting it with this host's");
        host.data_plane
            .stop_provider(&entry.key, &entry.link_name)
            .await
            .map_err(|s| ProviderError::DataPlane(s.message().to_string()))?;
    }
    deploy(host, &entry)
        .await
        .map_err(|s| ProviderError::DataPlane(s.message().to_string()))?;
    host.providers
        .write()
        .insert((entry.key.clone(), entry.link_name.clone()), entry.clone());
    spawn_health_checks(host, &entry);
    let stored = StoredClaims::of_provider(&entry.claims);
    if host.claims.put(stored.clone())
        && let Some(data) = &host.lattice_data
        && let Err(error) = data.put_claims(&stored).await
    {
        tracing::warn!(provider = %entry.key, "could not write claims to the lattice cache: {error:#}");
    }
    crate::control::remember_ref(host, &entry.image_ref, &entry.key).await;
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
    let Some(entry) = host
        .providers
        .write()
        .remove(&(key.to_string(), link_name.to_string()))
    else {
        return Err(ProviderError::NotRunning {
            key: key.to_string(),
            link_name: link_name.to_string(),
        });
    };
    entry.stop_checks.cancel();
    let subject = subjects::provider_shutdown(&host.config.lattice, key, link_name);
    let body = serde_json::json!({ "host_id": host.config.host_id() }).to_string();
    let _ = tokio::time::timeout(SHUTDOWN_WAIT, host.rpc.request(subject, body.into())).await;
    host.data_plane
        .stop_provider(key, link_name)
        .await
        .map_err(|s| ProviderError::DataPlane(s.message().to_string()))?;
    Ok(entry)
}

/// Starts `entry` on the data plane (or refreshes its host data there).
///
/// # Errors
/// The data plane's refusal.
pub async fn deploy(host: &Shared, entry: &Entry) -> Result<u32, tonic::Status> {
    let host_data = host_data(host, entry).to_stdin_line();
    host.data_plane
        .ensure_provider(
            &entry.key,
            &entry.link_name,
            entry.digest.as_str(),
            &entry.binary,
            host_data,
            crate::adoption::provider_record(host, entry),
        )
        .await
}

/// Gives the data plane fresh host data for every provider instance that serves
/// `provider` on `link_name`, so a restart gets the current links.
pub async fn refresh(host: &Shared, provider: &str, link_name: &str) {
    if let Some(entry) = host.providers.get(provider, link_name)
        && let Err(status) = deploy(host, &entry).await
    {
        tracing::warn!(%provider, link = link_name, error = %status.message(), "could not refresh provider host data");
    }
}

fn host_data(host: &Shared, entry: &Entry) -> HostData {
    let config = &host.config;
    let secret =
        |s: &Option<crate::config::Secret>| s.as_ref().map(|s| s.0.clone()).unwrap_or_default();
    HostData {
        host_id: config.host_id(),
        lattice_rpc_prefix: config.lattice.clone(),
        link_name: entry.link_name.clone(),
        lattice_rpc_user_jwt: secret(&config.prov_rpc.jwt),
        lattice_rpc_user_seed: secret(&config.prov_rpc.seed),
        // One address, as wasmbus providers read it; kiln's read the whole list.
        lattice_rpc_url: config.prov_rpc.address(),
        lattice_rpc_urls: config.prov_rpc.servers(),
        lattice_rpc_tls: u8::from(config.prov_rpc.tls),
        provider_key: entry.key.clone(),
        invocation_seed: config
            .cluster_key
            .seed()
            .expect("invariant: the cluster key is made from a seed"),
        env_values: HashMap::new(),
        instance_id: entry.instance_id.clone(),
        link_definitions: host
            .links
            .for_provider(&entry.key, &entry.link_name)
            .iter()
            .map(|l| (**l).clone())
            .collect(),
        cluster_issuers: config.cluster_issuers.clone(),
        config_json: entry.config_json.clone(),
        default_rpc_timeout_ms: Some(
            u64::try_from(config.rpc_timeout.as_millis()).unwrap_or(u64::MAX),
        ),
        js_domain: config.js_domain.clone(),
        structured_logging: false,
        log_level: Some("info".into()),
    }
}

/// Sends a provider that has just come up the link changes made between its host data
/// and its subscription, which it could not have received (the linkdef race of the
/// wasmbus host, wasmcloud-otp #361). A provider answering health checks is subscribed.
async fn catch_up_links(host: &Shared, entry: &Entry) {
    let known = entry
        .host_data_links
        .lock()
        .expect("invariant: host data lock is never poisoned")
        .clone();
    let current = host.links.for_provider(&entry.key, &entry.link_name);
    for link in &current {
        if !known.contains(&**link) {
            tracing::debug!(link = %link.id, "sending a link put while the provider started");
            crate::latticedata::notify_provider(host, link, true).await;
        }
    }
    for link in &known {
        if !current.iter().any(|c| c.id == link.id) {
            tracing::debug!(link = %link.id, "sending a link deleted while the provider started");
            crate::latticedata::notify_provider(host, link, false).await;
        }
    }
}

fn spawn_health_checks(host: &Shared, entry: &Arc<Entry>) {
    let (host, entry) = (host.clone(), entry.clone());
    let span = tracing::info_span!("health_check", provider = %entry.key, link = %entry.link_name);
    host.tasks.clone().spawn(
        async move {
            let subject =
                subjects::provider_health(&host.config.lattice, &entry.key, &entry.link_name);
            let body = rmp_serde::to_vec_named(&serde_json::json!({ "placeholder": true }))
                .expect("invariant: a constant map serialises");
            let mut wait = FIRST_HEALTH_CHECK;
            loop {
                tokio::select! {
                    () = entry.stop_checks.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
                wait = host.config.health_interval;
                // Any answer in time counts as healthy, as on every wasmbus host.
                let healthy = matches!(
                    tokio::time::timeout(
                        host.config.rpc_timeout,
                        host.rpc.request(subject.clone(), body.clone().into())
                    )
                    .await,
                    Ok(Ok(_))
                );
                let now = if healthy {
                    Health::Healthy
                } else {
                    Health::Unhealthy
                };
                let before = std::mem::replace(
                    &mut *entry
                        .health
                        .lock()
                        .expect("invariant: health lock is never poisoned"),
                    now,
                );
                let event = match (before, now) {
                    (Health::Healthy, Health::Healthy) | (Health::Unhealthy, Health::Unhealthy) => {
                        kind::HEALTH_CHECK_STATUS
                    }
                    (_, Health::Healthy) => kind::HEALTH_CHECK_PASSED,
                    _ => kind::HEALTH_CHECK_FAILED,
                };
                if before != now {
                    tracing::info!(health = ?now, "provider health changed");
                }
                // The first pass, however late (a provider slow to start fails its
                // first checks), proves it subscribed.
                if now == Health::Healthy
                    && entry
                        .catch_up_pending
                        .swap(false, std::sync::atomic::Ordering::Relaxed)
                {
                    catch_up_links(&host, &entry).await;
                }
                host.events.publish(event, eventdata::health(&entry)).await;
            }
        }
        .instrument(span),
    );
}
