//! A lean WebSocket message stream (RFC 6455) for connections after the opening handshake.
//!
//! tungstenite's stream keeps a read buffer (2 KiB here), a write buffer and two waker proxies
//! per connection for its whole life; a central system with many idle stations pays that for
//! every one of them. [`WsStream`] keeps **nothing** between messages:
//!
//! - reads go to a per-thread scratch buffer of [`DriverConfig::read_buffer_size`] bytes; only
//!   the bytes of a frame that has not fully arrived are copied to the heap, and freed once the
//!   frame is complete. A frame longer than the scratch buffer is read straight into its own
//!   buffer, as much of it at once as has arrived;
//! - a frame to send is written at once (a small one gathered with its header in the scratch
//!   buffer, one write; a large one as a vectored write of header and payload, no copy); only
//!   what the socket did not take stays queued, and it is dropped once written.
//!
//! The [driver](crate::driver) moves text, OCPP's one kind of message, without building a
//! [`Message`] (and its `Bytes`) for it: a text message in a single frame is unmasked and
//! checked in the read buffer and handed over as a `&str` from there, and a `String` to
//! send becomes the frame's payload as it is.
//!
//! It is the same `Stream` + `Sink` of [`Message`]s as tungstenite's and behaves like it where
//! the [driver](crate::driver) depends on it: pings are answered by the stream and still
//! yielded, a received close is yielded and answered, the stream ends (`None`) once the
//! closing handshake is complete, a message or frame over the limit is
//! `Error::Capacity(MessageTooLong)`, protocol violations are the same `Error::Protocol`
//! variants and invalid UTF-8 in a text message is `Error::Utf8`.
//!
//! The opening handshake stays tungstenite's ([`accept`], [`connect`]): it carries the
//! security checks and the HTTP error answers. On the client the stream is recorded while it
//! runs, so that bytes the server sent right behind its answer (a first frame in the same
//! segment) are handed to the [`WsStream`] instead of being lost with tungstenite's buffer;
//! the server's handshake never reads past the request (see [`accept`]).

use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use async_tungstenite::tungstenite::handshake::client::Response;
use async_tungstenite::tungstenite::handshake::server::Callback;
use async_tungstenite::tungstenite::protocol::Role;
use async_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data};
use async_tungstenite::tungstenite::protocol::frame::{CloseFrame, Utf8Bytes};
use async_tungstenite::tungstenite::{
    Bytes, Error, Message,
    client::IntoClientRequest,
    error::{CapacityError, ProtocolError},
};
use futures_util::io::{AsyncRead, AsyncWrite};
use futures_util::{Sink, SinkExt, Stream};

use crate::driver::DriverConfig;

/// The longest frame header: 2 bytes, a 64-bit length and a mask.
const MAX_HEAD: usize = 14;

/// The most read straight into a long frame's own buffer at once (reads grow to it, doubling).
const MAX_DIRECT_READ: usize = 256 << 10;

thread_local! {
    /// The scratch buffer reads and small writes go through; grown to the largest
    /// `read_buffer_size` in use on this thread, never shrunk.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on `len` bytes of this thread's scratch buffer.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0);
            }
            f(&mut buf[..len])
        }
        // Only if an inner stream's poll re-entered another WsStream on this thread.
        Err(_) => f(&mut vec![0; len]),
    })
}

/// Where the closing handshake stands (RFC 6455 section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    /// We sent a close frame; the peer's may still come, after data it sent before it.
    ClosedByUs,
    /// The peer sent a close frame; ours answers it.
    ClosedByPeer,
    /// Both close frames went: the handshake is complete.
    CloseAcknowledged,
    /// The connection is over.
    Terminated,
}

impl State {
    fn can_read(self) -> bool {
        matches!(self, State::Active | State::ClosedByUs)
    }
}

/// A frame on its way out: its header and its payload, and how much of both is written.
///
/// The payload is a `Vec`: a `String` to send becomes one for free, and so does a
/// message's `Bytes` made from one (`Vec::from(Bytes)` copies only a shared buffer, such as
/// a ping's payload echoed by its pong); a `Bytes` made from a `String` with spare capacity
/// would have cost an allocation.
#[derive(Debug)]
struct Outgoing {
    head: [u8; MAX_HEAD],
    head_len: u8,
    payload: Vec<u8>,
    written: usize,
}

