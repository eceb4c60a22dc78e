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

use std::cell::Cell;
use std::collections::VecDeque;
use std::thread::LocalKey;

use crate::message::OcppAction;
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

/// An output type whose drained queue buffers are lent between the machines of a thread
/// (see [`Outputs`]).
pub(crate) trait Spare: Sized + 'static {
    /// This thread's spare buffer for queues of this output type (empty: none).
    fn spare() -> &'static LocalKey<Cell<VecDeque<Self>>>;
}

/// The largest buffer (in outputs) kept as a thread's spare: what one busy input fills.
/// A larger one, left by a burst, is given back to the allocator as before.
const SPARE_CAPACITY: usize = 16;

/// A machine's queue of outputs that, like [`next_output`], holds no memory once drained,
/// yet does not allocate on every input: the drained buffer becomes its thread's spare,
/// which the next queue of the thread to fill takes. A server thread runs many machines
/// one input at a time, so one buffer serves them all; an idle machine still holds none.
pub(crate) struct Outputs<T: Spare>(VecDeque<T>);

impl<T: Spare> Outputs<T> {
    pub(crate) const fn new() -> Outputs<T> {
        Outputs(VecDeque::new())
    }

    /// Queues `output` after the others.
    pub(crate) fn push_back(&mut self, output: T) {
        if self.0.capacity() == 0 {
            // During the thread's teardown there is no spare: allocate as usual.
            if let Ok(spare) = T::spare().try_with(Cell::take) {
                discard_unallocated(std::mem::replace(&mut self.0, spare));
            }
        }
        self.0.push_back(output);
    }

    /// The next output; `None` once drained, when the buffer goes to the thread's spare.
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        let next = self.0.pop_front();
        if next.is_none() && self.0.capacity() != 0 {
            let drained = std::mem::take(&mut self.0);
            if drained.capacity() <= SPARE_CAPACITY {
                // A thread keeps one spare; a second is dropped here, as is any at teardown.
                let _ = T::spare().try_with(|spare| {
                    let held = spare.replace(drained);
                    if held.capacity() == 0 {
                        discard_unallocated(held);
                    } else {
                        spare.set(held);
                    }
                });
            }
        }
        next
    }
}

