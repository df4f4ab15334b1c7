//! Providers: start from a reference or an uploaded archive on any host of the lattice,
//! with a link name and a configuration string; watch their health and stop them where
//! they run.

use maud::{Markup, html};

use super::fields::{self, Input, StartForm};
use super::tables;
use crate::view::{Dashboard, Health};

/// The start form (not live: what the user types stays).
pub(crate) fn start_form(view: &Dashboard) -> Markup {
    let form = fields::state(view.form.as_ref(), "start-provider");
    let spec = StartForm {
        name: "start-provider",
        action: "/providers/start",
        title: "Start a provider",
        placeholder: "registry:5000/httpserver:0.1.0, file:///path/httpserver.par.gz or kiln+builtin://httpserver",
        what: "a provider archive",
        accept: ".gz,.par,application/gzip",
    };
    fields::start_form(
        &spec,
        form,
        view.upload_limit,
        &html! {
            div.field.small { (fields::input("start-provider", form, "link_name", "Link name", &Input::Text { placeholder: "default", default: "default" })) }
            div.field.wide { (fields::input("start-provider", form, "configuration", "Configuration (given to the provider as is)", &Input::Area { placeholder: "a JSON object, or what the provider reads" })) }
            (fields::placement("start-provider", form, &view.lattice_hosts))
        },
    )
}

/// Problems of the stop buttons.
pub(crate) fn row_errors(view: &Dashboard) -> Markup {
    html! {
        @if let Some(form) = fields::state(view.form.as_ref(), "stop-provider") {
            @for problem in form.errors.values() {
                p.form-error role="alert" { "Stopping " code.key { (form.values.get("provider").map_or("", String::as_str)) } ": " (problem) }
            }
        }
    }
}

/// The live table of providers.
pub(crate) fn body(view: &Dashboard) -> Markup {
    let rows = html! {
        @for provider in &view.providers {
            tr data-provider=(provider.key) data-link-name=(provider.link_name) data-on-host=(provider.host.id) {
                td {
                    strong { (if provider.name.is_empty() { "(unnamed)" } else { &provider.name }) }
                    br; code.key title=(provider.key) { (provider.key) }
                }
                td.host {
                    (provider.host.name)
                    @if provider.host.local { " " span.badge.ok { "this host" } }
                }
                td { (provider.contract) }
                td { (provider.link_name) }
                td {
                    span.badge.health
                        .ok[provider.health == Health::Healthy]
                        .down[provider.health == Health::Unhealthy]
                        .wait[provider.health == Health::Awaiting]
                        data-health=(provider.health.label()) { (provider.health.label()) }
                }
                td.actions {
                    form.inline method="post" action="/providers/stop" {
                        input type="hidden" name="provider" value=(provider.key);
                        input type="hidden" name="link_name" value=(provider.link_name);
                        input type="hidden" name="host" value=(provider.host.id);
                        button.danger type="submit" { "Stop" }
                    }
                }
            }
        }
    };
    tables::table(
        view.providers.is_empty(),
        "No providers run in the lattice.",
        &[
            "Provider",
            "Host",
            "Contract",
            "Link name",
            "Health",
            "Actions",
        ],
        &rows,
    )
}
