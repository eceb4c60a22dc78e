//! OCPP-J frames: the JSON arrays that carry CALL, CALLRESULT and CALLERROR messages.
//!
//! ```text
//! [2, "<messageId>", "<action>", {<payload>}]                          CALL
//! [3, "<messageId>", {<payload>}]                                      CALLRESULT
//! [4, "<messageId>", "<errorCode>", "<errorDescription>", {<details>}] CALLERROR
//! ```
//!
//! (OCPP-J 1.6 section 4.2, OCPP 2.0.1 part 4 section 4.2.) Parsing is strict about the
//! structure, because the answer to a malformed frame depends on exactly what is wrong with it
//! (see [`FrameErrorKind`]), and lenient only where both specs allow two notations: a `null`
//! payload or error details mean the empty object.

use std::fmt;

use serde_json::{Map, Value};

use crate::{ErrorCode, Version};

/// The longest message id OCPP-J allows (1.6 section 4.1.4, 2.0.1 part 4 section 4.1.4).
pub const MAX_MESSAGE_ID_LEN: usize = 36;

/// The longest errorDescription OCPP 2.0.1 allows (part 4 table 7: `string[255]`). 1.6 sets no
/// limit; the same bound is used there so that a description never grows with its input.
pub const MAX_ERROR_DESCRIPTION_LEN: usize = 255;

/// The message type number, the first element of every frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 2: a request.
    Call,
    /// 3: a response.
    CallResult,
    /// 4: an error response to a request.
    CallError,
}

impl MessageType {
    /// The number on the wire.
    pub const fn number(self) -> u64 {
        match self {
            MessageType::Call => 2,
            MessageType::CallResult => 3,
            MessageType::CallError => 4,
        }
    }

    /// The type for a number, if OCPP-J defines it.
    pub const fn from_number(number: u64) -> Option<MessageType> {
        match number {
            2 => Some(MessageType::Call),
            3 => Some(MessageType::CallResult),
            4 => Some(MessageType::CallError),
            _ => None,
        }
    }

    /// How many elements a frame of this type has.
    pub const fn arity(self) -> usize {
        match self {
            MessageType::Call => 4,
            MessageType::CallResult => 3,
            MessageType::CallError => 5,
        }
    }
}

/// A request: invoke `action` with `payload` on the other side.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The id that the answer will carry.
    pub id: String,
    /// The action name, e.g. `BootNotification` (case-sensitive).
    pub action: String,
    /// The request payload; always an object.
    pub payload: Value,
}

/// A successful answer to the CALL with the same id.
#[derive(Debug, Clone, PartialEq)]
pub struct CallResult {
    /// The id of the CALL this answers.
    pub id: String,
    /// The response payload; always an object.
    pub payload: Value,
}

/// An error answer to the CALL with the same id (or, in 2.0.1, to an unreadable message, with
/// id `-1`).
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    /// The id of the CALL this answers.
    pub id: String,
    /// The error code as it appeared on the wire. Use [`CallError::error_code`] to interpret
    /// it; a peer may send a code neither version defines.
    pub code: String,
    /// Free text; may be empty.
    pub description: String,
    /// An object with details in an undefined form; `{}` when there are none.
    pub details: Value,
}

impl CallError {
    /// A CALLERROR as `version` spells `code`, with the description cut to
    /// [`MAX_ERROR_DESCRIPTION_LEN`] characters and `details` (`{}` if `None`).
    pub fn new(
        version: Version,
        id: impl Into<String>,
        code: ErrorCode,
        description: impl Into<String>,
        details: Option<Map<String, Value>>,
    ) -> CallError {
        CallError {
            id: id.into(),
            code: code.wire_name(version).to_owned(),
            description: truncate_chars(description.into(), MAX_ERROR_DESCRIPTION_LEN),
            details: Value::Object(details.unwrap_or_default()),
        }
    }

    /// The code, whichever version's spelling the peer used; `None` for a code neither
    /// version defines.
    pub fn error_code(&self) -> Option<ErrorCode> {
        ErrorCode::parse(&self.code)
    }
}

