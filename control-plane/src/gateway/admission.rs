//! Which actors are served on the lattice, and the bounds on the calls in flight: per
//! host, per actor and in payload bytes. A call past a bound is answered "busy" at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::config::InFlight;

/// Live subscriptions by actor key, and the bounds on the calls in flight.
#[derive(Debug)]
pub struct Subscriptions {
    live: Mutex<HashMap<String, CancellationToken>>,
    /// Calls in flight over every actor.
    host: Arc<Semaphore>,
    host_limit: usize,
    per_actor: usize,
    /// Payload KiB of the calls in flight over every actor.
    bytes: Arc<Semaphore>,
    bytes_limit_kib: u32,
}

impl Subscriptions {
    /// Subscriptions whose calls in flight are bounded by `in_flight`.
    #[must_use]
    pub fn new(in_flight: InFlight) -> Subscriptions {
        Subscriptions {
            live: Mutex::new(HashMap::new()),
            host: Arc::new(Semaphore::new(in_flight.host)),
            host_limit: in_flight.host,
            per_actor: in_flight.per_actor,
            bytes: Arc::new(Semaphore::new(kib(in_flight.bytes) as usize)),
            bytes_limit_kib: kib(in_flight.bytes),
        }
    }

    /// Calls in flight now over every actor.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.host_limit - self.host.available_permits()
    }

    /// Whether `actor` is served.
    #[must_use]
    pub fn is_live(&self, actor: &str) -> bool {
        self.lock().contains_key(actor)
    }

    /// `actor` is served until `stop` is cancelled; a subscription it replaces ends.
    pub fn set_live(&self, actor: &str, stop: CancellationToken) {
        if let Some(previous) = self.lock().insert(actor.to_string(), stop) {
            previous.cancel();
        }
    }

    /// `actor`'s subscription ends; calls already received still finish.
    pub fn end(&self, actor: &str) {
        if let Some(stop) = self.lock().remove(actor) {
            stop.cancel();
        }
    }

    /// A new bound for the calls in flight to one actor.
    #[must_use]
    pub fn actor_bound(&self) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(self.per_actor))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.live
            .lock()
            .expect("invariant: subscription lock is never poisoned")
    }

    /// A place for one more call of `len` payload bytes to an actor whose own bound is
    /// `actor`, or why not.
    ///
    /// # Errors
    /// The "busy" message for the caller.
    pub fn admit(&self, actor: &Arc<Semaphore>, len: usize) -> Result<Permits, String> {
        let Ok(host) = self.host.clone().try_acquire_owned() else {
            return Err(format!(
                "host busy: {} invocations already in flight on this host (KILN_CP_MAX_IN_FLIGHT); try again later",
                self.host_limit
            ));
        };
        let Ok(actor) = actor.clone().try_acquire_owned() else {
            return Err(format!(
                "actor busy: {} invocations already in flight for this actor (KILN_CP_MAX_IN_FLIGHT_PER_ACTOR); try again later",
                self.per_actor
            ));
        };
        // One message larger than the whole bound still gets in when nothing else is.
        let wanted = kib(len as u64).clamp(1, self.bytes_limit_kib);
        let Ok(bytes) = self.bytes.clone().try_acquire_many_owned(wanted) else {
            return Err(format!(
                "host busy: {} MiB of invocations already in flight on this host (KILN_CP_MAX_IN_FLIGHT_MIB); try again later",
                self.bytes_limit_kib >> 10
            ));
        };
        Ok(Permits {
            _host: host,
            _actor: actor,
            _bytes: bytes,
        })
    }
}

/// Whole KiB in `bytes`, rounded up.
fn kib(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
}

/// Held while a call is in flight; dropping it frees its places.
pub struct Permits {
    _host: OwnedSemaphorePermit,
    _actor: OwnedSemaphorePermit,
    _bytes: OwnedSemaphorePermit,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscriptions(host: usize, per_actor: usize, bytes: u64) -> Subscriptions {
        Subscriptions::new(InFlight {
            host,
            per_actor,
            bytes,
        })
    }

    #[test]
    fn calls_past_a_bound_are_busy_until_one_finishes() {
        let calls = subscriptions(2, 1, 1 << 20);
        let (a, b) = (Arc::new(Semaphore::new(1)), Arc::new(Semaphore::new(1)));
        let first = calls.admit(&a, 10).expect("room");
        let error = calls.admit(&a, 10).err().expect("the actor is full");
        assert!(error.starts_with("actor busy"), "{error}");
        let second = calls.admit(&b, 10).expect("room for another actor");
        assert_eq!(calls.in_flight(), 2);
        let error = calls
            .admit(&Arc::new(Semaphore::new(1)), 10)
            .err()
            .expect("full");
        assert!(error.starts_with("host busy: 2 invocations"), "{error}");
        drop((first, second));
        assert_eq!(calls.in_flight(), 0);
        assert!(calls.admit(&a, 10).is_ok());
    }

    #[test]
    fn payload_bytes_in_flight_are_bounded() {
        let calls = subscriptions(100, 100, 4096);
        let actor = Arc::new(Semaphore::new(100));
        let first = calls.admit(&actor, 3000).expect("room");
        let error = calls.admit(&actor, 3000).err().expect("over the bytes");
        assert!(error.contains("KILN_CP_MAX_IN_FLIGHT_MIB"), "{error}");
        let small = calls.admit(&actor, 1).expect("a KiB is left");
        drop((first, small));
        // A message larger than the whole bound gets in alone.
        let huge = calls.admit(&actor, 1 << 20).expect("alone");
        assert!(calls.admit(&actor, 1).is_err());
        drop(huge);
        assert!(calls.admit(&actor, 1).is_ok());
    }
}
