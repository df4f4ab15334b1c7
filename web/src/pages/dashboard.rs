//! The main page: lattice, actors, providers, links and events, each section live.

use maud::{Markup, html};

use super::{actors, events, fields, lattice, links, providers};
use crate::layout::{self, Nav};
use crate::view::Dashboard;

/// A part of the main page that the live stream replaces when it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// This host and the lattice's hosts.
    Lattice,
    /// The actors table.
    Actors,
    /// The providers table.
    Providers,
    /// The links table.
    Links,
    /// The options of the link form's actor picker.
    ActorOptions,
    /// The options of the link form's provider picker.
    ProviderOptions,
}

impl Section {
    /// Every section, in page order.
    pub const ALL: [Section; 6] = [
        Section::Lattice,
        Section::Actors,
        Section::Providers,
        Section::Links,
        Section::ActorOptions,
        Section::ProviderOptions,
    ];

    /// The id of the element it fills.
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Section::Lattice => "lattice-live",
            Section::Actors => "actors-live",
            Section::Providers => "providers-live",
            Section::Links => "links-live",
            Section::ActorOptions => "link-actor",
            Section::ProviderOptions => "link-provider",
        }
    }
}

/// The inside of one live section.
#[must_use]
pub fn section(section: Section, view: &Dashboard) -> Markup {
    match section {
        Section::Lattice => lattice::body(view),
        Section::Actors => actors::body(view),
        Section::Providers => providers::body(view),
        Section::Links => links::body(view),
        Section::ActorOptions => links::actor_options(&view.pickers, ""),
        Section::ProviderOptions => links::provider_options(&view.pickers, ""),
    }
}

fn live(section: Section, view: &Dashboard) -> Markup {
    html! { div id=(section.id()) data-live=(section.id()) { (self::section(section, view)) } }
}