impl Outgoing {
    /// The frame of `first` (FIN, RSV and opcode bits) over `payload`, masked in place with
    /// a fresh random key if a client sends it (RFC 6455 section 5.3).
    fn new(role: Role, first: u8, mut payload: Vec<u8>) -> Outgoing {
        let mut head = [0; MAX_HEAD];
        head[0] = first;
        let len = payload.len();
        let mut head_len = 2;
        if len < 126 {
            head[1] = len as u8;
        } else if let Ok(len) = u16::try_from(len) {
            head[1] = 126;
            head[2..4].copy_from_slice(&len.to_be_bytes());
            head_len = 4;
        } else {
            head[1] = 127;
            head[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            head_len = 10;
        }
        if role == Role::Client {
            let key: [u8; 4] = rand::random();
            head[1] |= 0x80;
            head[head_len..head_len + 4].copy_from_slice(&key);
            head_len += 4;
            mask(&mut payload, key);
        }
        Outgoing {
            head,
            head_len: head_len as u8,
            payload,
            written: 0,
        }
    }

    fn len(&self) -> usize {
        usize::from(self.head_len) + self.payload.len()
    }
}

/// XORs `payload` with `key`, in place (masking and unmasking are the same).
fn mask(payload: &mut [u8], key: [u8; 4]) {
    // Eight bytes at a time: the key repeats every four, so a word's key is the key twice.
    let wide = u64::from(u32::from_ne_bytes(key)) * 0x1_0000_0001;
    let mut words = payload.chunks_exact_mut(8);
    for word in &mut words {
        let masked = u64::from_ne_bytes(word.try_into().unwrap_or_default()) ^ wide;
        word.copy_from_slice(&masked.to_ne_bytes());
    }
    words
        .into_remainder()
        .iter_mut()
        // From a multiple of eight bytes, so the key starts over.
        .zip(key.into_iter().cycle())
        .for_each(|(b, k)| *b ^= k);
}

/// A fragmented message being assembled.
#[derive(Debug)]
struct Fragments {
    text: bool,
    data: Vec<u8>,
    /// For text: `data[..checked]` is valid UTF-8 (what follows may be a character cut
    /// between fragments).
    checked: usize,
}

impl Fragments {
    /// Fails as soon as the text so far cannot be UTF-8, whatever follows (as tungstenite).
    fn check_utf8(&mut self) -> Result<(), Error> {
        if !self.text {
            return Ok(());
        }
        match std::str::from_utf8(&self.data[self.checked..]) {
            Ok(_) => self.checked = self.data.len(),
            Err(e) if e.error_len().is_none() => self.checked += e.valid_up_to(),
            Err(e) => return Err(Error::Utf8(e.to_string())),
        }
        Ok(())
    }
}

/// What one attempt to decode a frame from the front of a buffer found.
enum Decoded<'a> {
    /// The frame is not complete; `Some(total)` once its header says how long it is.
    Incomplete(Option<usize>),
    /// A frame of `consumed` bytes, and the message it completed, if any.
    Frame {
        consumed: usize,
        message: Option<Message>,
    },
    /// A text message in a single frame of `consumed` bytes (the usual OCPP message), its
    /// payload unmasked and checked where it lies in the buffer: handed on without a copy.
    Text { consumed: usize, text: &'a str },
}

/// A message as [`WsStream::poll_incoming`] yields it.
pub(crate) enum Incoming<T> {
    /// A text message, already handed to the caller's `on_text`: what it returned.
    Text(T),
    /// Any other message (a text message of several frames too).
    Other(Message),
}

/// A WebSocket connection after its opening handshake: a `Stream` of received [`Message`]s
/// and a `Sink` of messages to send, over any `AsyncRead + AsyncWrite` byte stream. See the
/// [module docs](self).
#[derive(Debug)]
pub struct WsStream<S> {
    io: S,
    /// Bytes read but not decoded yet, `start..end` (what follows is zeroed room to read
    /// into): the start of a frame that has not fully arrived, or frames behind the last
    /// message yielded. Unallocated between frames.
    input: Vec<u8>,
    start: usize,
    end: usize,
    /// A fragmented message whose final frame has not come yet.
    fragments: Option<Box<Fragments>>,
    /// The frame being written.
    sending: Option<Outgoing>,
    /// A pong or the answer to the peer's close, written after `sending`.
    reply: Option<Box<Outgoing>>,
    max_size: usize,
    read_size: u32,
    role: Role,
    state: State,
    /// The stream has yielded its end (or an error): it yields nothing more.
    read_ended: bool,
    /// Bytes were written since the last flush.
    unflushed: bool,
}

impl<S> WsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// A stream over `io` with the role it has in the connection, starting with `leftover`
    /// (bytes the handshake read past the HTTP head), with the limits of `config`:
    /// [`DriverConfig::max_message_size`] for messages and frames, and
    /// [`DriverConfig::read_buffer_size`] for the scratch buffer.
    pub fn new(io: S, role: Role, leftover: Vec<u8>, config: &DriverConfig) -> WsStream<S> {
        WsStream {
            io,
            end: leftover.len(),
            input: leftover,
            start: 0,
            fragments: None,
            sending: None,
            reply: None,
            max_size: config.max_message_size,
            read_size: u32::try_from(config.read_buffer_size.max(MAX_HEAD)).unwrap_or(u32::MAX),
            role,
            state: State::Active,
            read_ended: false,
            unflushed: false,
        }
    }

