//! Fuzzes the WebSocket decoder, raw bytes and valid frames in any chunking; see
//! `ocpp_fuzz::ws`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocpp_fuzz::ws(data));