/// Lets go of a queue that never allocated (capacity 0, so empty) without running the drop
/// glue of its element type, which costs a call per queue handed over on every input.
fn discard_unallocated<T>(queue: VecDeque<T>) {
    debug_assert_eq!(queue.capacity(), 0);
    if queue.capacity() == 0 {
        // Nothing to free and no element to drop: forgetting it leaks nothing.
        std::mem::forget(queue);
    }
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
impl<A> Completes for rpc::RpcEvent<A> {
    type Key = rpc::CallHandle;

    fn completes(&self) -> Option<rpc::CallHandle> {
        match self {
            rpc::RpcEvent::Completed { handle, .. } => Some(*handle),
            _ => None,
        }
    }
}

/// The bare RPC endpoint is a machine too: it persists nothing and never closes on its own.
/// Drivers and their tests can run it before any role exists. With no role to answer the
/// peer's CALLs at once, it holds each one ([`Endpoint::hold`]) and reports it as
/// [`rpc::RpcEvent::Call`], to be answered with [`Endpoint::respond`].
impl<A: OcppAction> Machine for Endpoint<A> {
    type Event = rpc::RpcEvent<A>;

    fn handle_connected(&mut self, now: Now) {
        Endpoint::handle_connected(self, now);
    }

    fn handle_disconnected(&mut self, now: Now) {
        Endpoint::handle_disconnected(self, now);
    }

    fn handle_message(&mut self, now: Now, text: &str) {
        if let Some(call) = Endpoint::handle_message(self, now, text) {
            let held = self.hold(call);
            self.report_held(held);
        }
    }

    fn handle_timeout(&mut self, now: Now) {
        Endpoint::handle_timeout(self, now);
    }

    fn poll_output(&mut self) -> Option<Output<rpc::RpcEvent<A>>> {
        Endpoint::poll_output(self)
    }

    fn poll_timeout(&self) -> Option<Monotonic> {
        Endpoint::poll_timeout(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::{CounterIds, EndpointConfig};

    /// Drives any machine generically, the way an adapter does.
    fn drain<M: Machine>(machine: &mut M) -> Vec<Output<M::Event>> {
        std::iter::from_fn(|| machine.poll_output()).collect()
    }

    #[derive(Debug, PartialEq)]
    struct Item(usize);

    thread_local! {
        static SPARE_ITEMS: Cell<VecDeque<Item>> = const { Cell::new(VecDeque::new()) };
    }

    impl Spare for Item {
        fn spare() -> &'static LocalKey<Cell<VecDeque<Item>>> {
            &SPARE_ITEMS
        }
    }

    fn fill(queue: &mut Outputs<Item>, items: std::ops::Range<usize>) {
        items.for_each(|i| queue.push_back(Item(i)));
    }

    fn drain_items(queue: &mut Outputs<Item>) -> Vec<usize> {
        std::iter::from_fn(|| queue.pop_front().map(|item| item.0)).collect()
    }

    /// The idle-memory rule of issue #7 (a drained queue holds nothing) without an
    /// allocation per input: the drained buffer serves the next queue of the thread.
    #[test]
    fn a_drained_queue_holds_nothing_and_lends_its_buffer_to_the_next_queue() {
        let mut first = Outputs::new();
        fill(&mut first, 0..5);
        let grown = first.0.capacity();
        assert!(grown >= 5);
        assert_eq!(drain_items(&mut first), [0, 1, 2, 3, 4]);
        assert_eq!(first.0.capacity(), 0);
        // The second queue's first output lands in the first one's buffer, not a new one.
        let mut second = Outputs::new();
        fill(&mut second, 5..6);
        assert_eq!(second.0.capacity(), grown);
        // Taken: a third queue allocates its own meanwhile.
        let mut third = Outputs::new();
        fill(&mut third, 6..7);
        assert!(third.0.capacity() < grown);
        assert_eq!(drain_items(&mut second), [5]);
        assert_eq!(drain_items(&mut third), [6]);
        // The thread keeps one spare; a burst's large buffer is given back, not kept.
        let mut burst = Outputs::new();
        SPARE_ITEMS.with(Cell::take);
        fill(&mut burst, 0..SPARE_CAPACITY + 1);
        assert_eq!(drain_items(&mut burst).len(), SPARE_CAPACITY + 1);
        assert_eq!(SPARE_ITEMS.with(Cell::take).capacity(), 0);
    }

    #[test]
    fn the_endpoint_is_driven_through_the_machine_trait() {
        let now = Now::new(Monotonic::ZERO, time::OffsetDateTime::UNIX_EPOCH);
        let mut endpoint = Endpoint::new(
            EndpointConfig::<crate::v16::Action>::new(),
            Box::new(CounterIds::default()),
        );
        Machine::handle_connected(&mut endpoint, now);
        Machine::handle_message(&mut endpoint, now, r#"[2,"1","Heartbeat",{}]"#);
        let outputs = drain(&mut endpoint);
        let [Output::Event(rpc::RpcEvent::Call(call))] = outputs.as_slice() else {
            panic!("expected the held call, got {outputs:?}");
        };
        assert_eq!(
            (call.id.as_str(), call.action),
            ("1", crate::v16::Action::Heartbeat)
        );
        assert_eq!(Machine::poll_timeout(&endpoint), None);
        // Held by the endpoint: answered by its id, once.
        let answer = serde_json::json!({"currentTime": "2024-05-01T10:00:00Z"});
        endpoint.respond(now, "1", answer.clone()).unwrap();
        assert!(matches!(
            drain(&mut endpoint).as_slice(),
            [Output::Transmit(_)]
        ));
        assert!(endpoint.respond(now, "1", answer).is_err());
    }
}
