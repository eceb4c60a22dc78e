//! WebSocket transport for the `ocpp-core` state machines on smol (and async-std).
//!
//! The counterpart of `ocpp-io-tokio` on futures-io, async-tungstenite and futures-rustls,
//! driven by the same runtime-neutral loop. It holds nothing yet: the adapters arrive with the
//! Central System role.
#![forbid(unsafe_code)]
