//! Actors: start from a reference or an uploaded module on any host of the lattice,
//! scale, update and stop them where they run.

use maud::{Markup, html};

use super::fields::{self, Input, StartForm};
use super::tables;
use crate::view::{ActorRow, Dashboard, Placed};

/// The start form (not live: what the user types stays).
pub(crate) fn start_form(view: &Dashboard) -> Markup {
    let form = fields::state(view.form.as_ref(), "start-actor");
    let spec = StartForm {
        name: "start-actor",
        action: "/actors/start",
        title: "Start an actor",
        placeholder: "registry:5000/echo:0.1.0 or file:///path/echo.wasm",
        what: "a signed .wasm",
        accept: ".wasm,application/wasm",
    };
    fields::start_form(
        &spec,
        form,
        view.upload_limit,
        &html! {
            div.field.small { (fields::input("start-actor", form, "count", "Instances", &Input::Number { default: "1" })) }
            (fields::placement("start-actor", form, &view.lattice_hosts))
        },
    )
}

/// Problems of the per-row forms, above the table (the table itself is live).
pub(crate) fn row_errors(view: &Dashboard) -> Markup {
    html! {
        @for name in ["scale", "update", "stop-actor"] {
            @if let Some(form) = fields::state(view.form.as_ref(), name) {
                @for (field, problem) in &form.errors {
                    p.form-error role="alert" data-form=(name) data-field=(field) {
                        (row_action(name)) " " code.key { (form.values.get("actor").map_or("", String::as_str)) } ": " (problem)
                    }
                }
            }
        }
    }
}

fn row_action(form: &str) -> &'static str {
    match form {
        "scale" => "Scaling",
        "update" => "Updating",
        _ => "Stopping",
    }
}

/// Which host a row's form acts on.
fn on_host(host: &Placed) -> Markup {
    html! { input type="hidden" name="host" value=(host.id); }
}

fn row(actor: &ActorRow) -> Markup {
    let key = &actor.key;
    // Ids are unique per actor and host.
    let id = format!("{key}-{}", actor.host.id);
    html! {
        tr data-actor=(key) data-on-host=(actor.host.id) {
            td {
                strong { (if actor.name.is_empty() { "(unnamed)" } else { &actor.name }) }
                br; code.key title=(key) { (key) }
            }
            td.rev { (actor.revision) }
            td.host {
                (actor.host.name)
                @if actor.host.local { " " span.badge.ok { "this host" } }
            }
            td.instances data-instances=(actor.instances) { (actor.instances) }
            td { @for cap in &actor.caps { span.chip { (cap) } " " } }
            td.ref { (actor.image_ref) }
            td.actions {
                form.inline method="post" action="/actors/scale" {
                    input type="hidden" name="actor" value=(key);
                    (on_host(&actor.host))
                    label.sr for=(format!("scale-{id}")) { "Instances" }
                    input.count id=(format!("scale-{id}")) name="count" type="number" min="0" step="1" value=(actor.instances);
                    button type="submit" { "Scale" }
                }
                form.inline method="post" action="/actors/update" {
                    input type="hidden" name="actor" value=(key);
                    (on_host(&actor.host))
                    label.sr for=(format!("update-{id}")) { "New reference" }
                    input id=(format!("update-{id}")) name="reference" type="text" placeholder="new reference";
                    button type="submit" { "Update" }
                }
                form.inline method="post" action="/actors/stop" {
                    input type="hidden" name="actor" value=(key);
                    (on_host(&actor.host))
                    button.danger type="submit" { "Stop" }
                }
            }
        }
    }
}

/// The live table of actors.
pub(crate) fn body(view: &Dashboard) -> Markup {
    let rows = html! {
        @for actor in &view.actors { (row(actor)) }
    };
    tables::table(
        view.actors.is_empty(),
        "No actors in the lattice.",
        &[
            "Actor",
            "Rev",
            "Host",
            "Instances",
            "Capabilities",
            "Reference",
            "Actions",
        ],
        &rows,
    )
}
