//! Keeps this host's copy of the lattice cache current: every change any host of the
//! lattice writes (links, claims, reference maps) is applied here, and a link change
//! is announced and sent to its provider.

use futures::StreamExt as _;

use crate::control::providers::links::link_changed;
use crate::host::Shared;
use crate::lattice::cache::Change;

/// Applies every change of the bucket to this host, the existing entries first.
pub async fn watch(host: Shared) {
    let Some(data) = host.lattice_data.as_ref() else {
        return;
    };
    let changes = match data.watch().await {
        Ok(changes) => changes,
        Err(error) => {
            tracing::error!(
                "could not watch the lattice cache; links from other hosts will not be seen: {error:#}"
            );
            return;
        }
    };
    let mut changes = std::pin::pin!(changes);
    loop {
        let change = tokio::select! {
            () = host.shutdown.cancelled() => return,
            change = changes.next() => match change { Some(c) => c, None => return },
        };
        apply(&host, change).await;
    }
}

async fn apply(host: &Shared, change: Change) {
    match change {
        Change::LinkDeleted(id) => {
            if let Some(link) = host.links.remove(&id) {
                link_changed(host, &link, false).await;
            }
        }
        Change::LinkPut(link) => {
            if host.links.put(link.clone()) {
                link_changed(host, &link, true).await;
            }
        }
        Change::ClaimsDeleted(key) => host.claims.remove(&key),
        Change::ClaimsPut(claims) => {
            host.claims.put(claims);
        }
        Change::Refmap { reference, key } => {
            host.claims.put_refmap(&reference, &key);
        }
    }
}
