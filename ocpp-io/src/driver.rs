//! The driver loop: one [`Machine`] over one WebSocket connection at a time.
//!
//! A [`Driver`] owns the machine. While a connection is up ([`Driver::run_connection`]) it
//! waits for whichever comes first — a WebSocket message, an application command, the
//! machine's deadline, the keep-alive ping timer — feeds it to the machine and then applies
//! the machine's outputs. Between connections ([`Driver::run_offline`]) it goes on serving
//! commands and deadlines, so the application can use the machine while a client reconnects.
//!
//! # Applying the outputs of one input
//!
//! After every input the driver drains [`Machine::poll_output`] completely, then:
//!
//! 1. hands every [`Output::Persist`] op of that input to the [`Persister`] as **one batch**;
//! 2. only if that succeeded, sends the [`Output::Transmit`] frames, in order: each is fed to
//!    the WebSocket sink and the sink is flushed once after the last, so that the frames of
//!    one input leave in one write; the next input is taken once they are written;
//! 3. forwards [`Output::Event`]s to the [`Events`] stream, in order;
//! 4. closes the connection if the machine asked for it ([`Output::Close`]), after the
//!    frames before it.
//!
//! A failed batch sends nothing of that input and closes the connection with code 1011.
//! Then it reads [`Machine::poll_timeout`] and re-arms its timer. Draining allocates nothing
//! for an input without ops and with a few outputs.
//!
//! # Footprint
//!
//! An idle connection costs its machine, its stream and a few words: the connection loop is
//! one hand-written poll function over the driver, the stream and a small state, not nested
//! `async fn`s that each keep their own locals, and its cold parts (pings, frames waiting
//! for a slow peer, the close handshake) are allocated only while in use.
//!
//! # Events without a listener
//!
//! Events are for the application's benefit. Once it has dropped the [`Events`] of a driver,
//! the driver notices (at its next wake-up), drops its side of the channel, which frees it,
//! and from then on builds and sends no events. An application that does not listen (e.g. a
//! central system whose machines answer everything themselves, see [`Driver::build`]) thus
//! pays neither memory nor time for them.
//!
//! # Commands
//!
//! The application reaches the machine through a [`Handle`]: [`Handle::run`] sends a closure
//! `FnOnce(&mut M, Now) -> T` that the driver runs on the machine between two inputs (with the
//! current time), drains the outputs as after any input, and returns `T`. Any method of the
//! concrete machine is thereby available, e.g. `Endpoint::call`, without the driver knowing it.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::protocol::frame::CloseFrame;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::{self, Message, error::CapacityError};
use futures_channel::{mpsc, oneshot};
use futures_util::future::{BoxFuture, Either};
use futures_util::io::{AsyncRead, AsyncWrite};
use futures_util::{FutureExt, Sink, Stream, StreamExt};
use ocpp_core::Version;
use ocpp_core::machine::{Close, Machine, Output};
use ocpp_core::persist::StoreOp;
use ocpp_core::time::{Monotonic, Now};

use crate::client::{ConnectError, RECONFIGURED, Reconfiguration};
use crate::persist::Persister;
use crate::runtime::Runtime;
use crate::ws::{Incoming, WsStream};

/// WebSocket close code 1000: normal closure.
pub const CLOSE_NORMAL: u16 = 1000;
/// WebSocket close code 1001: the endpoint is going away (server shutdown).
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// WebSocket close code 1002: protocol error (also: no acceptable subprotocol).
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
/// WebSocket close code 1008: policy violation (e.g. a second connection with the same id).
pub const CLOSE_POLICY_VIOLATION: u16 = 1008;
/// WebSocket close code 1009: a message too big to process.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// WebSocket close code 1011: an internal error (e.g. the persister failed).
pub const CLOSE_INTERNAL_ERROR: u16 = 1011;

/// Settings of the driver and of the WebSocket connections it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverConfig {
    /// Send a WebSocket ping after this much time without one; `None` (the default) sends
    /// none. Pings from the peer are always answered.
    pub ping_interval: Option<Duration>,
    /// With pings on: close the connection (1001) when no pong has come this long after a
    /// ping. Default 10 s.
    pub pong_timeout: Duration,
    /// How long to wait for the peer's close frame after sending ours. Default 5 s.
    pub close_timeout: Duration,
    /// The largest WebSocket message (and frame) accepted, in bytes; a larger one closes the
    /// connection with 1009. Default 4 MiB, above the RPC endpoint's own limit (1 MiB) so
    /// that messages between the two get the CALLERROR the endpoint answers them with.
    pub max_message_size: usize,
    /// The size of the per-thread scratch buffer reads go through, in bytes: the most read
    /// from a socket at once (see [`crate::ws`]). Nothing is kept per connection: only the
    /// bytes of a frame that has not fully arrived are, until it is complete; a longer frame
    /// is read into a buffer of its own, freed once it is complete. Default 16 KiB, more
    /// than almost every OCPP frame, and shared by all the connections of a thread.
    pub read_buffer_size: usize,
}

impl Default for DriverConfig {
    fn default() -> DriverConfig {
        DriverConfig {
            ping_interval: None,
            pong_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            max_message_size: 4 << 20,
            read_buffer_size: 16 << 10,
        }
    }
}

impl DriverConfig {
    /// The tungstenite configuration of the opening handshake, with the limits of
    /// [`DriverConfig::max_message_size`] and [`DriverConfig::read_buffer_size`].
    pub fn websocket_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(self.max_message_size))
            .read_buffer_size(self.read_buffer_size)
    }
}

/// A command: a closure the driver runs on the machine between two inputs.
pub type Command<M> = Box<dyn FnOnce(&mut M, Now) + Send>;

pub(crate) enum Control<M> {
    Run(Command<M>),
    Close(Close),
    /// Close the current connection (if any) and let the client loop reconnect with these
    /// settings.
    Reconnect(Box<Reconfiguration>),
}

/// The application's way to a running machine. Cheap to clone; every clone reaches the same
/// driver. When every handle is dropped, the driver closes its connection (1000) and ends.
pub struct Handle<M> {
    tx: mpsc::UnboundedSender<Control<M>>,
}

impl<M> Clone for Handle<M> {
    fn clone(&self) -> Handle<M> {
        Handle {
            tx: self.tx.clone(),
        }
    }
}

impl<M> std::fmt::Debug for Handle<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("gone", &self.tx.is_closed())
            .finish()
    }
}

/// The driver has ended: its machine can no longer be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone;

