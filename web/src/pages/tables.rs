//! The tables of the main page: a header row and the rows in a box that scrolls
//! sideways on a narrow screen, or a line saying there is nothing to list.

use maud::{Markup, html};

/// `rows` under `headers`, or `empty` when `is_empty`.
pub(crate) fn table(is_empty: bool, empty: &str, headers: &[&str], rows: &Markup) -> Markup {
    html! {
        @if is_empty {
            p.muted { (empty) }
        } @else {
            div.scroll {
                table {
                    thead { tr { @for header in headers { th { (header) } } } }
                    tbody { (rows) }
                }
            }
        }
    }
}
