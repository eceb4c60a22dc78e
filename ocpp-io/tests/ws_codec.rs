//! `ocpp_io::ws::WsStream` against tungstenite, the reference implementation, in both roles
//! (RFC 6455): our server codec with a tungstenite client, a tungstenite server with our
//! client codec, and the same raw byte sequences (valid and violating) decoded by both.
//!
//! Everything is blocking (std sockets under `AllowStdIo`), so the futures are polled to
//! completion without a runtime and nothing depends on timing.

use std::future::Future;
use std::io::{self, Cursor, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::thread;

use futures_util::StreamExt;
use futures_util::io::AllowStdIo;
use ocpp_io::DriverConfig;
use ocpp_io::tungstenite::error::ProtocolError;
use ocpp_io::tungstenite::handshake::derive_accept_key;
use ocpp_io::tungstenite::handshake::server::NoCallback;
use ocpp_io::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use ocpp_io::tungstenite::protocol::frame::{CloseFrame, Frame};
use ocpp_io::tungstenite::protocol::{Role, WebSocketConfig};
use ocpp_io::tungstenite::{Bytes, Error, Message, WebSocket};
use ocpp_io::ws::{self, WsStream};

/// Polls `future` until it completes; the blocking sockets never leave it pending for long.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::yield_now();
    }
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

fn config(max_message_size: usize) -> DriverConfig {
    DriverConfig {
        max_message_size,
        ..DriverConfig::default()
    }
}

fn ours(stream: TcpStream, role: Role, config: &DriverConfig) -> WsStream<AllowStdIo<TcpStream>> {
    WsStream::new(AllowStdIo::new(stream), role, Vec::new(), config)
}

fn reference(stream: TcpStream, role: Role) -> WebSocket<TcpStream> {
    WebSocket::from_raw_socket(stream, role, Some(WebSocketConfig::default()))
}

/// Text and binary messages across the 7/16/64-bit length boundaries, up to 1 MiB.
fn sample_messages() -> Vec<Message> {
    let mut messages = Vec::new();
    for size in [0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20] {
        let text: String = (0..size)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        messages.push(Message::text(text));
        let binary: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        messages.push(Message::Binary(Bytes::from(binary)));
    }
    messages.push(Message::text("[2,\"1\",\"Heartbeat\",{}] é ✓ 🚗"));
    messages
}

/// Our side echoes every data message until the stream ends; returns what else it saw.
async fn echo<S>(ws: &mut WsStream<S>) -> Vec<Message>
where
    S: futures_util::io::AsyncRead + futures_util::io::AsyncWrite + Unpin,
{
    let mut control = Vec::new();
    while let Some(message) = ws.next().await {
        let message = message.unwrap();
        match message {
            Message::Text(_) | Message::Binary(_) => ws.send(message).await.unwrap(),
            other => control.push(other),
        }
    }
    control
}

/// The reference side sends each message, expects it back, then closes (RFC 6455 5.5.1).
fn send_and_expect_echo(ws: &mut WebSocket<TcpStream>, messages: &[Message]) {
    for message in messages {
        ws.send(message.clone()).unwrap();
        assert_eq!(&ws.read().unwrap(), message);
    }
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "done".into(),
    }))
    .unwrap();
    // The peer's answer to our close, then the end of the connection.
    loop {
        match ws.read() {
            Ok(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Normal),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(Error::ConnectionClosed) => break,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
}

#[test]
fn server_codec_echoes_every_size_to_a_tungstenite_client() {
    let (client, server) = tcp_pair();
    let messages = sample_messages();
    let expected = messages.clone();
    let peer = thread::spawn(move || {
        let mut ws = reference(client, Role::Client);
        send_and_expect_echo(&mut ws, &expected);
    });
    let mut ws = ours(server, Role::Server, &config(4 << 20));
    let control = block_on(echo(&mut ws));
    // The client's close is yielded, answered, and the stream ends (RFC 6455 5.5.1).
    assert_eq!(
        control,
        [Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "done".into()
        }))]
    );
    drop(ws);
    peer.join().unwrap();
}

