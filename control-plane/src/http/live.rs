//! The live stream of the main page (server-sent events): a section's new markup
//! whenever it changes, and each lattice event as it arrives.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use kiln_web::pages::{Section, event_item, section};
use tokio::sync::{broadcast, mpsc};

use super::{Web, view};

/// How often the sections are looked at when no event arrives (ages, uptimes and state
/// without an event of its own).
const REFRESH: Duration = Duration::from_secs(1);

/// `GET /live`.
pub async fn stream(State(web): State<Web>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (send, receive) = mpsc::channel(32);
    tokio::spawn(feed(web, send));
    Sse::new(tokio_stream::wrappers::ReceiverStream::new(receive)).keep_alive(KeepAlive::default())
}

/// Sends changes to one page until it goes away or the host stops.
async fn feed(web: Web, send: mpsc::Sender<Result<Event, Infallible>>) {
    let mut events = web.feed.subscribe();
    let mut refresh = tokio::time::interval(REFRESH);
    let mut sent: HashMap<&'static str, String> = HashMap::new();
    loop {
        tokio::select! {
            () = web.host.shutdown.cancelled() => return,
            () = send.closed() => return,
            event = events.recv() => match event {
                Ok(row) => {
                    let html = event_item(&row).into_string();
                    if let Ok(event) = Event::default()
                        .event("lattice-event")
                        .json_data(serde_json::json!({ "html": html }))
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