    /// The byte stream underneath.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Sends `message` and flushes it, as tungstenite's `WebSocketStream::send` (the `Sink`
    /// does the same).
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        SinkExt::send(self, message).await
    }

    /// Sends a close frame (with `frame`'s code and reason) and flushes it; the peer's answer
    /// comes out of the stream. tungstenite's `WebSocketStream::close`.
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.send(Message::Close(frame)).await
    }

    /// The stream's next message, as [`Stream::poll_next`] yields it, except that a text
    /// message is handed to `on_text` as it lies in the read buffer (no copy, no
    /// allocation) and what `on_text` returns is yielded as [`Incoming::Text`].
    pub(crate) fn poll_incoming<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut on_text: impl FnMut(&str) -> T,
    ) -> Poll<Option<Result<Incoming<T>, Error>>> {
        if self.read_ended {
            return Poll::Ready(None);
        }
        let item = ready!(self.poll_next_item(cx, &mut on_text));
        // Like tungstenite's stream: after its end or an error it yields nothing more (the
        // sink still works, to send a close frame after an error).
        if !matches!(item, Some(Ok(_))) {
            self.read_ended = true;
        }
        Poll::Ready(item)
    }

    /// [`Sink::start_send`] of a text message, taking the string as the frame's payload: no
    /// conversion to a [`Message`] and its `Bytes`.
    pub(crate) fn start_send_text(&mut self, text: String) -> Result<(), Error> {
        self.check_can_send()?;
        self.sending = Some(Outgoing::new(self.role, 0x81, text.into_bytes()));
        Ok(())
    }

    /// Whether a message may be queued now ([`Sink::start_send`]'s checks).
    fn check_can_send(&self) -> Result<(), Error> {
        match self.state {
            State::Active => {}
            State::Terminated => return Err(Error::AlreadyClosed),
            _ => return Err(Error::Protocol(ProtocolError::SendAfterClosing)),
        }
        if self.sending.is_some() {
            return Err(Error::Io(io::Error::other(
                "start_send before poll_ready completed",
            )));
        }
        Ok(())
    }

    /// Decodes one frame from the front of `buf`, applying it to the connection's state; a
    /// complete frame is unmasked in place.
    fn decode<'a>(&mut self, buf: &'a mut [u8]) -> Result<Decoded<'a>, Error> {
        let [first, second, ..] = *buf else {
            return Ok(Decoded::Incomplete(None));
        };
        let masked = second & 0x80 != 0;
        let extra = match second & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let head_len = 2 + extra + if masked { 4 } else { 0 };
        if buf.len() < head_len {
            return Ok(Decoded::Incomplete(None));
        }
        let len = match extra {
            0 => u64::from(second & 0x7f),
            2 => u64::from(u16::from_be_bytes([buf[2], buf[3]])),
            _ => u64::from_be_bytes(buf[2..10].try_into().unwrap_or_default()),
        };
        let opcode = first & 0x0f;
        if matches!(opcode, 3..=7 | 11..=15) {
            return Err(Error::Protocol(ProtocolError::InvalidOpcode(opcode)));
        }
        if len > self.max_size as u64 {
            return Err(too_long(
                usize::try_from(len).unwrap_or(usize::MAX),
                self.max_size,
            ));
        }
        // The checks in tungstenite's order, made before the payload is waited for.
        if self.role == Role::Server && !masked {
            return Err(Error::Protocol(ProtocolError::UnmaskedFrameFromClient));
        }
        if !self.state.can_read() {
            return Err(Error::Protocol(ProtocolError::ReceivedAfterClosing));
        }
        if first & 0x70 != 0 {
            return Err(Error::Protocol(ProtocolError::NonZeroReservedBits));
        }
        if self.role == Role::Client && masked {
            return Err(Error::Protocol(ProtocolError::MaskedFrameFromServer));
        }
        let fin = first & 0x80 != 0;
        if opcode >= 8 {
            if !fin {
                return Err(Error::Protocol(ProtocolError::FragmentedControlFrame));
            }
            if len > 125 {
                return Err(Error::Protocol(ProtocolError::ControlFrameTooBig));
            }
        }
        // `len <= max_size`, a usize.
        let total = head_len + len as usize;
        if buf.len() < total {
            return Ok(Decoded::Incomplete(Some(total)));
        }
        if masked {
            let key = buf[head_len - 4..head_len].try_into().unwrap_or_default();
            mask(&mut buf[head_len..total], key);
        }
        let buf: &'a [u8] = buf;
        let payload = &buf[head_len..total];
        if opcode == 1 && fin && self.fragments.is_none() {
            // RFC 6455 section 8.1: a text message that is not UTF-8 fails the connection.
            let text = std::str::from_utf8(payload)?;
            return Ok(Decoded::Text {
                consumed: total,
                text,
            });
        }
        let message = self.frame(opcode, fin, payload.to_vec())?;
        Ok(Decoded::Frame {
            consumed: total,
            message,
        })
    }

    /// Applies a complete, checked frame; returns the message it completes, if any.
    fn frame(&mut self, opcode: u8, fin: bool, payload: Vec<u8>) -> Result<Option<Message>, Error> {
        match opcode {
            8 => self
                .received_close(payload)
                .map(|close| close.map(Message::Close)),
            9 => {
                if self.state == State::Active {
                    self.set_reply(Outgoing::new(self.role, 0x8a, payload.clone()));
                }
                Ok(Some(Message::Ping(Bytes::from(payload))))
            }
            10 => Ok(Some(Message::Pong(Bytes::from(payload)))),
            0 => {
                let Some(fragments) = self.fragments.as_mut() else {
                    return Err(Error::Protocol(ProtocolError::UnexpectedContinueFrame));
                };
                let size = fragments.data.len() + payload.len();
                if size > self.max_size {
                    return Err(too_long(size, self.max_size));
                }
                fragments.data.extend_from_slice(&payload);
                fragments.check_utf8()?;
                if !fin {
                    return Ok(None);
                }
                let Some(fragments) = self.fragments.take() else {
                    return Err(Error::Protocol(ProtocolError::UnexpectedContinueFrame));
                };
                message(fragments.text, fragments.data).map(Some)
            }
            _ => {
                let text = opcode == 1;
                if self.fragments.is_some() {
                    let data = if text { Data::Text } else { Data::Binary };
                    return Err(Error::Protocol(ProtocolError::ExpectedFragment(data)));
                }
                if fin {
                    return message(text, payload).map(Some);
                }
                let mut fragments = Box::new(Fragments {
                    text,
                    data: payload,
                    checked: 0,
                });
                fragments.check_utf8()?;
                self.fragments = Some(fragments);
                Ok(None)
            }
        }
    }

    /// A close frame from the peer: `Some` what to yield (`Some(None)` for a close without a
    /// code), `None` if nothing.
    #[allow(clippy::option_option)]
    fn received_close(&mut self, payload: Vec<u8>) -> Result<Option<Option<CloseFrame>>, Error> {
        let close = match payload.len() {
            0 => None,
            1 => return Err(Error::Protocol(ProtocolError::InvalidCloseSequence)),
            _ => {
                let code = CloseCode::from(u16::from_be_bytes([payload[0], payload[1]]));
                let reason = Utf8Bytes::try_from(Bytes::from(payload).slice(2..))?;
                Some(CloseFrame { code, reason })
            }
        };
        match self.state {
            State::Active => {
                self.state = State::ClosedByPeer;
                // A code the peer must not send is answered and reported as 1002.
                let close = close.map(|frame| {
                    if frame.code.is_allowed() {
                        frame
                    } else {
                        CloseFrame {
                            code: CloseCode::Protocol,
                            reason: Utf8Bytes::from_static("Protocol violation"),
                        }
                    }
                });
                self.set_reply(close_frame(self.role, close.as_ref()));
                Ok(Some(close))
            }
            State::ClosedByUs => {
                self.state = State::CloseAcknowledged;
                Ok(Some(close))
            }
            State::ClosedByPeer | State::CloseAcknowledged | State::Terminated => Ok(None),
        }
    }

    /// Queues a control frame to send; a pending pong gives way to a newer pong or a close.
    fn set_reply(&mut self, frame: Outgoing) {
        if self.reply.as_ref().is_none_or(|r| r.head[0] == 0x8a) {
            self.reply = Some(Box::new(frame));
        }
    }

    /// Reads and decodes until a message is complete (`Some`) or the peer ended the byte
    /// stream (`None`); a text message goes to `on_text`.
    fn poll_read_message<T>(
        &mut self,
        cx: &mut Context<'_>,
        on_text: &mut impl FnMut(&str) -> T,
    ) -> Poll<Result<Option<Incoming<T>>, Error>> {
        loop {
            if self.start < self.end {
                let mut input = std::mem::take(&mut self.input);
                let step = match self.decode(&mut input[self.start..self.end]) {
                    Ok(Decoded::Text { consumed, text }) => {
                        Ok(Ok((consumed, Some(Incoming::Text(on_text(text))))))
                    }
                    Ok(Decoded::Frame { consumed, message }) => {
                        Ok(Ok((consumed, message.map(Incoming::Other))))
                    }
                    Ok(Decoded::Incomplete(total)) => Ok(Err(total)),
                    Err(e) => Err(e),
                };
                self.input = input;
                match step? {
                    Ok((consumed, message)) => {
                        self.start += consumed;
                        if self.start == self.end {
                            self.input = Vec::new();
                            self.start = 0;
                            self.end = 0;
                        }
                        if message.is_some() {
                            return Poll::Ready(Ok(message));
                        }
                    }
                    Err(total) => {
                        if ready!(self.poll_read_into_input(cx, total))? == 0 {
                            return Poll::Ready(Ok(None));
                        }
                    }
                }
                continue;
            }
            match ready!(self.poll_read_scratch(cx, on_text))? {
                Read::Eof => return Poll::Ready(Ok(None)),
                Read::Message(message) => return Poll::Ready(Ok(Some(message))),
                Read::More => {}
            }
        }
    }

    /// Reads more of the incomplete frame in `input` (`total` bytes long once its header is
    /// known) straight into `input`, never past that frame's end. The buffer only grows while
    /// the frame comes in, so a peer trickling bytes costs no repeated zeroing.
    fn poll_read_into_input(
        &mut self,
        cx: &mut Context<'_>,
        total: Option<usize>,
    ) -> Poll<Result<usize, Error>> {
        if self.start > 0 {
            self.input.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let read_size = self.read_size as usize;
        // At most as much again as has arrived: a header announcing a long frame costs one
        // read's worth of memory until the payload actually comes.
        let step = self.end.clamp(read_size, MAX_DIRECT_READ.max(read_size));
        let want = match total {
            Some(total) => (total - self.end).min(step),
            None => read_size,
        };
        if self.input.len() < self.end + want {
            self.input.resize(self.end + want, 0);
        }
        let end = self.end;
        let n = ready!(Pin::new(&mut self.io).poll_read(cx, &mut self.input[end..end + want]))?;
        self.end += n;
        Poll::Ready(Ok(n))
    }

    /// Keeps `bytes` (read, not decoded) in `input`, which is empty.
    fn keep(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.input = bytes.to_vec();
            self.start = 0;
            self.end = bytes.len();
        }
    }

    /// Reads into the scratch buffer and decodes the frames there (a text message goes to
    /// `on_text` from where it lies); keeps the bytes after the first complete message (or
    /// of an incomplete frame) in `input`.
    fn poll_read_scratch<T>(
        &mut self,
        cx: &mut Context<'_>,
        on_text: &mut impl FnMut(&str) -> T,
    ) -> Poll<Result<Read<T>, Error>> {
        with_scratch(self.read_size as usize, |scratch| {
            let n = ready!(Pin::new(&mut self.io).poll_read(cx, scratch))?;
            if n == 0 {
                return Poll::Ready(Ok(Read::Eof));
            }
            let mut pos = 0;
            while pos < n {
                let (consumed, message) = match self.decode(&mut scratch[pos..n])? {
                    Decoded::Text { consumed, text } => {
                        (consumed, Some(Incoming::Text(on_text(text))))
                    }
                    Decoded::Frame { consumed, message } => {
                        (consumed, message.map(Incoming::Other))
                    }
                    Decoded::Incomplete(_) => break,
                };
                pos += consumed;
                if let Some(message) = message {
                    self.keep(&scratch[pos..n]);
                    return Poll::Ready(Ok(Read::Message(message)));
                }
            }
            self.keep(&scratch[pos..n]);
            Poll::Ready(Ok(Read::More))
        })
    }

    /// The stream's next item, before it is fused.
    fn poll_next_item<T>(
        &mut self,
        cx: &mut Context<'_>,
        on_text: &mut impl FnMut(&str) -> T,
    ) -> Poll<Option<Result<Incoming<T>, Error>>> {
        if self.state == State::Terminated {
            return Poll::Ready(None);
        }
        if !self.state.can_read() && self.role == Role::Server {
            // The server ends the connection once its answer to the peer's close is out.
            return match ready!(self.poll_write_out(cx)) {
                Ok(()) => {
                    self.state = State::Terminated;
                    Poll::Ready(None)
                }
                Err(e) => Poll::Ready(Some(Err(e))),
            };
        }
        // A pong or close answer goes out before more is read; a full socket does not stop
        // the reading.
        if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
            return Poll::Ready(Some(Err(e)));
        }
        match ready!(self.poll_read_message(cx, on_text)) {
            Ok(Some(message)) => Poll::Ready(Some(Ok(message))),
            Ok(None) => match std::mem::replace(&mut self.state, State::Terminated) {
                State::ClosedByPeer | State::CloseAcknowledged => Poll::Ready(None),
                _ => Poll::Ready(Some(Err(Error::Protocol(
                    ProtocolError::ResetWithoutClosingHandshake,
                )))),
            },
            Err(Error::Io(e))
                if !self.state.can_read() && e.kind() == io::ErrorKind::ConnectionReset =>
            {
                Poll::Ready(None)
            }
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    /// Writes the queued frames (the one in progress, then the reply) and flushes.
    #[inline]
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        // The usual case, checked before a call: called before every read and by
        // `poll_ready`, it mostly finds nothing to do.
        if self.sending.is_none() && self.reply.is_none() && !self.unflushed {
            return Poll::Ready(Ok(()));
        }
        self.poll_write_queued(cx)
    }

    /// [`WsStream::poll_write_out`] with something to write or flush.
    fn poll_write_queued(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            if self.sending.is_none() {
                match self.reply.take() {
                    Some(reply) => self.sending = Some(*reply),
                    None => break,
                }
            }
            let Some(out) = self.sending.as_mut() else {
                break;
            };
            let n = ready!(poll_write_frame(
                &mut self.io,
                cx,
                out,
                self.read_size as usize
            ))?;
            if n == 0 {
                return Poll::Ready(Err(Error::Io(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the connection took no more bytes",
                ))));
            }
            self.unflushed = true;
            out.written += n;
            if out.written == out.len() {
                self.sending = None;
            }
        }
        if self.unflushed {
            ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }
}

