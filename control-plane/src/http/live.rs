//! The live stream of the main page (server-sent events): a section's new markup
//! whenever it changes, and each lattice event as it arrives.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use kiln_web::pages::{Section, event_item, section};
use kiln_web::view::EventRow;
use tokio::sync::{broadcast, mpsc};

use super::view;
use super::web::Web;

/// How often the sections are looked at when no event arrives (ages, uptimes and state
/// without an event of its own).
const REFRESH: Duration = Duration::from_secs(1);

/// Where a page's feed stands.
#[derive(Debug, serde::Deserialize)]
pub struct Since {
    /// The newest event the page shows.
    since: Option<u64>,
}

/// `GET /live?since=N`: events after the page's newest first, then live ones.
pub async fn stream(
    State(web): State<Web>,
    Query(Since { since }): Query<Since>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (send, receive) = mpsc::channel(128);
    tokio::spawn(feed(web, send, since.unwrap_or(0)));
    Sse::new(tokio_stream::wrappers::ReceiverStream::new(receive)).keep_alive(KeepAlive::default())
}

/// One lattice event for the page.
fn lattice_event(row: &EventRow) -> Option<Event> {
    let html = event_item(row).into_string();
    Event::default()
        .event("lattice-event")
        .json_data(serde_json::json!({ "seq": row.seq, "html": html }))
        .ok()
}

/// Sends changes to one page until it goes away or the host stops; first the events
/// after `since` that the page missed between its rendering and this stream.
async fn feed(web: Web, send: mpsc::Sender<Result<Event, Infallible>>, since: u64) {
    // Subscribe before looking at the kept events, so none falls between the two.
    let mut events = web.feed.subscribe();
    let mut last = since;
    for row in web.feed.recent().iter().rev().filter(|r| r.seq > since) {
        if let Some(event) = lattice_event(row)
            && send.send(Ok(event)).await.is_err()
        {
            return;
        }
        last = last.max(row.seq);
    }
    let mut refresh = tokio::time::interval(REFRESH);
    let mut sent: HashMap<&'static str, String> = HashMap::new();
    loop {
        tokio::select! {
            () = web.host.shutdown.cancelled() => return,
            () = send.closed() => return,
            event = events.recv() => match event {
                Ok(row) if row.seq <= last => {}
                Ok(row) => {
                    last = row.seq;
                    if let Some(event) = lattice_event(&row)
                        && send.send(Ok(event)).await.is_err()
                    {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = refresh.tick() => {}
        }
        let page = view::dashboard(&web);
        for part in Section::ALL {
            let html = section(part, &page).into_string();
            if sent.get(part.id()) == Some(&html) {
                continue;
            }
            let Ok(event) = Event::default()
                .event("section")
                .json_data(serde_json::json!({ "id": part.id(), "html": html }))
            else {
                continue;
            };
            if send.send(Ok(event)).await.is_err() {
                return;
            }
            sent.insert(part.id(), html);
        }
    }
}
