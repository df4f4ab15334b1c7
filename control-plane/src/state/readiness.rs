//! Whether this host can serve: what `/api/readyz` and the gRPC health service say.
//!
//! Ready means every part a call needs is there: both NATS connections up, the data
//! plane connected and in line, the workload it already ran adopted after a restart,
//! the boot actors and providers started (or refused for good), and no drain under
//! way. Liveness (`/api/livez`) says only that the process answers.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Serialize;

/// Adoption and boot progress; the connections are read from the host.
#[derive(Debug, Default)]
pub struct Readiness {
    adopted: AtomicBool,
    boot_pending: AtomicUsize,
    boot_failures: Mutex<Vec<String>>,
}

impl Readiness {
    /// `pending` boot actors and providers are still to start.
    #[must_use]
    pub fn new(pending: usize) -> Readiness {
        Readiness {
            adopted: AtomicBool::new(false),
            boot_pending: AtomicUsize::new(pending),
            boot_failures: Mutex::new(Vec::new()),
        }
    }

    /// Whether what the data plane ran when this process started has been taken over.
    #[must_use]
    pub fn is_adopted(&self) -> bool {
        self.adopted.load(Ordering::Acquire)
    }

    /// The adoption is complete.
    pub fn set_adopted(&self) {
        self.adopted.store(true, Ordering::Release);
    }

    /// One boot actor or provider is settled: started, or refused for good (`failure`).
    pub fn boot_settled(&self, failure: Option<String>) {
        if let Some(failure) = failure {
            self.boot_failures
                .lock()
                .expect("invariant: readiness lock is never poisoned")
                .push(failure);
        }
        let _ = self
            .boot_pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }
}

/// Each check, for people and probes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    /// All of the below hold.
    pub ready: bool,
    /// Both NATS connections are up.
    pub nats: bool,
    /// The data plane is connected and in line with the desired state.
    pub data_plane: bool,
    /// The workload found at start is adopted.
    pub adopted: bool,
    /// Boot actors and providers still to start.
    pub boot_pending: usize,
    /// Boot actors and providers refused for good (they do not hold readiness back).
    pub boot_failures: Vec<String>,
    /// A stop is under way.
    pub draining: bool,
}

impl Readiness {
    /// The checks now, given what the host's connections say.
    #[must_use]
    pub fn report(&self, nats: bool, data_plane: bool, draining: bool) -> Report {
        let adopted = self.is_adopted();
        let boot_pending = self.boot_pending.load(Ordering::Acquire);
        Report {
            ready: nats && data_plane && adopted && boot_pending == 0 && !draining,
            nats,
            data_plane,
            adopted,
            boot_pending,
            boot_failures: self
                .boot_failures
                .lock()
                .expect("invariant: readiness lock is never poisoned")
                .clone(),
            draining,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_settles_down_to_zero_and_keeps_failures() {
        let readiness = Readiness::new(2);
        readiness.boot_settled(None);
        readiness.boot_settled(Some("actor x: refused".into()));
        readiness.boot_settled(None);
        assert_eq!(readiness.boot_pending.load(Ordering::Acquire), 0);
        assert_eq!(
            *readiness.boot_failures.lock().unwrap(),
            vec!["actor x: refused".to_string()]
        );
        assert!(!readiness.is_adopted());
        readiness.set_adopted();
        assert!(readiness.is_adopted());
    }
}
