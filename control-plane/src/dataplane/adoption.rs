//! Taking over what the data plane runs after the control plane restarted.
//!
//! A control plane keeps its desired state in memory, so a restarted one knows nothing.
//! Its data plane, still running, does: each actor and provider was started with a
//! record (JSON, opaque to the data plane) holding what the control plane needs to
//! serve it again: the reference, the claims token, the instances with their
//! annotations, a provider's configuration. On its first connection the control plane
//! reads the inventory, reads each artifact back, and checks it as at a start: the
//! bytes must hash to the digest, the token must verify (signature, times, issuer
//! allow-list) and sign that hash, and its subject must be the key the data plane
//! names. Nothing the data plane says is trusted beyond what can be checked; a
//! workload that fails the checks (or has no record) is stopped and reported, any
//! other is adopted: registered, subscribed on the lattice, its claims in the lattice
//! cache, a provider health-checked and given current host data.

use std::collections::BTreeMap;
use std::sync::Arc;

use data_encoding::HEXUPPER;
use kiln_proto::dataplane::v1 as pb;
use kiln_types::decode;
use kiln_types::ids::{ActorKey, Digest};
use kiln_types::{claims, par};

use super::link::Link;
use super::records::{ActorRecord, ProviderRecord};
use crate::host::Shared;
use crate::lattice::events::{data as eventdata, kind};
use crate::state::actors::{Entry, Instance};

/// What adoption found.
#[derive(Debug, Default)]
pub struct Adopted {
    /// Actors taken over.
    pub actors: usize,
    /// Providers taken over.
    pub providers: usize,
    /// Workloads that failed their checks and were stopped, with why.
    pub refused: Vec<String>,
    /// Workloads left for another attempt (NATS or the data plane failed meanwhile).
    pub postponed: Vec<String>,
}

/// Why one workload was not adopted.
#[derive(Debug)]
enum NotAdopted {
    /// It fails its checks: it is stopped.
    Refused(String),
    /// Something it needs failed for now: adoption tries again.
    Postponed(String),
}

impl From<String> for NotAdopted {
    fn from(reason: String) -> NotAdopted {
        NotAdopted::Refused(reason)
    }
}

/// Takes over every actor and provider in `inventory` that passes its checks, and
/// stops the others.
pub async fn adopt(host: &Shared, inventory: &pb::InventoryResponse) -> Adopted {
    let mut adopted = Adopted::default();
    for status in &inventory.actors {
        if host.actors.get(&status.actor).is_some() {
            continue;
        }
        match adopt_actor(host, status).await {
            Ok(()) => adopted.actors += 1,
            Err(NotAdopted::Postponed(reason)) => {
                tracing::warn!(actor = %status.actor, "adoption postponed: {reason}");
                adopted
                    .postponed
                    .push(format!("actor {}: {reason}", status.actor));
            }
            Err(NotAdopted::Refused(reason)) => {
                tracing::error!(actor = %status.actor, "not adopting the actor: {reason}; stopping it");
                if let Err(error) = host.data_plane.stop(&status.actor).await {
                    tracing::warn!(actor = %status.actor, error = %error.message(), "could not stop the actor");
                }
                host.events
                    .publish(
                        kind::ACTORS_STOPPED,
                        eventdata::actors_stopped(
                            &host.config.host_id(),
                            &status.actor,
                            status.instances as usize,
                            0,
                            &BTreeMap::new(),
                        ),
                    )
                    .await;
                adopted
                    .refused
                    .push(format!("actor {}: {reason}", status.actor));
            }
        }
    }
    for status in &inventory.providers {
        if host
            .providers
            .get(&status.provider, &status.link_name)
            .is_some()
        {
            continue;
        }
        match adopt_provider(host, status).await {
            Ok(()) => adopted.providers += 1,
            Err(NotAdopted::Postponed(reason)) => {
                tracing::warn!(provider = %status.provider, "adoption postponed: {reason}");
                adopted
                    .postponed
                    .push(format!("provider {}: {reason}", status.provider));
            }
            Err(NotAdopted::Refused(reason)) => {
                tracing::error!(provider = %status.provider, link = %status.link_name, "not adopting the provider: {reason}; stopping it");
                if let Err(error) = host
                    .data_plane
                    .stop_provider(&status.provider, &status.link_name)
                    .await
                {
                    tracing::warn!(provider = %status.provider, error = %error.message(), "could not stop the provider");
                }
                adopted.refused.push(format!(
                    "provider {} ({}): {reason}",
                    status.provider, status.link_name
                ));
            }
        }
    }
    adopted
}

/// Reads back an artifact and returns it with its digest and its upper-case hash;
/// `None` when the data plane no longer has the bytes (it runs them from memory).
async fn read_back(
    data_plane: &Link,
    digest: &str,
    kind: pb::ArtifactKind,
    limit: u64,
) -> Result<Option<(Vec<u8>, Digest, String)>, NotAdopted> {
    let bytes = match data_plane.read_artifact(digest, kind, limit).await {
        Ok(bytes) => bytes,
        Err(status) if status.code() == tonic::Code::NotFound => return Ok(None),
        Err(status) if status.code() == tonic::Code::OutOfRange => {
            return Err(NotAdopted::Refused(status.message().to_string()));
        }
        Err(status) => {
            return Err(NotAdopted::Postponed(format!(
                "its artifact could not be read back: {}",
                status.message()
            )));
        }
    };
    let (bytes, hash) = tokio::task::spawn_blocking(move || {
        use sha2::Digest as _;
        let hash = sha2::Sha256::digest(&bytes);
        (bytes, hash)
    })
    .await
    .map_err(|_| NotAdopted::Postponed("the check was interrupted".to_string()))?;
    let read = Digest::of_hash(&hash);
    if read.as_str() != digest {
        return Err(NotAdopted::Refused(format!(
            "its artifact hashes to {read}, not to the digest {digest} it runs from"
        )));
    }
    Ok(Some((bytes, read, HEXUPPER.encode(&hash))))
}