/// The main page.
#[must_use]
pub fn dashboard(view: &Dashboard) -> Markup {
    let form_failed = view.form.as_ref().is_some_and(|f| f.has_errors());
    let body = html! {
        @if let Some(notice) = &view.notice {
            p.notice role="status" { (notice) }
        }
        @if form_failed {
            p.form-error role="alert" { "That did not work; the problem is shown next to the form below." }
        }
        section #lattice {
            h2 { "Lattice" }
            (live(Section::Lattice, view))
        }
        section #actors {
            h2 { "Actors" }
            (actors::row_errors(view))
            (live(Section::Actors, view))
            (actors::start_form(view))
        }
        section #providers {
            h2 { "Providers" }
            (providers::row_errors(view))
            (live(Section::Providers, view))
            (providers::start_form(view))
        }
        section #links {
            h2 { "Links" }
            (links::row_errors(view))
            (live(Section::Links, view))
            (links::define_form(view))
        }
        section #events {
            h2 { "Events" }
            (events::feed(view))
        }
        p.muted.foot {
            "Health: " a href="/api/livez" { "livez" } " · " a href="/api/readyz" { "readyz" }
            " · Prometheus: " a href="/metrics" { "/metrics" }
            " · upload limit " (fields::mebibytes(view.upload_limit))
        }
    };
    layout::page(&view.host.name, Nav::Dashboard, &body, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::{
        ActorRow, EventRow, FormState, Health, HostSummary, LatticeHostRow, LinkRow, Pickers,
        Placed, ProviderRow,
    };

    fn view() -> Dashboard {
        Dashboard {
            host: HostSummary {
                id: "NHOST".into(),
                name: "calm-kiln-0001".into(),
                lattice: "default".into(),
                data_plane_ready: true,
                ..HostSummary::default()
            },
            lattice_hosts: vec![
                LatticeHostRow {
                    id: "NHOST".into(),
                    name: "calm-kiln-0001".into(),
                    local: true,
                    ..LatticeHostRow::default()
                },
                LatticeHostRow {
                    id: "NOTHER".into(),
                    name: "misty-brook-0002".into(),
                    stale: true,
                    labels: vec!["zone=b".into()],
                    ..LatticeHostRow::default()
                },
            ],
            actors: vec![ActorRow {
                name: "<script>alert(1)</script>".into(),
                key: "MECHO".into(),
                instances: 3,
                host: Placed {
                    id: "NHOST".into(),
                    name: "calm-kiln-0001".into(),
                    local: true,
                },
                caps: vec!["wasmcloud:httpserver".into()],
                ..ActorRow::default()
            }],
            providers: vec![ProviderRow {
                name: "HTTP Server".into(),
                key: "VHTTP".into(),
                contract: "wasmcloud:httpserver".into(),
                link_name: "default".into(),
                host: Placed {
                    id: "NOTHER".into(),
                    name: "misty-brook-0002".into(),
                    local: false,
                },
                health: Health::Healthy,
            }],
            links: vec![LinkRow {
                actor: "MECHO".into(),
                provider: "VHTTP".into(),
                contract: "wasmcloud:httpserver".into(),
                link_name: "default".into(),
                values: vec!["PORT=8080".into()],
                ..LinkRow::default()
            }],
            pickers: Pickers {
                actors: vec![("MECHO".into(), "echo".into())],
                providers: vec![(
                    "VHTTP".into(),
                    "HTTP Server".into(),
                    "wasmcloud:httpserver".into(),
                )],
            },
            events: vec![EventRow {
                kind: "actor_started".into(),
                group: "actor",
                ..EventRow::default()
            }],
            upload_limit: 32 * 1024 * 1024,
            ..Dashboard::default()
        }
    }

    #[test]
    fn the_page_shows_every_section_and_escapes_text() {
        let page = dashboard(&view()).into_string();
        for id in Section::ALL.map(Section::id) {
            assert!(page.contains(&format!(r#"id="{id}""#)), "{id} missing");
        }
        assert!(page.contains("&lt;script&gt;alert(1)"), "names are escaped");
        assert!(!page.contains("<script>alert"));
        assert!(page.contains(r#"data-instances="3""#));
        assert!(
            page.contains(r#"data-on-host="NOTHER""#),
            "rows name their host"
        );
        assert!(
            page.contains(r#"<input type="hidden" name="host" value="NOTHER">"#),
            "a row's forms act on its host"
        );
        // The start forms offer the other hosts (not stale ones) and an auction.
        assert!(page.contains(r#"<option value="auction">"#));
        assert!(
            !page.contains(r#"<option value="NOTHER">"#),
            "stale hosts are not offered"
        );
        assert!(page.contains(r#"name="configuration""#));
        assert!(page.contains(r#"data-health="healthy""#));
        assert!(page.contains("this host"));
        assert!(page.contains(">stale<"));
        assert!(page.contains("PORT=8080"));
        assert!(page.contains(r#"data-group="actor""#));
        assert!(page.contains("up to 32 MiB"));
        assert!(
            !page.contains(r#"role="alert""#),
            "no error without a failed form"
        );
    }

    #[test]
    fn a_failed_form_keeps_its_values_and_shows_the_problem_next_to_the_field() {
        let mut failed = FormState::new("link");
        failed.values.insert("actor".into(), "MECHO".into());
        failed.values.insert("values".into(), "PORT".into());
        failed.error("values", "line 1 (\"PORT\") is not key=value");
        let page = dashboard(&Dashboard {
            form: Some(failed),
            ..view()
        })
        .into_string();
        assert!(page.contains(r#"<p class="field-error" id="link-values-error" role="alert">"#));
        assert!(page.contains(r#"aria-describedby="link-values-error""#));
        assert!(
            page.contains(r#"<option value="MECHO" selected>"#),
            "{page}"
        );
        assert!(page.contains(">PORT</textarea>"));
    }

    #[test]
    fn live_sections_render_alone() {
        let view = view();
        let options = section(Section::ProviderOptions, &view).into_string();
        assert!(options.starts_with("<option"), "{options}");
        assert!(options.contains("wasmcloud:httpserver"));
        let empty = section(Section::Actors, &Dashboard::default()).into_string();
        assert!(empty.contains("No actors in the lattice."));
    }
}
