//! The lines of a trace: their Rust types, how they are written and read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::machine::{Close, Output};
use crate::persist::{Snapshot, StoreOp};

/// The `format` member of every trace header.
pub const FORMAT: &str = "ocpp-trace";

/// The version of the trace format this build writes and reads. A change that an older
/// reader would misread gets a new number; readers refuse versions they do not know.
pub const VERSION: u32 = 1;

/// Which role machine a trace is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The OCPP 1.6 Charge Point (`ocpp_core::charge_point::ChargePoint`).
    ChargePoint,
    /// The OCPP 1.6 Central System of one connection
    /// (`ocpp_core::central_system::CentralSystem`).
    CentralSystem,
}

/// The instant of the first input: `t` of every line counts milliseconds from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The machine's monotonic clock at the first input, in whole milliseconds.
    pub monotonic_ms: u64,
    /// The wall clock at the first input (whole milliseconds); the wall clock of a line is
    /// this plus its `t`.
    #[serde(with = "crate::primitives::datetime")]
    pub wall: OffsetDateTime,
}

/// The first line of a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format version, [`VERSION`] when written by this build.
    pub version: u32,
    /// The role.
    pub role: Role,
    /// The OCPP version spoken, `1.6`.
    pub ocpp: String,
    /// When the trace starts.
    pub origin: Origin,
    /// The role's setup ([`super::Traced::Setup`]).
    pub setup: Value,
}

/// One input of the machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "in", rename_all = "snake_case")]
pub enum Input {
    /// The WebSocket connection opened.
    Connected,
    /// The WebSocket connection closed.
    Disconnected,
    /// One WebSocket text message from the peer, exactly as received: as JSON (`frame`)
    /// when writing that JSON compactly gives the very text back, as `text` otherwise.
    Message {
        /// The frame, when it is compact JSON.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frame: Option<Value>,
        /// The text, when it is not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// The machine's deadline came.
    Timeout,
    /// An application command ([`super::Traced::Command`]).
    Command {
        /// The command.
        command: Value,
    },
}

impl Input {
    /// The input of a received message; see [`Input::Message`].
    pub fn message(text: &str) -> Input {
        match serde_json::from_str::<Value>(text) {
            Ok(frame) if serde_json::to_string(&frame).is_ok_and(|compact| compact == text) => {
                Input::Message {
                    frame: Some(frame),
                    text: None,
                }
            }
            _ => Input::Message {
                frame: None,
                text: Some(text.to_owned()),
            },
        }
    }

    /// The text of a message input, exactly as it was received.
    pub fn message_text(&self) -> Option<String> {
        match self {
            Input::Message {
                text: Some(text), ..
            } => Some(text.clone()),
            Input::Message {
                frame: Some(frame), ..
            } => Some(frame.to_string()),
            _ => None,
        }
    }
}

/// Bytes of the store: text when they are UTF-8, hex otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Bytes {
    /// UTF-8 bytes as text.
    Text(String),
    /// Other bytes, hex encoded.
    Hex {
        /// Lowercase hex digits, two per byte.
        hex: String,
    },
}

impl Bytes {
    /// The representation of `bytes`.
    pub fn of(bytes: &[u8]) -> Bytes {
        match std::str::from_utf8(bytes) {
            Ok(text) => Bytes::Text(text.to_owned()),
            Err(_) => Bytes::Hex {
                hex: bytes.iter().map(|b| format!("{b:02x}")).collect(),
            },
        }
    }

    /// The bytes, or why the hex is not hex.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        match self {
            Bytes::Text(text) => Ok(text.as_bytes().to_vec()),
            Bytes::Hex { hex } => {
                if !hex.len().is_multiple_of(2) {
                    return Err("odd number of hex digits".to_owned());
                }
                (0..hex.len())
                    .step_by(2)
                    .map(|i| {
                        hex.get(i..i + 2)
                            .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                            .ok_or_else(|| format!("not hex: {hex:?}"))
                    })
                    .collect()
            }
        }
    }
}

/// A store [`Snapshot`] as a trace header carries it: collection -> key -> value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSnapshot(pub BTreeMap<String, BTreeMap<String, Bytes>>);