/// What a read into the scratch buffer brought.
enum Read<T> {
    Eof,
    Message(Incoming<T>),
    /// Bytes, but no complete message yet.
    More,
}

/// Writes the rest of `out` once: gathered with its header in the scratch buffer if it is
/// small and nothing of it went yet, else header and payload as they are.
fn poll_write_frame<S: AsyncWrite + Unpin>(
    io: &mut S,
    cx: &mut Context<'_>,
    out: &Outgoing,
    gather_limit: usize,
) -> Poll<io::Result<usize>> {
    let head = &out.head[..usize::from(out.head_len)];
    if out.written == 0 && out.len() <= gather_limit {
        with_scratch(out.len(), |buf| {
            buf[..head.len()].copy_from_slice(head);
            buf[head.len()..].copy_from_slice(&out.payload);
            Pin::new(io).poll_write(cx, buf)
        })
    } else if out.written < head.len() {
        let bufs = [
            IoSlice::new(&head[out.written..]),
            IoSlice::new(&out.payload),
        ];
        Pin::new(io).poll_write_vectored(cx, &bufs)
    } else {
        Pin::new(io).poll_write(cx, &out.payload[out.written - head.len()..])
    }
}

fn too_long(size: usize, max_size: usize) -> Error {
    Error::Capacity(CapacityError::MessageTooLong { size, max_size })
}

