//! Links: the lattice's link definitions, a form to define one, delete buttons.

use maud::{Markup, html};

use super::fields::{self, Input};
use super::tables;
use crate::view::{Dashboard, FormState, Pickers};

/// The `<option>`s of the actor picker (live: the page swaps them as claims arrive).
pub(crate) fn actor_options(pickers: &Pickers, chosen: &str) -> Markup {
    html! {
        option value="" { "choose an actor" }
        @for (key, name) in &pickers.actors {
            option value=(key) selected[key == chosen] { (name) " (" (short(key)) ")" }
        }
    }
}

/// The `<option>`s of the provider picker.
pub(crate) fn provider_options(pickers: &Pickers, chosen: &str) -> Markup {
    html! {
        option value="" { "choose a provider" }
        @for (key, name, contract) in &pickers.providers {
            option value=(key) selected[key == chosen] { (name) " · " (contract) " (" (short(key)) ")" }
        }
    }
}

fn short(key: &str) -> &str {
    key.get(..8).unwrap_or(key)
}

fn picker(form: Option<&FormState>, field: &str, label: &str, options: Markup) -> Markup {
    let id = format!("link-{field}");
    let bad = fields::problem(form, field).is_some();
    html! {
        label for=(id) { (label) }
        select id=(id) name=(field) data-live=(id) aria-invalid=[bad.then_some("true")]
            aria-describedby=[bad.then(|| format!("{id}-error"))] { (options) }
        (fields::error_line(form, &id, field))
    }
}

/// The form that defines a link.
pub(crate) fn define_form(view: &Dashboard) -> Markup {
    let form = fields::state(view.form.as_ref(), "link");
    let values_bad = fields::problem(form, "values").is_some();
    html! {
        form.card method="post" action="/links" {
            h3 { "Define a link" }
            (fields::form_error(form))
            div.fields {
                div.field { (picker(form, "actor", "Actor", actor_options(&view.pickers, fields::typed(form, "actor", "")))) }
                div.field { (picker(form, "provider", "Provider", provider_options(&view.pickers, fields::typed(form, "provider", "")))) }
                div.field.small { (fields::input("link", form, "link_name", "Link name", &Input::Text { placeholder: "default", default: "default" })) }
                div.field.wide {
                    label for="link-values" { "Values, one " code { "key=value" } " a line" }
                    textarea id="link-values" name="values" rows="3" placeholder="PORT=8080"
                        aria-invalid=[values_bad.then_some("true")]
                        aria-describedby=[values_bad.then_some("link-values-error")] { (fields::typed(form, "values", "")) }
                    (fields::error_line(form, "link-values", "values"))
                }
            }
            button type="submit" { "Define link" }
        }
    }
}

/// Problems of the delete buttons.
pub(crate) fn row_errors(view: &Dashboard) -> Markup {
    html! {
        @if let Some(form) = fields::state(view.form.as_ref(), "delete-link") {
            @for problem in form.errors.values() {
                p.form-error role="alert" { "Deleting the link: " (problem) }
            }
        }
    }
}

/// The live table of links.
pub(crate) fn body(view: &Dashboard) -> Markup {
    let rows = html! {
        @for link in &view.links {
            tr data-link=(format!("{}/{}/{}", link.actor, link.contract, link.link_name)) {
                td { (link.actor_name) br; code.key title=(link.actor) { (link.actor) } }
                td { (link.provider_name) br; code.key title=(link.provider) { (link.provider) } }
                td { (link.contract) }
                td { (link.link_name) }
                td { @for value in &link.values { code.chip { (value) } " " } }
                td.actions {
                    form.inline method="post" action="/links/delete" {
                        input type="hidden" name="actor" value=(link.actor);
                        input type="hidden" name="contract" value=(link.contract);
                        input type="hidden" name="link_name" value=(link.link_name);
                        button.danger type="submit" { "Delete" }
                    }
                }
            }
        }
    };
    tables::table(
        view.links.is_empty(),
        "No links defined.",
        &[
            "Actor",
            "Provider",
            "Contract",
            "Link name",
            "Values",
            "Actions",
        ],
        &rows,
    )
}
