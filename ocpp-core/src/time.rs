//! The time a caller passes into the state machines.
//!
//! The core never reads a clock. Every input carries a [`Now`]: a monotonic reading for
//! deadlines (call timeouts, retries, heartbeats), immune to clock changes, and a wall-clock
//! reading for what goes into messages (timestamps, clock-aligned meter values). Adapters take
//! both from the system; tests and the trace replayer make them up, which keeps runs
//! reproducible.

use std::ops::{Add, Sub};
use std::time::Duration;

use time::OffsetDateTime;

/// A monotonic instant: the time elapsed since an origin the caller picks (for an adapter, the
/// moment it started). Only differences between two readings mean anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Monotonic(Duration);

impl Monotonic {
    /// The origin.
    pub const ZERO: Monotonic = Monotonic(Duration::ZERO);

    /// The instant `elapsed` after the origin.
    pub const fn from_elapsed(elapsed: Duration) -> Monotonic {
        Monotonic(elapsed)
    }

    /// The instant `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Monotonic {
        Monotonic(Duration::from_millis(millis))
    }

    /// Time elapsed since the origin.
    pub const fn elapsed(self) -> Duration {
        self.0
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Monotonic) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Monotonic {
    type Output = Monotonic;

    /// Saturates instead of overflowing: a deadline too far away to represent is "never".
    fn add(self, rhs: Duration) -> Monotonic {
        Monotonic(self.0.saturating_add(rhs))
    }
}

impl Sub<Monotonic> for Monotonic {
    type Output = Duration;

    fn sub(self, rhs: Monotonic) -> Duration {
        self.saturating_since(rhs)
    }
}

/// The current time as the caller of a state machine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// For deadlines and durations.
    pub monotonic: Monotonic,
    /// For timestamps in messages (UTC is what OCPP sends).
    pub wall: OffsetDateTime,
}

impl Now {
    /// A reading made of both clocks.
    pub const fn new(monotonic: Monotonic, wall: OffsetDateTime) -> Now {
        Now { monotonic, wall }
    }

    /// The same moment `by` later on both clocks; what virtual-time tests step with.
    pub fn advanced(self, by: Duration) -> Now {
        Now {
            monotonic: self.monotonic + by,
            wall: self.wall + by,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_arithmetic_saturates() {
        let t = Monotonic::from_millis(1_000);
        assert_eq!(
            t + Duration::from_millis(500),
            Monotonic::from_millis(1_500)
        );
        assert_eq!(
            Monotonic::from_millis(1_500) - t,
            Duration::from_millis(500)
        );
        assert_eq!(t - Monotonic::from_millis(1_500), Duration::ZERO);
        assert_eq!(
            Monotonic::from_elapsed(Duration::MAX) + Duration::from_secs(1),
            Monotonic::from_elapsed(Duration::MAX)
        );
    }

    #[test]
    fn advancing_moves_both_clocks() {
        let now = Now::new(Monotonic::ZERO, OffsetDateTime::UNIX_EPOCH);
        let later = now.advanced(Duration::from_secs(30));
        assert_eq!(later.monotonic, Monotonic::from_millis(30_000));
        assert_eq!(later.wall.unix_timestamp(), 30);
    }
}
