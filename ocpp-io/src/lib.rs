//! The runtime-neutral driver that runs `ocpp-core` state machines over WebSocket.
//!
//! `ocpp-core` is sans-IO: a [`Machine`](ocpp_core::machine::Machine) consumes WebSocket text,
//! timer expiries and application commands, and produces frames to send, records to persist,
//! events and the next deadline. Something has to carry those to and from a socket. This crate
//! is that something, written **once**, on `futures` traits, so that the tokio adapter
//! (`ocpp-io-tokio`) and the smol / async-std adapter (`ocpp-io-smol`) share every line of it
//! and only supply what differs between runtimes: sockets, timers, spawning and the TLS
//! handshake (the [`Runtime`] trait, the client's [`client::Connector`] and the server's
//! [`server::TlsAcceptor`]).
//!
//! - [`driver`]: the loop over one connection ([`Driver`]): reads messages, runs commands,
//!   fires the machine's deadline, sends keep-alive pings, and applies outputs with every
//!   [`StoreOp`](ocpp_core::persist::StoreOp) of an input persisted **before** any frame of
//!   that input is sent.
//! - [`client`]: connect to `<url>/<charge point id>` offering OCPP subprotocols, and
//!   reconnect with back-off and jitter, keeping the same machine.
//! - [`server`]: accept connections, take the charge point id from the path, negotiate the
//!   subprotocol, build a machine per connection, handle duplicate ids, shut down gracefully.
//! - [`security`]: OCPP security profiles 1 to 3 (HTTP Basic authentication, TLS, client
//!   certificates): the client's and the server's settings, the rustls configurations built
//!   from them, and what is checked where. The adapters only run the TLS handshakes.
//! - [`persist`]: the [`Persister`] the driver hands its batches to.
//! - [`handler`]: events delivered to an [`EventHandler`] instead of read from the stream.
//! - [`awaiting`]: commands awaited for their typed outcome (`handle.call(request).await`,
//!   `handle.authorize(id_tag).await`) through the [`Awaiting`] machine wrapper.
//! - [`ws`]: the WebSocket message stream a connection runs on after tungstenite's opening
//!   handshake ([`WsStream`]), which holds no buffer while the connection is idle.
//! - [`trace`]: the file a recorded connection's trace goes to (the recorder is
//!   `ocpp_core::trace::Recorder`, a machine wrapper, so both adapters run it unchanged).
//!
//! Applications normally use it through an adapter crate, which re-exports what they need.
//!
//! # Persisting before transmitting
//!
//! A machine whose outputs must survive a crash hands the driver a persister:
//!
//! ```
//! use ocpp_core::persist::{Snapshot, StoreOp};
//! use ocpp_io::{PersistError, Persister};
//!
//! /// Keeps the records in memory (a real one commits a store transaction).
//! struct InMemory(Snapshot);
//!
//! impl Persister for InMemory {
//!     fn persist(&mut self, ops: &[StoreOp]) -> Result<(), PersistError> {
//!         self.0.apply(ops);
//!         Ok(())
//!     }
//! }
//!
//! let mut store = InMemory(Snapshot::new());
//! store.persist(&[StoreOp::Put { collection: "queue", key: "0001".into(), value: b"x".to_vec() }])
//!     .unwrap();
//! assert_eq!(store.0.get("queue", "0001"), Some(&b"x"[..]));
//! ```
//!
//! The driver calls it with every op of one input, once, and sends the frames of that input
//! only after it returned `Ok`.
#![forbid(unsafe_code)]

pub mod awaiting;
pub mod client;
pub mod driver;
pub mod handler;
pub mod persist;
pub mod runtime;
pub mod security;
pub mod server;
pub mod trace;
pub mod ws;

pub use async_tungstenite::tungstenite;
pub use awaiting::{
    Authorization, AwaitError, Awaiting, CentralSystemCommands, ChargePointCommands,
};
pub use client::{Backoff, Client, ClientConfig, ClientStream, ConnectError, Connector};
pub use driver::{Command, Disconnect, Driver, DriverConfig, Event, Events, Gone, Handle};
pub use handler::EventHandler;
pub use persist::{NoPersist, PersistError, Persister};
pub use runtime::Runtime;
pub use rustls;
pub use security::{
    Authenticator, BasicAuthPassword, ClientSecurity, Credentials, SecurityProfile, ServerSecurity,
    TlsInfo, Verdict,
};
pub use server::{
    Connection, ConnectionInfo, Connections, DuplicateId, Server, ServerConfig, TlsAcceptor,
};
pub use ws::WsStream;