/// One OCPP-J message.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A request.
    Call(Call),
    /// A successful response.
    CallResult(CallResult),
    /// An error response.
    CallError(CallError),
}

impl Frame {
    /// The message id.
    pub fn id(&self) -> &str {
        match self {
            Frame::Call(call) => &call.id,
            Frame::CallResult(result) => &result.id,
            Frame::CallError(error) => &error.id,
        }
    }

    /// The message type.
    pub fn message_type(&self) -> MessageType {
        match self {
            Frame::Call(_) => MessageType::Call,
            Frame::CallResult(_) => MessageType::CallResult,
            Frame::CallError(_) => MessageType::CallError,
        }
    }

    /// Parses one WebSocket text message.
    ///
    /// On failure the error says what was wrong and carries whatever of the message type and id
    /// could be read, which is what decides the answer.
    ///
    /// The frames peers send (`[2,"id","Action",{...}]` and the like, strings without escapes)
    /// are read by [`Frame::parse_plain`], which builds a JSON tree of the payload only; every
    /// other text goes to [`Frame::parse_tree`]. Both give the same result for any text they
    /// both read (a differential test and the `frame` fuzz target hold them to that).
    pub fn parse(text: &str) -> Result<Frame, FrameError> {
        match PlainFrame::scan(text) {
            Some(plain) => Ok(plain.into_frame()),
            None => Frame::parse_tree(text),
        }
    }

    /// The reference reading of a text: all of it as one JSON tree, interpreted by
    /// [`Frame::from_value`]. [`Frame::parse`] agrees with it on every text and is faster.
    pub fn parse_tree(text: &str) -> Result<Frame, FrameError> {
        let value: Value = serde_json::from_str(text).map_err(|e| FrameError {
            kind: FrameErrorKind::NotJson {
                line: e.line(),
                column: e.column(),
            },
            message_type: None,
            id: None,
        })?;
        Frame::from_value(value)
    }

    /// The fast path of [`Frame::parse`] on its own: the frame if `text` is one of the plain
    /// form (JSON whitespace anywhere between tokens, a message type of one digit, id, action,
    /// error code and description without escapes, an id of at most 36 characters, a payload
    /// that is an object or `null`), `None` for any other text, frame or not.
    pub fn parse_plain(text: &str) -> Option<Frame> {
        PlainFrame::scan(text).map(PlainFrame::into_frame)
    }

