//! Message id generators.
//!
//! OCPP-J requires the id of every CALL to differ from all ids the same sender used before on
//! any connection of the same charge point (OCPP-J 1.6 errata 3.7, 2.0.1 part 4 section 4.1.4),
//! and to be at most 36 characters. The endpoint takes ids from an injected generator so that
//! production uses random UUIDs while tests and trace replays use a predictable counter.

/// Produces the ids of outgoing CALL messages.
pub trait IdGenerator: Send {
    /// The next id: at most 36 characters and never returned before by this generator's
    /// lineage (for a counter, across restarts only if the caller restores it).
    fn next_id(&mut self) -> String;
}

/// Ids `1`, `2`, `3`, ...: deterministic, for tests and trace replay.
///
/// A counter restarts with the process, so in production, where ids must stay unique across
/// reconnects and restarts, use [`UuidV4Ids`].
#[derive(Debug, Clone, Default)]
pub struct CounterIds {
    next: u64,
}

impl CounterIds {
    /// A counter whose first id is `first`.
    pub const fn starting_at(first: u64) -> CounterIds {
        CounterIds { next: first }
    }
}

impl IdGenerator for CounterIds {
    fn next_id(&mut self) -> String {
        self.next = self.next.wrapping_add(1);
        self.next.to_string()
    }
}

/// Random version 4 UUIDs in their 36-character hyphenated form: the production generator.
///
/// This is the one place in the crate that draws random numbers. The state machines never
/// create a generator themselves; the adapter passes one in, so a test or replay can pass a
/// [`CounterIds`] instead and stay deterministic.
#[cfg(feature = "uuid")]
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidV4Ids;

#[cfg(feature = "uuid")]
impl IdGenerator for UuidV4Ids {
    #[allow(clippy::disallowed_methods)] // the sanctioned, injected source of randomness
    fn next_id(&mut self) -> String {
        uuid::Uuid::new_v4().hyphenated().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_ids_count_up_from_one() {
        let mut ids = CounterIds::default();
        assert_eq!(ids.next_id(), "1");
        assert_eq!(ids.next_id(), "2");
        let mut ids = CounterIds::starting_at(41);
        assert_eq!(ids.next_id(), "42");
    }

    /// OCPP-J 1.6 section 4.1.4 / 2.0.1 part 4 section 4.1.4: at most 36 characters, unique.
    #[cfg(feature = "uuid")]
    #[test]
    fn uuid_ids_are_36_characters_and_distinct() {
        let mut ids = UuidV4Ids;
        let a = ids.next_id();
        let b = ids.next_id();
        assert_eq!(a.len(), 36);
        assert_ne!(a, b);
        // Even u64::MAX as a counter id stays far below the limit.
        assert!(u64::MAX.to_string().len() <= 36);
    }
}
