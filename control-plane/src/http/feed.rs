//! The dashboard's feed of lattice events: one subscription per control plane, the
//! most recent events kept for new pages, each new one handed to the live streams.

use std::collections::VecDeque;
use std::sync::Mutex;

use futures::StreamExt as _;
use kiln_web::view::{EventRow, event_group};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::host::Shared;
use crate::lattice::events::TYPE_PREFIX;

/// Events kept for a page that opens.
const KEPT: usize = 100;

/// Data fields worth a glance, in the order shown.
const SUMMARY_FIELDS: [&str; 9] = [
    "public_key",
    "actor_id",
    "provider_id",
    "contract_id",
    "link_name",
    "revision",
    "error",
    "reason",
    "message",
];

/// Recent events and the channel new ones go out on.
#[derive(Debug)]
pub struct Feed {
    recent: Mutex<VecDeque<EventRow>>,
    new: broadcast::Sender<EventRow>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            recent: Mutex::new(VecDeque::with_capacity(KEPT)),
            new: broadcast::channel(256).0,
        }
    }
}

impl Feed {
    /// The kept events, newest first.
    pub fn recent(&self) -> Vec<EventRow> {
        self.lock().iter().cloned().collect()
    }

    /// New events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<EventRow> {
        self.new.subscribe()
    }

    fn push(&self, mut row: EventRow) {
        {
            let mut recent = self.lock();
            row.seq = recent.front().map_or(1, |newest| newest.seq + 1);
            recent.push_front(row.clone());
            recent.truncate(KEPT);
        }
        // Nobody listening is fine.
        let _ = self.new.send(row);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<EventRow>> {
        self.recent
            .lock()
            .expect("invariant: feed lock is never poisoned")
    }
}

/// Follows the lattice's events into `feed` until shutdown.
pub async fn follow(host: Shared, feed: std::sync::Arc<Feed>) {
    let mut events = match host.ctl.subscribe(host.events.subject().to_string()).await {
        Ok(events) => events,
        Err(error) => {
            tracing::error!(%error, "the dashboard cannot follow the lattice's events");
            return;
        }
    };
    loop {
        tokio::select! {
            () = host.shutdown.cancelled() => return,
            message = events.next() => {
                let Some(message) = message else { return };
                let Ok(event) = kiln_types::decode::json::<Value>("an event", &message.payload, kiln_types::limits::JSON_BODY) else {
                    continue;
                };
                if let Some(row) = row(&host, &event) {
                    feed.push(row);
                }
            }
        }
    }
}

/// The feed line of one CloudEvent.
fn row(host: &Shared, event: &Value) -> Option<EventRow> {
    let kind = event["type"]
        .as_str()?
        .strip_prefix(TYPE_PREFIX)?
        .to_string();
    let source = event["source"].as_str().unwrap_or_default();
    let source = if source == host.config.host_id() {
        host.friendly_name.clone()
    } else {
        host.peers
            .all()
            .into_iter()
            .find(|h| h.id == source && !h.friendly_name.is_empty())
            .map_or_else(|| short(source).to_string(), |h| h.friendly_name)
    };
    let time = event["time"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc).format("%H:%M:%S").to_string())
        .unwrap_or_default();
    Some(EventRow {
        seq: 0,
        time,
        group: event_group(&kind),
        kind,
        source,
        summary: summary(&event["data"]),
    })
}

fn short(key: &str) -> &str {
    key.get(..10).unwrap_or(key)
}

/// The interesting data fields as `key=value`, keys shortened.
fn summary(data: &Value) -> String {
    SUMMARY_FIELDS
        .iter()
        .filter_map(|field| {
            let value = match &data[*field] {
                Value::String(s) if !s.is_empty() => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            let looks_like_key =
                value.len() == 56 && value.bytes().all(|b| b.is_ascii_alphanumeric());
            let shown = if looks_like_key {
                format!("{}…", short(&value))
            } else {
                value
            };
            Some(format!("{field}={shown}"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_numbered_and_kept_newest_first() {
        let feed = Feed::default();
        let mut live = feed.subscribe();
        for kind in ["actor_started", "actors_started", "linkdef_set"] {
            feed.push(EventRow {
                kind: kind.into(),
                ..EventRow::default()
            });
        }
        let recent = feed.recent();
        let seqs: Vec<u64> = recent.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [3, 2, 1]);
        assert_eq!(recent[0].kind, "linkdef_set");
        assert_eq!(
            live.try_recv().unwrap().seq,
            1,
            "live rows carry their number"
        );
    }

    #[test]
    fn summaries_pick_the_known_fields_and_shorten_keys() {
        let key = format!("M{}", "A".repeat(55));
        let data = serde_json::json!({
            "public_key": key, "link_name": "default", "revision": 3,
            "claims": {"name": "x"}, "error": ""
        });
        assert_eq!(
            summary(&data),
            "public_key=MAAAAAAAAA… link_name=default revision=3"
        );
        assert_eq!(summary(&Value::Null), "");
    }
}