impl StoredSnapshot {
    /// The records of `snapshot`.
    pub fn of(snapshot: &Snapshot) -> StoredSnapshot {
        let mut collections = BTreeMap::new();
        for name in snapshot.collections() {
            let records = snapshot
                .records(name)
                .map(|(key, value)| (key.to_owned(), Bytes::of(value)))
                .collect();
            collections.insert(name.to_owned(), records);
        }
        StoredSnapshot(collections)
    }

    /// The snapshot, or why a value does not decode.
    pub fn to_snapshot(&self) -> Result<Snapshot, String> {
        let mut snapshot = Snapshot::new();
        for (collection, records) in &self.0 {
            for (key, value) in records {
                let bytes = value
                    .to_bytes()
                    .map_err(|e| format!("snapshot record {collection}/{key}: {e}"))?;
                snapshot.insert(collection, key.clone(), bytes);
            }
        }
        Ok(snapshot)
    }
}

/// The kind of a store op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// [`StoreOp::Put`].
    Put,
    /// [`StoreOp::Delete`].
    Delete,
    /// [`StoreOp::Clear`].
    Clear,
}

/// One output of the machine, in the order it came.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "out", rename_all = "snake_case")]
pub enum OutputLine {
    /// A WebSocket text message to the peer: the frame as JSON, or as `text` if it is not
    /// JSON.
    Transmit {
        /// The frame.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frame: Option<Value>,
        /// The text, when it is not JSON.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// A store op.
    Persist {
        /// Put, delete or clear.
        op: OpKind,
        /// The collection.
        collection: String,
        /// The key (put and delete).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// The value (put).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<Bytes>,
    },
    /// An event for the application: its variant name (compared) and its `Debug` form (for
    /// the reader, not compared).
    Event {
        /// The variant name.
        event: String,
        /// The whole event, `Debug` formatted.
        debug: String,
    },
    /// The machine asked to close the connection.
    Close {
        /// The WebSocket close code.
        code: u16,
        /// The reason.
        reason: String,
    },
    /// What the command of this step returned, `Debug` formatted.
    Result {
        /// The result.
        result: String,
    },
}

impl OutputLine {
    /// The line of one machine output.
    pub fn of<E: std::fmt::Debug>(output: &Output<E>) -> OutputLine {
        match output {
            Output::Transmit(text) => match serde_json::from_str::<Value>(text) {
                Ok(frame) => OutputLine::Transmit {
                    frame: Some(frame),
                    text: None,
                },
                Err(_) => OutputLine::Transmit {
                    frame: None,
                    text: Some(text.clone()),
                },
            },
            Output::Persist(op) => match op {
                StoreOp::Put {
                    collection,
                    key,
                    value,
                } => OutputLine::Persist {
                    op: OpKind::Put,
                    collection: (*collection).to_owned(),
                    key: Some(key.clone()),
                    value: Some(Bytes::of(value)),
                },
                StoreOp::Delete { collection, key } => OutputLine::Persist {
                    op: OpKind::Delete,
                    collection: (*collection).to_owned(),
                    key: Some(key.clone()),
                    value: None,
                },
                StoreOp::Clear { collection } => OutputLine::Persist {
                    op: OpKind::Clear,
                    collection: (*collection).to_owned(),
                    key: None,
                    value: None,
                },
            },
            Output::Event(event) => {
                let debug = format!("{event:?}");
                OutputLine::Event {
                    event: variant_name(&debug).to_owned(),
                    debug,
                }
            }
            Output::Close(Close { code, reason }) => OutputLine::Close {
                code: *code,
                reason: reason.clone(),
            },
        }
    }
}

/// The leading identifier of a `Debug` rendering: an enum's variant name.
fn variant_name(debug: &str) -> &str {
    let end = debug
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(debug.len());
    &debug[..end]
}

/// One line after the header.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// An input at `t` ms.
    In {
        /// Milliseconds since the origin.
        t: u64,
        /// The input.
        input: Input,
    },
    /// An output of the last input.
    Out {
        /// Milliseconds since the origin (that of its input).
        t: u64,
        /// The output.
        output: OutputLine,
    },
}

