//! Fuzzes the 1.6 Charge Point state machine with arbitrary event sequences; see
//! `ocpp_fuzz::charge_point`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocpp_fuzz::charge_point(data));