/// The message of a complete text or binary payload.
fn message(text: bool, data: Vec<u8>) -> Result<Message, Error> {
    Ok(if text {
        Message::Text(Utf8Bytes::try_from(data)?)
    } else {
        Message::Binary(Bytes::from(data))
    })
}

/// The close frame with `close`'s code and reason, or an empty one.
fn close_frame(role: Role, close: Option<&CloseFrame>) -> Outgoing {
    let payload = close.map_or_else(Vec::new, |close| {
        let mut payload = u16::from(close.code).to_be_bytes().to_vec();
        payload.extend_from_slice(close.reason.as_bytes());
        payload
    });
    Outgoing::new(role, 0x88, payload)
}

impl<S> Stream for WsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = ready!(
            self.get_mut()
                .poll_incoming(cx, |text| Message::Text(text.into()))
        );
        Poll::Ready(item.map(|item| {
            item.map(|incoming| match incoming {
                Incoming::Text(message) | Incoming::Other(message) => message,
            })
        }))
    }
}

impl<S> Sink<Message> for WsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_write_out(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        let this = self.get_mut();
        this.check_can_send()?;
        let role = this.role;
        let frame = match item {
            Message::Text(text) => Outgoing::new(role, 0x81, Bytes::from(text).into()),
            Message::Binary(data) => Outgoing::new(role, 0x82, data.into()),
            Message::Ping(data) => Outgoing::new(role, 0x89, data.into()),
            Message::Pong(data) => Outgoing::new(role, 0x8a, data.into()),
            Message::Close(close) => {
                this.state = State::ClosedByUs;
                close_frame(role, close.as_ref())
            }
            Message::Frame(frame) => {
                let header = frame.header();
                let first = u8::from(header.opcode)
                    | u8::from(header.is_final) << 7
                    | u8::from(header.rsv1) << 6
                    | u8::from(header.rsv2) << 5
                    | u8::from(header.rsv3) << 4;
                Outgoing::new(role, first, frame.into_payload().into())
            }
        };
        this.sending = Some(frame);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_write_out(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.state == State::Active {
            this.state = State::ClosedByUs;
            let close = close_frame(this.role, None);
            // A pending pong gives way to the close.
            if this.sending.is_none() {
                this.reply = None;
                this.sending = Some(close);
            } else {
                this.reply = Some(Box::new(close));
            }
        }
        ready!(this.poll_write_out(cx))?;
        if this.role == Role::Server && !this.state.can_read() {
            this.state = State::Terminated;
        }
        Pin::new(&mut this.io).poll_close(cx).map_err(Error::Io)
    }
}

