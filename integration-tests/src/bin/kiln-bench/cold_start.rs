//! Cold start: echo scaled to nothing, then `la` timed until its first reply, with the
//! compiled module cached on the data plane. The event subscription is made once, before
//! every timing, so what is timed is the host's, in the order a client sees it: the
//! command's answer, the `actors_started` event, then the first call answered.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use kiln_integration_tests::{Harness, http};
use kiln_wasmbus::subjects;

use crate::scale::scale;

/// Percentiles of each step, in ms from the command sent.
pub struct ColdStart {
    /// The command's answer (`la` accepted).
    pub ack: Percentiles,
    /// The `actors_started` event.
    pub started: Percentiles,
    /// The first reply: the figure the benchmark reports.
    pub reply: Percentiles,
}

/// p50, p99 and the least, in ms.
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
    pub min: f64,
}

impl Percentiles {
    fn of(mut times: Vec<f64>) -> Percentiles {
        times.sort_by(f64::total_cmp);
        Percentiles {
            p50: times[times.len() / 2],
            p99: times[(times.len() * 99 / 100).min(times.len() - 1)],
            min: times[0],
        }
    }
}

/// Stops echo, then times `la` until the first successful reply, `scale().cold_starts`
/// times.
pub async fn run(h: &Harness, path: &std::path::Path, echo: &str) -> ColdStart {
    let subject = subjects::actor_rpc(&h.lattice, echo);
    let reference = format!("file://{}", path.display());
    let mut events = h.events().await;
    let (mut acks, mut started_at, mut replies) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..scale().cold_starts {
        let ack = h
            .command("sa", &serde_json::json!({"actor_ref": echo, "count": 0}))
            .await;
        assert!(ack.accepted, "{ack:?}");
        let invocation = Bytes::from(
            h.invocation(
                echo,
                "HttpServer.HandleRequest",
                http::get(&format!("/cold/{i}")),
            )
            .encode(),
        );
        let since = Instant::now();
        let ms = || since.elapsed().as_secs_f64() * 1e3;
        let launch = async {
            let ack = h
                .command(
                    "la",
                    &serde_json::json!({"actor_ref": reference, "count": 1}),
                )
                .await;
            assert!(ack.accepted, "{ack:?}");
            let acked = ms();
            // As a client of the lattice would: the actor is there once it says so. (The
            // stop's events come before, and are not this.)
            loop {
                let message = events.next().await.expect("the event stream ended");
                let event: serde_json::Value =
                    serde_json::from_slice(&message.payload).unwrap_or_default();
                if event["type"] == "com.wasmcloud.lattice.actors_started"
                    && event["data"]["image_ref"] == reference.as_str()
                {
                    break;
                }
            }
            let event = ms();
            // The host subscribes before it says the actor started: no retry.
            let reply = h
                .client
                .request(subject.clone(), invocation.clone())
                .await
                .unwrap_or_else(|e| panic!("the first call after actors_started: {e}"));
            crate::check_echo(&reply.payload);
            (acked, event, ms())
        };
        let (acked, event, replied) = tokio::time::timeout(Duration::from_secs(30), launch)
            .await
            .unwrap_or_else(|_| panic!("no start within 30 s; logs:\n{}", h.logs()));
        acks.push(acked);
        started_at.push(event);
        replies.push(replied);
    }
    ColdStart {
        ack: Percentiles::of(acks),
        started: Percentiles::of(started_at),
        reply: Percentiles::of(replies),
    }
}
