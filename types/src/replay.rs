//! Replay and clock checks on signed invocations, beyond what the wasmbus protocol asks.
//!
//! An invocation's claims carry no expiry, so a captured message could be sent again
//! forever. A [`Guard`] gives each invocation a validity window: it is accepted only if
//! it was issued (`iat`) no longer than `window` ago and no further than `skew` ahead of
//! this host's clock, and only once: the claims' identity (issuer, `jti`, `sub`) is
//! remembered until the window has passed. The memory is bounded: when it is full the
//! oldest second is forgotten and invocations issued in it or before are refused from
//! then on, so a full cache narrows the window rather than letting a replay through.
//! A guard made at start refuses what was issued before the process started (but for
//! one second of rounding), so a restart does not forget what the previous process saw.

use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasher as _;
use std::sync::Mutex;

use crate::invocation::{ForgeryError, InvocationClaims};

/// The window and memory of a [`Guard`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long after its `iat` an invocation is accepted, in seconds; 0 turns the
    /// replay check off (the clock check stays).
    pub window_s: u64,
    /// How far ahead of this host's clock an `iat` may be, in seconds.
    pub skew_s: u64,
    /// How many invocations are remembered at most.
    pub capacity: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            window_s: DEFAULT_WINDOW_S,
            skew_s: DEFAULT_SKEW_S,
            capacity: DEFAULT_CAPACITY,
        }
    }
}

/// Default validity window.
pub const DEFAULT_WINDOW_S: u64 = 120;
/// Default tolerance for clocks ahead of this one.
pub const DEFAULT_SKEW_S: u64 = 10;
/// Default number of remembered invocations (about 16 MiB).
pub const DEFAULT_CAPACITY: usize = 500_000;

/// Remembers the invocations of the current window.
pub struct Guard {
    settings: Settings,
    hasher: std::collections::hash_map::RandomState,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    /// Invocations issued before this second are refused.
    floor: u64,
    /// Hashes of the claims seen, by their `iat`.
    by_second: BTreeMap<u64, HashSet<u64>>,
    len: usize,
}

impl Guard {
    /// A guard for a process that started at `now`.
    #[must_use]
    pub fn new(settings: Settings, now: u64) -> Guard {
        Guard {
            settings,
            hasher: std::collections::hash_map::RandomState::new(),
            seen: Mutex::new(Seen {
                floor: now.saturating_sub(1),
                ..Seen::default()
            }),
        }
    }

    /// Accepts `claims` once, if issued within the window at `now`.
    ///
    /// # Errors
    /// [`ForgeryError::FromTheFuture`], [`ForgeryError::Stale`],
    /// [`ForgeryError::Unremembered`] or [`ForgeryError::Replayed`].
    pub fn admit(&self, claims: &InvocationClaims, now: u64) -> Result<(), ForgeryError> {
        let issued = claims.issued_at;
        if issued > now.saturating_add(self.settings.skew_s) {
            return Err(ForgeryError::FromTheFuture {
                issued,
                now,
                skew_s: self.settings.skew_s,
            });
        }
        if self.settings.window_s == 0 {
            return Ok(());
        }
        if issued.saturating_add(self.settings.window_s) < now {
            return Err(ForgeryError::Stale {
                issued,
                now,
                window_s: self.settings.window_s,
            });
        }
        let hash = self
            .hasher
            .hash_one((&claims.issuer, &claims.id, &claims.subject));
        let mut seen = self
            .seen
            .lock()
            .expect("invariant: the replay lock is never poisoned");
        seen.forget_before(now.saturating_sub(self.settings.window_s));
        if issued < seen.floor {
            return Err(ForgeryError::Unremembered {
                issued,
                since: seen.floor,
            });
        }
        if !seen.by_second.entry(issued).or_default().insert(hash) {
            return Err(ForgeryError::Replayed);
        }
        seen.len += 1;
        while seen.len > self.settings.capacity {
            let Some((second, hashes)) = seen.by_second.pop_first() else {
                break;
            };
            seen.len -= hashes.len();
            seen.floor = seen.floor.max(second + 1);
        }
        Ok(())
    }

