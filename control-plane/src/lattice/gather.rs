//! Publishes gathered into one write when many calls answer at once.
//!
//! Each `publish` of async-nats wakes the client's connection task, and tokio runs a
//! task woken that way right after the task that woke it (its LIFO slot). So when
//! many calls answer at once, the connection task writes each message on its own: at 64
//! calls in flight the control plane made about one `writev` per message, and the NATS
//! server as many reads.
//!
//! [`Gather::later`] queues a message instead. The first message queued starts a
//! flusher task, which first lets the other tasks that are ready run once
//! (`yield_now`); they queue theirs. It then publishes everything queued in one go,
//! and the connection task writes it all at once. A message that must go out at once
//! is published on the client as usual.

use std::sync::{Arc, Mutex};

use async_nats::Subject;
use bytes::Bytes;
use tokio_util::task::TaskTracker;

type Queue = Arc<Mutex<Vec<(Subject, Bytes)>>>;

/// One NATS client's publishes, gathered when they come together.
#[derive(Clone)]
pub struct Gather {
    client: async_nats::Client,
    queue: Queue,
    tasks: TaskTracker,
}

impl Gather {
    /// Publishes through `client`; the flushers run on `tasks`, so a drain that waits
    /// for `tasks` also waits for what they hold.
    #[must_use]
    pub fn new(client: async_nats::Client, tasks: TaskTracker) -> Gather {
        Gather {
            client,
            queue: Arc::default(),
            tasks,
        }
    }

    /// Queues `payload` for `subject`, to go out with the others queued now. A payload
    /// above the server's maximum is dropped with a warning; the caller checks first
    /// when it must answer otherwise.
    pub fn later(&self, subject: Subject, payload: Bytes) {
        let first = {
            let mut queue = lock(&self.queue);
            queue.push((subject, payload));
            queue.len() == 1
        };
        if first {
            let (client, queue) = (self.client.clone(), self.queue.clone());
            self.tasks.spawn(async move {
                // The tasks ready now (calls answered in the same read from the data
                // plane) run first and queue theirs.
                tokio::task::yield_now().await;
                let gathered = std::mem::take(&mut *lock(&queue));
                for (subject, payload) in gathered {
                    if let Err(error) = client.publish(subject.clone(), payload).await {
                        tracing::warn!(%subject, %error, "could not publish");
                    }
                }
            });
        }
    }
}

fn lock(queue: &Queue) -> std::sync::MutexGuard<'_, Vec<(Subject, Bytes)>> {
    queue
        .lock()
        .expect("invariant: the publish queue's lock is never poisoned")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client whose server is never reached: publishes wait in its channel.
    async fn unconnected() -> async_nats::Client {
        async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect("127.0.0.1:1")
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn messages_queued_together_go_out_from_one_task() {
        let tasks = TaskTracker::new();
        let gather = Gather::new(unconnected().await, tasks.clone());
        for i in 0..10 {
            gather.later(format!("reply.{i}").into(), Bytes::from_static(b"x"));
        }
        assert_eq!(lock(&gather.queue).len(), 10);
        assert_eq!(tasks.len(), 1, "one flusher for the ten");
        tasks.close();
        tasks.wait().await;
        assert!(lock(&gather.queue).is_empty(), "the flusher took all ten");
        // The next moment starts its own.
        gather.later("reply.late".into(), Bytes::from_static(b"y"));
        assert_eq!(tasks.len(), 1);
    }
}
