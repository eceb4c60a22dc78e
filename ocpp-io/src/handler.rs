//! Events delivered to a handler, for applications that would rather be called than poll.
//!
//! [`Events`] is a [`Stream`](futures_util::Stream): `while let Some(event) =
//! events.next().await` is one way to receive what a driver reports. The other is to hand
//! an [`EventHandler`] to [`Events::for_each_handler`], which calls it with every event, in
//! order, one at a time, until the driver has ended, then gives the handler back. Its
//! `on_event` is async, so it can act on the machine through a [`Handle`](crate::Handle)
//! (answer a call, reply to a decision) before the next event comes; any `FnMut(Event<E>)`
//! closure is a handler too, for what needs no waiting.
//!
//! Like the rest of this crate it is written on futures only: the future of
//! [`Events::for_each_handler`] runs on whatever executor the application uses
//! (`tokio::spawn`, `smol::spawn`, `async_std::task::spawn`, or awaited in place), and it is
//! `Send` when the handler and the events are.
//!
//! ```
//! use ocpp_core::rpc::{Endpoint, RpcEvent};
//! use ocpp_io::{Connection, Event, EventHandler, Handle};
//! use serde_json::json;
//!
//! /// A Central System's application: answers every Heartbeat of its connection.
//! struct Clock {
//!     handle: Handle<Endpoint>,
//!     answered: usize,
//! }
//!
//! impl EventHandler<RpcEvent> for Clock {
//!     async fn on_event(&mut self, event: Event<RpcEvent>) {
//!         if let Event::Machine(RpcEvent::Call(call)) = event
//!             && call.action == ocpp_core::v16::Action::Heartbeat
//!         {
//!             let answer = json!({"currentTime": "2025-01-01T00:00:00Z"});
//!             let answered = self.handle.run(move |ep, now| ep.respond(now, &call.id, answer));
//!             if let Ok(Ok(())) = answered.await {
//!                 self.answered += 1;
//!             }
//!         }
//!     }
//! }
//!
//! /// Serves one accepted connection until it ends; spawn it on any executor.
//! async fn serve(connection: Connection<Endpoint>) -> usize {
//!     let clock = Clock { handle: connection.handle, answered: 0 };
//!     connection.events.for_each_handler(clock).await.answered
//! }
//!
//! /// The same with a closure, which needs no waiting (and is of no use once given back).
//! async fn count(connection: Connection<Endpoint>) -> usize {
//!     let mut seen = 0;
//!     let _ = connection.events.for_each_handler(|_event| seen += 1).await;
//!     seen
//! }
//! # fn is_send<F: Send>(_: F) {}
//! # fn check(connection: Connection<Endpoint>) { is_send(serve(connection)) }
//! ```

use std::future::Future;

use crate::driver::{Event, Events};

/// Receives the events of one driver (one connection of a server, or a client) one at a
/// time, in the order they happened; see the [module docs](self).
///
/// Implement it with `async fn on_event(&mut self, event: Event<E>)`. The future must be
/// `Send` (it usually is: it holds the handler, the event and handles), so that the whole
/// loop can be spawned on a multi-threaded executor.
pub trait EventHandler<E> {
    /// Handles `event`. The next event is delivered once the returned future has completed;
    /// until then events wait in the stream, and the driver goes on without waiting.
    fn on_event(&mut self, event: Event<E>) -> impl Future<Output = ()> + Send;
}

/// A closure is a handler that handles each event at once.
impl<E, F> EventHandler<E> for F
where
    F: FnMut(Event<E>),
{
    fn on_event(&mut self, event: Event<E>) -> impl Future<Output = ()> + Send {
        self(event);
        std::future::ready(())
    }
}

impl<E> Events<E> {
    /// Calls `handler` with every event until the driver has ended (for a server's
    /// connection: the connection closed; for a client: it stopped reconnecting or was
    /// closed), then returns it, with whatever it collected (a closure given back can be
    /// dropped: `let _ = events.for_each_handler(|event| ...).await`).
    pub async fn for_each_handler<H: EventHandler<E>>(mut self, mut handler: H) -> H {
        while let Some(event) = self.next_event().await {
            handler.on_event(event).await;
        }
        handler
    }
}
