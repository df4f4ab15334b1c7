//! Calls waiting for their replies on a stream that can be replaced: the invoke stream
//! of the control plane and the host-call stream of the data plane.
//!
//! Each call is registered with the number of the stream it was sent on, under the same
//! lock as the stream itself, so a call is either registered while its stream is open
//! or refused; when a stream ends, exactly the calls sent on it fail, and a newer
//! stream's calls are untouched. The table holds any waiter (a oneshot sender, say) and
//! does no I/O.

use std::collections::HashMap;

/// The current stream's sender `S` and the waiters `W` of every call in flight.
#[derive(Debug)]
pub struct Waiting<S, W> {
    /// Number of the current stream; bumped by each [`Waiting::attach`].
    stream: u64,
    sender: Option<S>,
    waiting: HashMap<u64, (u64, W)>,
}

impl<S, W> Default for Waiting<S, W> {
    fn default() -> Self {
        Waiting {
            stream: 0,
            sender: None,
            waiting: HashMap::new(),
        }
    }
}

impl<S: Clone, W> Waiting<S, W> {
    /// Makes `sender` the current stream, replacing any older one; returns its number
    /// for [`Waiting::detach`].
    pub fn attach(&mut self, sender: S) -> u64 {
        self.stream += 1;
        self.sender = Some(sender);
        self.stream
    }

    /// Registers call `id` on the current stream and returns the stream's sender, or
    /// gives the waiter back when no stream is open.
    ///
    /// # Errors
    /// The waiter, when there is no stream to send on.
    pub fn register(&mut self, id: u64, waiter: W) -> Result<S, W> {
        match &self.sender {
            Some(sender) => {
                self.waiting.insert(id, (self.stream, waiter));
                Ok(sender.clone())
            }
            None => Err(waiter),
        }
    }

    /// The waiter of call `id`, which is no longer waiting.
    pub fn take(&mut self, id: u64) -> Option<W> {
        self.waiting.remove(&id).map(|(_, waiter)| waiter)
    }

    /// Ends stream `stream`: forgets its sender if it is still the current one, and
    /// returns the waiters of the calls sent on it, to be failed.
    pub fn detach(&mut self, stream: u64) -> Vec<W> {
        if self.stream == stream {
            self.sender = None;
        }
        let ids: Vec<u64> = self
            .waiting
            .iter()
            .filter(|(_, (on, _))| *on == stream)
            .map(|(id, _)| *id)
            .collect();
        ids.iter().filter_map(|id| self.take(*id)).collect()
    }

    /// Calls waiting now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_stream_a_call_is_refused_and_keeps_its_waiter() {
        let mut table: Waiting<&str, &str> = Waiting::default();
        assert_eq!(table.register(1, "w1"), Err("w1"));
        assert!(table.is_empty());
    }

    #[test]
    fn a_reply_takes_its_waiter_once() {
        let mut table = Waiting::default();
        table.attach("s1");
        assert_eq!(table.register(7, "w7"), Ok("s1"));
        assert_eq!(table.take(7), Some("w7"));
        assert_eq!(table.take(7), None);
    }

    #[test]
    fn the_end_of_a_stream_fails_only_its_own_calls() {
        let mut table = Waiting::default();
        let old = table.attach("old");
        table.register(1, "on old").unwrap();
        let new = table.attach("new");
        assert_eq!(table.register(2, "on new"), Ok("new"));
        // The old stream ends after the new one took over: the route stays.
        assert_eq!(table.detach(old), vec!["on old"]);
        assert_eq!(table.len(), 1);
        assert_eq!(table.register(3, "also new"), Ok("new"));
        let mut lost = table.detach(new);
        lost.sort_unstable();
        assert_eq!(lost, vec!["also new", "on new"]);
        assert_eq!(table.register(4, "late"), Err("late"));
    }
}
