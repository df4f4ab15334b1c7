//! This host's metrics as a table (the same samples `/metrics` exposes).

use maud::{Markup, html};

use crate::layout::{self, Nav};
use crate::view::MetricRow;

/// The metrics page.
#[must_use]
pub fn metrics(host_name: &str, rows: &[MetricRow]) -> Markup {
    let body = html! {
        h2 { "Metrics of " (host_name) }
        p.muted { "Counters and gauges of this host and its data plane; histogram buckets are left out. Prometheus scrapes " a href="/metrics" { "/metrics" } "." }
        @if rows.is_empty() {
            p.muted { "No samples yet." }
        } @else {
            div.scroll {
                table.metrics {
                    thead { tr { th { "Metric" } th { "Labels" } th.num { "Value" } } }
                    tbody {
                        @for row in rows {
                            tr { td { code { (row.name) } } td { (row.labels) } td.num { (row.value) } }
                        }
                    }
                }
            }
        }
    };
    layout::page("Metrics", Nav::Metrics, &body, false)
}
