//! The sans-IO core of an OCPP stack: typed messages of OCPP 1.6J and 2.0.1, JSON schema
//! validation, and the OCPP-J RPC layer.
//!
//! Nothing in this crate reads a clock, draws a random number, sleeps, spawns or touches a
//! socket or a file. Callers pass the current time in and get frames, records, events and the
//! next deadline out; the adapter crates (`ocpp-io-tokio`, `ocpp-io-smol`) bind that to a
//! network. `clippy.toml` in this crate enforces the rule.
#![forbid(unsafe_code)]

pub mod central_system;
pub mod charge_point;
pub mod error_code;
pub mod machine;
pub mod message;
pub mod persist;
pub mod pnc;
pub mod primitives;
pub mod rpc;
pub mod schemas;
pub mod time;
pub mod trace;
pub mod v16;
pub mod v201;
pub mod validate;
mod version;

pub use error_code::ErrorCode;
pub use message::{OcppAction, OcppRequest, OcppResponse};
pub use primitives::Decimal;
pub use schemas::PayloadKind;
pub use validate::{ValidationError, Violation, ViolationKind};
pub use version::{UnknownVersion, Version};
