//! Fuzzes schema validation and typed decoding of every action; see `ocpp_fuzz::payload`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocpp_fuzz::payload(data));
