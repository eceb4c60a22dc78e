//! The one interface through which every state machine of this crate is driven.
//!
//! Adapters (`ocpp-io-tokio`, `ocpp-io-smol`), tests in virtual time and the trace replayer
//! all drive a [`Machine`] the same way: feed it one input, drain [`Machine::poll_output`]
//! until it returns `None`, read [`Machine::poll_timeout`], and call
//! [`Machine::handle_timeout`] when that instant comes. The outputs of one input come in the
//! order they must be applied; a driver that persists must commit every [`Output::Persist`] of
//! one input in one transaction **before** it transmits any [`Output::Transmit`] of that input
//! (see [`crate::persist`]).
//!
//! Application commands (authorize an id tag, send a call, answer a decision) are methods of
//! the concrete machine, not of this trait: the driver hands the application a way to run a
//! closure on the machine, then drains it as after any input. A run that must be recorded
//! ([`crate::trace::Recorder`]) sends its commands as data instead, so that they can be
//! written down and replayed.

use std::collections::VecDeque;

use crate::persist::StoreOp;
use crate::rpc::{self, Endpoint};
use crate::time::{Monotonic, Now};

/// What a machine asks its driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output<E> {
    /// Make this change durable, together with the other ops of the same input, before any
    /// frame of that input is sent.
    Persist(StoreOp),
    /// Send this text as one WebSocket text message.
    Transmit(String),
    /// Tell the application.
    Event(E),
    /// Close the WebSocket connection (the machine is told with `handle_disconnected` once it
    /// is closed).
    Close(Close),
}

/// Why a machine wants its connection closed, as a WebSocket close frame carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// The WebSocket close code (RFC 6455 section 7.4), e.g. 1000 for a normal closure.
    pub code: u16,
    /// A short reason for logs and for the peer (at most 123 bytes fit a close frame).
    pub reason: String,
}

/// Takes the next output off a machine's queue. Once the queue is drained (the driver saw
/// `None`) it gives its memory back: a queue keeps the capacity of its busiest moment, four
/// outputs at least, and a server holds one such queue per machine per idle connection.
pub(crate) fn next_output<T>(queue: &mut VecDeque<T>) -> Option<T> {
    let next = queue.pop_front();
    if next.is_none() && queue.capacity() != 0 {
        *queue = VecDeque::new();
    }
    next
}

/// Removes `key` from `map`, and gives the map's memory back once it is empty: a `BTreeMap`
/// keeps its root node after its last entry is removed, a few hundred bytes that every idle
/// connection would carry after its first decision or call.
pub(crate) fn remove_releasing<K, Q, V>(
    map: &mut std::collections::BTreeMap<Q, V>,
    key: &K,
) -> Option<V>
where
    K: Ord + ?Sized,
    Q: Ord + std::borrow::Borrow<K>,
{
    let removed = map.remove(key);
    if map.is_empty() {
        *map = std::collections::BTreeMap::new();
    }
    removed
}

/// A sans-IO state machine of one side of one OCPP-J connection. See the [module docs](self)
/// for the driving contract.
pub trait Machine {
    /// What the machine tells the application.
    type Event;

    /// The WebSocket connection is open.
    fn handle_connected(&mut self, now: Now);
    /// The WebSocket connection is closed (by either side, or lost).
    fn handle_disconnected(&mut self, now: Now);
    /// One WebSocket text message from the peer.
    fn handle_message(&mut self, now: Now, text: &str);
    /// The instant from [`Machine::poll_timeout`] has come (calling it early is harmless).
    fn handle_timeout(&mut self, now: Now);
    /// The next output of the last input, in the order outputs must be applied.
    fn poll_output(&mut self) -> Option<Output<Self::Event>>;
    /// When [`Machine::handle_timeout`] must be called next, if ever.
    fn poll_timeout(&self) -> Option<Monotonic>;
}

/// An event that may end an application command begun earlier: the answer to a call, the
/// verdict on an id tag. A command returns a key ([`Completes::Key`], e.g. a
/// [`CallHandle`](crate::rpc::CallHandle)), and the event carrying the same key is its
/// outcome.
///
/// It lets a driver hand the outcome of a command to whoever waits for it (`ocpp-io`'s
/// `Awaiting`) without knowing the role: it asks each event which command, if any, it ends.
/// Implemented by the events of both 1.6 roles, so it holds as well for any wrapper that
/// passes a role's events through unchanged.
pub trait Completes {
    /// What identifies one command to its outcome.
    type Key: Ord + Clone;

    /// The command this event ends, if it ends one.
    fn completes(&self) -> Option<Self::Key>;
}

/// The RPC endpoint's calls end with [`rpc::RpcEvent::Completed`].
impl Completes for rpc::RpcEvent {
    type Key = rpc::CallHandle;

    fn completes(&self) -> Option<rpc::CallHandle> {
        match self {
            rpc::RpcEvent::Completed { handle, .. } => Some(*handle),
            _ => None,
        }
    }
}

/// The bare RPC endpoint is a machine too: it persists nothing and never closes on its own.
/// Drivers and their tests can run it before any role exists.
impl Machine for Endpoint {
    type Event = rpc::RpcEvent;

    fn handle_connected(&mut self, now: Now) {
        Endpoint::handle_connected(self, now);
    }

    fn handle_disconnected(&mut self, now: Now) {
        Endpoint::handle_disconnected(self, now);
    }

    fn handle_message(&mut self, now: Now, text: &str) {
        Endpoint::handle_message(self, now, text);
    }

    fn handle_timeout(&mut self, now: Now) {
        Endpoint::handle_timeout(self, now);
    }

    fn poll_output(&mut self) -> Option<Output<rpc::RpcEvent>> {
        Endpoint::poll_output(self).map(|output| match output {
            rpc::Output::Transmit(text) => Output::Transmit(text),
            rpc::Output::Event(event) => Output::Event(event),
        })
    }

    fn poll_timeout(&self) -> Option<Monotonic> {
        Endpoint::poll_timeout(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Version;
    use crate::rpc::{CounterIds, EndpointConfig};

    /// Drives any machine generically, the way an adapter does.
    fn drain<M: Machine>(machine: &mut M) -> Vec<Output<M::Event>> {
        std::iter::from_fn(|| machine.poll_output()).collect()
    }

    #[test]
    fn the_endpoint_is_driven_through_the_machine_trait() {
        let now = Now::new(Monotonic::ZERO, time::OffsetDateTime::UNIX_EPOCH);
        let mut endpoint = Endpoint::new(
            EndpointConfig::new(Version::V16),
            Box::new(CounterIds::default()),
        );
        Machine::handle_connected(&mut endpoint, now);
        Machine::handle_message(&mut endpoint, now, r#"[2,"1","Heartbeat",{}]"#);
        let outputs = drain(&mut endpoint);
        assert!(matches!(
            outputs.as_slice(),
            [Output::Event(rpc::RpcEvent::Call(_))]
        ));
        assert_eq!(Machine::poll_timeout(&endpoint), None);
    }
}