    /// Interprets an already parsed JSON value as a frame; see [`Frame::parse`].
    pub fn from_value(value: Value) -> Result<Frame, FrameError> {
        let Value::Array(items) = value else {
            return Err(FrameError::bare(FrameErrorKind::NotArray));
        };
        let mut items = items.into_iter();
        let number = match items.next() {
            None => return Err(FrameError::bare(FrameErrorKind::Empty)),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(number) => number,
                None => return Err(FrameError::bare(FrameErrorKind::MessageTypeNotInteger)),
            },
            Some(_) => return Err(FrameError::bare(FrameErrorKind::MessageTypeNotInteger)),
        };
        // The id is read before anything else is checked, so that every later error can be
        // answered with it.
        let raw_id = items.next();
        // The id an error carries: copied only when there is an error.
        let error = |kind, id: Option<&String>| FrameError {
            kind,
            message_type: Some(number),
            id: id.cloned(),
        };
        let readable_id = match &raw_id {
            Some(Value::String(id)) if id.chars().count() <= MAX_MESSAGE_ID_LEN => Some(id),
            _ => None,
        };
        let Some(message_type) = MessageType::from_number(number) else {
            return Err(error(
                FrameErrorKind::UnknownMessageType(number),
                readable_id,
            ));
        };
        let found = 1 + usize::from(raw_id.is_some()) + items.len();
        if found != message_type.arity() {
            let kind = FrameErrorKind::WrongLength {
                expected: message_type.arity(),
                found,
            };
            return Err(error(kind, readable_id));
        }
        // An id too long or not a string is not readable: those errors carry none.
        let id = match raw_id {
            Some(Value::String(id)) => {
                let length = id.chars().count();
                if length > MAX_MESSAGE_ID_LEN {
                    return Err(error(FrameErrorKind::IdTooLong(length), None));
                }
                id
            }
            _ => return Err(error(FrameErrorKind::IdNotString, None)),
        };
        let fail = |kind| error(kind, Some(&id));
        // Arity was checked above, so each `next` below yields an element.
        let mut next = || items.next().unwrap_or(Value::Null);
        match message_type {
            MessageType::Call => {
                let Value::String(action) = next() else {
                    return Err(fail(FrameErrorKind::ActionNotString));
                };
                let payload = object_or_empty(next())
                    .ok_or_else(|| fail(FrameErrorKind::PayloadNotObject))?;
                Ok(Frame::Call(Call {
                    id,
                    action,
                    payload,
                }))
            }
            MessageType::CallResult => {
                let payload = object_or_empty(next())
                    .ok_or_else(|| fail(FrameErrorKind::PayloadNotObject))?;
                Ok(Frame::CallResult(CallResult { id, payload }))
            }
            MessageType::CallError => {
                let Value::String(code) = next() else {
                    return Err(fail(FrameErrorKind::ErrorCodeNotString));
                };
                let Value::String(description) = next() else {
                    return Err(fail(FrameErrorKind::ErrorDescriptionNotString));
                };
                let details = object_or_empty(next())
                    .ok_or_else(|| fail(FrameErrorKind::ErrorDetailsNotObject))?;
                Ok(Frame::CallError(CallError {
                    id,
                    code,
                    description,
                    details,
                }))
            }
        }
    }

    /// The text of a CALL frame, built from its parts without assembling a [`Frame`].
    pub fn call_text(id: &str, action: &str, payload: &Value) -> String {
        frame_text(&(2, id, action, payload))
    }

    /// The text of a CALLRESULT answering `id` with `payload`, written straight from the
    /// borrowed parts (an answer need not copy its id into a [`Frame`] first).
    pub fn call_result_text(id: &str, payload: &impl serde::Serialize) -> String {
        // `to_string` hands its UTF-8 over without checking it again, which the buffer of
        // `frame_text` cannot; a CALLRESULT is answered to every CALL and mostly small (the
        // automatic answers fit its first 128 bytes), so this saves more than the regrowth of
        // the occasional large one costs.
        serde_json::to_string(&(3, id, payload)).unwrap_or_else(unreachable_serialisation)
    }

    /// The frame as WebSocket text.
    pub fn to_text(&self) -> String {
        // Serialising a `Value` tree to a string cannot fail (keys are strings, no I/O).
        let result = match self {
            Frame::Call(call) => return Frame::call_text(&call.id, &call.action, &call.payload),
            Frame::CallResult(result) => {
                return Frame::call_result_text(&result.id, &result.payload);
            }
            Frame::CallError(error) => serde_json::to_string(&(
                4,
                &error.id,
                &error.code,
                &error.description,
                &error.details,
            )),
        };
        result.unwrap_or_else(unreachable_serialisation)
    }
}

/// Writes a frame's JSON array into a buffer sized for a typical frame up front, which saves
/// the string's regrowth on every frame (OCPP frames are mostly under 256 bytes).
fn frame_text(frame: &impl serde::Serialize) -> String {
    let mut text = Vec::with_capacity(256);
    match serde_json::to_writer(&mut text, frame) {
        // serde_json writes UTF-8 only.
        Ok(()) => String::from_utf8(text).unwrap_or_default(),
        Err(error) => unreachable_serialisation(error),
    }
}

