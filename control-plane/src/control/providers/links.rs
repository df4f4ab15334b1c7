//! Link changes as a provider sees them: the lattice event, the provider told, and its
//! host data refreshed for a later restart.

use kiln_types::link::LinkDefinition;
use kiln_wasmbus::subjects;

use crate::host::Shared;
use crate::lattice::events::kind;

/// A link of the lattice was set or deleted: the event, and the provider told.
pub async fn link_changed(host: &Shared, link: &LinkDefinition, put: bool) {
    let kind = if put {
        kind::LINKDEF_SET
    } else {
        kind::LINKDEF_DELETED
    };
    host.events
        .publish(kind, serde_json::to_value(link).unwrap_or_default())
        .await;
    notify_provider(host, link, put).await;
}

/// Tells the provider a link was put or deleted (msgpack, no reply expected); a
/// built-in provider of this host is told in place.
pub async fn notify_provider(host: &Shared, link: &LinkDefinition, put: bool) {
    if let Some(entry) = host.providers.get(&link.provider_id, &link.link_name)
        && let Some(builtin) = entry.builtin()
    {
        if !put {
            builtin.delete_link(link);
        } else if let Err(problem) = builtin.put_link(link) {
            tracing::warn!(actor = %link.actor_id, link = %link.link_name, %problem, "the built-in provider cannot serve a link");
        }
        return;
    }
    let subject = if put {
        subjects::provider_linkdefs_put(&host.config.lattice, &link.provider_id, &link.link_name)
    } else {
        subjects::provider_linkdefs_del(&host.config.lattice, &link.provider_id, &link.link_name)
    };
    if let Err(error) = host.rpc.publish(subject, link.to_msgpack().into()).await {
        tracing::warn!(link = %link.id, %error, "could not notify the provider of a link change");
    }
    // A provider of this host restarted later must get the change in its host data.
    super::deploy::refresh(host, &link.provider_id, &link.link_name).await;
}
