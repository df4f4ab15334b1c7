//! Form fields that show what was typed and what was wrong with it.

use maud::{Markup, html};

use crate::view::{FormState, LatticeHostRow};

/// The `host` value that asks for an auction instead of a host.
pub const AUCTION: &str = "auction";

/// The state of form `name`, when it is the one sent back.
pub(crate) fn state<'a>(form: Option<&'a FormState>, name: &str) -> Option<&'a FormState> {
    form.filter(|f| f.form == name)
}

/// What was typed into `field`, or `default`.
pub(crate) fn typed<'a>(form: Option<&'a FormState>, field: &str, default: &'a str) -> &'a str {
    form.and_then(|f| f.values.get(field))
        .map_or(default, String::as_str)
}

/// The problem with `field`, if any.
pub(crate) fn problem<'a>(form: Option<&'a FormState>, field: &str) -> Option<&'a str> {
    form.and_then(|f| f.errors.get(field)).map(String::as_str)
}

/// The error line under a field (empty when there is no problem). Its id is
/// `{form}-{field}-error`, which the field names in `aria-describedby`.
pub(crate) fn error_line(form: Option<&FormState>, id: &str, field: &str) -> Markup {
    html! {
        @if let Some(problem) = problem(form, field) {
            p.field-error id=(format!("{id}-error")) role="alert" { (problem) }
        }
    }
}

/// What kind of input a field is.
pub(crate) enum Input<'a> {
    /// Text, with a placeholder and the value shown when nothing was typed.
    Text {
        /// Shown while empty.
        placeholder: &'a str,
        /// Initial value.
        default: &'a str,
    },
    /// A whole number.
    Number {
        /// Initial value.
        default: &'a str,
    },
    /// A file of the types in `accept`.
    File {
        /// Accepted extensions and media types.
        accept: &'a str,
    },
    /// Several lines of text.
    Area {
        /// Shown while empty.
        placeholder: &'a str,
    },
    /// One of `options` (value and label).
    Select {
        /// The choices.
        options: &'a [(String, String)],
    },
}

/// A labelled input, marked invalid and described by its problem when it has one.
pub(crate) fn input(
    form_name: &str,
    form: Option<&FormState>,
    field: &str,
    label: &str,
    kind: &Input<'_>,
) -> Markup {
    let id = format!("{form_name}-{field}");
    let bad = problem(form, field).is_some();
    let invalid = bad.then_some("true");
    let described = bad.then(|| format!("{id}-error"));
    html! {
        label for=(id) { (label) }
        @match kind {
            Input::Text { placeholder, default } => {
                input id=(id) name=(field) type="text" value=(typed(form, field, default))
                    placeholder=(placeholder) aria-invalid=[invalid] aria-describedby=[described];
            }
            Input::Number { default } => {
                input id=(id) name=(field) type="number" min="0" step="1" inputmode="numeric"
                    value=(typed(form, field, default)) aria-invalid=[invalid] aria-describedby=[described];
            }
            Input::File { accept } => {
                input id=(id) name=(field) type="file" accept=(accept)
                    aria-invalid=[invalid] aria-describedby=[described];
            }
            Input::Area { placeholder } => {
                textarea id=(id) name=(field) rows="2" placeholder=(placeholder)
                    aria-invalid=[invalid] aria-describedby=[described] { (typed(form, field, "")) }
            }
            Input::Select { options } => {
                select id=(id) name=(field) aria-invalid=[invalid] aria-describedby=[described] {
                    @for (value, text) in *options {
                        option value=(value) selected[typed(form, field, "") == value] { (text) }
                    }
                }
            }
        }
        (error_line(form, &id, field))
    }
}

/// A form that starts a workload from a reference or an uploaded file.
pub(crate) struct StartForm<'a> {
    /// Form name, the prefix of its field ids.
    pub name: &'a str,
    /// Where it posts.
    pub action: &'a str,
    /// Its heading.
    pub title: &'a str,
    /// Example reference.
    pub placeholder: &'a str,
    /// What the upload is, for its label.
    pub what: &'a str,
    /// Accepted file types.
    pub accept: &'a str,
}

/// The start form `spec`, with `extra` fields after the reference and the upload (up to
/// `limit` bytes).
pub(crate) fn start_form(
    spec: &StartForm<'_>,
    form: Option<&FormState>,
    limit: u64,
    extra: &Markup,
) -> Markup {
    let StartForm {
        name,
        placeholder,
        accept,
        ..
    } = *spec;
    let upload = format!("or upload {} (up to {})", spec.what, mebibytes(limit));
    html! {
        form.card method="post" action=(spec.action) enctype="multipart/form-data" {
            h3 { (spec.title) }
            (form_error(form))
            div.fields {
                div.field.wide { (input(name, form, "reference", "Reference", &Input::Text { placeholder, default: "" })) }
                div.field { (input(name, form, "file", &upload, &Input::File { accept })) }
                (extra)
            }
            button type="submit" { "Start" }
        }
    }
}

/// Where a start goes: this host, another host of the lattice, or the host an auction
/// picks by labels.
pub(crate) fn placement(
    form_name: &str,
    form: Option<&FormState>,
    hosts: &[LatticeHostRow],
) -> Markup {
    let mut options = vec![(String::new(), "This host".to_string())];
    options.extend(
        hosts
            .iter()
            .filter(|h| !h.local && !h.stale)
            .map(|h| (h.id.clone(), host_choice(h))),
    );
    options.push((
        AUCTION.to_string(),
        "Any host whose labels match (auction)".to_string(),
    ));
    html! {
        div.field { (input(form_name, form, "host", "Where", &Input::Select { options: &options })) }
        div.field { (input(form_name, form, "constraints", "Labels for the auction", &Input::Text { placeholder: "zone=b, arch=x86_64", default: "" })) }
    }
}

/// A host as the placement picker names it: its name and labels.
fn host_choice(host: &LatticeHostRow) -> String {
    if host.labels.is_empty() {
        host.name.clone()
    } else {
        format!("{} ({})", host.name, host.labels.join(", "))
    }
}

/// The problem with the form as a whole, if any.
pub(crate) fn form_error(form: Option<&FormState>) -> Markup {
    html! {
        @if let Some(problem) = problem(form, "_form") {
            p.form-error role="alert" { (problem) }
        }
    }
}

/// Bytes as MiB for people.
pub(crate) fn mebibytes(bytes: u64) -> String {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    if mib.fract() == 0.0 {
        format!("{mib:.0} MiB")
    } else {
        format!("{mib:.1} MiB")
    }
}
