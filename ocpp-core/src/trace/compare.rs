//! What "the same output" means in a replay: JSON compared structurally, message ids of our
//! own calls matched by order of first appearance, date-times matched as date-times.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::format::{Bytes, OutputLine};
use crate::primitives::datetime;

/// The pairing of message ids between a recorded run and its replay.
///
/// A machine draws the ids of its own CALLs from its generator: UUIDs when recorded live, a
/// counter in the replay. The first CALL id of the trace is paired with the first of the
/// replay, and so on; a paired id must stay paired (a CALL that reuses an id in one run but
/// not in the other is a difference). The peer's ids are not drawn by the machine and are
/// compared as they are. Received answers to our CALLs are fed with the replay's id.
#[derive(Debug, Default, Clone)]
pub struct Ids {
    recorded_to_actual: BTreeMap<String, String>,
    actual: BTreeSet<String>,
}

impl Ids {
    /// The replay's id for a recorded id of ours, or the id itself for any other.
    pub fn actual<'a>(&'a self, recorded: &'a str) -> &'a str {
        self.recorded_to_actual
            .get(recorded)
            .map_or(recorded, String::as_str)
    }

    /// Pairs the ids of a CALL we sent; `false` if either is paired with another already.
    fn pair(&mut self, recorded: &str, actual: &str) -> bool {
        match self.recorded_to_actual.get(recorded) {
            Some(paired) => paired == actual,
            None if self.actual.contains(actual) => false,
            None => {
                self.recorded_to_actual
                    .insert(recorded.to_owned(), actual.to_owned());
                self.actual.insert(actual.to_owned());
                true
            }
        }
    }

    /// A received frame as the replayed machine must get it: an answer to one of our CALLs
    /// carries the replay's id. Only the id is replaced, so the text is otherwise exact.
    pub fn map_received(&self, text: &str) -> String {
        let Ok(Value::Array(frame)) = serde_json::from_str::<Value>(text) else {
            return text.to_owned();
        };
        let answer = matches!(frame.first().and_then(Value::as_u64), Some(3 | 4));
        let Some(id) = frame.get(1).and_then(Value::as_str).filter(|_| answer) else {
            return text.to_owned();
        };
        match self.recorded_to_actual.get(id) {
            Some(actual) => {
                let quoted = Value::from(id).to_string();
                text.replacen(&quoted, &Value::from(actual.as_str()).to_string(), 1)
            }
            None => text.to_owned(),
        }
    }

    /// Whether a recorded output and an actual one are the same (see the module docs).
    pub fn same_output(&mut self, expected: &OutputLine, actual: &OutputLine) -> bool {
        match (expected, actual) {
            (
                OutputLine::Transmit {
                    frame: Some(expected),
                    ..
                },
                OutputLine::Transmit {
                    frame: Some(actual),
                    ..
                },
            ) => self.same_frame(expected, actual),
            (
                OutputLine::Persist {
                    op,
                    collection,
                    key,
                    value,
                },
                OutputLine::Persist {
                    op: actual_op,
                    collection: actual_collection,
                    key: actual_key,
                    value: actual_value,
                },
            ) => {
                op == actual_op
                    && collection == actual_collection
                    && key == actual_key
                    && match (value, actual_value) {
                        (Some(Bytes::Text(a)), Some(Bytes::Text(b))) => same_text(a, b),
                        (a, b) => a == b,
                    }
            }
            (OutputLine::Event { event, .. }, OutputLine::Event { event: actual, .. }) => {
                event == actual
            }
            (expected, actual) => expected == actual,
        }
    }

    fn same_frame(&mut self, expected: &Value, actual: &Value) -> bool {
        let (Value::Array(expected), Value::Array(actual)) = (expected, actual) else {
            return json_eq(expected, actual);
        };
        let kind = expected.first().and_then(Value::as_u64);
        if expected.len() != actual.len() || kind != actual.first().and_then(Value::as_u64) {
            return false;
        }
        let ids = match (
            expected.get(1).and_then(Value::as_str),
            actual.get(1).and_then(Value::as_str),
        ) {
            (Some(recorded), Some(replayed)) => match kind {
                Some(2) => self.pair(recorded, replayed),
                _ => self.actual(recorded) == replayed,
            },
            _ => expected.get(1) == actual.get(1),
        };
        ids && expected
            .iter()
            .zip(actual)
            .enumerate()
            .all(|(i, (a, b))| i == 1 || json_eq(a, b))
    }
}

/// Stored values: JSON compared structurally, other text exactly.
fn same_text(expected: &str, actual: &str) -> bool {
    match (
        serde_json::from_str::<Value>(expected),
        serde_json::from_str::<Value>(actual),
    ) {
        (Ok(a), Ok(b)) => json_eq(&a, &b),
        _ => expected == actual,
    }
}

/// JSON equality in which any two RFC 3339 date-time strings are equal.
pub fn json_eq(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(a), Value::String(b)) => {
            a == b || (datetime::parse(a).is_ok() && datetime::parse(b).is_ok())
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, a)| b.get(key).is_some_and(|b| json_eq(a, b)))
        }
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn transmit(frame: Value) -> OutputLine {
        OutputLine::Transmit {
            frame: Some(frame),
            text: None,
        }
    }

    #[test]
    fn our_call_ids_pair_by_first_appearance_and_stay_paired() {
        let mut ids = Ids::default();
        let sent = |id: &str| transmit(json!([2, id, "Heartbeat", {}]));
        assert!(ids.same_output(&sent("uuid-a"), &sent("1")));
        assert!(ids.same_output(&sent("uuid-b"), &sent("2")));
        // The same recorded id again must be the same replayed id.
        assert!(!ids.same_output(&sent("uuid-a"), &sent("3")));
        // A replayed id paired already cannot pair with another recorded one.
        assert!(!ids.same_output(&sent("uuid-c"), &sent("1")));
        assert_eq!(
            ids.map_received(r#"[3, "uuid-b", {"currentTime":"uuid-b"}]"#),
            r#"[3, "2", {"currentTime":"uuid-b"}]"#
        );
        assert_eq!(
            ids.map_received(r#"[2,"uuid-b","X",{}]"#),
            r#"[2,"uuid-b","X",{}]"#
        );
        // Answers to the peer carry the peer's id, unchanged.
        let answer = |id: &str| transmit(json!([3, id, {}]));
        assert!(ids.same_output(&answer("peer-7"), &answer("peer-7")));
        assert!(!ids.same_output(&answer("peer-7"), &answer("peer-8")));
    }

    #[test]
    fn date_times_compare_as_date_times_and_the_rest_structurally() {
        assert!(json_eq(
            &json!({"a": "2026-01-01T00:00:00Z", "b": [1, "x"]}),
            &json!({"b": [1, "x"], "a": "2030-05-05T10:00:00.123Z"})
        ));
        assert!(!json_eq(
            &json!({"a": "2026-01-01T00:00:00Z"}),
            &json!({"a": "soon"})
        ));
        assert!(!json_eq(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(same_text(
            r#"{"v":1,"at":"2026-01-01T00:00:00Z"}"#,
            r#"{"at":"2027-01-01T00:00:00Z","v":1}"#
        ));
        assert!(!same_text("300", "301"));
    }
}
