//! Durable storage for the records that the `ocpp-core` state machines emit.
//!
//! The role state machines in `ocpp-core` never touch a file: they emit `Persist` records
//! (queued transaction messages, connector states, authorization cache, local list,
//! configuration) and expect them to be committed before the frames of the same input are
//! sent. This crate will apply those records to a redb file in one write transaction per
//! input and load them back at start-up. It holds nothing yet: the records arrive with the
//! Charge Point role.
#![forbid(unsafe_code)]
