//! The lattice overview: this host and every host heard from.

use maud::{Markup, html};

use super::tables;
use crate::view::{Dashboard, HostSummary};

/// This host's identity and state (part of the live lattice section).
fn this_host(host: &HostSummary) -> Markup {
    html! {
        dl.summary {
            dt { "Host" } dd { (host.name) " " code.key { (host.id) } }
            dt { "Lattice" } dd { (host.lattice) }
            dt { "Cluster key" } dd { code.key { (host.cluster) } }
            dt { "Version" } dd { (host.version) }
            dt { "Uptime" } dd { (host.uptime) }
            dt { "Data plane" } dd {
                @if host.data_plane_ready { span.badge.ok { "connected" } } @else { span.badge.down { "not connected" } }
            }
        }
    }
}

/// The live part: this host and the table of hosts.
pub(crate) fn body(view: &Dashboard) -> Markup {
    let rows = html! {
        @for seen in &view.lattice_hosts {
            tr data-host=(seen.id) {
                td {
                    (seen.name)
                    @if seen.local { " " span.badge.ok { "this host" } }
                    @if seen.stale { " " span.badge.warn title="Its heartbeats are late; it is dropped if they stay away" { "stale" } }
                    br; code.key title=(seen.id) { (seen.id) }
                }
                td { @for label in &seen.labels { span.chip { (label) } " " } }
                td { (seen.version) }
                td { (seen.uptime) }
                td { (seen.actors) }
                td { (seen.providers) }
                td { (format!("{:.0} s ago", seen.last_seen_seconds)) }
            }
        }
    };
    html! {
        (this_host(&view.host))
        (tables::table(view.lattice_hosts.is_empty(), "No host heard from yet.", &["Host", "Labels", "Version", "Uptime", "Actors", "Providers", "Last heard"], &rows))
    }
}
