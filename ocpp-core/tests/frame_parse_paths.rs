//! `Frame::parse` reads the plain form of a frame directly (`Frame::parse_plain`) and leaves
//! every other text to the reference path (`Frame::parse_tree`: the whole text as one JSON
//! tree). Which path reads a text must never show: the same frame is accepted, and the same
//! error (kind, message type, id) decides the answer (OCPP-J 1.6 sections 4.1.3 and 4.2,
//! 2.0.1 part 4 sections 4.2 and 4.4). These tests compare the two paths on tricky texts, on
//! every combination of a grammar of envelope pieces and on random mutations of them.

use ocpp_core::rpc::Frame;
use proptest::prelude::*;

/// Both paths agree on `text`; whether the fast path read it.
fn agree(text: &str) -> bool {
    let reference = Frame::parse_tree(text);
    assert_eq!(
        Frame::parse(text),
        reference,
        "parse and parse_tree differ on {text:?}"
    );
    match Frame::parse_plain(text) {
        Some(frame) => {
            assert_eq!(
                Ok(&frame),
                reference.as_ref(),
                "the fast path misread {text:?}"
            );
            true
        }
        None => false,
    }
}

/// A payload nested `depth` arrays deep inside an object.
fn nested(depth: usize) -> String {
    format!(r#"{{"a":{}{}}}"#, "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn the_paths_agree_on_tricky_texts_and_plain_frames_take_the_fast_path() {
    let plain = [
        r#"[2,"1","Heartbeat",{}]"#,
        r#"[2,"19223201","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"M"}]"#,
        " \t\r\n[ 2 , \"1\" , \"Heartbeat\" , { } ] \n",
        r#"[2,"1","Heartbeat",null]"#,
        r#"[2,"","",{}]"#,
        r#"[2,"1","Heartbeat",{"a":"\"]\\","b":[1,2.5e3,-0.0,{"c":null}]}]"#,
        r#"[2,"1","Heartbeat",{"a":1,"a":2}]"#,
        r#"[2,"123456789012345678901234567890123456","Heartbeat",{}]"#,
        r#"[2,"1","Heart beat ]",{}]"#,
        r#"[3,"1",{"currentTime":"2024-01-01T00:00:00Z"}]"#,
        r#"[3,"1",null]"#,
        r#"[3 ,"1",{}]"#,
        r#"[4,"1","NotSupported","SendLocalList.req not implemented",{}]"#,
        r#"[4,"1","GenericError","",null]"#,
        r#"[4,"1","x","y",{"z":[]}]"#,
    ];
    for text in plain {
        assert!(agree(text), "the fast path did not read {text:?}");
    }
    // 36 characters of two bytes each are still 36 characters (1.6 section 4.1.4).
    assert!(agree(&format!(
        r#"[2,"{}","Heartbeat",{{}}]"#,
        "é".repeat(36)
    )));
    assert!(!agree(&format!(
        r#"[2,"{}","Heartbeat",{{}}]"#,
        "é".repeat(37)
    )));
    let depth_ok = format!(r#"[2,"1","DataTransfer",{}]"#, nested(100));
    assert!(agree(&depth_ok));
    let other = [
        "",
        " ",
        "[",
        "]",
        "[]",
        "{}",
        "null",
        "\u{feff}[2,\"1\",\"Heartbeat\",{}]",
        "[2,\"1\",\"Heartbeat\",{}]\u{a0}",
        "[2,\"1\",\"Heartbeat\",{}]\u{2028}",
        "[2,\"1\",\"Heartbeat\",{}] x",
        r#"[2,"1","Heartbeat",{}]]"#,
        r#"[2,"1","Heartbeat",{}],"#,
        r#"[2,"1","Heartbeat",{},]"#,
        r#"[2,"1","Heartbeat",]"#,
        r#"[2,"1","Heartbeat"]"#,
        r#"[2,"1","Heartbeat",{},{}]"#,
        r#"[2,"1","Heartbeat",{} {}]"#,
        r#"[2,"1","Heartbeat",[]]"#,
        r#"[2,"1","Heartbeat",[{}]]"#,
        r#"[2,"1","Heartbeat","{}"]"#,
        r#"[2,"1","Heartbeat",5]"#,
        r#"[2,"1","Heartbeat",true]"#,
        r#"[2,"1","Heartbeat",{"a":}]"#,
        r#"[2,"1","Heartbeat",{"a":1]"#,
        r#"[2,"1","Heartbeat",{}"#,
        r#"[2.0,"1","Heartbeat",{}]"#,
        r#"[2e0,"1","Heartbeat",{}]"#,
        r#"[2E0,"1","Heartbeat",{}]"#,
        r#"[02,"1","Heartbeat",{}]"#,
        r#"[22,"1","Heartbeat",{}]"#,
        r#"[-2,"1","Heartbeat",{}]"#,
        r#"["2","1","Heartbeat",{}]"#,
        r#"[1,"1","Heartbeat",{}]"#,
        r#"[5,"1",{}]"#,
        r#"[2 2,"1","Heartbeat",{}]"#,
        r#"[2,1,"Heartbeat",{}]"#,
        r#"[2,null,"Heartbeat",{}]"#,
        r#"[2,"1",5,{}]"#,
        r#"[2,"a\"b","Heartbeat",{}]"#,
        r#"[2,"a\u0041","Heartbeat",{}]"#,
        r#"[2,"1","Heart\u0062eat",{}]"#,
        "[2,\"a\tb\",\"Heartbeat\",{}]",
        "[2,\"a\u{1}b\",\"Heartbeat\",{}]",
        r#"[2,"1234567890123456789012345678901234567","Heartbeat",{}]"#,
        r#"[2,"1","Heartbeat",{"a":"\x"}]"#,
        r#"[2,"1","Heartbeat",{"a":01}]"#,
        r#"[2,"1","Heartbeat",{"a":1e999}]"#,
        r#"[3,"1"]"#,
        r#"[3,"1",{},{}]"#,
        r#"[3,"1","x"]"#,
        r#"[3,"1",[]]"#,
        r#"[4,"1","GenericError",{}]"#,
        r#"[4,"1",1,"",{}]"#,
        r#"[4,"1","GenericError",1,{}]"#,
        r#"[4,"1","GenericError","",5]"#,
        r#"[4,"1","GenericError","a\nb",{}]"#,
        r#"[4,"1","GenericError","",{},{}]"#,
        r#"[2 "1","Heartbeat",{}]"#,
        r#"[2,"1" "Heartbeat",{}]"#,
        r#"[2,"1","Heartbeat" {}]"#,
        r#"[2,"1,"Heartbeat",{}]"#,
    ];
    for text in other {
        assert!(!agree(text), "the fast path read {text:?}");
    }
    // serde_json allows 127 levels of nesting; the frame's array is one of them, so the
    // payload's depth decides between an accepted frame and NotJson right at the limit.
    for depth in 115..=130 {
        agree(&format!(r#"[2,"1","DataTransfer",{}]"#, nested(depth)));
        agree(&format!(r#"[3,"1",{}]"#, nested(depth)));
    }
}

/// Pieces of a frame; a text is one choice of each, so every combination is a test case.
const OPENINGS: &[&str] = &["[", " \n[\t", "{", ""];
const NUMBERS: &[&str] = &["2", "3", "4", "2.0", "3e0", "22", "\"4\"", "1", ""];
const STRINGS: &[&str] = &[
    r#""1""#,
    r#""""#,
    r#""a\"b""#,
    r#""a\\""#,
    r#""ünïcødé""#,
    "\"a\tb\"",
    r#""1234567890123456789012345678901234567""#,
    "7",
];
const PAYLOADS: &[&str] = &[
    "{}",
    "null",
    " { \"a\" : [1, {\"b\": \"]\"}] } ",
    "[]",
    "\"x\"",
    "1.5",
    "{\"a\":}",
    "{} {}",
    "{},{}",
    "",
];
const CLOSINGS: &[&str] = &["]", " ] \n", "]]", "] x", "", "]\u{a0}"];

/// Every text of `[number, string, (string, (string,)) payload]` built from the pieces, for
/// each arity from 1 to 5 elements.
fn grammar() -> Vec<String> {
    let mut texts = Vec::new();
    for open in OPENINGS {
        for number in NUMBERS {
            for close in CLOSINGS {
                texts.push(format!("{open}{number}{close}"));
                for id in STRINGS {
                    texts.push(format!("{open}{number},{id}{close}"));
                    for payload in PAYLOADS {
                        texts.push(format!("{open}{number},{id},{payload}{close}"));
                    }
                    for middle in STRINGS {
                        for payload in PAYLOADS {
                            texts.push(format!("{open}{number},{id},{middle},{payload}{close}"));
                        }
                    }
                }
            }
        }
    }
    // Five elements only with well-formed ends, or the count explodes.
    for number in NUMBERS {
        for id in STRINGS {
            for code in STRINGS {
                for description in STRINGS {
                    for payload in PAYLOADS {
                        texts.push(format!("[{number},{id},{code},{description},{payload}]"));
                    }
                }
            }
        }
    }
    texts
}

#[test]
fn the_paths_agree_on_every_text_of_a_grammar_of_frame_pieces() {
    let texts = grammar();
    let fast = texts.iter().filter(|text| agree(text)).count();
    // Both paths are exercised, each many times.
    assert!(
        fast > 250,
        "{fast} of {} texts took the fast path",
        texts.len()
    );
    assert!(texts.len() - fast > 10_000);
}

/// A text of the grammar, changed at one place by one of the characters that matter to the
/// scanner.
fn mutated() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(grammar());
    let inserts = prop::sample::select(vec![
        "", " ", "\"", "\\", ",", "[", "]", "{", "}", "2", ".", "e", "\u{1}", "\u{a0}", "é", "null",
    ]);
    (pieces, any::<prop::sample::Index>(), 0..3usize, inserts).prop_map(
        |(text, at, delete, insert)| {
            let boundaries: Vec<usize> = text
                .char_indices()
                .map(|(i, _)| i)
                .chain([text.len()])
                .collect();
            let start = boundaries[at.index(boundaries.len())];
            let end = boundaries
                .iter()
                .copied()
                .find(|b| *b >= start)
                .and_then(|first| {
                    let index = boundaries.iter().position(|b| *b == first)?;
                    boundaries.get(index + delete).copied()
                })
                .unwrap_or(text.len());
            format!("{}{insert}{}", &text[..start], &text[end..])
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn the_paths_agree_on_mutated_frames(text in mutated()) {
        agree(&text);
    }

    #[test]
    fn the_paths_agree_on_arbitrary_text(text in "\\PC{0,40}") {
        agree(&text);
    }
}
