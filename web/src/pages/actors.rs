//! Actors: start from a reference or an uploaded module, scale, update, stop.

use maud::{Markup, html};

use super::fields::{self, Input, StartForm};
use super::tables;
use crate::view::{ActorRow, Dashboard};

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
        &html! { div.field.small { (fields::input("start-actor", form, "count", "Instances", &Input::Number { default: "1" })) } },
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

fn row(actor: &ActorRow) -> Markup {
    let key = &actor.key;
    html! {
        tr data-actor=(key) {
            td {
                strong { (if actor.name.is_empty() { "(unnamed)" } else { &actor.name }) }
                br; code.key title=(key) { (key) }
            }
            td.rev { (actor.revision) }
            td.instances data-instances=(actor.local_instances) { (actor.local_instances) }
            td { @for (host, count) in &actor.per_host { span.chip { (host) ": " (count) } " " } }
            td { @for cap in &actor.caps { span.chip { (cap) } " " } }
            td.ref { (actor.image_ref) }
            td.actions {
                @if actor.local_instances > 0 {
                    form.inline method="post" action="/actors/scale" {
                        input type="hidden" name="actor" value=(key);
                        label.sr for=(format!("scale-{key}")) { "Instances" }
                        input.count id=(format!("scale-{key}")) name="count" type="number" min="0" step="1" value=(actor.local_instances);
                        button type="submit" { "Scale" }
                    }
                    form.inline method="post" action="/actors/update" {
                        input type="hidden" name="actor" value=(key);
                        label.sr for=(format!("update-{key}")) { "New reference" }
                        input id=(format!("update-{key}")) name="reference" type="text" placeholder="new reference";
                        button type="submit" { "Update" }
                    }
                    form.inline method="post" action="/actors/stop" {
                        input type="hidden" name="actor" value=(key);
                        button.danger type="submit" { "Stop" }
                    }
                } @else {
                    span.muted { "runs on other hosts" }
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
            "Here",
            "Per host",
            "Capabilities",
            "Reference",
            "Actions",
        ],
        &rows,
    )
}
