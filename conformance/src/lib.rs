//! Conformance tooling: the trace format, recorder and replayer, recorded traces of real
//! third-party peers, and scenario tests keyed by OCTT test case ids.
//!
//! It holds nothing yet; the OCTT coverage table is in `conformance/README.md`.
#![forbid(unsafe_code)]