#[test]
fn client_codec_echoes_every_size_to_a_tungstenite_server() {
    let (client, server) = tcp_pair();
    let messages = sample_messages();
    let expected = messages.clone();
    let peer = thread::spawn(move || {
        let mut ws = reference(server, Role::Server);
        send_and_expect_echo(&mut ws, &expected);
    });
    let mut ws = ours(client, Role::Client, &config(4 << 20));
    let control = block_on(echo(&mut ws));
    assert_eq!(control.len(), 1);
    peer.join().unwrap();
}

#[test]
fn our_messages_and_close_reach_tungstenite_in_both_roles() {
    for role in [Role::Server, Role::Client] {
        let (a, b) = tcp_pair();
        let (our_end, their_end, their_role) = match role {
            Role::Server => (b, a, Role::Client),
            Role::Client => (a, b, Role::Server),
        };
        let messages = sample_messages();
        let expected = messages.clone();
        let peer = thread::spawn(move || {
            let mut ws = reference(their_end, their_role);
            for message in &expected {
                assert_eq!(&ws.read().unwrap(), message);
            }
            // Our ping, answered by tungstenite when it next writes.
            assert_eq!(ws.read().unwrap(), Message::Ping(Bytes::from_static(b"p")));
            // Our close: yielded, then answered (RFC 6455 5.5.1).
            let close = ws.read().unwrap();
            assert_eq!(
                close,
                Message::Close(Some(CloseFrame {
                    code: CloseCode::Away,
                    reason: "bye".into()
                }))
            );
            // tungstenite's server reports the completed handshake as `ConnectionClosed`.
            assert!(matches!(ws.flush(), Ok(()) | Err(Error::ConnectionClosed)));
            if their_role == Role::Client {
                assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
            }
        });
        let mut ws = ours(our_end, role, &config(4 << 20));
        block_on(async {
            for message in messages {
                ws.send(message).await.unwrap();
            }
            ws.send(Message::Ping(Bytes::from_static(b"p")))
                .await
                .unwrap();
            ws.close(Some(CloseFrame {
                code: CloseCode::Away,
                reason: "bye".into(),
            }))
            .await
            .unwrap();
            // The pong, then the peer's answer to our close; then the end.
            assert_eq!(
                ws.next().await.unwrap().unwrap(),
                Message::Pong(Bytes::from_static(b"p"))
            );
            assert!(matches!(
                ws.next().await.unwrap().unwrap(),
                Message::Close(Some(frame)) if frame.code == CloseCode::Away
            ));
            if role == Role::Server {
                assert!(ws.next().await.is_none());
            } else {
                // The server ends the TCP connection first.
                peer.join().unwrap();
                assert!(ws.next().await.is_none());
                return;
            }
            drop(ws);
            peer.join().unwrap();
        });
    }
}

#[test]
fn pings_are_yielded_and_answered_before_the_next_message() {
    // RFC 6455 5.5.2: a ping is answered with a pong of the same payload.
    let (client, server) = tcp_pair();
    let peer = thread::spawn(move || {
        let mut ws = reference(client, Role::Client);
        ws.send(Message::Ping(Bytes::from_static(b"are you there")))
            .unwrap();
        ws.send(Message::text("hello")).unwrap();
        assert_eq!(
            ws.read().unwrap(),
            Message::Pong(Bytes::from_static(b"are you there"))
        );
        assert_eq!(ws.read().unwrap(), Message::text("hello"));
        ws.close(None).unwrap();
        while ws.read().is_ok() {}
    });
    let mut ws = ours(server, Role::Server, &config(1 << 20));
    let control = block_on(echo(&mut ws));
    assert_eq!(
        control,
        [
            Message::Ping(Bytes::from_static(b"are you there")),
            Message::Close(None)
        ]
    );
    drop(ws);
    peer.join().unwrap();
}