impl std::fmt::Display for Gone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the connection's driver has ended")
    }
}

impl std::error::Error for Gone {}

impl<M: Send + 'static> Handle<M> {
    /// Runs `command` on the machine with the current time, applies the outputs it caused
    /// (persist, transmit, events) and returns its result.
    ///
    /// Works while the connection is down too (a client between two connections); the
    /// machine decides what a command means then (`Endpoint::call` refuses with
    /// `NotConnected`).
    pub async fn run<T, F>(&self, command: F) -> Result<T, Gone>
    where
        F: FnOnce(&mut M, Now) -> T + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.run_detached(move |machine, now| {
            // The caller may have stopped waiting; the command has run all the same.
            let _ = tx.send(command(machine, now));
        })?;
        rx.await.map_err(|_| Gone)
    }

    /// Queues `command` without waiting for it to run.
    pub fn run_detached<F>(&self, command: F) -> Result<(), Gone>
    where
        F: FnOnce(&mut M, Now) + Send + 'static,
    {
        self.tx
            .unbounded_send(Control::Run(Box::new(command)))
            .map_err(|_| Gone)
    }

    /// Closes the connection with this close frame and ends the driver: a client does not
    /// reconnect afterwards. The result is reported as [`Disconnect::Application`].
    pub fn close(&self, code: u16, reason: impl Into<String>) -> Result<(), Gone> {
        self.tx
            .unbounded_send(Control::Close(Close {
                code,
                reason: reason.into(),
            }))
            .map_err(|_| Gone)
    }

    /// Asks the client loop to reconnect with new settings (see `Client::reconfigure`).
    pub(crate) fn reconnect(&self, reconfiguration: Box<Reconfiguration>) -> Result<(), Gone> {
        self.tx
            .unbounded_send(Control::Reconnect(reconfiguration))
            .map_err(|_| Gone)
    }

    /// Whether the driver has ended.
    pub fn is_gone(&self) -> bool {
        self.tx.is_closed()
    }
}

/// What the driver tells the application, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<E> {
    /// A WebSocket connection is open, speaking this version; the machine has been told.
    Connected {
        /// The negotiated subprotocol.
        version: Version,
    },
    /// An event of the machine.
    Machine(E),
    /// The connection closed; the machine has been told.
    Disconnected(Disconnect),
    /// A client could not connect.
    ConnectFailed(ConnectError),
    /// A client waits this long before its next connection attempt.
    Reconnecting {
        /// Attempts since the last successful connection (0 for the first retry).
        attempt: u32,
        /// The back-off time, jitter included.
        delay: Duration,
    },
    /// A binary message arrived; OCPP-J uses text only, so it was ignored.
    BinaryIgnored {
        /// Its length in bytes.
        len: usize,
    },
    /// The machine asked to transmit while no connection was up; the frame was dropped.
    TransmitDropped(String),
    /// Persisting the ops of an input failed while no connection was up (with a connection
    /// up, the failure closes it and comes as [`Disconnect::PersistFailed`]).
    PersistFailed(String),
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disconnect {
    /// The peer closed it with this close frame (`None`: a close frame without a code).
    Peer(Option<Close>),
    /// The machine asked for it ([`Output::Close`]).
    Machine(Close),
    /// The application asked for it ([`Handle::close`], a server shutdown, a newer connection
    /// with the same charge point id replacing this one, or `Client::reconfigure`).
    Application(Close),
    /// Every [`Handle`] was dropped.
    HandlesDropped,
    /// No pong came within the pong timeout after a ping.
    PongTimeout,
    /// The peer sent a message larger than the limit; closed with 1009.
    TooLarge {
        /// The size of the message (or frame), as far as it was read.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The persister failed; nothing of that input was sent; closed with 1011.
    PersistFailed(String),
    /// The connection broke (I/O or WebSocket protocol error, or closed without a close
    /// frame).
    Transport(String),
}

impl Disconnect {
    /// The close frame the driver sends for this reason, if it sends one.
    fn close_frame(&self) -> Option<Close> {
        let close = |code, reason: &str| {
            Some(Close {
                code,
                reason: reason.to_owned(),
            })
        };
        match self {
            Disconnect::Peer(_) | Disconnect::Transport(_) => None,
            Disconnect::Machine(close) | Disconnect::Application(close) => Some(close.clone()),
            Disconnect::HandlesDropped => close(CLOSE_NORMAL, ""),
            Disconnect::PongTimeout => close(CLOSE_GOING_AWAY, "no pong"),
            Disconnect::TooLarge { .. } => close(CLOSE_TOO_BIG, "message too big"),
            Disconnect::PersistFailed(_) => close(CLOSE_INTERNAL_ERROR, "storage failure"),
        }
    }
}

/// The events of one driver: a [`Stream`] that ends when the driver has ended.
///
/// An application that does not need them drops it: the driver then stops building and
/// sending events and frees the channel (see the [module docs](self)).
pub struct Events<E> {
    rx: mpsc::UnboundedReceiver<Event<E>>,
}

impl<E> std::fmt::Debug for Events<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl<E> Stream for Events<E> {
    type Item = Event<E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event<E>>> {
        self.rx.poll_next_unpin(cx)
    }
}

impl<E> Events<E> {
    /// The next event, or `None` once the driver has ended.
    pub async fn next_event(&mut self) -> Option<Event<E>> {
        self.rx.next().await
    }
}

enum Stop {
    /// Boxed: rare, and in every driver otherwise.
    Close(Box<Close>),
    HandlesDropped,
}

/// A timer armed for one deadline.
struct Timer {
    deadline: Monotonic,
    sleep: BoxFuture<'static, ()>,
}

/// What woke the loop of [`Driver::run_offline`].
enum Wake<M> {
    Control(Option<Control<M>>),
    MachineTimer(Monotonic),
}

/// Keep-alive pings: when the next goes out, and when a pong is overdue.
struct Ping {
    interval: Duration,
    next_ping: Monotonic,
    pong_deadline: Option<Monotonic>,
    timer: Option<Timer>,
}

/// How many outputs of one input [`Drained`] holds without allocating.
const INLINE_OUTPUTS: usize = 4;

/// The outputs of one input other than its ops, in order: the first few inline, the rest
/// in a vector allocated only when there are more.
struct Drained<E> {
    inline: [Option<Output<E>>; INLINE_OUTPUTS],
    len: usize,
    spilled: Vec<Output<E>>,
}

impl<E> Default for Drained<E> {
    fn default() -> Drained<E> {
        Drained {
            // Not `[const { None }; N]`: that copies a constant the size of the whole array
            // (over 500 bytes) on every input; this writes the discriminants.
            inline: std::array::from_fn(|_| None),
            len: 0,
            spilled: Vec::new(),
        }
    }
}

impl<E> Drained<E> {
    fn push(&mut self, output: Output<E>) {
        match self.inline.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(output);
                self.len += 1;
            }
            None => self.spilled.push(output),
        }
    }
}

