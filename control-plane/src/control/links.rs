//! Link definitions: put and delete, through the lattice cache so every host sees them.

use crate::host::Shared;

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
    link.check().map_err(|e| match e {
        kiln_types::link::LinkError::Invalid(reason) => LinkError::Invalid(reason),
        other => LinkError::Invalid(other.to_string()),
    })?;
    if let Some(data) = &host.lattice_data {
        data.put_link(&link)
            .await
            .map_err(|e| LinkError::Store(format!("{e:#}")))?;
    }
    if host.links.put(link.clone()) {
        crate::control::providers::links::link_changed(host, &link, true).await;
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
        crate::control::providers::links::link_changed(host, &link, false).await;
    }
    tracing::info!(%actor, %contract, link = %link_name, "link deleted");
    Ok(true)
}