#[test]
fn fragmented_messages_from_tungstenite_are_assembled() {
    // RFC 6455 5.4: fragments, with a control frame between them.
    let (client, server) = tcp_pair();
    let peer = thread::spawn(move || {
        let mut ws = reference(client, Role::Client);
        let fragment = |data: &'static [u8], opcode, fin| {
            Message::Frame(Frame::message(Bytes::from_static(data), opcode, fin))
        };
        // "é" (C3 A9) split across two fragments is still valid UTF-8.
        ws.send(fragment(b"caf\xc3", OpCode::Data(Data::Text), false))
            .unwrap();
        ws.send(Message::Ping(Bytes::new())).unwrap();
        ws.send(fragment(b"\xa9 ", OpCode::Data(Data::Continue), false))
            .unwrap();
        ws.send(fragment(b"ok", OpCode::Data(Data::Continue), true))
            .unwrap();
        ws.send(fragment(b"\x01", OpCode::Data(Data::Binary), false))
            .unwrap();
        ws.send(fragment(b"\x02", OpCode::Data(Data::Continue), true))
            .unwrap();
        assert_eq!(ws.read().unwrap(), Message::Pong(Bytes::new()));
        assert_eq!(ws.read().unwrap(), Message::text("café ok"));
        assert_eq!(
            ws.read().unwrap(),
            Message::Binary(Bytes::from_static(b"\x01\x02"))
        );
        ws.close(None).unwrap();
        while ws.read().is_ok() {}
    });
    let mut ws = ours(server, Role::Server, &config(1 << 20));
    let control = block_on(echo(&mut ws));
    assert_eq!(control, [Message::Ping(Bytes::new()), Message::Close(None)]);
    drop(ws);
    peer.join().unwrap();
}

/// A frame as a peer of `role` sends it: masked (with a fixed key) if that is a client.
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![first];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => out.push(mask_bit | len as u8),
        len @ 126..=65535 => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&key);
        out.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A byte stream that hands out `input` `chunk` bytes per read and swallows writes.
struct Chunked {
    input: Cursor<Vec<u8>>,
    chunk: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.chunk);
        self.input.read(&mut buf[..n])
    }
}

impl Write for Chunked {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An outcome as both implementations report it: the message, `end`, or the error with
/// the text of `Utf8` errors left out (the two word them differently).
fn outcome(result: Result<Message, Error>) -> String {
    match result {
        Ok(message) => format!("{message:?}"),
        Err(Error::ConnectionClosed | Error::AlreadyClosed) => "end".to_owned(),
        Err(Error::Utf8(_)) => "Utf8".to_owned(),
        Err(e) => format!("{e:?}"),
    }
}

/// What tungstenite reads from `input` in `role`, up to its end or first error.
fn reference_outcomes(input: &[u8], role: Role, max: usize) -> Vec<String> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let stream = Chunked {
        input: Cursor::new(input.to_vec()),
        chunk: usize::MAX,
    };
    let mut ws = WebSocket::from_raw_socket(stream, role, Some(config));
    let mut outcomes = Vec::new();
    loop {
        let result = ws.read();
        let done = result.is_err();
        outcomes.push(outcome(result));
        if done {
            return outcomes;
        }
    }
}

/// What our stream yields from `input` fed `chunk` bytes per read.
fn our_outcomes(input: &[u8], role: Role, max: usize, chunk: usize) -> Vec<String> {
    let stream = Chunked {
        input: Cursor::new(input.to_vec()),
        chunk,
    };
    let mut ws = WsStream::new(AllowStdIo::new(stream), role, Vec::new(), &config(max));
    block_on(async {
        let mut outcomes = Vec::new();
        loop {
            match ws.next().await {
                None => {
                    outcomes.push("end".to_owned());
                    return outcomes;
                }
                Some(result) => {
                    let done = result.is_err();
                    outcomes.push(outcome(result));
                    if done {
                        return outcomes;
                    }
                }
            }
        }
    })
}

