//! Fuzzes the 1.6 Central System state machine with arbitrary event sequences; see
//! `ocpp_fuzz::central_system`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocpp_fuzz::central_system(data));