impl<E> Drained<E> {
    /// The outputs, in order, left in place.
    fn slots(&mut self) -> impl Iterator<Item = &mut Output<E>> {
        self.inline[..self.len]
            .iter_mut()
            .flatten()
            .chain(&mut self.spilled)
    }
}

impl<E> IntoIterator for Drained<E> {
    type Item = Output<E>;
    type IntoIter = std::iter::Chain<
        std::iter::Flatten<std::array::IntoIter<Option<Output<E>>, INLINE_OUTPUTS>>,
        std::vec::IntoIter<Output<E>>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.inline.into_iter().flatten().chain(self.spilled)
    }
}

/// The frames on their way into the WebSocket sink.
///
/// Every frame of an input is fed to the sink (`start_send`) as soon as it accepts one, and
/// the sink is flushed once after the last, so that the frames of one input leave in one
/// write. Frames the sink cannot take yet wait in `queued`, which exists only then and is
/// freed once it has drained.
#[derive(Default)]
struct Outbox {
    // Boxed: one word in every connection's future instead of four, for a rare state.
    #[allow(clippy::box_collection)]
    queued: Option<Box<VecDeque<Message>>>,
    unflushed: bool,
}

impl Outbox {
    /// Feeds the text message `text` to the sink, or queues it behind those waiting.
    fn send_text<W: WebSocket>(
        &mut self,
        ws: &mut W,
        text: String,
        cx: &mut Context<'_>,
    ) -> Result<(), tungstenite::Error> {
        match &mut self.queued {
            Some(queued) => queued.push_back(Message::text(text)),
            None if Pin::new(&mut *ws).poll_ready(cx)?.is_ready() => {
                ws.start_send_text(text)?;
                self.unflushed = true;
            }
            None => self.queued = Some(Box::new(VecDeque::from([Message::text(text)]))),
        }
        Ok(())
    }

    /// Feeds `message` to the sink, or queues it behind those waiting.
    fn send<W>(
        &mut self,
        ws: &mut W,
        message: Message,
        cx: &mut Context<'_>,
    ) -> Result<(), tungstenite::Error>
    where
        W: Sink<Message, Error = tungstenite::Error> + Unpin,
    {
        match &mut self.queued {
            Some(queued) => queued.push_back(message),
            None if Pin::new(&mut *ws).poll_ready(cx)?.is_ready() => {
                Pin::new(ws).start_send(message)?;
                self.unflushed = true;
            }
            None => self.queued = Some(Box::new(VecDeque::from([message]))),
        }
        Ok(())
    }

    /// Feeds every queued frame and flushes; ready once everything sent so far is written.
    #[inline]
    fn poll_write<W>(
        &mut self,
        ws: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), tungstenite::Error>>
    where
        W: Sink<Message, Error = tungstenite::Error> + Unpin,
    {
        // Checked before a call: the connection loop comes here before every input, and
        // finds nothing to do every other time.
        if self.queued.is_none() && !self.unflushed {
            return Poll::Ready(Ok(()));
        }
        self.poll_write_queued(ws, cx)
    }

