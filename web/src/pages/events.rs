//! The live feed of lattice events, with a filter per group of types.

use maud::{Markup, html};

use crate::view::{Dashboard, EVENT_GROUPS, EventRow};

/// One event of the feed; the script adds new ones at the top.
#[must_use]
pub fn event_item(event: &EventRow) -> Markup {
    html! {
        li data-group=(event.group) data-kind=(event.kind) data-seq=(event.seq) {
            time { (event.time) }
            " "
            span.kind.(event.group) { (event.kind) }
            " "
            span.muted { (event.source) }
            " "
            span.summary { (event.summary) }
        }
    }
}

/// The filter and the feed.
pub(crate) fn feed(view: &Dashboard) -> Markup {
    html! {
        fieldset.filters {
            legend { "Show" }
            @for group in EVENT_GROUPS {
                label.check {
                    input type="checkbox" name="event-group" value=(group) checked;
                    " " (group)
                }
            }
        }
        // The newest event shown, so the live stream sends what came after it.
        ol #event-feed.feed data-seq=(view.events.first().map_or(0, |e| e.seq)) {
            @for event in &view.events { (event_item(event)) }
        }
        @if view.events.is_empty() {
            p #no-events.muted { "No events yet; they appear here as they happen." }
        }
    }
}
