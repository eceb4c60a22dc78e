//! Fuzzes OCPP-J frame parsing and the RPC endpoint of both versions; see `ocpp_fuzz::frame`.
//! Also holds `Frame::parse`'s fast path for plain frames to the reference path: whichever
//! reads a text, the frame or the error is the same.
#![no_main]

use ocpp_core::rpc::Frame;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ocpp_fuzz::frame(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let reference = Frame::parse_tree(text);
        assert_eq!(Frame::parse(text), reference, "parse differs on {text:?}");
        if let Some(frame) = Frame::parse_plain(text) {
            assert_eq!(Ok(frame), reference, "the fast path misread {text:?}");
        }
    }
});
