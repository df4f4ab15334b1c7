//! The page frame: the only place that writes `<head>` and the navigation.

use maud::{DOCTYPE, Markup, PreEscaped, html};

const STYLE: &str = include_str!("style.css");
const LIVE_SCRIPT: &str = include_str!("live.js");

/// Which navigation entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// The main page.
    Dashboard,
    /// The metrics page.
    Metrics,
    /// No entry (the login page).
    None,
}

/// A full page with `title` around `body`; `live` adds the script that keeps the
/// page current over server-sent events.
#[must_use]
pub fn page(title: &str, nav: Nav, body: &Markup, live: bool) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · kiln" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header.top {
                    a.brand href="/" { "kiln" }
                    @if nav != Nav::None {
                        nav {
                            a href="/#lattice" aria-current=[(nav == Nav::Dashboard).then_some("page")] { "Lattice" }
                            a href="/#actors" { "Actors" }
                            a href="/#providers" { "Providers" }
                            a href="/#links" { "Links" }
                            a href="/#events" { "Events" }
                            a href="/host/metrics" aria-current=[(nav == Nav::Metrics).then_some("page")] { "Metrics" }
                        }
                    }
                    @if live { span #live-state.badge title="Live updates" { "connecting" } }
                }
                main { (body) }
                @if live { script { (PreEscaped(LIVE_SCRIPT)) } }
            }
        }
    }
}
