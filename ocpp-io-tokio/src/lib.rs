//! WebSocket transport for the `ocpp-core` state machines on the tokio runtime.
//!
//! `ocpp-core` is sans-IO: it consumes frames and timer events and produces frames, records
//! and events. This crate will carry those over async-tungstenite and tokio-rustls, as client
//! (charge point) and server (central system), sharing one runtime-neutral driver loop with
//! `ocpp-io-smol`. It holds nothing yet: the adapters arrive with the Central System role.
#![forbid(unsafe_code)]
