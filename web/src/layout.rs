//! The page frame: the only place that writes `<head>`.

use maud::{DOCTYPE, Markup, html};

const STYLE: &str = include_str!("style.css");

/// A full page with `title` around `body`.
#[must_use]
pub fn page(title: &str, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · kiln" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header { strong { "kiln" } " " span.muted { (title) } }
                main { (body) }
            }
        }
    }
}