/// A frame of the plain form (see [`Frame::parse_plain`]), its strings borrowed from the
/// text: the envelope is read byte by byte and only the payload is parsed as JSON, which
/// saves the tree of the whole array (its vector, its strings, its moves) on every message.
/// Anything unusual is left to [`Frame::parse_tree`], which alone decides every error.
#[derive(Debug)]
pub(crate) enum PlainFrame<'a> {
    /// `[2, id, action, payload]`.
    Call {
        id: &'a str,
        action: &'a str,
        payload: Value,
    },
    /// `[3, id, payload]`.
    CallResult { id: &'a str, payload: Value },
    /// `[4, id, code, description, details]`.
    CallError {
        id: &'a str,
        code: &'a str,
        description: &'a str,
        details: Value,
    },
}

/// JSON's whitespace (RFC 8259 section 2), all that may separate tokens; not Rust's wider
/// notion of whitespace.
const JSON_WHITESPACE: [char; 4] = [' ', '\t', '\n', '\r'];

/// serde_json refuses more than 127 nested arrays and objects. Read alone, a payload would
/// have one more level than inside its frame, so a payload that might come near the limit is
/// left to the reference path.
const NESTING_MARGIN: usize = 120;

impl<'a> PlainFrame<'a> {
    /// The frame, if `text` is of the plain form; `None` says nothing about the text.
    pub(crate) fn scan(text: &'a str) -> Option<PlainFrame<'a>> {
        let mut cursor = Cursor { text, at: 0 };
        cursor.eat(b'[')?;
        cursor.skip_whitespace();
        let number = match text.as_bytes().get(cursor.at)? {
            b'2' => MessageType::Call,
            b'3' => MessageType::CallResult,
            b'4' => MessageType::CallError,
            _ => return None,
        };
        cursor.at += 1;
        // A comma right after the digit: `22`, `2.0` or `2e0` are someone else's business.
        cursor.eat(b',')?;
        let id = cursor.plain_string()?;
        if id.len() > MAX_MESSAGE_ID_LEN && id.chars().count() > MAX_MESSAGE_ID_LEN {
            return None;
        }
        cursor.eat(b',')?;
        Some(match number {
            MessageType::Call => {
                let action = cursor.plain_string()?;
                cursor.eat(b',')?;
                PlainFrame::Call {
                    id,
                    action,
                    payload: cursor.last_object()?,
                }
            }
            MessageType::CallResult => PlainFrame::CallResult {
                id,
                payload: cursor.last_object()?,
            },
            MessageType::CallError => {
                let code = cursor.plain_string()?;
                cursor.eat(b',')?;
                let description = cursor.plain_string()?;
                cursor.eat(b',')?;
                PlainFrame::CallError {
                    id,
                    code,
                    description,
                    details: cursor.last_object()?,
                }
            }
        })
    }

    /// The owned frame.
    pub(crate) fn into_frame(self) -> Frame {
        match self {
            PlainFrame::Call {
                id,
                action,
                payload,
            } => Frame::Call(Call {
                id: id.to_owned(),
                action: action.to_owned(),
                payload,
            }),
            PlainFrame::CallResult { id, payload } => Frame::CallResult(CallResult {
                id: id.to_owned(),
                payload,
            }),
            PlainFrame::CallError {
                id,
                code,
                description,
                details,
            } => Frame::CallError(CallError {
                id: id.to_owned(),
                code: code.to_owned(),
                description: description.to_owned(),
                details,
            }),
        }
    }
}

/// A position in the text being scanned.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn skip_whitespace(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// `byte`, after whitespace.
    fn eat(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        if self.text.as_bytes().get(self.at) != Some(&byte) {
            return None;
        }
        self.at += 1;
        Some(())
    }

    /// A string without escapes (and without the control characters JSON forbids in one),
    /// after whitespace: its text is the slice between the quotes.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let rest = self.text.as_bytes().get(start..)?;
        let len = rest
            .iter()
            .position(|b| matches!(b, b'"' | b'\\' | 0..0x20))?;
        if rest[len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        // The quote is ASCII, so both ends are character boundaries.
        self.text.get(start..start + len)
    }