/// A byte stream that keeps a copy of what is read from it: the opening handshake's input,
/// to find the bytes after the HTTP head.
#[derive(Debug)]
struct Recorder<S> {
    io: S,
    seen: Vec<u8>,
}

impl<S> Recorder<S> {
    /// The stream, and what was read after the end of the HTTP head.
    fn into_parts(self) -> (S, Vec<u8>) {
        let end = self
            .seen
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(self.seen.len(), |at| at + 4);
        (self.io, self.seen[end..].to_vec())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorder<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        this.seen.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorder<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_close(cx)
    }
}

/// The server's opening handshake on `stream` (tungstenite's, with `callback` deciding on the
/// request), then a [`WsStream`].
///
/// Nothing read can be lost here: tungstenite refuses a request followed by more bytes in the
/// same read (`ProtocolError::JunkAfterRequest`; a client must wait for the answer before it
/// sends frames, RFC 6455 section 4.1), so the handshake ends exactly at the request's end.
pub async fn accept<S, C>(
    stream: S,
    callback: C,
    config: &DriverConfig,
) -> Result<WsStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Callback + Unpin,
{
    let ws = async_tungstenite::accept_hdr_async_with_config(
        stream,
        callback,
        Some(config.websocket_config()),
    )
    .await?;
    Ok(WsStream::new(
        ws.into_inner(),
        Role::Server,
        Vec::new(),
        config,
    ))
}

