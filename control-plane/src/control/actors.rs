//! Actors: start, stop, scale and live-update, with their lattice events and the
//! lattice cache kept current.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_types::claims::VerifiedActor;
use kiln_types::ids::ActorKey;

use super::errors::ControlError;
use crate::dataplane::records;
use crate::gateway::inbound;
use crate::host::Shared;
use crate::lattice::events::data as eventdata;
use crate::lattice::events::kind;
use crate::state::actors::{Actors, Entry, Instance};
use crate::state::claims::StoredClaims;

/// What a start did.
#[derive(Debug, Clone)]
pub struct Started {
    /// Actor key.
    pub key: ActorKey,
    /// Instances added.
    pub added: Vec<Instance>,
    /// Instances now running.
    pub total: u32,
}

/// Starts `count` more instances of the actor at `reference`, and publishes
/// `actor_started` per instance and `actors_started`, or the failure events.
///
/// # Errors
/// See [`ControlError`].
pub async fn start_actor(
    host: &Shared,
    reference: &str,
    count: u32,
    annotations: BTreeMap<String, String>,
) -> Result<Started, ControlError> {
    let reference = &*kiln_wasmbus::oci::canonical(reference);
    let mut key = None;
    let outcome = match fetch(host, reference, &annotations).await {
        Ok(verified) => {
            key = Some(verified.key().to_string());
            start(host, verified, reference, count, &annotations).await
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok(started) => {
            if let Some(entry) = host.actors.get(started.key.as_str()) {
                for instance in &started.added {
                    host.events
                        .publish(
                            kind::ACTOR_STARTED,
                            eventdata::actor_started(&entry, instance),
                        )
                        .await;
                }
                host.events
                    .publish(
                        kind::ACTORS_STARTED,
                        eventdata::actors_started(
                            &host.config.host_id(),
                            &entry,
                            &annotations,
                            started.added.len(),
                        ),
                    )
                    .await;
            }
            Ok(started)
        }
        Err(error) => {
            let text = error.to_string();
            tracing::warn!(%reference, "actor start failed: {text}");
            host.events
                .publish(
                    kind::ACTOR_START_FAILED,
                    eventdata::actor_start_failed(reference, &text),
                )
                .await;
            host.events
                .publish(
                    kind::ACTORS_START_FAILED,
                    eventdata::actors_start_failed(
                        &host.config.host_id(),
                        key.as_deref(),
                        reference,
                        &annotations,
                        &text,
                    ),
                )
                .await;
            Err(error)
        }
    }
}

/// The actor at `reference`, fetched and its claims checked, once adoption allows and
/// the annotations pass their bounds.
async fn fetch(
    host: &Shared,
    reference: &str,
    annotations: &BTreeMap<String, String>,
) -> Result<VerifiedActor, ControlError> {
    super::lifecycle::adopted(&host.readiness).await?;
    kiln_types::limits::check_map("the annotations", annotations.iter())
        .map_err(ControlError::Invalid)?;
    Ok(host
        .fetcher
        .fetch_actor(reference, &host.config.claims_policy)
        .await?)
}

async fn start(
    host: &Shared,
    verified: VerifiedActor,
    reference: &str,
    count: u32,
    annotations: &BTreeMap<String, String>,
) -> Result<Started, ControlError> {
    if let Some(policy) = &host.policy {
        policy
            .allow_start(
                "start_actor",
                verified.key(),
                &verified.claims.issuer,
                "",
                "",
            )
            .await
            .map_err(ControlError::Denied)?;
    }
    // While the data plane (re)connects, the supervisor syncs it from the registry;
    // starting only once it is in line keeps the two from pushing the same module.
    if !host.data_plane.wait_ready().await {
        return Err(ControlError::DataPlane(
            "the data plane is not connected".into(),
        ));
    }
    let key: ActorKey = verified
        .key()
        .parse()
        .expect("invariant: verified claims have a module subject");
    let stored = StoredClaims::of_actor(&verified.claims);
    let added: Vec<Instance> = (0..count.max(1))
        .map(|_| Instance {
            id: uuid::Uuid::new_v4().to_string(),
            annotations: annotations.clone(),
        })
        .collect();
    let previous = host.actors.get(key.as_str());
    let entry = with_instances(previous.as_ref(), verified, key.clone(), reference, &added)?;
    let entry = host.actors.put(entry);
    run_on_data_plane(host, &entry, previous).await?;
    remember(host, stored, reference).await;
    tracing::info!(actor = %key, reference, total = entry.count(), "actor started");
    Ok(Started {
        key,
        added,
        total: entry.count(),
    })
}

/// What should run after a start: the running actor with `added` instances more, or a
/// new one from `verified`. An actor running from another reference is a conflict, as
/// on the OTP host: replacing its module is a live update. From the same reference it
/// gains instances of the module it runs, even if the reference now holds another.
fn with_instances(
    previous: Option<&Arc<Entry>>,
    verified: VerifiedActor,
    key: ActorKey,
    reference: &str,
    added: &[Instance],
) -> Result<Entry, ControlError> {
    match previous {
        Some(running) if running.image_ref != reference => Err(ControlError::Conflict {
            key: key.to_string(),
            requested: reference.to_string(),
            running: running.image_ref.clone(),
        }),
        Some(running) => {
            let mut entry = Entry::clone(running);
            entry.instances.extend(added.iter().cloned());
            Ok(entry)
        }
        None => Ok(Entry {
            key,
            claims: Arc::new(verified.claims),
            token: Arc::from(verified.token),
            image_ref: reference.to_string(),
            digest: verified.digest,
            module: Arc::new(verified.stripped),
            instances: added.to_vec(),
        }),
    }
}

/// Makes the data plane run `entry` and serves it on the lattice; on failure the
/// registry gets `previous` back. The lattice subscription is made while the data plane
/// brings the actor up (a round trip each, to the NATS server and to the data plane, one
/// not waiting for the other); calls that come before the actor is up wait in it.
async fn run_on_data_plane(
    host: &Shared,
    entry: &Entry,
    previous: Option<Arc<Entry>>,
) -> Result<(), ControlError> {
    let key = entry.key.as_str();
    let (started, listening) = tokio::join!(
        host.data_plane.ensure_actor(
            key,
            entry.digest.as_str(),
            &entry.module,
            entry.count(),
            records::actor_record(entry),
        ),
        inbound::listen(host, key)
    );
    match (started, listening) {
        (Ok(()), Ok(listening)) => {
            if let Some(listening) = listening {
                listening.serve(host, key);
            }
            Ok(())
        }
        (Err(error), listening) => {
            if let Ok(Some(listening)) = listening {
                listening.refuse(host, key, error.message()).await;
            }
            restore(&host.actors, key, previous);
            Err(error.into())
        }
        (Ok(()), Err(error)) => {
            restore(&host.actors, key, previous);
            Err(ControlError::Lattice(format!("{error:#}")))
        }
    }
}

/// Puts an actor's or a provider's claims (and its reference, for registry
/// references) into the lattice cache, here and for every host.
pub async fn remember(host: &Shared, stored: StoredClaims, reference: &str) {
    let key = stored.sub.clone();
    if host.claims.put(stored.clone())
        && let Some(data) = &host.lattice_data
        && let Err(error) = data.put_claims(&stored).await
    {
        tracing::warn!(key = %stored.sub, "could not write claims to the lattice cache: {error:#}");
    }
    remember_ref(host, reference, &key).await;
}

/// Records that `reference` names `key` (registry references only: a file path means
/// nothing to other hosts) and publishes `refmap_set`.
pub async fn remember_ref(host: &Shared, reference: &str, key: &str) {
    if reference.is_empty() || reference.starts_with("file://") {
        return;
    }
    if host.claims.put_refmap(reference, key) {
        if let Some(data) = &host.lattice_data
            && let Err(error) = data.put_refmap(reference, key).await
        {
            tracing::warn!(%reference, "could not write the reference map: {error:#}");
        }
        host.events
            .publish(kind::REFMAP_SET, eventdata::refmap_set(reference, key))
            .await;
    }
}

/// Stops `count` instances of `key` (all when 0) whose annotations include
/// `annotations`; returns how many remain. The last instance also ends the actor's
/// lattice subscription, before the data plane drops it, so no call is lost between.
///
/// # Errors
/// When the actor is not running here or the data plane cannot be told.
pub async fn stop_actor(
    host: &Shared,
    key: &str,
    count: u32,
    annotations: &BTreeMap<String, String>,
) -> Result<u32, ControlError> {
    super::lifecycle::adopted(&host.readiness).await?;
    let running = host
        .actors
        .get(key)
        .ok_or_else(|| ControlError::NotRunning(key.to_string()))?;
    let mut entry = Entry::clone(&running);
    let limit = if count == 0 {
        usize::MAX
    } else {
        count as usize
    };
    let mut stopped = Vec::new();
    entry.instances.retain(|instance| {
        let matches = annotations
            .iter()
            .all(|(k, v)| instance.annotations.get(k) == Some(v));
        if matches && stopped.len() < limit {
            stopped.push(instance.clone());
            false
        } else {
            true
        }
    });
    let remaining = set_instances(host, entry).await?;
    stopped_events(host, key, &stopped, remaining, annotations).await;
    Ok(remaining)
}

async fn stopped_events(
    host: &Shared,
    key: &str,
    stopped: &[Instance],
    remaining: u32,
    annotations: &BTreeMap<String, String>,
) {
    for instance in stopped {
        host.events
            .publish(kind::ACTOR_STOPPED, eventdata::actor_stopped(key, instance))
            .await;
    }
    host.events
        .publish(
            kind::ACTORS_STOPPED,
            eventdata::actors_stopped(
                &host.config.host_id(),
                key,
                stopped.len(),
                remaining,
                annotations,
            ),
        )
        .await;
}

/// Sets the number of instances of `key` to `count`, starting it from `reference`
/// if it does not run yet.
///
/// # Errors
/// See [`ControlError`].
pub async fn scale_actor(
    host: &Shared,
    key: &str,
    reference: &str,
    count: u32,
) -> Result<u32, ControlError> {
    super::lifecycle::adopted(&host.readiness).await?;
    let Some(running) = host.actors.get(key) else {
        if count == 0 {
            return Ok(0);
        }
        let reference = if reference.is_empty() { key } else { reference };
        return Ok(start_actor(host, reference, count, BTreeMap::new())
            .await?
            .total);
    };
    let mut entry = Entry::clone(&running);
    let wanted = count as usize;
    let stopped: Vec<Instance> = entry.instances.split_off(wanted.min(entry.instances.len()));
    let mut added = Vec::new();
    while entry.instances.len() < wanted {
        let instance = Instance {
            id: uuid::Uuid::new_v4().to_string(),
            annotations: BTreeMap::new(),
        };
        added.push(instance.clone());
        entry.instances.push(instance);
    }
    let remaining = set_instances(host, entry).await?;
    if !stopped.is_empty() {
        stopped_events(host, key, &stopped, remaining, &BTreeMap::new()).await;
    }
    if !added.is_empty() {
        for instance in &added {
            host.events
                .publish(
                    kind::ACTOR_STARTED,
                    eventdata::actor_started(&running, instance),
                )
                .await;
        }
        host.events
            .publish(
                kind::ACTORS_STARTED,
                eventdata::actors_started(
                    &host.config.host_id(),
                    &running,
                    &BTreeMap::new(),
                    added.len(),
                ),
            )
            .await;
    }
    Ok(remaining)
}

/// Replaces the running actor with a higher revision of the same key from
/// `reference`; calls in flight finish on the old module. Returns the new revision.
///
/// # Errors
/// A module that cannot be fetched or verified, another key, a revision that is not
/// higher, or an actor that does not run here.
pub async fn update_actor(
    host: &Shared,
    key: Option<&str>,
    reference: &str,
) -> Result<i64, ControlError> {
    let reference = &*kiln_wasmbus::oci::canonical(reference);
    super::lifecycle::adopted(&host.readiness).await?;
    let verified = host
        .fetcher
        .fetch_actor(reference, &host.config.claims_policy)
        .await?;
    let new_key = verified.key().to_string();
    if let Some(key) = key.filter(|k| !k.is_empty())
        && key != new_key
    {
        return Err(ControlError::Update(format!(
            "{reference} is actor {new_key}, not {key}"
        )));
    }
    let running = host
        .actors
        .get(&new_key)
        .ok_or_else(|| ControlError::NotRunning(new_key.clone()))?;
    let old_revision = kiln_types::claims::revision(&running.claims);
    let new_revision = kiln_types::claims::revision(&verified.claims);
    if new_revision <= old_revision {
        let reason = format!(
            "revision {new_revision} of {reference} is not higher than the running revision {old_revision}"
        );
        update_failed(host, &running, new_revision, &reason).await;
        return Err(ControlError::Update(reason));
    }
    let stored = StoredClaims::of_actor(&verified.claims);
    let mut entry = Entry::clone(&running);
    entry.digest = verified.digest;
    entry.claims = Arc::new(verified.claims);
    entry.token = Arc::from(verified.token);
    entry.module = Arc::new(verified.stripped);
    entry.image_ref = reference.to_string();
    // The data plane swaps the module; calls already running keep the old instances.
    if let Err(status) = host
        .data_plane
        .ensure_actor(
            &new_key,
            entry.digest.as_str(),
            &entry.module,
            entry.count(),
            records::actor_record(&entry),
        )
        .await
    {
        let error = ControlError::from(status);
        update_failed(host, &entry, new_revision, &error.to_string()).await;
        return Err(error);
    }
    let instances = entry.instances.clone();
    host.actors.put(entry);
    remember(host, stored, reference).await;
    for instance in &instances {
        host.events
            .publish(
                kind::ACTOR_UPDATED,
                eventdata::actor_updated(&new_key, new_revision, &instance.id, None),
            )
            .await;
    }
    tracing::info!(actor = %new_key, reference, revision = new_revision, "actor updated");
    Ok(new_revision)
}

/// `actor_update_failed` for each instance of `entry`, saying why.
async fn update_failed(host: &Shared, entry: &Entry, revision: i64, reason: &str) {
    for instance in &entry.instances {
        host.events
            .publish(
                kind::ACTOR_UPDATE_FAILED,
                eventdata::actor_updated(entry.key.as_str(), revision, &instance.id, Some(reason)),
            )
            .await;
    }
}

async fn set_instances(host: &Shared, entry: Entry) -> Result<u32, ControlError> {
    let key = entry.key.to_string();
    let remaining = entry.count();
    if remaining == 0 {
        host.subscriptions.end(&key);
        host.actors.remove(&key);
        host.data_plane.stop(&key).await?;
        tracing::info!(actor = %key, "actor stopped");
    } else {
        let record = records::actor_record(&entry);
        let previous = host.actors.get(&key);
        host.actors.put(entry);
        // A scale the data plane refuses (a warm pool too small) leaves the actor as
        // it was, here as there.
        if let Err(error) = host.data_plane.scale(&key, remaining, record).await {
            restore(&host.actors, &key, previous);
            return Err(error.into());
        }
        tracing::info!(actor = %key, instances = remaining, "actor scaled");
    }
    Ok(remaining)
}

fn restore(actors: &Actors, key: &str, previous: Option<Arc<Entry>>) {
    match previous {
        Some(entry) => {
            actors.put(Entry::clone(&entry));
        }
        None => {
            actors.remove(key);
        }
    }
}
