//! Conformance tooling: the trace format, recorder and replayer, recorded traces of real
//! third-party peers, and scenario tests keyed by OCTT test case ids.
//!
//! The library holds no code yet (the trace format and replayer will live here); the tests of
//! this crate run the stack across crates: the fuzz corpus, end-to-end sessions over real
//! WebSockets, 1,000 concurrent connections and the SIGKILL crash test. The OCTT coverage
//! table is in `conformance/README.md`.
#![forbid(unsafe_code)]