    /// The last element: everything up to the closing bracket that ends the text must be one
    /// JSON value, an object or `null` (the empty object, as [`Frame::from_value`] reads it).
    /// A second element after it, or anything else, fails to parse as one value.
    fn last_object(&self) -> Option<Value> {
        let body = self
            .text
            .trim_end_matches(JSON_WHITESPACE)
            .strip_suffix(']')?
            .get(self.at..)?;
        // The empty payload of Heartbeat.req and of most answers, spelt as peers send it,
        // needs no parser.
        if body.trim_matches(JSON_WHITESPACE) == "{}" {
            return Some(Value::Object(Map::new()));
        }
        // A value nested n deep has at least 2n bytes.
        if body.len() >= 2 * NESTING_MARGIN
            && body.bytes().filter(|b| matches!(b, b'[' | b'{')).count() >= NESTING_MARGIN
        {
            return None;
        }
        match serde_json::from_str(body).ok()? {
            value @ Value::Object(_) => Some(value),
            Value::Null => Some(Value::Object(Map::new())),
            _ => None,
        }
    }
}

/// Appends `text` as a JSON string, exactly as serde_json writes it: as it is between quotes
/// when nothing in it needs an escape, the usual case for message ids.
pub(crate) fn push_json_string(out: &mut String, text: &str) {
    if text.bytes().any(|b| matches!(b, b'"' | b'\\' | 0..0x20)) {
        // Writing a string cannot fail.
        out.push_str(&serde_json::to_string(text).unwrap_or_default());
    } else {
        out.push('"');
        out.push_str(text);
        out.push('"');
    }
}

#[cold]
fn unreachable_serialisation(error: serde_json::Error) -> String {
    // A `Value` always serialises; if serde_json ever disagrees, the frame is unusable and an
    // empty text makes the peer answer with a clear error instead of the process panicking.
    debug_assert!(false, "serialising a JSON value failed: {error}");
    String::new()
}

fn object_or_empty(value: Value) -> Option<Value> {
    match value {
        Value::Object(_) => Some(value),
        // Both specs (1.6 section 4.2.1, 2.0.1 part 4 section 4.1.5) allow `null` for "no
        // payload" while recommending `{}`.
        Value::Null => Some(Value::Object(Map::new())),
        _ => None,
    }
}

/// Cuts `text` to at most `max` characters, on a character boundary.
pub(crate) fn truncate_chars(mut text: String, max: usize) -> String {
    if let Some((index, _)) = text.char_indices().nth(max) {
        text.truncate(index);
    }
    text
}

/// Why a text is not a valid OCPP-J frame, with what could still be read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// What is wrong.
    pub kind: FrameErrorKind,
    /// The message type number, if the first element was an unsigned integer.
    pub message_type: Option<u64>,
    /// The message id, if the second element was a string of at most 36 characters.
    pub id: Option<String>,
}

impl FrameError {
    fn bare(kind: FrameErrorKind) -> FrameError {
        FrameError {
            kind,
            message_type: None,
            id: None,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "message {id:?}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for FrameError {}

/// The ways a text can fail to be an OCPP-J frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameErrorKind {
    /// Not JSON at all.
    #[error("not valid JSON (line {line}, column {column})")]
    NotJson {
        /// 1-based line of the first error.
        line: usize,
        /// 1-based column of the first error.
        column: usize,
    },
    /// JSON, but not an array.
    #[error("not a JSON array")]
    NotArray,
    /// An empty array.
    #[error("empty array: no message type")]
    Empty,
    /// The first element is not a non-negative integer.
    #[error("the message type is not an integer")]
    MessageTypeNotInteger,
    /// A message type number other than 2, 3 and 4.
    #[error("unknown message type {0}")]
    UnknownMessageType(u64),
    /// The array has the wrong number of elements for its message type.
    #[error("{found} elements where the message type needs {expected}")]
    WrongLength {
        /// Elements the message type requires.
        expected: usize,
        /// Elements present.
        found: usize,
    },
    /// The message id is not a string.
    #[error("the message id is not a string")]
    IdNotString,
    /// The message id is longer than 36 characters.
    #[error("the message id has {0} characters, more than the 36 allowed")]
    IdTooLong(usize),
    /// A CALL's action is not a string.
    #[error("the action is not a string")]
    ActionNotString,
    /// The payload is neither an object nor `null`.
    #[error("the payload is not a JSON object")]
    PayloadNotObject,
    /// A CALLERROR's code is not a string.
    #[error("the error code is not a string")]
    ErrorCodeNotString,
    /// A CALLERROR's description is not a string.
    #[error("the error description is not a string")]
    ErrorDescriptionNotString,
    /// A CALLERROR's details are neither an object nor `null`.
    #[error("the error details are not a JSON object")]
    ErrorDetailsNotObject,
    /// The message is larger than the endpoint accepts; it was not parsed.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the message in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind(text: &str) -> FrameErrorKind {
        Frame::parse(text).unwrap_err().kind
    }

    /// OCPP-J 1.6 section 4.2.1 example.
    #[test]
    fn parses_the_spec_call_example() {
        let text = r#"[2, "19223201", "BootNotification",
            {"chargePointVendor": "VendorX", "chargePointModel": "SingleSocketCharger"}]"#;
        let Frame::Call(call) = Frame::parse(text).unwrap() else {
            panic!("not a call")
        };
        assert_eq!(call.id, "19223201");
        assert_eq!(call.action, "BootNotification");
        assert_eq!(call.payload["chargePointVendor"], "VendorX");
    }