#[test]
fn every_byte_sequence_decodes_as_tungstenite_decodes_it_whatever_the_chunking() {
    // RFC 6455 5.2 (framing), 5.1 (masking), 5.4 (fragmentation), 5.5 (control frames),
    // 5.6 / 8.1 (UTF-8), 7.1.5 (close codes), 10.4 (limits).
    let close = |code: u16, reason: &[u8]| [&code.to_be_bytes()[..], reason].concat();
    let text = |s: &str| frame(0x81, s.as_bytes(), true);
    let cases: Vec<(&str, Role, Vec<u8>)> = vec![
        (
            "messages then close",
            Role::Server,
            [
                text("hi"),
                frame(0x82, &[1, 2, 3], true),
                frame(0x89, b"p", true),
                frame(0x8a, b"", true),
                text(&"x".repeat(300)),
                frame(0x88, &close(1000, b"bye"), true),
            ]
            .concat(),
        ),
        ("close without code", Role::Server, frame(0x88, b"", true)),
        (
            "close with a code a peer must not send is reported as 1002",
            Role::Server,
            frame(0x88, &close(1005, b""), true),
        ),
        ("close of one byte", Role::Server, frame(0x88, &[3], true)),
        (
            "close reason not UTF-8",
            Role::Server,
            frame(0x88, &close(1000, b"\xff"), true),
        ),
        (
            "unmasked frame from a client",
            Role::Server,
            frame(0x81, b"hi", false),
        ),
        (
            "masked frame from a server",
            Role::Client,
            frame(0x81, b"hi", true),
        ),
        (
            "server messages",
            Role::Client,
            [
                frame(0x81, b"hi", false),
                frame(0x88, &close(1001, b""), false),
            ]
            .concat(),
        ),
        ("reserved bits", Role::Server, frame(0xc1, b"hi", true)),
        ("reserved data opcode", Role::Server, frame(0x83, b"", true)),
        (
            "reserved control opcode",
            Role::Server,
            frame(0x8b, b"", true),
        ),
        (
            "control frame over 125 bytes",
            Role::Server,
            frame(0x89, &[0; 126], true),
        ),
        (
            "fragmented control frame",
            Role::Server,
            frame(0x09, b"", true),
        ),
        (
            "continuation without a start",
            Role::Server,
            frame(0x80, b"x", true),
        ),
        (
            "new message inside a fragmented one",
            Role::Server,
            [frame(0x01, b"a", true), frame(0x81, b"b", true)].concat(),
        ),
        (
            "fragments with a ping between",
            Role::Server,
            [
                frame(0x01, b"a", true),
                frame(0x89, b"", true),
                frame(0x00, b"b", true),
                frame(0x80, b"c", true),
            ]
            .concat(),
        ),
        (
            "text not UTF-8",
            Role::Server,
            frame(0x81, b"\xc3\x28", true),
        ),
        (
            "fragmented text not UTF-8 in its first fragment",
            Role::Server,
            [frame(0x01, b"\xff", true), frame(0x80, b"a", true)].concat(),
        ),
        (
            "fragmented text not UTF-8, then the end of the stream",
            Role::Server,
            [frame(0x01, b"a", true), frame(0x00, b"\xc3\x28", true)].concat(),
        ),
        (
            "fragmented text cut inside a character at its end",
            Role::Server,
            [frame(0x01, b"a", true), frame(0x80, b"\xc3", true)].concat(),
        ),
        (
            "frame over the limit",
            Role::Server,
            frame(0x82, &[0; 1001], true),
        ),
        (
            "64-bit length over the limit",
            Role::Server,
            [
                0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4,
            ]
            .to_vec(),
        ),
        (
            "fragments over the limit",
            Role::Server,
            [frame(0x02, &[0; 600], true), frame(0x80, &[0; 600], true)].concat(),
        ),
        (
            "data after close",
            Role::Client,
            [frame(0x88, b"", false), frame(0x81, b"late", false)].concat(),
        ),
        (
            "end inside a frame",
            Role::Server,
            text("truncated")[..6].to_vec(),
        ),
        ("end without close", Role::Server, text("hi")),
        (
            "exactly 125, 126, 65535 and 65536 bytes",
            Role::Server,
            [125, 126, 65535, 65536]
                .iter()
                .flat_map(|&n| frame(0x82, &vec![9; n], true))
                .collect(),
        ),
    ];
    for (name, role, input) in cases {
        let max = if name.contains("65536") {
            1 << 20
        } else {
            1000
        };
        let expected = reference_outcomes(&input, role, max);
        for chunk in [1, 2, 3, 7, 64, 1 << 20] {
            assert_eq!(
                our_outcomes(&input, role, max, chunk),
                expected,
                "{name}, read {chunk} bytes at a time"
            );
        }
    }
}