impl Line {
    /// The line as one line of JSON, `t` first, then the kind (`in` / `out`).
    pub fn to_json(&self) -> String {
        // Serialised straight to text, which keeps the members in declaration order (a
        // `Value` would sort them). Both are plain data: serialising cannot fail.
        let (t, body) = match self {
            Line::In { t, input } => (t, serde_json::to_string(input)),
            Line::Out { t, output } => (t, serde_json::to_string(output)),
        };
        let body = body.unwrap_or_default();
        match body.strip_prefix('{') {
            Some(members) => format!("{{\"t\":{t},{members}"),
            None => format!("{{\"t\":{t}}}"),
        }
    }
}

/// Why a trace cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct TraceError {
    /// The line number, from 1.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Reads one line after the header.
pub fn parse_line(text: &str) -> Result<Line, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(mut members) = value else {
        return Err("not a JSON object".to_owned());
    };
    let t = members
        .remove("t")
        .and_then(|t| t.as_u64())
        .ok_or("no time offset (\"t\", whole milliseconds)")?;
    if members.contains_key("in") {
        let input = serde_json::from_value(Value::Object(members))
            .map_err(|e| format!("not an input line: {e}"))?;
        Ok(Line::In { t, input })
    } else if members.contains_key("out") {
        let output = serde_json::from_value(Value::Object(members))
            .map_err(|e| format!("not an output line: {e}"))?;
        Ok(Line::Out { t, output })
    } else {
        Err("neither an input (\"in\") nor an output (\"out\") line".to_owned())
    }
}

impl Header {
    /// Reads and checks a header line: the format, a version this build reads, OCPP 1.6.
    pub fn parse(text: &str) -> Result<Header, String> {
        if text.trim().is_empty() {
            return Err(
                "no header: the trace is empty (a recording ends before its first input \
                        when nothing happened)"
                    .to_owned(),
            );
        }
        let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(format!("not a trace header (\"format\": \"{FORMAT}\")"));
        }
        if let Some(version) = value.get("version").and_then(Value::as_u64)
            && version != u64::from(VERSION)
        {
            return Err(format!(
                "trace format version {version} is not supported (this build reads {VERSION})"
            ));
        }
        let header: Header =
            serde_json::from_value(value).map_err(|e| format!("invalid header: {e}"))?;
        if header.ocpp != "1.6" {
            return Err(format!("OCPP {} traces are not supported", header.ocpp));
        }
        Ok(header)
    }

    /// The header as one line of JSON.
    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and a JSON value: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_start_with_their_time() {
        let lines = [
            Line::In {
                t: 5,
                input: Input::message(r#"[2,"a","Heartbeat",{}]"#),
            },
            Line::In {
                t: 5,
                input: Input::message(r#"[2, "a", "Heartbeat", {}]"#),
            },
            Line::Out {
                t: 5,
                output: OutputLine::Persist {
                    op: OpKind::Put,
                    collection: "c".into(),
                    key: Some("k".into()),
                    value: Some(Bytes::of(&[0xff, 0x01])),
                },
            },
        ];
        for line in lines {
            let json = line.to_json();
            assert!(json.starts_with(r#"{"t":5,"#), "{json}");
            assert_eq!(parse_line(&json).unwrap(), line);
        }
        assert!(parse_line(r#"{"t":1}"#).unwrap_err().contains("neither"));
        assert!(
            parse_line(r#"{"in":"timeout"}"#)
                .unwrap_err()
                .contains("\"t\"")
        );
    }

    #[test]
    fn snapshots_keep_binary_values() {
        let mut snapshot = Snapshot::new();
        snapshot.insert("a", "1".into(), b"text".to_vec());
        snapshot.insert("a", "2".into(), vec![0, 159, 255]);
        let stored = StoredSnapshot::of(&snapshot);
        let json = serde_json::to_string(&stored).unwrap();
        assert_eq!(json, r#"{"a":{"1":"text","2":{"hex":"009fff"}}}"#);
        let back: StoredSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_snapshot().unwrap(), snapshot);
    }

    #[test]
    fn headers_of_other_versions_are_refused() {
        let err = Header::parse(r#"{"format":"ocpp-trace","version":2}"#).unwrap_err();
        assert!(err.contains("version 2 is not supported"), "{err}");
        assert!(Header::parse(r#"{"format":"x"}"#).is_err());
    }
}