    /// OCPP-J 1.6 sections 4.2.2 and 4.2.3 (errata 3.9 example).
    #[test]
    fn parses_result_and_error_frames() {
        let result = Frame::parse(
            r#"[3,"19223201",{"status":"Accepted","currentTime":"2013-02-01T20:53:32.486Z","interval":300}]"#,
        )
        .unwrap();
        assert_eq!(result.message_type(), MessageType::CallResult);
        assert_eq!(result.id(), "19223201");
        let Frame::CallError(error) = Frame::parse(
            r#"[4, "162376037", "NotSupported", "SendLocalList.req not implemented", {}]"#,
        )
        .unwrap() else {
            panic!("not an error")
        };
        assert_eq!(error.error_code(), Some(ErrorCode::NotSupported));
        assert_eq!(error.description, "SendLocalList.req not implemented");
    }

    #[test]
    fn frames_round_trip_through_text() {
        let frames = [
            Frame::Call(Call {
                id: "a".into(),
                action: "Heartbeat".into(),
                payload: json!({}),
            }),
            Frame::CallResult(CallResult {
                id: "a".into(),
                payload: json!({"currentTime": "2024-01-01T00:00:00Z"}),
            }),
            Frame::CallError(CallError::new(
                Version::V16,
                "a",
                ErrorCode::FormatViolation,
                "bad",
                None,
            )),
        ];
        for frame in frames {
            assert_eq!(Frame::parse(&frame.to_text()).unwrap(), frame);
        }
    }