    /// How many invocations are remembered now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.seen
            .lock()
            .expect("invariant: the replay lock is never poisoned")
            .len
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Seen {
    fn forget_before(&mut self, second: u64) {
        while let Some(entry) = self.by_second.first_entry() {
            if *entry.key() >= second {
                break;
            }
            self.len -= entry.get().len();
            entry.remove();
        }
        self.floor = self.floor.max(second);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOT: u64 = 1_700_000_000;

    fn claims(id: &str, issued_at: u64) -> InvocationClaims {
        InvocationClaims {
            expires: None,
            id: id.to_string(),
            issued_at,
            issuer: "CISSUER".into(),
            subject: format!("sub-{id}"),
            not_before: None,
            metadata: None,
            wascap_revision: None,
        }
    }

    fn guard(capacity: usize) -> Guard {
        Guard::new(
            Settings {
                window_s: 60,
                skew_s: 5,
                capacity,
            },
            BOOT,
        )
    }

    #[test]
    fn an_invocation_is_accepted_once() {
        let guard = guard(100);
        let call = claims("a", BOOT + 1);
        assert_eq!(guard.admit(&call, BOOT + 2), Ok(()));
        for _ in 0..100 {
            assert_eq!(guard.admit(&call, BOOT + 3), Err(ForgeryError::Replayed));
        }
        assert_eq!(guard.admit(&claims("b", BOOT + 1), BOOT + 3), Ok(()));
        assert_eq!(guard.len(), 2);
    }

    #[test]
    fn issue_times_outside_the_window_or_ahead_of_the_skew_are_refused() {
        let guard = guard(100);
        let ten_years = 10 * 365 * 24 * 3600;
        assert!(matches!(
            guard.admit(&claims("future", BOOT + ten_years), BOOT + 10),
            Err(ForgeryError::FromTheFuture { .. })
        ));
        assert_eq!(guard.admit(&claims("ahead", BOOT + 15), BOOT + 10), Ok(()));
        assert!(matches!(
            guard.admit(&claims("old", BOOT + 10), BOOT + 100),
            Err(ForgeryError::Stale { .. })
        ));
    }

    #[test]
    fn what_was_issued_before_the_process_started_is_refused() {
        let guard = guard(100);
        assert!(matches!(
            guard.admit(&claims("before", BOOT - 5), BOOT),
            Err(ForgeryError::Unremembered { .. })
        ));
        assert_eq!(guard.admit(&claims("rounding", BOOT - 1), BOOT), Ok(()));
    }

    #[test]
    fn memory_is_bounded_and_a_full_cache_refuses_what_it_forgot() {
        let guard = guard(10);
        for second in 0..5 {
            for n in 0..4 {
                let call = claims(&format!("{second}-{n}"), BOOT + second);
                assert_eq!(guard.admit(&call, BOOT + 5), Ok(()));
            }
        }
        assert!(guard.len() <= 10, "{}", guard.len());
        // The oldest seconds were forgotten: their invocations are now refused, not
        // accepted a second time.
        assert!(matches!(
            guard.admit(&claims("0-0", BOOT), BOOT + 5),
            Err(ForgeryError::Unremembered { .. })
        ));
        assert_eq!(
            guard.admit(&claims("4-0", BOOT + 4), BOOT + 5),
            Err(ForgeryError::Replayed)
        );
    }

    #[test]
    fn the_window_slides() {
        let guard = guard(100);
        assert_eq!(guard.admit(&claims("a", BOOT + 1), BOOT + 1), Ok(()));
        assert_eq!(guard.admit(&claims("b", BOOT + 100), BOOT + 100), Ok(()));
        assert_eq!(guard.len(), 1, "the first left with its window");
    }

    #[test]
    fn a_zero_window_keeps_only_the_clock_check() {
        let guard = Guard::new(
            Settings {
                window_s: 0,
                skew_s: 5,
                capacity: 10,
            },
            BOOT,
        );
        let call = claims("a", BOOT - 1000);
        assert_eq!(guard.admit(&call, BOOT), Ok(()));
        assert_eq!(guard.admit(&call, BOOT), Ok(()));
        assert!(guard.is_empty());
        assert!(guard.admit(&claims("f", BOOT + 100), BOOT).is_err());
    }
}