#[test]
fn a_frame_sent_with_the_request_is_refused_as_tungstenite_refuses_it() {
    // RFC 6455 4.1: a client waits for the server's answer before it sends frames. A request
    // and a frame in one write are refused by the handshake, as with tungstenite alone, so
    // the server never reads past the request and no byte can be lost.
    let (client, server) = tcp_pair();
    let peer = thread::spawn(move || {
        let mut client = client;
        let request = "GET /ocpp/CP1 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n";
        let mut bytes = request.as_bytes().to_vec();
        bytes.extend(frame(0x81, b"[2,\"1\",\"Heartbeat\",{}]", true));
        client.write_all(&bytes).unwrap();
        client
    });
    let client = peer.join().unwrap();
    let refused = block_on(ws::accept(
        AllowStdIo::new(server),
        NoCallback,
        &config(1 << 20),
    ));
    assert!(matches!(
        refused,
        Err(Error::Protocol(ProtocolError::JunkAfterRequest))
    ));
    drop(client);
}

#[test]
fn a_frame_sent_right_after_the_answer_reaches_the_server_stream() {
    let (client, server) = tcp_pair();
    let peer = thread::spawn(move || {
        let (mut ws, _) = ocpp_io::tungstenite::client("ws://localhost/ocpp/CP1", client).unwrap();
        ws.send(Message::text("first")).unwrap();
        ws.close(None).unwrap();
        while ws.read().is_ok() {}
    });
    let mut ws = block_on(ws::accept(
        AllowStdIo::new(server),
        NoCallback,
        &config(1 << 20),
    ))
    .unwrap();
    let control = block_on(async {
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("first"));
        echo(&mut ws).await
    });
    assert_eq!(control, [Message::Close(None)]);
    drop(ws);
    peer.join().unwrap();
}

#[test]
fn a_frame_sent_with_the_response_is_not_lost() {
    // A server that writes its 101 answer and its first frame in one write.
    let (client, server) = tcp_pair();
    let peer = thread::spawn(move || {
        let mut server = server;
        let mut head = Vec::new();
        let mut byte = [0; 1];
        while !head.ends_with(b"\r\n\r\n") {
            server.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let key = head
            .lines()
            .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap();
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            derive_accept_key(key.trim().as_bytes())
        );
        let mut bytes = response.into_bytes();
        bytes.extend(frame(0x81, b"welcome", false));
        server.write_all(&bytes).unwrap();
        server
    });
    let (mut ws, response) = block_on(ws::connect(
        "ws://localhost/ocpp/CP1",
        AllowStdIo::new(client),
        &config(1 << 20),
    ))
    .unwrap();
    assert_eq!(response.status(), 101);
    let server = peer.join().unwrap();
    block_on(async {
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("welcome"));
    });
    drop(server);
}