    /// 1.6 section 4.2.1 / 2.0.1 part 4 section 4.1.5: `null` and `{}` both mean no payload.
    #[test]
    fn null_payload_means_the_empty_object() {
        let Frame::Call(call) = Frame::parse(r#"[2,"1","Heartbeat",null]"#).unwrap() else {
            panic!()
        };
        assert_eq!(call.payload, json!({}));
        let Frame::CallError(error) = Frame::parse(r#"[4,"1","GenericError","",null]"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(error.details, json!({}));
    }

    #[test]
    fn each_structural_fault_is_named() {
        assert!(matches!(
            kind("[2,"),
            FrameErrorKind::NotJson { line: 1, .. }
        ));
        assert_eq!(kind(r#"{"a":1}"#), FrameErrorKind::NotArray);
        assert_eq!(kind("[]"), FrameErrorKind::Empty);
        assert_eq!(
            kind(r#"["2","1","Heartbeat",{}]"#),
            FrameErrorKind::MessageTypeNotInteger
        );
        assert_eq!(
            kind(r#"[-2,"1","Heartbeat",{}]"#),
            FrameErrorKind::MessageTypeNotInteger
        );
        assert_eq!(
            kind(r#"[2.5,"1","Heartbeat",{}]"#),
            FrameErrorKind::MessageTypeNotInteger
        );
        assert_eq!(kind(r#"[7,"1",{}]"#), FrameErrorKind::UnknownMessageType(7));
        assert_eq!(
            kind(r#"[2,"1","Heartbeat"]"#),
            FrameErrorKind::WrongLength {
                expected: 4,
                found: 3
            }
        );
        assert_eq!(
            kind(r#"[3,"1",{},{}]"#),
            FrameErrorKind::WrongLength {
                expected: 3,
                found: 4
            }
        );
        assert_eq!(
            kind("[2]"),
            FrameErrorKind::WrongLength {
                expected: 4,
                found: 1
            }
        );
        assert_eq!(kind(r#"[2,1,"Heartbeat",{}]"#), FrameErrorKind::IdNotString);
        assert_eq!(kind(r#"[2,"1",5,{}]"#), FrameErrorKind::ActionNotString);
        assert_eq!(
            kind(r#"[2,"1","Heartbeat",[]]"#),
            FrameErrorKind::PayloadNotObject
        );
        assert_eq!(kind(r#"[3,"1","x"]"#), FrameErrorKind::PayloadNotObject);
        assert_eq!(
            kind(r#"[4,"1",1,"",{}]"#),
            FrameErrorKind::ErrorCodeNotString
        );
        assert_eq!(
            kind(r#"[4,"1","GenericError",1,{}]"#),
            FrameErrorKind::ErrorDescriptionNotString
        );
        assert_eq!(
            kind(r#"[4,"1","GenericError","",5]"#),
            FrameErrorKind::ErrorDetailsNotObject
        );
    }

    /// 1.6 / 2.0.1 section 4.1.4: at most 36 characters. An over-long id counts as unreadable.
    #[test]
    fn ids_longer_than_36_characters_are_refused_and_not_echoed() {
        let ok = format!(r#"[2,"{}","Heartbeat",{{}}]"#, "x".repeat(36));
        assert!(Frame::parse(&ok).is_ok());
        // 36 multi-byte characters are still 36 characters.
        let ok = format!(r#"[2,"{}","Heartbeat",{{}}]"#, "é".repeat(36));
        assert!(Frame::parse(&ok).is_ok());
        let long = format!(r#"[2,"{}","Heartbeat",{{}}]"#, "x".repeat(37));
        let error = Frame::parse(&long).unwrap_err();
        assert_eq!(error.kind, FrameErrorKind::IdTooLong(37));
        assert_eq!(error.id, None);
        assert_eq!(error.message_type, Some(2));
    }

    #[test]
    fn errors_carry_the_id_when_it_is_readable() {
        let error = Frame::parse(r#"[2,"abc","Heartbeat",7]"#).unwrap_err();
        assert_eq!(error.id.as_deref(), Some("abc"));
        assert_eq!(error.message_type, Some(2));
        let error = Frame::parse(r#"[9,"abc"]"#).unwrap_err();
        assert_eq!(error.kind, FrameErrorKind::UnknownMessageType(9));
        assert_eq!(error.id.as_deref(), Some("abc"));
    }

    /// 2.0.1 part 4 table 7: errorDescription is string[255].
    #[test]
    fn error_descriptions_are_cut_to_255_characters() {
        let error = CallError::new(
            Version::V201,
            "1",
            ErrorCode::GenericError,
            "ü".repeat(300),
            None,
        );
        assert_eq!(error.description.chars().count(), 255);
        let error = CallError::new(Version::V201, "1", ErrorCode::GenericError, "short", None);
        assert_eq!(error.description, "short");
    }

    #[test]
    fn call_error_uses_the_spelling_of_the_version() {
        let error = CallError::new(
            Version::V16,
            "1",
            ErrorCode::OccurrenceConstraintViolation,
            "",
            None,
        );
        assert_eq!(error.code, "OccurenceConstraintViolation");
        assert_eq!(
            error.error_code(),
            Some(ErrorCode::OccurrenceConstraintViolation)
        );
    }
}
