//! The OCPP 1.6 Charge Point role.
//!
//! This module will hold the sans-IO state machine of a 1.6 Charge Point: boot, heartbeats,
//! transactions and their durable queue, authorization, meter values, smart charging, driven by
//! the caller with `handle_*` inputs and drained with `poll_*` (see the crate docs). Its first
//! part is the one every other part reads: [`config`], the registry of configuration keys that
//! the Central System reads with GetConfiguration and writes with ChangeConfiguration.

pub mod config;