/// The client's opening handshake of `request` on `stream` (tungstenite's), then a
/// [`WsStream`] that starts with whatever the server sent behind its response.
pub async fn connect<R, S>(
    request: R,
    stream: S,
    config: &DriverConfig,
) -> Result<(WsStream<S>, Response), Error>
where
    R: IntoClientRequest + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let recorder = Recorder {
        io: stream,
        seen: Vec::new(),
    };
    let (ws, response) = async_tungstenite::client_async_with_config(
        request,
        recorder,
        Some(config.websocket_config()),
    )
    .await?;
    let (io, leftover) = ws.into_inner().into_parts();
    Ok((WsStream::new(io, Role::Client, leftover, config), response))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::future::Future;

    use futures_util::{SinkExt, StreamExt};

    use super::*;

    /// An in-memory peer: reads hand out the queued chunks (pending when there is none, the
    /// end once `eof`), writes take at most `write_limit` bytes each.
    #[derive(Default)]
    struct Peer {
        chunks: VecDeque<Vec<u8>>,
        eof: bool,
        written: Vec<u8>,
        write_limit: usize,
        blocked_writes: usize,
    }

    impl AsyncRead for Peer {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let Some(chunk) = this.chunks.front_mut() else {
                return if this.eof {
                    Poll::Ready(Ok(0))
                } else {
                    Poll::Pending
                };
            };
            let n = buf.len().min(chunk.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            chunk.drain(..n);
            if chunk.is_empty() {
                this.chunks.pop_front();
            }
            Poll::Ready(Ok(n))
        }
    }

    impl AsyncWrite for Peer {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            if this.blocked_writes > 0 {
                this.blocked_writes -= 1;
                return Poll::Pending;
            }
            let n = buf.len().min(this.write_limit.max(1));
            this.written.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn poll<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
        Pin::new(future).poll(&mut Context::from_waker(std::task::Waker::noop()))
    }

    /// The message the stream yields now, `None` if it is pending.
    fn next_now(ws: &mut WsStream<Peer>) -> Option<Message> {
        match poll(&mut ws.next()) {
            Poll::Ready(Some(Ok(message))) => Some(message),
            Poll::Pending => None,
            Poll::Ready(other) => panic!("unexpected {other:?}"),
        }
    }

    fn stream(role: Role) -> WsStream<Peer> {
        let peer = Peer {
            write_limit: usize::MAX,
            ..Peer::default()
        };
        WsStream::new(peer, role, Vec::new(), &DriverConfig::default())
    }

    /// A client's masked frame.
    fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = Outgoing::new(Role::Client, first, payload.to_vec());
        frame.written = 0;
        [
            &frame.head[..usize::from(frame.head_len)],
            &frame.payload[..],
        ]
        .concat()
    }

    /// Whether the stream holds no buffer at all: what an idle connection costs.
    fn holds_nothing(ws: &WsStream<Peer>) -> bool {
        ws.input.capacity() == 0
            && ws.fragments.is_none()
            && ws.sending.is_none()
            && ws.reply.is_none()
    }

    #[test]
    fn the_stream_is_small_and_holds_nothing_when_idle() {
        // Issue #7: an idle station costs the stream's own size and nothing on the heap.
        let size = std::mem::size_of::<WsStream<()>>();
        assert!(size <= 128, "WsStream<()> is {size} bytes");
        let mut ws = stream(Role::Server);
        assert!(holds_nothing(&ws));
        assert!(poll(&mut ws.next()).is_pending());
        assert!(holds_nothing(&ws));
    }

    #[test]
    fn a_frame_in_pieces_is_kept_until_complete_then_freed() {
        let mut ws = stream(Role::Server);
        let frame = client_frame(0x81, "x".repeat(5000).as_bytes());
        for piece in frame.chunks(1500) {
            assert!(poll(&mut ws.next()).is_pending());
            ws.io.chunks.push_back(piece.to_vec());
        }
        let Some(Message::Text(text)) = next_now(&mut ws) else {
            panic!("no message");
        };
        assert_eq!(text.len(), 5000);
        assert!(holds_nothing(&ws));
    }

    #[test]
    fn a_header_announcing_a_long_frame_costs_one_read_until_its_payload_comes() {
        let mut ws = stream(Role::Server);
        let mut frame = client_frame(0x82, &vec![7; 3 << 20]);
        let rest = frame.split_off(14);
        ws.io.chunks.push_back(frame);
        assert!(next_now(&mut ws).is_none());
        assert!(ws.input.capacity() <= 2 * DriverConfig::default().read_buffer_size);
        ws.io.chunks.push_back(rest);
        let Some(Message::Binary(data)) = next_now(&mut ws) else {
            panic!("no message");
        };
        assert_eq!(data.len(), 3 << 20);
        assert!(holds_nothing(&ws));
    }

    #[test]
    fn frames_behind_a_message_are_yielded_one_by_one_then_freed() {
        let mut ws = stream(Role::Server);
        let frames = [client_frame(0x81, b"a"), client_frame(0x81, b"b")].concat();
        ws.io.chunks.push_back(frames);
        assert_eq!(next_now(&mut ws), Some(Message::text("a")));
        assert!(!holds_nothing(&ws));
        assert_eq!(next_now(&mut ws), Some(Message::text("b")));
        assert!(holds_nothing(&ws));
    }

    #[test]
    fn what_the_socket_does_not_take_stays_queued_until_written_then_is_freed() {
        let mut ws = stream(Role::Server);
        ws.io.write_limit = 1000;
        ws.io.blocked_writes = 1;
        let message = Message::text("y".repeat(4000));
        let mut send = SinkExt::send(&mut ws, message);
        assert!(poll(&mut send).is_pending());
        assert!(poll(&mut send).is_ready());
        drop(send);
        assert!(holds_nothing(&ws));
        // RFC 6455 5.2: 0x81, 126, a 16-bit length, the unmasked payload.
        assert_eq!(ws.io.written[..4], [0x81, 126, 0x0f, 0xa0]);
        assert_eq!(ws.io.written.len(), 4004);
    }

    #[test]
    fn a_client_masks_every_frame_with_a_fresh_key() {
        // RFC 6455 5.3.
        let mut ws = stream(Role::Client);
        for _ in 0..2 {
            assert!(poll(&mut SinkExt::send(&mut ws, Message::text("hello"))).is_ready());
        }
        let written = &ws.io.written;
        assert_eq!(written.len(), 2 * (2 + 4 + 5));
        let (first, second) = written.split_at(11);
        assert_eq!(first[..2], [0x81, 0x85]);
        let mut unmasked = first[6..].to_vec();
        mask(&mut unmasked, first[2..6].try_into().unwrap());
        assert_eq!(unmasked, b"hello");
        assert_ne!(first[2..6], second[2..6]);
    }

    #[test]
    fn a_ping_is_answered_even_while_the_socket_is_full() {
        // RFC 6455 5.5.2: the pong goes out when the socket takes it; reading goes on.
        let mut ws = stream(Role::Server);
        ws.io.blocked_writes = 1;
        ws.io.chunks.push_back(client_frame(0x89, b"hb"));
        assert_eq!(
            next_now(&mut ws),
            Some(Message::Ping(Bytes::from_static(b"hb")))
        );
        assert!(poll(&mut ws.next()).is_pending());
        assert!(ws.reply.is_none() && ws.sending.is_some());
        assert!(poll(&mut ws.next()).is_pending());
        assert_eq!(ws.io.written, [0x8a, 2, b'h', b'b']);
        assert!(holds_nothing(&ws));
    }

    /// What `poll_incoming` yields now: `Ok(text)` for a text message handed to `on_text`,
    /// `Err(message)` for any other; `None` if it is pending or ended.
    fn incoming_now(ws: &mut WsStream<Peer>) -> Option<Result<String, Message>> {
        let cx = &mut Context::from_waker(std::task::Waker::noop());
        match ws.poll_incoming(cx, str::to_owned) {
            Poll::Ready(Some(Ok(Incoming::Text(text)))) => Some(Ok(text)),
            Poll::Ready(Some(Ok(Incoming::Other(message)))) => Some(Err(message)),
            Poll::Ready(Some(Err(e))) => panic!("unexpected {e:?}"),
            Poll::Ready(None) | Poll::Pending => None,
        }
    }

    #[test]
    fn a_text_message_in_one_frame_is_handed_over_as_it_lies_and_the_rest_as_messages() {
        // Issue #7: the usual OCPP message reaches the machine without a `Message` built
        // for it; the others come as the `Stream` yields them, in order.
        let mut ws = stream(Role::Server);
        let frames = [
            client_frame(0x81, "[2,\"1\",\"Heartbeat\",{}]".as_bytes()),
            client_frame(0x89, b"p"),
            client_frame(0x01, "h\u{e9}".as_bytes()),
            client_frame(0x80, b"llo"),
            client_frame(0x81, "\u{e9}t\u{e9}".as_bytes()),
        ];
        // Read at once: the first from the scratch buffer, the rest from what it left in
        // `input`.
        ws.io.chunks.push_back(frames.concat());
        assert_eq!(
            incoming_now(&mut ws),
            Some(Ok("[2,\"1\",\"Heartbeat\",{}]".to_owned()))
        );
        assert_eq!(
            incoming_now(&mut ws),
            Some(Err(Message::Ping(Bytes::from_static(b"p"))))
        );
        assert_eq!(
            incoming_now(&mut ws),
            Some(Err(Message::text("h\u{e9}llo")))
        );
        assert_eq!(incoming_now(&mut ws), Some(Ok("\u{e9}t\u{e9}".to_owned())));
        assert!(incoming_now(&mut ws).is_none());
        assert!(holds_nothing(&ws));
    }

    #[test]
    fn a_text_frame_that_is_not_utf8_fails_the_stream_on_either_path() {
        // RFC 6455 8.1, as tungstenite reports it.
        for role in [Role::Server, Role::Client] {
            let mut ws = stream(role);
            let mut frame = client_frame(0x81, &[b'a', 0xff]);
            if role == Role::Client {
                // A server's frame: unmasked.
                frame = [&[0x81, 2][..], &[b'a', 0xff][..]].concat();
            }
            ws.io.chunks.push_back(frame);
            let cx = &mut Context::from_waker(std::task::Waker::noop());
            let Poll::Ready(Some(Err(Error::Utf8(_)))) = ws.poll_incoming(cx, |_| ()) else {
                panic!("no UTF-8 error");
            };
            assert!(matches!(ws.poll_incoming(cx, |_| ()), Poll::Ready(None)));
        }
    }

    #[test]
    fn a_text_sent_as_a_string_is_the_frame_the_sink_writes() {
        // RFC 6455 5.2 and 5.3: the same frame as `Message::text`, masked by a client only.
        for role in [Role::Server, Role::Client] {
            let mut ws = stream(role);
            ws.start_send_text("hello".to_owned()).unwrap();
            assert!(ws.start_send_text("again".to_owned()).is_err());
            assert!(
                poll(&mut futures_util::future::poll_fn(
                    |cx| ws.poll_write_out(cx)
                ))
                .is_ready()
            );
            let written = std::mem::take(&mut ws.io.written);
            match role {
                Role::Server => assert_eq!(written, b"\x81\x05hello"),
                Role::Client => {
                    assert_eq!(written[..2], [0x81, 0x85]);
                    let mut payload = written[6..].to_vec();
                    mask(&mut payload, written[2..6].try_into().unwrap());
                    assert_eq!(payload, b"hello");
                }
            }
            assert!(holds_nothing(&ws));
        }
    }

    #[test]
    fn masking_xors_byte_i_with_key_byte_i_mod_4_at_every_length() {
        // RFC 6455 5.3: j = i MOD 4, transformed-octet-i = original-octet-i XOR key-octet-j.
        let key = [0x12, 0x34, 0x56, 0x78];
        for len in 0..24 {
            let original: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut masked = original.clone();
            mask(&mut masked, key);
            for (i, (m, o)) in masked.iter().zip(&original).enumerate() {
                assert_eq!(*m, o ^ key[i % 4], "byte {i} of {len}");
            }
        }
    }
}