/// The bytes of an artifact the data plane no longer keeps, fetched again from where
/// it came from and checked against the digest it runs from.
fn refetched(
    digest: &str,
    bytes: Vec<u8>,
    what: &str,
) -> Result<(Vec<u8>, Digest, String), NotAdopted> {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(&bytes);
    let read = Digest::of_hash(&hash);
    if read.as_str() != digest {
        return Err(NotAdopted::Refused(format!(
            "its {what} is no longer on the data plane, and its reference now holds {read}, not the digest {digest} it runs from"
        )));
    }
    Ok((bytes, read, HEXUPPER.encode(&hash)))
}

async fn adopt_actor(host: &Shared, status: &pb::ActorStatus) -> Result<(), NotAdopted> {
    let record: ActorRecord = decode::json("the actor's record", &status.record, 1 << 20)
        .map_err(|e| format!("no readable record ({e})"))?;
    let read = read_back(
        &host.data_plane,
        &status.digest,
        pb::ArtifactKind::WasmModule,
        host.config.fetch_limits.actor,
    )
    .await?;
    let (module, digest, hash) = match read {
        Some(read) => read,
        None => {
            let fetched = host
                .fetcher
                .fetch_actor(&record.image_ref, &host.config.claims_policy)
                .await
                .map_err(|e| NotAdopted::Postponed(format!("its module is no longer on the data plane and could not be fetched again: {e}")))?;
            refetched(&status.digest, fetched.stripped, "module")?
        }
    };
    let claims = claims::verify_token(
        &record.token,
        &hash,
        &host.config.claims_policy,
        kiln_types::unix_now(),
    )
    .map_err(|e| e.to_string())?;
    if claims.subject != status.actor {
        return Err(NotAdopted::Refused(format!(
            "its claims are for {}",
            claims.subject
        )));
    }
    let key: ActorKey = status
        .actor
        .parse()
        .map_err(|_| NotAdopted::Refused("its key is no actor key".to_string()))?;
    let mut instances: Vec<Instance> = record
        .instances
        .into_iter()
        .map(|i| Instance {
            id: i.id,
            annotations: i.annotations,
        })
        .collect();
    // The data plane's count is what runs.
    instances.truncate(status.instances as usize);
    while instances.len() < status.instances as usize {
        instances.push(Instance {
            id: uuid::Uuid::new_v4().to_string(),
            annotations: BTreeMap::new(),
        });
    }
    let stored = crate::state::claims::StoredClaims::of_actor(&claims);
    host.actors.put(Entry {
        key: key.clone(),
        claims: Arc::new(claims),
        token: Arc::from(record.token),
        image_ref: record.image_ref.clone(),
        digest,
        module: Arc::new(module),
        instances,
    });
    if let Err(error) = crate::gateway::inbound::subscribe(host, key.as_str()).await {
        host.actors.remove(key.as_str());
        return Err(NotAdopted::Postponed(format!(
            "could not subscribe on the lattice: {error:#}"
        )));
    }
    crate::control::remember(host, stored, &record.image_ref).await;
    tracing::info!(actor = %key, reference = %record.image_ref, instances = status.instances, "actor adopted");
    Ok(())
}

async fn adopt_provider(host: &Shared, status: &pb::ProviderStatus) -> Result<(), NotAdopted> {
    let record: ProviderRecord = decode::json("the provider's record", &status.record, 1 << 20)
        .map_err(|e| format!("no readable record ({e})"))?;
    let read = read_back(
        &host.data_plane,
        &status.digest,
        pb::ArtifactKind::Executable,
        par::MAX_ENTRY_BYTES,
    )
    .await?;
    let (binary, digest, hash) = match read {
        Some(read) => read,
        None => {
            let fetched = host
                .fetcher
                .fetch_provider(&record.image_ref, &host.config.claims_policy)
                .await
                .map_err(|e| NotAdopted::Postponed(format!("its executable is no longer on the data plane and could not be fetched again: {e}")))?;
            refetched(&status.digest, fetched.binary, "executable")?
        }
    };
    let claims = par::verify_provider_token(
        &record.token,
        &par::native_target(),
        Some(&hash),
        &host.config.claims_policy,
        kiln_types::unix_now(),
    )
    .map_err(|e| e.to_string())?;
    if claims.subject != status.provider {
        return Err(NotAdopted::Refused(format!(
            "its claims are for {}",
            claims.subject
        )));
    }
    kiln_types::link::check_link_name(&status.link_name).map_err(NotAdopted::Refused)?;
    let keys_changed = record.host_id != host.config.host_id()
        || record.cluster != host.config.cluster_key.public_key();
    let adopted = crate::control::providers::Prepared {
        key: status.provider.clone(),
        link_name: status.link_name.clone(),
        claims,
        token: record.token,
        image_ref: record.image_ref,
        digest,
        binary,
        instance_id: record.instance_id,
        config_json: record.config_json,
        annotations: record.annotations,
        links: record.links,
    };
    crate::control::providers::adopt(host, adopted, keys_changed)
        .await
        .map_err(|e| NotAdopted::Postponed(e.to_string()))
}