    /// [`Outbox::poll_write`] with frames to feed or to flush.
    fn poll_write_queued<W>(
        &mut self,
        ws: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), tungstenite::Error>>
    where
        W: Sink<Message, Error = tungstenite::Error> + Unpin,
    {
        if let Some(queued) = &mut self.queued {
            while !queued.is_empty() {
                ready!(Pin::new(&mut *ws).poll_ready(cx))?;
                if let Some(message) = queued.pop_front() {
                    Pin::new(&mut *ws).start_send(message)?;
                    self.unflushed = true;
                }
            }
            // Back-pressure is rare: give its memory back rather than keep it per connection.
            self.queued = None;
        }
        if self.unflushed {
            ready!(Pin::new(ws).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }
}

/// What the connection loop needs of a WebSocket stream: a stream and sink of messages, and
/// a way for text, the one kind of message OCPP uses, that a [`WsStream`] takes without
/// building a [`Message`].
pub(crate) trait WebSocket:
    Stream<Item = Result<Message, tungstenite::Error>>
    + Sink<Message, Error = tungstenite::Error>
    + Unpin
{
    /// [`Stream::poll_next`], with a text message handed to `on_text` and what it returned
    /// yielded instead.
    fn poll_incoming<T>(
        &mut self,
        cx: &mut Context<'_>,
        on_text: impl FnMut(&str) -> T,
    ) -> Poll<Option<Result<Incoming<T>, tungstenite::Error>>>;

    /// [`Sink::start_send`] of a text message.
    fn start_send_text(&mut self, text: String) -> Result<(), tungstenite::Error>;
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket for WsStream<S> {
    fn poll_incoming<T>(
        &mut self,
        cx: &mut Context<'_>,
        on_text: impl FnMut(&str) -> T,
    ) -> Poll<Option<Result<Incoming<T>, tungstenite::Error>>> {
        WsStream::poll_incoming(self, cx, on_text)
    }

    fn start_send_text(&mut self, text: String) -> Result<(), tungstenite::Error> {
        WsStream::start_send_text(self, text)
    }
}

/// Any stream and sink of messages, as [`Driver::run_connection`] accepts them: text goes
/// through [`Message`]s.
struct AnySocket<W>(W);

impl<W: Stream + Unpin> Stream for AnySocket<W> {
    type Item = W::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<W::Item>> {
        self.0.poll_next_unpin(cx)
    }
}

impl<W: Sink<Message> + Unpin> Sink<Message> for AnySocket<W> {
    type Error = W::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), W::Error>> {
        Pin::new(&mut self.0).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), W::Error> {
        Pin::new(&mut self.0).start_send(item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), W::Error>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), W::Error>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

impl<W> WebSocket for AnySocket<W>
where
    W: Stream<Item = Result<Message, tungstenite::Error>>
        + Sink<Message, Error = tungstenite::Error>
        + Unpin,
{
    fn poll_incoming<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut on_text: impl FnMut(&str) -> T,
    ) -> Poll<Option<Result<Incoming<T>, tungstenite::Error>>> {
        self.0.poll_next_unpin(cx).map(|item| {
            item.map(|message| {
                message.map(|message| match message {
                    Message::Text(text) => Incoming::Text(on_text(text.as_str())),
                    other => Incoming::Other(other),
                })
            })
        })
    }

    fn start_send_text(&mut self, text: String) -> Result<(), tungstenite::Error> {
        Pin::new(&mut self.0).start_send(Message::text(text))
    }
}

/// Where a connection is in its life.
enum Phase {
    /// Not polled yet: the machine has not been told it is connected.
    Start(Version),
    /// Taking inputs.
    Serving,
    /// Ending: boxed, as it is cold and larger than the rest. Entered with [`Session::end`].
    Closing(Box<Closing>),
    /// Returned its result.
    Done,
}

/// Ending for this reason: the frames still queued, then our close frame (if we close), then
/// reading until the peer's, all bounded by `deadline`; skipped when the connection broke.
struct Closing {
    disconnect: Disconnect,
    frame: Option<Close>,
    deadline: BoxFuture<'static, ()>,
}

/// The state of one connection besides the driver and the stream: what
/// [`Driver::run_connection`] (and the server's connection task) polls.
///
/// It is a few words: the cold parts (keep-alive pings, frames waiting for a slow peer, the
/// close handshake) are boxed or allocated only while in use, so an idle connection's future
/// is hardly larger than its driver and its stream. Everything an input causes (draining,
/// persisting, feeding the frames) happens synchronously within one poll.
pub(crate) struct Session {
    phase: Phase,
    outbox: Outbox,
    ping: Option<Box<Ping>>,
}

impl Session {
    /// The session of a connection speaking `version`, not started yet.
    pub(crate) fn new(version: Version) -> Session {
        Session {
            phase: Phase::Start(version),
            outbox: Outbox::default(),
            ping: None,
        }
    }

    /// Drives the connection: ready with the reason it ended, once the machine has been
    /// told and [`Event::Disconnected`] emitted.
    ///
    /// # Panics
    ///
    /// If polled again after that, as any future.
    pub(crate) fn poll<M, R, W>(
        &mut self,
        driver: &mut Driver<M, R>,
        ws: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<Disconnect>
    where
        M: Machine + Send + 'static,
        M::Event: Send + 'static,
        R: Runtime,
        W: WebSocket,
    {
        loop {
            match &mut self.phase {
                Phase::Start(version) => {
                    let version = *version;
                    self.phase = Phase::Serving;
                    let now = driver.runtime.now();
                    driver.machine.handle_connected(now);
                    driver.emit_with(|| Event::Connected { version });
                    self.ping = driver.config.ping_interval.map(|interval| {
                        Box::new(Ping {
                            interval,
                            next_ping: now.monotonic + interval,
                            pong_deadline: None,
                            timer: None,
                        })
                    });
                    let started = match driver.stop_reason() {
                        Some(disconnect) => Err(disconnect),
                        None => driver.apply_online(ws, &mut self.outbox, cx),
                    };
                    if let Err(disconnect) = started {
                        self.end(driver, disconnect);
                    }
                }
                Phase::Serving => {
                    let disconnect = ready!(self.serve(driver, ws, cx));
                    self.end(driver, disconnect);
                }
                Phase::Closing(_) => {
                    ready!(self.close(ws, cx));
                    let Phase::Closing(closing) = std::mem::replace(&mut self.phase, Phase::Done)
                    else {
                        continue;
                    };
                    let disconnect = closing.disconnect;
                    self.ping = None;
                    self.outbox = Outbox::default();
                    let now = driver.runtime.now();
                    driver.machine.handle_disconnected(now);
                    driver.apply_offline();
                    driver.timer = None;
                    driver.emit_with(|| Event::Disconnected(disconnect.clone()));
                    return Poll::Ready(disconnect);
                }
                Phase::Done => panic!("a connection polled after it has ended"),
            }
        }
    }

    /// Ends serving: on to the close handshake.
    fn end<M: Machine, R: Runtime>(&mut self, driver: &Driver<M, R>, disconnect: Disconnect) {
        self.phase = Phase::Closing(Box::new(Closing {
            frame: disconnect.close_frame(),
            disconnect,
            deadline: driver.runtime.sleep(driver.config.close_timeout),
        }));
    }

    /// Waits for whichever comes first — an application command, a WebSocket message, the
    /// machine's deadline, the keep-alive timer — and handles it, until the connection ends.
    fn serve<M, R, W>(
        &mut self,
        driver: &mut Driver<M, R>,
        ws: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<Disconnect>
    where
        M: Machine + Send + 'static,
        M::Event: Send + 'static,
        R: Runtime,
        W: WebSocket,
    {
        // Set once the command channel was found empty in this poll: it then holds this
        // task's waker, so a command sent since wakes the task and is taken at its next poll;
        // polling the channel again in this one would only find it empty again, or take the
        // command a moment earlier.
        let mut no_command = false;
        loop {
            // The frames of the last input are written before the next input is taken: a
            // peer that does not read slows us down instead of filling our memory.
            if let Err(error) = ready!(self.outbox.poll_write(ws, cx)) {
                return Poll::Ready(Disconnect::Transport(error.to_string()));
            }
            if let Some(disconnect) = driver.stop_reason() {
                return Poll::Ready(disconnect);
            }
            driver.has_listener();
            driver.arm_timer();
            if let Some(ping) = self.ping.as_mut() {
                let deadline = ping.pong_deadline.unwrap_or(ping.next_ping);
                if ping.timer.as_ref().map(|t| t.deadline) != Some(deadline) {
                    ping.timer = Some(Timer {
                        deadline,
                        sleep: driver.runtime.sleep_until(deadline),
                    });
                }
            }
            let control = if no_command {
                Poll::Pending
            } else {
                driver.controls.poll_next_unpin(cx)
            };
            no_command = control.is_pending();
            let step = if let Poll::Ready(control) = control {
                if driver.control(control) {
                    driver.apply_online(ws, &mut self.outbox, cx)
                } else {
                    Ok(())
                }
            } else if let Poll::Ready(frame) = ws.poll_incoming(cx, |text| driver.handle_text(text))
            {
                match frame {
                    // The usual input: handed to the machine straight from the read buffer.
                    Some(Ok(Incoming::Text(()))) => driver.apply_online(ws, &mut self.outbox, cx),
                    Some(Ok(Incoming::Other(message))) => {
                        driver.message(ws, &mut self.outbox, message, self.ping.as_deref_mut(), cx)
                    }
                    Some(Err(tungstenite::Error::Capacity(CapacityError::MessageTooLong {
                        size,
                        max_size,
                    }))) => Err(Disconnect::TooLarge {
                        size,
                        limit: max_size,
                    }),
                    Some(Err(other)) => Err(Disconnect::Transport(other.to_string())),
                    None => Err(Disconnect::Transport(
                        "the connection closed without a close frame".to_owned(),
                    )),
                }
            } else if let Some(deadline) = poll_timer(&mut driver.timer, cx) {
                let now = driver.timer_now(deadline);
                driver.machine.handle_timeout(now);
                driver.apply_online(ws, &mut self.outbox, cx)
            } else if let Some(ping) = self.ping.as_deref_mut()
                && poll_timer(&mut ping.timer, cx).is_some()
            {
                self.outbox
                    .ping(ws, ping, &driver.config, driver.runtime.now(), cx)
            } else {
                return Poll::Pending;
            };
            if let Err(disconnect) = step {
                return Poll::Ready(disconnect);
            }
        }
    }

    /// The close handshake of [`Phase::Closing`]: ready once it is over, failed or timed out.
    fn close<W>(&mut self, ws: &mut W, cx: &mut Context<'_>) -> Poll<()>
    where
        W: WebSocket,
    {
        let Phase::Closing(closing) = &mut self.phase else {
            return Poll::Ready(());
        };
        let Closing {
            disconnect,
            frame,
            deadline,
        } = &mut **closing;
        if matches!(disconnect, Disconnect::Transport(_)) {
            return Poll::Ready(());
        }
        // Whatever ends the handshake early (the deadline, a failed write) ends it for good.
        while deadline.poll_unpin(cx).is_pending() {
            if ready!(self.outbox.poll_write(ws, cx)).is_err() {
                break;
            }
            if let Some(close) = frame.take() {
                let frame = CloseFrame {
                    code: CloseCode::from(close.code),
                    reason: truncate_reason(&close.reason).into(),
                };
                if self
                    .outbox
                    .send(ws, Message::Close(Some(frame)), cx)
                    .is_err()
                {
                    break;
                }
                // Written and flushed on the next round.
                continue;
            }
            // Reading on flushes tungstenite's reply to a peer's close and returns the peer's
            // reply to ours; the stream ends when the closing handshake is complete.
            match ready!(ws.poll_next_unpin(cx)) {
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            }
        }
        let _ = Pin::new(ws).poll_close(cx);
        Poll::Ready(())
    }
}

impl Outbox {
    /// The ping timer fired: a pong is overdue, or the next ping is due.
    fn ping<W>(
        &mut self,
        ws: &mut W,
        ping: &mut Ping,
        config: &DriverConfig,
        now: Now,
        cx: &mut Context<'_>,
    ) -> Result<(), Disconnect>
    where
        W: Sink<Message, Error = tungstenite::Error> + Unpin,
    {
        let now = now.monotonic;
        if let Some(deadline) = ping.pong_deadline {
            if now >= deadline {
                return Err(Disconnect::PongTimeout);
            }
            return Ok(());
        }
        if now >= ping.next_ping {
            self.send(ws, Message::Ping(Default::default()), cx)
                .map_err(|e| Disconnect::Transport(e.to_string()))?;
            ping.pong_deadline = Some(now + config.pong_timeout);
            ping.next_ping = now + ping.interval;
        }
        Ok(())
    }
}

/// Runs one machine; see the [module docs](self).
pub struct Driver<M: Machine, R> {
    runtime: R,
    machine: M,
    persister: Box<dyn Persister>,
    controls: mpsc::UnboundedReceiver<Control<M>>,
    /// `None` once the application dropped its [`Events`].
    events: Option<mpsc::UnboundedSender<Event<M::Event>>>,
    /// Shared by the drivers of a server.
    config: Arc<DriverConfig>,
    stop: Option<Stop>,
    reconfiguration: Option<Box<Reconfiguration>>,
    timer: Option<Timer>,
}

impl<M, R> Driver<M, R>
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
    R: Runtime,
{
    /// A driver of `machine`, with the handle and the event stream the application uses.
    pub fn new(
        runtime: R,
        machine: M,
        persister: Box<dyn Persister>,
        config: DriverConfig,
    ) -> (Driver<M, R>, Handle<M>, Events<M::Event>) {
        Driver::build(runtime, |_| machine, persister, config)
    }

    /// [`Driver::new`], with the machine built by `machine` from the driver's [`Handle`]: a
    /// machine that keeps it can run commands on itself later, from anywhere, e.g. answer a
    /// request once a store commit on another thread has decided it
    /// (`handle.run_detached(|m, now| ..)`), with no application task in between.
    ///
    /// A machine that holds its own handle keeps the driver reachable: the driver never sees
    /// every handle dropped, so it ends only when it is closed ([`Handle::close`]) or, on
    /// the server, with its connection (the server runs each driver for one connection
    /// only). Dropping the driver drops the machine and with it the handle.
    ///
    /// `config` may be shared (an `Arc`), as a server does for all its connections.
    pub fn build(
        runtime: R,
        machine: impl FnOnce(&Handle<M>) -> M,
        persister: Box<dyn Persister>,
        config: impl Into<Arc<DriverConfig>>,
    ) -> (Driver<M, R>, Handle<M>, Events<M::Event>) {
        let (control_tx, controls) = mpsc::unbounded();
        let (events, event_rx) = mpsc::unbounded();
        let handle = Handle { tx: control_tx };
        let driver = Driver {
            runtime,
            machine: machine(&handle),
            persister,
            controls,
            events: Some(events),
            config: config.into(),
            stop: None,
            reconfiguration: None,
            timer: None,
        };
        (driver, handle, Events { rx: event_rx })
    }

    /// The machine.
    pub fn machine(&self) -> &M {
        &self.machine
    }

    /// The settings.
    pub fn config(&self) -> &DriverConfig {
        &self.config
    }

    /// Ends the driver and gives the machine back.
    pub fn into_machine(self) -> M {
        self.machine
    }

    /// Whether the application asked the driver to end ([`Handle::close`], or every handle
    /// dropped). A stopped driver runs no more connections.
    pub fn is_stopped(&self) -> bool {
        self.stop.is_some()
    }

    /// Tells the application, if it still listens (see [`Driver::has_listener`]).
    pub fn emit(&mut self, event: Event<M::Event>) {
        self.emit_with(|| event);
    }

    /// Whether the application still holds the [`Events`] of this driver. Once it has
    /// dropped them, the driver drops its side of the channel (freeing it) and from then on
    /// builds and sends no events: an application that does not listen pays nothing for
    /// them.
    pub fn has_listener(&mut self) -> bool {
        if self.events.as_ref().is_some_and(|tx| tx.is_closed()) {
            self.events = None;
        }
        self.events.is_some()
    }

    /// Emits the event `event` builds, building it only if someone listens.
    fn emit_with(&mut self, event: impl FnOnce() -> Event<M::Event>) {
        if self.has_listener()
            && let Some(tx) = &self.events
        {
            // The receiver may have gone since; that is not an error either.
            let _ = tx.unbounded_send(event());
        }
    }

    /// Runs the machine over one open WebSocket connection speaking `version` until the
    /// connection ends, and returns why it ended.
    ///
    /// The machine is told `handle_connected` first and `handle_disconnected` last, and
    /// [`Event::Connected`] and [`Event::Disconnected`] are emitted. A connection that the
    /// driver closes gets a close frame, and the driver waits up to
    /// [`DriverConfig::close_timeout`] for the peer's.
    ///
    /// The future is one hand-written poll loop over the driver, `ws` and a few words of
    /// state, so that an idle connection costs little more than its machine
    /// and its stream.
    pub fn run_connection<W>(&mut self, ws: W, version: Version) -> impl Future<Output = Disconnect>
    where
        W: Stream<Item = Result<Message, tungstenite::Error>>
            + Sink<Message, Error = tungstenite::Error>
            + Unpin,
    {
        let mut session = Session::new(version);
        let mut ws = AnySocket(ws);
        poll_fn(move |cx| session.poll(self, &mut ws, cx))
    }

    /// [`Driver::run_connection`] over this crate's own [`WsStream`], whose text frames
    /// reach the machine as `&str` straight from the read buffer and go out from the
    /// machine's `String` as they are (no [`Message`] on the way): what the client runs.
    pub(crate) fn run_ws_connection<S>(
        &mut self,
        mut ws: WsStream<S>,
        version: Version,
    ) -> impl Future<Output = Disconnect>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut session = Session::new(version);
        poll_fn(move |cx| session.poll(self, &mut ws, cx))
    }

    /// Serves commands and the machine's deadlines without a connection until `until`
    /// completes, and returns its output; `None` if the application stopped the driver or
    /// reconfigured the client first (`until` is then dropped; [`Driver::is_stopped`] tells
    /// which).
    pub async fn run_offline<F: Future>(&mut self, until: F) -> Option<F::Output> {
        let mut until = pin!(until);
        loop {
            if self.stop.is_some() || self.reconfiguration.is_some() {
                return None;
            }
            self.arm_timer();
            let wake = poll_fn(|cx| {
                if let Poll::Ready(output) = until.as_mut().poll(cx) {
                    return Poll::Ready(Either::Left(output));
                }
                if let Poll::Ready(control) = self.controls.poll_next_unpin(cx) {
                    return Poll::Ready(Either::Right(Wake::Control(control)));
                }
                if let Some(deadline) = poll_timer(&mut self.timer, cx) {
                    return Poll::Ready(Either::Right(Wake::MachineTimer(deadline)));
                }
                Poll::Pending
            })
            .await;
            match wake {
                Either::Left(output) => return Some(output),
                Either::Right(Wake::Control(control)) => {
                    if self.control(control) {
                        self.apply_offline();
                    }
                }
                Either::Right(Wake::MachineTimer(deadline)) => {
                    let now = self.timer_now(deadline);
                    self.machine.handle_timeout(now);
                    self.apply_offline();
                }
            }
        }
    }

    /// Handles a control message; returns whether a command ran (and outputs must be applied).
    fn control(&mut self, control: Option<Control<M>>) -> bool {
        match control {
            Some(Control::Run(command)) => {
                let now = self.runtime.now();
                command(&mut self.machine, now);
                true
            }
            Some(Control::Close(close)) => {
                self.stop = Some(Stop::Close(Box::new(close)));
                false
            }
            Some(Control::Reconnect(reconfiguration)) => {
                self.reconfiguration = Some(reconfiguration);
                false
            }
            None => {
                self.stop = Some(Stop::HandlesDropped);
                false
            }
        }
    }

    fn stop_reason(&self) -> Option<Disconnect> {
        match self.stop.as_ref() {
            Some(Stop::Close(close)) => Some(Disconnect::Application(Close::clone(close))),
            Some(Stop::HandlesDropped) => Some(Disconnect::HandlesDropped),
            None if self.reconfiguration.is_some() => Some(Disconnect::Application(Close {
                code: RECONFIGURED.0,
                reason: RECONFIGURED.1.to_owned(),
            })),
            None => None,
        }
    }

    /// The time to hand to `handle_timeout` for a timer armed at `deadline`: never before
    /// the deadline, so a machine is never woken "early" by timer rounding.
    fn timer_now(&self, deadline: Monotonic) -> Now {
        let mut now = self.runtime.now();
        now.monotonic = now.monotonic.max(deadline);
        now
    }

    fn arm_timer(&mut self) {
        match self.machine.poll_timeout() {
            None => self.timer = None,
            Some(deadline) => {
                if self.timer.as_ref().map(|t| t.deadline) != Some(deadline) {
                    self.timer = Some(Timer {
                        deadline,
                        sleep: self.runtime.sleep_until(deadline),
                    });
                }
            }
        }
    }

    /// Drains the outputs of the last input into `rest`, in order, and persists its ops as
    /// one batch; returns the outcome of the batch.
    ///
    /// Nothing here is allocated for an input without ops and with few other outputs (the
    /// usual case: one frame, maybe an event): the outputs wait in [`Drained`], on the stack
    /// of the caller, which is a synchronous poll step and never part of a future's state.
    /// It is the caller's, not returned, so that it is not moved (outputs are large).
    fn drain(&mut self, rest: &mut Drained<M::Event>) -> Result<(), String> {
        let mut ops: Vec<StoreOp> = Vec::new();
        loop {
            match self.machine.poll_output() {
                None => break,
                Some(Output::Persist(op)) => ops.push(op),
                Some(other) => rest.push(other),
            }
        }
        if ops.is_empty() {
            Ok(())
        } else {
            self.persister.persist(&ops).map_err(|e| e.to_string())
        }
    }

    /// Applies the outputs of the last input to the open connection: the frames are queued
    /// into `outbox` (written and flushed by [`Session`] before the next input is taken).
    fn apply_online<W: WebSocket>(
        &mut self,
        ws: &mut W,
        outbox: &mut Outbox,
        cx: &mut Context<'_>,
    ) -> Result<(), Disconnect> {
        let mut outputs = Drained::default();
        let mut result = self.drain(&mut outputs).map_err(Disconnect::PersistFailed);
        for slot in outputs.slots() {
            // A frame's string is taken from its slot; moving the whole output instead would
            // copy the size of the machine's largest event, on every round trip.
            if let Output::Transmit(text) = slot {
                if result.is_ok()
                    && let Err(e) = outbox.send_text(ws, std::mem::take(text), cx)
                {
                    result = Err(Disconnect::Transport(e.to_string()));
                }
                continue;
            }
            match std::mem::replace(slot, Output::Transmit(String::new())) {
                Output::Transmit(_) | Output::Persist(_) => {}
                Output::Event(event) => self.emit_with(|| Event::Machine(event)),
                Output::Close(close) => {
                    if result.is_ok() {
                        result = Err(Disconnect::Machine(close));
                    }
                }
            }
        }
        result
    }

    /// Applies the outputs of the last input without a connection.
    fn apply_offline(&mut self) {
        let mut outputs = Drained::default();
        let persisted = self.drain(&mut outputs);
        if let Err(error) = persisted {
            self.emit(Event::PersistFailed(error));
        }
        for output in outputs {
            match output {
                Output::Transmit(text) => self.emit_with(|| Event::TransmitDropped(text)),
                Output::Event(event) => self.emit_with(|| Event::Machine(event)),
                Output::Close(_) | Output::Persist(_) => {}
            }
        }
    }

    /// Hands a text message from the peer to the machine (its outputs are applied next).
    fn handle_text(&mut self, text: &str) {
        let now = self.runtime.now();
        self.machine.handle_message(now, text);
    }

    /// Handles one message from the peer.
    fn message<W: WebSocket>(
        &mut self,
        ws: &mut W,
        outbox: &mut Outbox,
        message: Message,
        ping: Option<&mut Ping>,
        cx: &mut Context<'_>,
    ) -> Result<(), Disconnect> {
        match message {
            Message::Text(text) => {
                self.handle_text(text.as_str());
                self.apply_online(ws, outbox, cx)
            }
            Message::Binary(bytes) => {
                self.emit_with(|| Event::BinaryIgnored { len: bytes.len() });
                Ok(())
            }
            Message::Pong(_) => {
                if let Some(ping) = ping {
                    ping.pong_deadline = None;
                }
                Ok(())
            }
            // tungstenite queues the pong itself; it goes out with the next read or write.
            Message::Ping(_) | Message::Frame(_) => Ok(()),
            Message::Close(frame) => Err(Disconnect::Peer(frame.map(|frame| Close {
                code: u16::from(frame.code),
                reason: frame.reason.as_str().to_owned(),
            }))),
        }
    }
}

impl<M: Machine, R> Driver<M, R> {
    /// The settings of a pending `Client::reconfigure`, taken.
    pub(crate) fn take_reconfiguration(&mut self) -> Option<Box<Reconfiguration>> {
        self.reconfiguration.take()
    }
}

/// Polls an armed timer; returns its deadline (and disarms it) when it fires.
fn poll_timer(timer: &mut Option<Timer>, cx: &mut Context<'_>) -> Option<Monotonic> {
    let armed = timer.as_mut()?;
    if armed.sleep.poll_unpin(cx).is_ready() {
        let deadline = armed.deadline;
        *timer = None;
        Some(deadline)
    } else {
        None
    }
}

/// A close reason cut to the 123 bytes a close frame holds, at a character boundary.
pub(crate) fn truncate_reason(reason: &str) -> &str {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::persist::NoPersist;

    /// A runtime whose clock stands still, whose timers never fire and whose tasks never run:
    /// enough to build and step futures by hand.
    #[derive(Clone)]
    pub(crate) struct Inert;

    impl Runtime for Inert {
        fn now(&self) -> Now {
            Now::new(Monotonic::ZERO, time::OffsetDateTime::UNIX_EPOCH)
        }
        fn sleep_until(&self, _: Monotonic) -> BoxFuture<'static, ()> {
            Box::pin(futures_util::future::pending())
        }
        fn spawn(&self, _: BoxFuture<'static, ()>) {}
    }

    /// A machine that emits what a command put in `outputs` and logs the messages it gets.
    #[derive(Default)]
    struct Scripted {
        outputs: VecDeque<Output<()>>,
        log: Arc<Mutex<Vec<String>>>,
        /// Set: every message received queues a command on the machine itself.
        own_handle: Option<Handle<Scripted>>,
    }

    impl Machine for Scripted {
        type Event = ();
        fn handle_connected(&mut self, _: Now) {}
        fn handle_disconnected(&mut self, _: Now) {}
        fn handle_message(&mut self, _: Now, text: &str) {
            self.log.lock().unwrap().push(format!("received {text}"));
            if let Some(handle) = &self.own_handle {
                let text = text.to_owned();
                let _ = handle.run_detached(move |machine, _| {
                    machine
                        .log
                        .lock()
                        .unwrap()
                        .push(format!("command after {text}"));
                });
            }
        }
        fn handle_timeout(&mut self, _: Now) {}
        fn poll_output(&mut self) -> Option<Output<()>> {
            self.outputs.pop_front()
        }
        fn poll_timeout(&self) -> Option<Monotonic> {
            None
        }
    }

    /// A WebSocket that logs what is sent and flushed, yields what `incoming` sends, and takes
    /// frames only while `writable`.
    struct Logging {
        log: Arc<Mutex<Vec<String>>>,
        incoming: mpsc::UnboundedReceiver<Message>,
        writable: Arc<AtomicBool>,
    }

    impl Stream for Logging {
        type Item = Result<Message, tungstenite::Error>;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            self.incoming.poll_next_unpin(cx).map(|m| m.map(Ok))
        }
    }

    impl Sink<Message> for Logging {
        type Error = tungstenite::Error;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            if self.writable.load(Ordering::SeqCst) {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        }
        fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
            let entry = match message {
                Message::Text(text) => format!("send {}", text.as_str()),
                Message::Close(frame) => format!("close {:?}", frame.map(|f| u16::from(f.code))),
                other => format!("other {other:?}"),
            };
            self.log.lock().unwrap().push(entry);
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.log.lock().unwrap().push("flush".to_owned());
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    fn logging() -> (
        Logging,
        Arc<Mutex<Vec<String>>>,
        mpsc::UnboundedSender<Message>,
    ) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (incoming_tx, incoming) = mpsc::unbounded();
        let ws = Logging {
            log: Arc::clone(&log),
            incoming,
            writable: Arc::new(AtomicBool::new(true)),
        };
        (ws, log, incoming_tx)
    }

    fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(std::task::Waker::noop()))
    }

    /// Issue #7: the frames of one input leave in one write. Six frames (more than are held
    /// without allocating) are fed in order, then the sink is flushed once; the close frame
    /// of the end (every handle dropped, 1000) is flushed on its own.
    #[test]
    fn the_frames_of_one_input_are_fed_in_order_and_flushed_once() {
        let (mut driver, handle, _events) = Driver::new(
            Inert,
            Scripted::default(),
            Box::new(NoPersist),
            DriverConfig::default(),
        );
        let (ws, log, incoming) = logging();
        let mut connection = pin!(driver.run_connection(ws, Version::V16));
        assert!(poll_once(connection.as_mut()).is_pending());
        handle
            .run_detached(|machine, _| {
                let frames = (1..=6).map(|n| Output::Transmit(format!("f{n}")));
                machine.outputs.extend(frames);
            })
            .unwrap();
        assert!(poll_once(connection.as_mut()).is_pending());
        let sent: Vec<String> = (1..=6).map(|n| format!("send f{n}")).collect();
        assert_eq!(
            log.lock().unwrap()[..],
            [&sent[..], &["flush".to_owned()]].concat()
        );
        drop(handle);
        drop(incoming);
        let Poll::Ready(disconnect) = poll_once(connection.as_mut()) else {
            panic!("the connection did not end");
        };
        assert_eq!(disconnect, Disconnect::HandlesDropped);
        assert_eq!(log.lock().unwrap()[7..], ["close Some(1000)", "flush"]);
    }

    /// Events without a listener cost nothing: once the application dropped its [`Events`],
    /// the driver drops its sender (freeing the channel) at its next event.
    #[test]
    fn a_driver_whose_events_were_dropped_frees_its_channel() {
        let (mut driver, _handle, mut events) = Driver::new(
            Inert,
            Scripted::default(),
            Box::new(NoPersist),
            DriverConfig::default(),
        );
        driver.emit(Event::BinaryIgnored { len: 1 });
        assert!(driver.has_listener());
        assert_eq!(
            poll_once(pin!(events.next_event())),
            Poll::Ready(Some(Event::BinaryIgnored { len: 1 }))
        );
        drop(events);
        driver.emit(Event::BinaryIgnored { len: 2 });
        assert!(!driver.has_listener());
        assert!(driver.events.is_none());
    }

    /// Issue #7: a client's connection future is its stream and a few words beside the
    /// (borrowed) driver.
    #[test]
    fn the_connection_future_is_little_more_than_its_stream() {
        let (mut driver, _handle, _events) = Driver::new(
            Inert,
            Scripted::default(),
            Box::new(NoPersist),
            DriverConfig::default(),
        );
        let (ws, _log, _incoming) = logging();
        let ws_size = std::mem::size_of_val(&ws);
        let size = std::mem::size_of_val(&driver.run_connection(ws, Version::V16));
        assert!(size <= ws_size + 48, "{size} B for a {ws_size} B stream");
    }

    /// A peer that does not read: the frames wait in the outbox, in order, and the next
    /// input is taken only once they are written, so a slow peer slows the driver down
    /// instead of filling its memory.
    #[test]
    fn frames_wait_for_a_slow_peer_and_the_next_input_waits_for_them() {
        let machine = Scripted::default();
        let machine_log = Arc::clone(&machine.log);
        let (mut driver, handle, _events) =
            Driver::new(Inert, machine, Box::new(NoPersist), DriverConfig::default());
        let (ws, log, incoming) = logging();
        let writable = Arc::clone(&ws.writable);
        let mut connection = pin!(driver.run_connection(ws, Version::V16));
        assert!(poll_once(connection.as_mut()).is_pending());
        writable.store(false, Ordering::SeqCst);
        handle
            .run_detached(|machine, _| {
                let frames = ["a", "b"].map(|text| Output::Transmit(text.to_owned()));
                machine.outputs.extend(frames);
            })
            .unwrap();
        incoming.unbounded_send(Message::text("next")).unwrap();
        assert!(poll_once(connection.as_mut()).is_pending());
        assert!(log.lock().unwrap().is_empty());
        assert!(machine_log.lock().unwrap().is_empty());
        writable.store(true, Ordering::SeqCst);
        assert!(poll_once(connection.as_mut()).is_pending());
        assert_eq!(log.lock().unwrap()[..], ["send a", "send b", "flush"]);
        assert_eq!(machine_log.lock().unwrap()[..], ["received next"]);
    }

    /// Counts its wake-ups.
    #[derive(Default)]
    struct CountingWaker(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The connection looks at the command channel once per poll: a command sent after
    /// that (here by the machine itself, while it handles a message) must wake the task and
    /// run at its next poll, before the next message.
    #[test]
    fn a_command_sent_during_a_poll_wakes_the_connection_and_runs_next() {
        let (mut driver, _handle, _events) = Driver::build(
            Inert,
            |handle| Scripted {
                own_handle: Some(handle.clone()),
                ..Scripted::default()
            },
            Box::new(NoPersist),
            DriverConfig::default(),
        );
        let log = Arc::clone(&driver.machine.log);
        let (ws, _sent, incoming) = logging();
        let waker = Arc::new(CountingWaker::default());
        let task_waker = std::task::Waker::from(Arc::clone(&waker));
        let cx = &mut Context::from_waker(&task_waker);
        let mut connection = pin!(driver.run_connection(ws, Version::V16));
        assert!(connection.as_mut().poll(cx).is_pending());
        let woken = waker.0.load(Ordering::SeqCst);
        incoming.unbounded_send(Message::text("a")).unwrap();
        assert!(connection.as_mut().poll(cx).is_pending());
        assert!(waker.0.load(Ordering::SeqCst) > woken, "not woken");
        incoming.unbounded_send(Message::text("b")).unwrap();
        assert!(connection.as_mut().poll(cx).is_pending());
        assert_eq!(
            log.lock().unwrap()[..3],
            ["received a", "command after a", "received b"]
        );
    }
}
