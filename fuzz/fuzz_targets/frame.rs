//! Fuzzes OCPP-J frame parsing and the RPC endpoint of both versions; see `ocpp_fuzz::frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocpp_fuzz::frame(data));
