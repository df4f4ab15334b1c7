//! The host status page: identity, data-plane state and actors.

use maud::{Markup, html};

use crate::layout;

/// What the status page shows about the host.
#[derive(Debug, Clone)]
pub struct HostView {
    /// Host public key.
    pub id: String,
    /// Friendly name.
    pub name: String,
    /// Lattice prefix.
    pub lattice: String,
    /// Cluster public key.
    pub cluster: String,
    /// Uptime, human.
    pub uptime: String,
    /// Whether the data plane is connected.
    pub data_plane_ready: bool,
    /// Actors.
    pub actors: Vec<ActorRow>,
    /// Providers.
    pub providers: Vec<ProviderRow>,
    /// The lattice's hosts as this host sees them.
    pub lattice_hosts: Vec<LatticeHostRow>,
}

/// A host of the lattice.
#[derive(Debug, Clone)]
pub struct LatticeHostRow {
    /// Host key.
    pub id: String,
    /// Friendly name.
    pub name: String,
    /// Whether it is this host.
    pub local: bool,
    /// Labels as `key=value`.
    pub labels: Vec<String>,
    /// Actor instances.
    pub actors: u64,
    /// Providers.
    pub providers: u64,
    /// Seconds since it was last heard from.
    pub last_seen_seconds: f64,
}

/// One provider line.
#[derive(Debug, Clone)]
pub struct ProviderRow {
    /// Display name.
    pub name: String,
    /// Public key.
    pub key: String,
    /// Contract id.
    pub contract: String,
    /// Link name.
    pub link_name: String,
    /// `healthy`, `unhealthy` or `awaiting`.
    pub health: &'static str,
}

/// One actor line.
#[derive(Debug, Clone)]
pub struct ActorRow {
    /// Display name.
    pub name: String,
    /// Public key.
    pub key: String,
    /// Instances.
    pub instances: usize,
    /// Capabilities.
    pub caps: Vec<String>,
    /// Where it came from.
    pub image_ref: String,
}

/// Renders the status page.
#[must_use]
pub fn status(host: &HostView) -> Markup {
    let body = html! {
        h2 { (host.name) }
        dl {
            dt { "Host" } dd { code { (host.id) } }
            dt { "Lattice" } dd { (host.lattice) }
            dt { "Cluster key" } dd { code { (host.cluster) } }
            dt { "Uptime" } dd { (host.uptime) }
            dt { "Data plane" } dd {
                @if host.data_plane_ready { span.badge.ok { "connected" } } @else { span.badge.down { "not connected" } }
            }
        }
        h3 { "Lattice" }
        @if host.lattice_hosts.is_empty() {
            p.muted { "No host heard from yet." }
        } @else {
            table {
                thead { tr { th { "Host" } th { "Key" } th { "Labels" } th { "Actors" } th { "Providers" } th { "Last heard" } } }
                tbody {
                    @for seen in &host.lattice_hosts {
                        tr {
                            td { (seen.name) @if seen.local { " " span.badge.ok { "this host" } } }
                            td { code { (seen.id) } }
                            td { (seen.labels.join(", ")) }
                            td { (seen.actors) }
                            td { (seen.providers) }
                            td { (format!("{:.0} s ago", seen.last_seen_seconds)) }
                        }
                    }
                }
            }
        }
        h3 { "Actors" }
        @if host.actors.is_empty() {
            p.muted { "No actors run on this host." }
        } @else {
            table {
                thead { tr { th { "Name" } th { "Key" } th { "Instances" } th { "Capabilities" } th { "Reference" } } }
                tbody {
                    @for actor in &host.actors {
                        tr {
                            td { (actor.name) }
                            td { code { (actor.key) } }
                            td { (actor.instances) }
                            td { (actor.caps.join(", ")) }
                            td { (actor.image_ref) }
                        }
                    }
                }
            }
        }
        h3 { "Providers" }
        @if host.providers.is_empty() {
            p.muted { "No providers run on this host." }
        } @else {
            table {
                thead { tr { th { "Name" } th { "Key" } th { "Contract" } th { "Link" } th { "Health" } } }
                tbody {
                    @for provider in &host.providers {
                        tr {
                            td { (provider.name) }
                            td { code { (provider.key) } }
                            td { (provider.contract) }
                            td { (provider.link_name) }
                            td {
                                span.badge.ok[provider.health == "healthy"].down[provider.health == "unhealthy"] { (provider.health) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page("Host status", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(actors: Vec<ActorRow>) -> HostView {
        HostView {
            id: "NHOST".into(),
            name: "calm-kiln-0001".into(),
            lattice: "default".into(),
            cluster: "CCLUSTER".into(),
            uptime: "0h 0m 5s".into(),
            data_plane_ready: true,
            actors,
            lattice_hosts: vec![LatticeHostRow {
                id: "NOTHER".into(),
                name: "misty-brook-0002".into(),
                local: false,
                labels: vec!["zone=b".into()],
                actors: 3,
                providers: 1,
                last_seen_seconds: 2.0,
            }],
            providers: vec![ProviderRow {
                name: "HTTP Server".into(),
                key: "VHTTP".into(),
                contract: "wasmcloud:httpserver".into(),
                link_name: "default".into(),
                health: "healthy",
            }],
        }
    }

    #[test]
    fn shows_actors_and_escapes_their_text() {
        let page = status(&host(vec![ActorRow {
            name: "<script>alert(1)</script>".into(),
            key: "MECHO".into(),
            instances: 3,
            caps: vec!["wasmcloud:httpserver".into()],
            image_ref: "file:///echo.wasm".into(),
        }]))
        .into_string();
        assert!(page.contains("<td>3</td>"), "{page}");
        assert!(page.contains("wasmcloud:httpserver"));
        assert!(page.contains("&lt;script&gt;"), "names are escaped");
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("connected"));
        assert!(
            page.contains(r#"<span class="badge ok">healthy</span>"#),
            "{page}"
        );
    }

    #[test]
    fn says_when_nothing_runs() {
        let page = status(&host(Vec::new())).into_string();
        assert!(page.contains("No actors run on this host."));
        assert!(page.starts_with("<!DOCTYPE html>"));
    }
}
