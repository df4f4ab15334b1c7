//! The control service: start, scale and stop actors. Every front end (the NATS control
//! interface, start-up flags) calls these functions and nothing else.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_types::ids::{ActorKey, Digest};

use crate::actors::{Entry, Instance};
use crate::artifact::{self, FetchError};
use crate::host::Shared;
use crate::rpc;

/// A command that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The module could not be fetched or its claims were refused.
    #[error(transparent)]
    Fetch(#[from] FetchError),
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

/// Starts `count` more instances of the actor at `reference`.
///
/// # Errors
/// See [`ControlError`].
pub async fn start_actor(
    host: &Shared,
    reference: &str,
    count: u32,
    annotations: BTreeMap<String, String>,
) -> Result<Started, ControlError> {
    let verified = artifact::fetch_actor(
        reference,
        host.config.allow_file_load,
        &host.config.claims_policy,
    )
    .await?;
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
    let digest = Digest::of(&verified.stripped);
    let added: Vec<Instance> = (0..count.max(1))
        .map(|_| Instance {
            id: uuid::Uuid::new_v4().to_string(),
            annotations: annotations.clone(),
        })
        .collect();
    let previous = host.actors.get(key.as_str());
    let entry = match &previous {
        Some(running) if running.digest != digest => {
            return Err(ControlError::Conflict {
                key: key.to_string(),
                running: running.image_ref.clone(),
            });
        }
        Some(running) => {
            let mut entry = Entry::clone(running);
            entry.instances.extend(added.iter().cloned());
            entry
        }
        None => Entry {
            key: key.clone(),
            claims: Arc::new(verified.claims),
            image_ref: reference.to_string(),
            digest,
            module: Arc::new(verified.stripped),
            instances: added.clone(),
        },
    };
    let entry = host.actors.put(entry);
    if let Err(error) = host
        .data_plane
        .ensure_actor(
            key.as_str(),
            entry.digest.as_str(),
            &entry.module,
            entry.count(),
        )
        .await
    {
        restore(host, key.as_str(), previous);
        return Err(error.into());
    }
    if let Err(error) = rpc::subscribe(host, key.as_str()).await {
        restore(host, key.as_str(), previous);
        return Err(ControlError::Lattice(format!("{error:#}")));
    }
    tracing::info!(actor = %key, reference, total = entry.count(), "actor started");
    Ok(Started {
        key,
        added,
        total: entry.count(),
    })
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
    let mut stopped = 0;
    entry.instances.retain(|instance| {
        let matches = annotations
            .iter()
            .all(|(k, v)| instance.annotations.get(k) == Some(v));
        if matches && stopped < limit {
            stopped += 1;
            false
        } else {
            true
        }
    });
    set_instances(host, entry).await
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
    entry.instances.truncate(wanted);
    while entry.instances.len() < wanted {
        entry.instances.push(Instance {
            id: uuid::Uuid::new_v4().to_string(),
            annotations: BTreeMap::new(),
        });
    }
    set_instances(host, entry).await
}

async fn set_instances(host: &Shared, entry: Entry) -> Result<u32, ControlError> {
    let key = entry.key.to_string();
    let remaining = entry.count();
    if remaining == 0 {
        rpc::unsubscribe(host, &key);
        host.actors.remove(&key);
        host.data_plane.stop(&key).await?;
        tracing::info!(actor = %key, "actor stopped");
    } else {
        host.actors.put(entry);
        host.data_plane.scale(&key, remaining).await?;
        tracing::info!(actor = %key, instances = remaining, "actor scaled");
    }
    Ok(remaining)
}

fn restore(host: &Shared, key: &str, previous: Option<Arc<Entry>>) {
    match previous {
        Some(entry) => {
            host.actors.put(Entry::clone(&entry));
        }
        None => {
            host.actors.remove(key);
        }
    }
}

/// A link definition could not be put or deleted.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// A field is missing or malformed.
    #[error("invalid link definition: {0}")]
    Invalid(String),
    /// The lattice cache refused the write.
    #[error("could not store the link: {0}")]
    Store(String),
}

/// Puts a link: into the lattice cache (so every host sees it), into this host's table
/// and to the provider.
///
/// # Errors
/// A malformed link, or a cache that refuses the write.
pub async fn put_link(
    host: &Shared,
    link: kiln_types::link::LinkDefinition,
) -> Result<(), LinkError> {
    use kiln_types::keys::KeyKind;
    if KeyKind::of_public_key(&link.actor_id) != Some(KeyKind::Module) {
        return Err(LinkError::Invalid(format!(
            "actor_id {:?} is not an actor public key",
            link.actor_id
        )));
    }
    if KeyKind::of_public_key(&link.provider_id) != Some(KeyKind::Service) {
        return Err(LinkError::Invalid(format!(
            "provider_id {:?} is not a provider public key",
            link.provider_id
        )));
    }
    if link.contract_id.is_empty() {
        return Err(LinkError::Invalid("contract_id is empty".into()));
    }
    let link = kiln_types::link::LinkDefinition::new(
        link.actor_id,
        link.provider_id,
        if link.link_name.is_empty() {
            "default".to_string()
        } else {
            link.link_name
        },
        link.contract_id,
        link.values,
    );
    if let Some(data) = &host.lattice_data {
        data.put_link(&link)
            .await
            .map_err(|e| LinkError::Store(format!("{e:#}")))?;
    }
    if host.links.put(link.clone()) {
        crate::latticedata::notify_provider(host, &link, true).await;
    }
    tracing::info!(actor = %link.actor_id, provider = %link.provider_id, contract = %link.contract_id, link = %link.link_name, "link put");
    Ok(())
}

/// Deletes the link for (actor, contract, link name); returns whether it existed.
///
/// # Errors
/// A cache that refuses the purge.
pub async fn delete_link(
    host: &Shared,
    actor: &str,
    contract: &str,
    link_name: &str,
) -> Result<bool, LinkError> {
    let link_name = if link_name.is_empty() {
        "default"
    } else {
        link_name
    };
    let Some(link) = host.links.find(actor, contract, link_name) else {
        return Ok(false);
    };
    if let Some(data) = &host.lattice_data {
        data.delete_link(&link)
            .await
            .map_err(|e| LinkError::Store(format!("{e:#}")))?;
    }
    if host.links.remove(&link.id).is_some() {
        crate::latticedata::notify_provider(host, &link, false).await;
    }
    tracing::info!(%actor, %contract, link = %link_name, "link deleted");
    Ok(true)
}
