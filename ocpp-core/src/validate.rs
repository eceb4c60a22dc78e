//! JSON schema validation of OCPP payloads, with every failure classified and mapped to the
//! CallError code the receiver answers with.
//!
//! A CALL or CALLRESULT payload is checked against the vendored OCA schema of its version,
//! action and direction ([`validate`]). The `jsonschema` crate does the checking; this module
//! adds what OCPP needs on top: each failure becomes a [`Violation`] of a [`ViolationKind`],
//! and one table per version turns the kinds into the single [`ErrorCode`] a CallError carries.
//! Both OCPP-J specs describe their codes in words, not in JSON Schema keywords, so the tables
//! below are this stack's reading of those words, one justified row per kind.
//!
//! # What the specs ask
//!
//! Validation is a right, not a duty: OCPP 2.0.1 part 4 section 4.1.2 says the parties "have
//! the right to reject messages which are not conform the JSON schemas", and section 4.2.3
//! allows dropping them; OCPP-J 1.6 section 4.2.3 names "missing mandatory fields" among the
//! reasons for a CallError, and the OCTT 1.6 test case document (section 1.2) requires that
//! "All messages shall comply with the OCPP 1.6 schema's". This module only judges a payload;
//! whether to answer, drop or log is the RPC layer's decision.
//!
//! # Validators
//!
//! Each of the 2 × (39 + 64) schemas is compiled the first time it is needed and then shared by
//! the whole process (a `OnceLock` per schema), so validation never recompiles and a payload
//! that is valid costs one cheap `is_valid` pass with no allocation of our own; the errors are
//! collected only when that pass fails. Call [`compile_all`] at start-up to pay the compilation
//! up front and to learn of a broken schema before the first message. Each file is compiled
//! with the draft its `$schema` names (draft-04 for the 28 core 1.6 actions, draft-06 for the
//! 1.6 security actions and all of 2.0.1), with `format` checking on, so a malformed
//! `date-time` (RFC 3339, e.g. `2013-02-01T20:53:32.486Z`, `2024-01-01T00:00:00+02:00`) or
//! `uri` is a violation, not a silently accepted string.
//!
//! # From a violation to a CallError code
//!
//! OCPP-J 1.6, section 4.2.3, table 7 (codes spelled as 1.6 sends them, see
//! [`ErrorCode::wire_name`]):
//!
//! | kind | schema keywords | 1.6 code | why (quoting table 7) |
//! |---|---|---|---|
//! | `NotAnObject` | `type` at the root | FormationViolation | "Payload for Action is syntactically incorrect or not conform the PDU structure for Action": the payload is not even an object |
//! | `UnexpectedMember` | `additionalProperties` | FormationViolation | a member the PDU does not define is "not conform the PDU structure for Action" |
//! | `Other` | any other keyword | FormationViolation | the schema is the PDU structure; a failure no other row names is "not conform the PDU structure" |
//! | `MissingMember` | `required` | ProtocolError | "Payload for Action is incomplete": a mandatory field is absent |
//! | `TooManyItems` | `maxItems`, `additionalItems` | OccurenceConstraintViolation | "at least one of the fields violates occurrence constraints": the list's cardinality (e.g. 0..*) is exceeded |
//! | `TooFewItems` | `minItems` | OccurenceConstraintViolation | as above, the cardinality (e.g. 1..*) is not reached |
//! | `WrongType` | `type` below the root | TypeConstraintViolation | "violates data type constraints (e.g. "somestring": 12)" |
//! | `BadFormat` | `format` (`date-time`, `uri`) | TypeConstraintViolation | the field's data type is dateTime or anyURI and the string denotes neither: a data type constraint |
//! | `TooLong` | `maxLength` | PropertyConstraintViolation | "syntactically correct but at least one field contains an invalid value": right type, value too long |
//! | `TooShort` | `minLength` | PropertyConstraintViolation | as above |
//! | `NotInEnum` | `enum`, `const` | PropertyConstraintViolation | as above: a string that is not one of the allowed values |
//! | `PatternMismatch` | `pattern` | PropertyConstraintViolation | as above |
//! | `OutOfRange` | `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf` | PropertyConstraintViolation | as above; OCTT TC_040_2_CS accepts a CallError PropertyConstraintViolation (or a Rejected status) for MeterValueSampleInterval set to -1 |
//!
//! OCPP 2.0.1 part 4, section 4.3, table 8:
//!
//! | kind | 2.0.1 code | why (quoting table 8) |
//! |---|---|---|
//! | `NotAnObject` | FormatViolation | "Payload for Action is syntactically incorrect": section 4.2.1 defines the payload as a JSON object, and this one is not |
//! | `UnexpectedMember` | ProtocolError | "Payload for Action is not conform the PDU structure" (2.0.1 moved the PDU wording from FormatViolation to ProtocolError) |
//! | `Other` | ProtocolError | as above: the schema is the PDU structure |
//! | `MissingMember` | OccurrenceConstraintViolation | "at least one of the fields violates occurrence constraints": a required field has cardinality 1..1; 2.0.1 has no "incomplete" code any more |
//! | `TooManyItems` | OccurrenceConstraintViolation | as above; part 2 B06.FR.16, B08.FR.17 and N06.FR.06 use this code for a list with too many elements |
//! | `TooFewItems` | OccurrenceConstraintViolation | as above |
//! | `WrongType` | TypeConstraintViolation | "violates data type constraints (e.g. "somestring": 12)" |
//! | `BadFormat` | TypeConstraintViolation | the field's primitive datatype (dateTime, URI) is violated |
//! | `TooLong` | PropertyConstraintViolation | "syntactically correct but at least one field contains an invalid value" |
//! | `TooShort` | PropertyConstraintViolation | as above |
//! | `NotInEnum` | PropertyConstraintViolation | as above |
//! | `PatternMismatch` | PropertyConstraintViolation | as above |
//! | `OutOfRange` | PropertyConstraintViolation | as above |
//!
//! An action the version does not define is [`ErrorCode::NotImplemented`] in both versions
//! ("Requested Action is not known by receiver"), and a vendored schema that failed to compile
//! is [`ErrorCode::InternalError`].
//!
//! Peers disagree: the PyPI `ocpp` package, for one, answers a too long string with
//! TypeConstraintViolation and an unknown member with FormatViolation in 2.0.1 as well. The
//! tables above follow the spec texts, not any peer.
//!
//! # Precedence
//!
//! A payload with several violations still gets one code. The violations are sorted by kind in
//! the order of the tables above (the declaration order of [`ViolationKind`]), then by JSON
//! pointer, and the first one decides the code. The order follows the spec's own wording: the
//! occurrence, type and property codes all begin "Payload is syntactically correct but", so
//! they presuppose that the payload has the PDU's structure, and structural failures come first.
//! Among the three, each layer presupposes the one before: whether a field is there (and how
//! often), then what type it has, then what value it holds. So a payload with an unknown member
//! and a too long string gets the structural code, and one with a missing member and a wrong
//! type gets the occurrence (1.6: protocol) code.
//!
//! # Example
//!
//! ```
//! use ocpp_core::validate::{validate, ViolationKind};
//! use ocpp_core::{ErrorCode, PayloadKind, Version};
//! use serde_json::json;
//!
//! let payload = json!({"chargePointVendor": "a vendor name longer than 20", "chargePointModel": "M"});
//! let error = validate(Version::V16, "BootNotification", PayloadKind::Request, &payload)
//!     .unwrap_err();
//! assert_eq!(error.error_code(), ErrorCode::PropertyConstraintViolation);
//! assert_eq!(error.violations()[0].kind(), ViolationKind::TooLong);
//! assert_eq!(error.description(), "/chargePointVendor: longer than 20 characters");
//! ```

use std::fmt;
use std::fmt::Write as _;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, Validator};
use serde_json::{Map, Value, json};

use crate::schemas::{self, PayloadKind};
use crate::{ErrorCode, Version};

/// What is wrong with one place of a payload.
///
/// The declaration order is the precedence order: when a payload has several violations, the
/// one whose kind comes first decides the CallError code (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ViolationKind {
    /// The payload is not a JSON object (it is null, an array, a string, a number or a
    /// boolean).
    NotAnObject,
    /// An object has a member its schema does not define (`additionalProperties: false`).
    UnexpectedMember,
    /// A schema keyword none of the other kinds covers failed; the vendored schemas use none,
    /// so this only catches what a future schema might add.
    Other,
    /// A required member is absent.
    MissingMember,
    /// An array has more items than allowed.
    TooManyItems,
    /// An array has fewer items than required.
    TooFewItems,
    /// A value has the wrong JSON type, e.g. a string where an integer belongs.
    WrongType,
    /// A string is not in the format its field requires (`date-time`, `uri`).
    BadFormat,
    /// A string is longer than allowed.
    TooLong,
    /// A string is shorter than allowed.
    TooShort,
    /// A value is not one of the enumerated values.
    NotInEnum,
    /// A string does not match the required pattern.
    PatternMismatch,
    /// A number is below the minimum, above the maximum, or not a multiple of the step.
    OutOfRange,
}

impl ViolationKind {
    /// Every kind, in precedence order.
    pub const ALL: [ViolationKind; 13] = [
        ViolationKind::NotAnObject,
        ViolationKind::UnexpectedMember,
        ViolationKind::Other,
        ViolationKind::MissingMember,
        ViolationKind::TooManyItems,
        ViolationKind::TooFewItems,
        ViolationKind::WrongType,
        ViolationKind::BadFormat,
        ViolationKind::TooLong,
        ViolationKind::TooShort,
        ViolationKind::NotInEnum,
        ViolationKind::PatternMismatch,
        ViolationKind::OutOfRange,
    ];

    /// The CallError code `version` answers this kind of violation with: the two tables of the
    /// [module docs](self).
    pub const fn error_code(self, version: Version) -> ErrorCode {
        match version {
            Version::V16 => self.v16_code(),
            Version::V201 => self.v201_code(),
        }
    }

    /// OCPP-J 1.6 section 4.2.3 table 7; the reasons are in the module docs.
    const fn v16_code(self) -> ErrorCode {
        match self {
            ViolationKind::NotAnObject | ViolationKind::UnexpectedMember | ViolationKind::Other => {
                ErrorCode::FormatViolation
            }
            ViolationKind::MissingMember => ErrorCode::ProtocolError,
            ViolationKind::TooManyItems | ViolationKind::TooFewItems => {
                ErrorCode::OccurrenceConstraintViolation
            }
            ViolationKind::WrongType | ViolationKind::BadFormat => {
                ErrorCode::TypeConstraintViolation
            }
            ViolationKind::TooLong
            | ViolationKind::TooShort
            | ViolationKind::NotInEnum
            | ViolationKind::PatternMismatch
            | ViolationKind::OutOfRange => ErrorCode::PropertyConstraintViolation,
        }
    }

    /// OCPP 2.0.1 part 4 section 4.3 table 8; the reasons are in the module docs.
    const fn v201_code(self) -> ErrorCode {
        match self {
            ViolationKind::NotAnObject => ErrorCode::FormatViolation,
            ViolationKind::UnexpectedMember | ViolationKind::Other => ErrorCode::ProtocolError,
            ViolationKind::MissingMember
            | ViolationKind::TooManyItems
            | ViolationKind::TooFewItems => ErrorCode::OccurrenceConstraintViolation,
            ViolationKind::WrongType | ViolationKind::BadFormat => {
                ErrorCode::TypeConstraintViolation
            }
            ViolationKind::TooLong
            | ViolationKind::TooShort
            | ViolationKind::NotInEnum
            | ViolationKind::PatternMismatch
            | ViolationKind::OutOfRange => ErrorCode::PropertyConstraintViolation,
        }
    }

    /// The variant's name, as used in [`ValidationError::details`].
    pub const fn as_str(self) -> &'static str {
        match self {
            ViolationKind::NotAnObject => "NotAnObject",
            ViolationKind::UnexpectedMember => "UnexpectedMember",
            ViolationKind::Other => "Other",
            ViolationKind::MissingMember => "MissingMember",
            ViolationKind::TooManyItems => "TooManyItems",
            ViolationKind::TooFewItems => "TooFewItems",
            ViolationKind::WrongType => "WrongType",
            ViolationKind::BadFormat => "BadFormat",
            ViolationKind::TooLong => "TooLong",
            ViolationKind::TooShort => "TooShort",
            ViolationKind::NotInEnum => "NotInEnum",
            ViolationKind::PatternMismatch => "PatternMismatch",
            ViolationKind::OutOfRange => "OutOfRange",
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing wrong with a payload: where, what kind, and a short explanation.
///
/// Messages name the constraint, never the offending value, so a CallError built from them
/// does not echo a peer's data (an idTag, say) back to it or into logs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    // Field order is the sort order: precedence first, then position.
    kind: ViolationKind,
    pointer: String,
    message: String,
}

impl Violation {
    /// The JSON pointer (RFC 6901) of the offending value in the payload: `""` for the payload
    /// itself, `/idTagInfo/status` for a nested member. For a missing or unexpected member it
    /// points at the member, e.g. `/chargePointVendor`.
    pub fn pointer(&self) -> &str {
        &self.pointer
    }

    /// What kind of violation this is.
    pub fn kind(&self) -> ViolationKind {
        self.kind
    }

    /// What is wrong, without the position, e.g. `longer than 20 characters`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Violation {
    /// `pointer: message`, with `payload` standing for the empty pointer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "payload"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// A vendored schema that could not be compiled. Never expected: a test compiles all of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the OCPP {version} {} schema of {action} does not compile: {reason}", kind.as_str())]
pub struct SchemaError {
    /// The version the schema belongs to.
    pub version: Version,
    /// The action the schema describes.
    pub action: &'static str,
    /// Request or response.
    pub kind: PayloadKind,
    /// Why it failed.
    pub reason: String,
}

/// Why a payload was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The version defines no such action (names are case-sensitive).
    #[error("OCPP {version} has no action {action:?}")]
    UnknownAction {
        /// The version asked about.
        version: Version,
        /// The action name as given.
        action: String,
    },
    /// The payload does not conform to its schema.
    #[error("invalid OCPP {version} payload: {}", violations_text(.violations))]
    Invalid {
        /// The version whose schema was applied; it decides the CallError code's table.
        version: Version,
        /// Never empty; sorted by precedence, then pointer, so the first decides the code.
        violations: Vec<Violation>,
    },
    /// The schema itself is broken, so the payload could not be judged.
    #[error(transparent)]
    Schema(#[from] SchemaError),
}

impl ValidationError {
    /// The CallError code to answer with, spelled for the wire by
    /// `error_code().wire_name(version)`.
    ///
    /// [`ValidationError::Invalid`] takes the code of its first (highest precedence)
    /// violation from the table of its version; an unknown action is `NotImplemented`
    /// ("Requested Action is not known by receiver", both versions) and a broken schema
    /// `InternalError`.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ValidationError::UnknownAction { .. } => ErrorCode::NotImplemented,
            ValidationError::Invalid {
                version,
                violations,
            } => violations
                .first()
                .map_or(ErrorCode::FormatViolation, |v| v.kind.error_code(*version)),
            ValidationError::Schema(_) => ErrorCode::InternalError,
        }
    }

    /// The violations found, highest precedence first; empty unless the payload was invalid.
    pub fn violations(&self) -> &[Violation] {
        match self {
            ValidationError::Invalid { violations, .. } => violations,
            _ => &[],
        }
    }

    /// A CallError `errorDescription`: the violations in precedence order, joined by `; `,
    /// with a `(+N more)` tail when not all fit. Never longer than
    /// [`MAX_DESCRIPTION_LEN`] bytes (2.0.1 part 4 table 7: `string[255]`), whatever the
    /// input; cut at a character boundary.
    pub fn description(&self) -> String {
        let text = match self {
            ValidationError::Invalid { violations, .. } => {
                return join_bounded(violations, MAX_DESCRIPTION_LEN);
            }
            other => other.to_string(),
        };
        truncate(&text, MAX_DESCRIPTION_LEN).into_owned()
    }

    /// A CallError `errorDetails` object: `{"violations": [{"pointer", "kind", "message"}...]}`
    /// for an invalid payload (at most [`MAX_DETAILED_VIOLATIONS`] entries, with `"omitted": N`
    /// when there were more, and pointers cut to [`MAX_DETAIL_FIELD_LEN`] bytes so a peer's huge
    /// member name is not echoed in full); `{"action": ...}` for an unknown action; `{}`
    /// otherwise. OCPP-J leaves the object's content open ("describes error details in an
    /// undefined way").
    pub fn details(&self) -> Value {
        let mut details = Map::new();
        match self {
            ValidationError::Invalid { violations, .. } => {
                let listed: Vec<Value> = violations
                    .iter()
                    .take(MAX_DETAILED_VIOLATIONS)
                    .map(|v| {
                        json!({
                            "pointer": truncate(&v.pointer, MAX_DETAIL_FIELD_LEN),
                            "kind": v.kind.as_str(),
                            "message": truncate(&v.message, MAX_DETAIL_FIELD_LEN),
                        })
                    })
                    .collect();
                details.insert("violations".to_owned(), Value::Array(listed));
                let omitted = violations.len().saturating_sub(MAX_DETAILED_VIOLATIONS);
                if omitted > 0 {
                    details.insert("omitted".to_owned(), omitted.into());
                }
            }
            ValidationError::UnknownAction { action, .. } => {
                details.insert(
                    "action".to_owned(),
                    truncate(action, MAX_DETAIL_FIELD_LEN).into(),
                );
            }
            ValidationError::Schema(_) => {}
        }
        Value::Object(details)
    }
}

/// The longest [`ValidationError::description`], in bytes: 2.0.1 limits `errorDescription`
/// to 255 characters, and 255 bytes are never more characters than that.
pub const MAX_DESCRIPTION_LEN: usize = 255;

/// How many violations [`ValidationError::details`] lists at most.
pub const MAX_DETAILED_VIOLATIONS: usize = 10;

/// The longest pointer or message in [`ValidationError::details`], in bytes.
pub const MAX_DETAIL_FIELD_LEN: usize = 128;

fn violations_text(violations: &[Violation]) -> String {
    let mut text = String::new();
    for (i, v) in violations.iter().enumerate() {
        if i > 0 {
            text.push_str("; ");
        }
        // Writing to a String cannot fail.
        let _ = write!(text, "{v}");
    }
    text
}

/// Joins as many violations as fit into `max` bytes, then says how many were left out.
fn join_bounded(violations: &[Violation], max: usize) -> String {
    let mut out = String::new();
    for (i, v) in violations.iter().enumerate() {
        let item = v.to_string();
        let rest = violations.len() - i - 1;
        // Room that must stay free for the tail if later items do not fit.
        let tail_room = if rest > 0 { more_tail(rest).len() } else { 0 };
        let separator = if i > 0 { "; " } else { "" };
        if out.len() + separator.len() + item.len() + tail_room <= max {
            out.push_str(separator);
            out.push_str(&item);
            continue;
        }
        if i == 0 {
            // Not even the first fits: keep its head, as it names the deciding violation.
            let tail = more_tail(violations.len() - 1);
            let head_max = max.saturating_sub(tail.len() + 3);
            out.push_str(&truncate(&item, head_max));
            out.push_str("...");
            if violations.len() > 1 {
                out.push_str(&tail);
            }
        } else {
            out.push_str(&more_tail(violations.len() - i));
        }
        break;
    }
    out
}

fn more_tail(count: usize) -> String {
    format!(" (+{count} more)")
}

/// `text` cut to at most `max` bytes at a character boundary.
fn truncate(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].into()
}

/// Validates `payload` against the schema of `action`'s request or response in `version`.
///
/// Valid payloads cost one `is_valid` pass over a validator compiled once per process; the
/// violations are collected only for invalid ones.
///
/// # Errors
///
/// [`ValidationError::UnknownAction`] if `version` has no such action,
/// [`ValidationError::Invalid`] with every violation found, highest precedence first, or
/// [`ValidationError::Schema`] if the vendored schema does not compile (never expected).
pub fn validate(
    version: Version,
    action: &str,
    kind: PayloadKind,
    payload: &Value,
) -> Result<(), ValidationError> {
    let index = lookup(version, cache(version), action)?;
    validate_index(version, index, kind, payload)
}

/// [`validate`] for the action at `index` of the version's table (`schemas::index`), for a
/// caller that looked the action up already: every received CALL is.
pub(crate) fn validate_index(
    version: Version,
    index: usize,
    kind: PayloadKind,
    payload: &Value,
) -> Result<(), ValidationError> {
    let Checker {
        validator,
        accepts_empty,
    } = validator_at(version, index, kind)?;
    let empty = matches!(payload, Value::Object(members) if members.is_empty());
    if (empty && *accepts_empty) || validator.is_valid(payload) {
        return Ok(());
    }
    let mut violations = Vec::new();
    for error in validator.iter_errors(payload) {
        classify(&error, payload, &mut violations);
    }
    violations.sort();
    violations.dedup();
    if violations.is_empty() {
        // `is_valid` and `iter_errors` disagree; should not happen, but never call an invalid
        // payload valid.
        violations.push(Violation {
            kind: ViolationKind::Other,
            pointer: String::new(),
            message: "rejected by the schema".to_owned(),
        });
    }
    Err(ValidationError::Invalid {
        version,
        violations,
    })
}

/// Compiles every schema of every version now instead of on first use, and returns how many
/// there are (2 × (39 + 64) = 206).
///
/// # Errors
///
/// Every schema that failed to compile. The others are compiled and cached all the same.
pub fn compile_all() -> Result<usize, Vec<SchemaError>> {
    let mut count = 0;
    let mut errors = Vec::new();
    for version in Version::ALL {
        let cache = cache(version);
        for (index, action) in cache.names.iter().enumerate() {
            for kind in [PayloadKind::Request, PayloadKind::Response] {
                count += 1;
                if let Err(error) = compiled(version, cache, index, action, kind) {
                    errors.push(error.clone());
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(count)
    } else {
        Err(errors)
    }
}

/// The JSON Schema drafts the vendored OCPP schemas are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaDraft {
    /// Draft-04: the 28 core actions of OCPP 1.6 (OCPP-J 1.6 errata 3.8).
    Draft04,
    /// Draft-06: the 1.6 security white paper actions and all of OCPP 2.0.1.
    Draft06,
}

/// The JSON Schema draft a vendored schema file is written in, read from its `$schema`; the
/// validator of that schema is compiled with this draft.
///
/// # Errors
///
/// The action is unknown, or the schema text is not JSON or names a draft OCPP does not use.
pub fn schema_draft(
    version: Version,
    action: &str,
    kind: PayloadKind,
) -> Result<SchemaDraft, ValidationError> {
    let cache = cache(version);
    let index = lookup(version, cache, action)?;
    let text = schemas::schema_text(version, action, kind).unwrap_or_default();
    let schema = parse_schema(version, cache.names[index], kind, text)?;
    Ok(draft_of(version, cache.names[index], kind, &schema)?)
}

type Compiled = Result<Checker, SchemaError>;

/// A compiled schema, and its verdict on the empty object worked out once: `{}` is the whole
/// payload of many messages (Heartbeat.req, most notifications' answers), and a Heartbeat
/// would otherwise run the validator for it on every round trip.
struct Checker {
    validator: Validator,
    accepts_empty: bool,
}

/// The validators of one version: action names (sorted, as `schemas::actions` yields them) and
/// one lazily filled slot per action and payload kind.
struct VersionCache {
    names: Vec<&'static str>,
    slots: Vec<[OnceLock<Compiled>; 2]>,
}

static CACHES: [OnceLock<VersionCache>; 2] = [OnceLock::new(), OnceLock::new()];

fn cache(version: Version) -> &'static VersionCache {
    let index = match version {
        Version::V16 => 0,
        Version::V201 => 1,
    };
    CACHES[index].get_or_init(|| {
        let names: Vec<_> = schemas::actions(version).collect();
        let slots = names
            .iter()
            .map(|_| [OnceLock::new(), OnceLock::new()])
            .collect();
        VersionCache { names, slots }
    })
}

fn lookup(version: Version, cache: &VersionCache, action: &str) -> Result<usize, ValidationError> {
    schemas::index(version, action)
        .filter(|index| *index < cache.names.len())
        .ok_or_else(|| ValidationError::UnknownAction {
            version,
            action: action.to_owned(),
        })
}

#[cfg(test)]
fn validator(
    version: Version,
    action: &str,
    kind: PayloadKind,
) -> Result<&'static Validator, ValidationError> {
    validator_at(version, lookup(version, cache(version), action)?, kind)
        .map(|checker| &checker.validator)
}

fn validator_at(
    version: Version,
    index: usize,
    kind: PayloadKind,
) -> Result<&'static Checker, ValidationError> {
    let cache = cache(version);
    let Some(action) = cache.names.get(index) else {
        return Err(ValidationError::UnknownAction {
            version,
            action: format!("#{index}"),
        });
    };
    compiled(version, cache, index, action, kind)
        .as_ref()
        .map_err(|e| ValidationError::Schema(e.clone()))
}

fn compiled(
    version: Version,
    cache: &'static VersionCache,
    index: usize,
    action: &'static str,
    kind: PayloadKind,
) -> &'static Compiled {
    let slot = match kind {
        PayloadKind::Request => 0,
        PayloadKind::Response => 1,
    };
    cache.slots[index][slot].get_or_init(|| compile(version, action, kind))
}

fn compile(version: Version, action: &'static str, kind: PayloadKind) -> Compiled {
    let error = |reason: String| SchemaError {
        version,
        action,
        kind,
        reason,
    };
    let text = schemas::schema_text(version, action, kind)
        .ok_or_else(|| error("no schema text".to_owned()))?;
    let schema = parse_schema(version, action, kind, text)?;
    let draft = match draft_of(version, action, kind, &schema)? {
        SchemaDraft::Draft04 => Draft::Draft4,
        SchemaDraft::Draft06 => Draft::Draft6,
    };
    jsonschema::options()
        .with_draft(draft)
        .should_validate_formats(true)
        .with_format("date-time", is_rfc3339_date_time)
        .build(&schema)
        .map(|validator| Checker {
            accepts_empty: validator.is_valid(&Value::Object(Map::new())),
            validator,
        })
        .map_err(|e| error(e.to_string()))
}

/// The `date-time` format check: the decoder's own RFC 3339 parser, so that a date-time the
/// schema accepts always decodes (jsonschema 0.60's built-in check lets malformed years such as
/// `2/13` pass), restricted to the grammar's `T` separator. The decoder also reads the space
/// that RFC 3339 section 5.6 allows "for readability", but JSON Schema's `date-time` is the
/// `date-time` production, which has a `T` (or `t`) at offset 10 after `YYYY-MM-DD`.
fn is_rfc3339_date_time(text: &str) -> bool {
    use crate::primitives::datetime;
    matches!(text.as_bytes().get(10), Some(b'T' | b't'))
        && (datetime::is_plain_utc(text) || datetime::parse(text).is_ok())
}

fn parse_schema(
    version: Version,
    action: &'static str,
    kind: PayloadKind,
    text: &str,
) -> Result<Value, SchemaError> {
    serde_json::from_str(text).map_err(|e| SchemaError {
        version,
        action,
        kind,
        reason: format!("not JSON: {e}"),
    })
}

/// Honours the file's `$schema`: OCA's 1.6 files are draft-04, the 1.6 security and 2.0.1
/// files draft-06. Anything else is refused rather than guessed, because the drafts read
/// keywords such as `exclusiveMinimum` and `id` differently.
fn draft_of(
    version: Version,
    action: &'static str,
    kind: PayloadKind,
    schema: &Value,
) -> Result<SchemaDraft, SchemaError> {
    let declared = schema.get("$schema").and_then(Value::as_str).unwrap_or("");
    match declared.trim_end_matches('#') {
        "http://json-schema.org/draft-04/schema" => Ok(SchemaDraft::Draft04),
        "http://json-schema.org/draft-06/schema" => Ok(SchemaDraft::Draft06),
        other => Err(SchemaError {
            version,
            action,
            kind,
            reason: format!("unsupported $schema {other:?}"),
        }),
    }
}

/// Turns one `jsonschema` error into violations (one per member for `required` and
/// `additionalProperties`, so each pointer names the member). `payload` is the validated
/// instance, needed to name the members behind an `additionalProperties: false` failure
/// that jsonschema reports as a bare false schema (see [`closed_object_members`]).
fn classify(error: &jsonschema::ValidationError<'_>, payload: &Value, out: &mut Vec<Violation>) {
    let at = error.instance_path().as_str();
    let push = |out: &mut Vec<Violation>, kind, pointer: String, message: String| {
        out.push(Violation {
            kind,
            pointer,
            message,
        });
    };
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            push(
                out,
                ViolationKind::MissingMember,
                member_pointer(at, &name),
                "required member is missing".to_owned(),
            );
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for name in unexpected {
                push(
                    out,
                    ViolationKind::UnexpectedMember,
                    member_pointer(at, name),
                    "member not defined by the schema".to_owned(),
                );
            }
        }
        ValidationErrorKind::FalseSchema
            if error
                .schema_path()
                .as_str()
                .ends_with("/additionalProperties") =>
        {
            for pointer in closed_object_members(error, payload) {
                push(
                    out,
                    ViolationKind::UnexpectedMember,
                    pointer,
                    "member not defined by the schema".to_owned(),
                );
            }
        }
        ValidationErrorKind::Type { kind } => {
            let expected = expected_types(kind);
            let found = json_type_name(error.instance());
            let kind = if at.is_empty() && !error.instance().is_object() {
                ViolationKind::NotAnObject
            } else {
                ViolationKind::WrongType
            };
            push(
                out,
                kind,
                at.to_owned(),
                format!("expected {expected}, found {found}"),
            );
        }
        ValidationErrorKind::MaxLength { limit } => push(
            out,
            ViolationKind::TooLong,
            at.to_owned(),
            format!("longer than {limit} characters"),
        ),
        ValidationErrorKind::MinLength { limit } => push(
            out,
            ViolationKind::TooShort,
            at.to_owned(),
            format!("shorter than {limit} characters"),
        ),
        ValidationErrorKind::Enum { options } => push(
            out,
            ViolationKind::NotInEnum,
            at.to_owned(),
            format!("not one of {}", list_values(options)),
        ),
        ValidationErrorKind::Constant { expected_value } => push(
            out,
            ViolationKind::NotInEnum,
            at.to_owned(),
            format!("not {}", truncate(&expected_value.to_string(), 64)),
        ),
        ValidationErrorKind::Pattern { pattern } => push(
            out,
            ViolationKind::PatternMismatch,
            at.to_owned(),
            format!("does not match the pattern {}", truncate(pattern, 64)),
        ),
        ValidationErrorKind::Minimum { limit } => push(
            out,
            ViolationKind::OutOfRange,
            at.to_owned(),
            format!("less than the minimum {limit}"),
        ),
        ValidationErrorKind::ExclusiveMinimum { limit } => push(
            out,
            ViolationKind::OutOfRange,
            at.to_owned(),
            format!("not greater than {limit}"),
        ),
        ValidationErrorKind::Maximum { limit } => push(
            out,
            ViolationKind::OutOfRange,
            at.to_owned(),
            format!("greater than the maximum {limit}"),
        ),
        ValidationErrorKind::ExclusiveMaximum { limit } => push(
            out,
            ViolationKind::OutOfRange,
            at.to_owned(),
            format!("not less than {limit}"),
        ),
        // The field is an f64 or a JSON number depending on a jsonschema feature; both display.
        ValidationErrorKind::MultipleOf { multiple_of } => push(
            out,
            ViolationKind::OutOfRange,
            at.to_owned(),
            format!("not a multiple of {multiple_of}"),
        ),
        ValidationErrorKind::MaxItems { limit } => push(
            out,
            ViolationKind::TooManyItems,
            at.to_owned(),
            format!("more than {limit} items"),
        ),
        ValidationErrorKind::AdditionalItems { limit } => push(
            out,
            ViolationKind::TooManyItems,
            at.to_owned(),
            format!("more than {limit} items"),
        ),
        ValidationErrorKind::MinItems { limit } => push(
            out,
            ViolationKind::TooFewItems,
            at.to_owned(),
            format!("fewer than {limit} items"),
        ),
        ValidationErrorKind::Format { format } => push(
            out,
            ViolationKind::BadFormat,
            at.to_owned(),
            format!("not a valid {format}"),
        ),
        _ => push(
            out,
            ViolationKind::Other,
            at.to_owned(),
            // Masked: jsonschema's own message without the instance's value.
            truncate(&error.masked().to_string(), 128).into_owned(),
        ),
    }
}

/// The pointers of the members an `additionalProperties: false` schema failure is about.
///
/// jsonschema 0.60 compiles `additionalProperties: false` without a `properties` keyword (the
/// draft-06 1.6 security responses, e.g. LogStatusNotification.conf, allow no member at all)
/// into a check that reports only the first member's value, located at the object rather
/// than at the member. Such an object admits no member, so all of them are unexpected. Should
/// the error instead point at the member itself (its instance is the value found there), that
/// one member is reported.
fn closed_object_members(error: &jsonschema::ValidationError<'_>, payload: &Value) -> Vec<String> {
    let at = error.instance_path().as_str();
    let located = payload.pointer(at);
    match located {
        Some(Value::Object(members)) if located != Some(error.instance().as_ref()) => members
            .keys()
            .map(|name| member_pointer(at, name))
            .collect(),
        _ => vec![at.to_owned()],
    }
}

/// `parent` extended by one member name, escaped as RFC 6901 requires.
fn member_pointer(parent: &str, name: &str) -> String {
    let mut pointer = String::with_capacity(parent.len() + name.len() + 1);
    pointer.push_str(parent);
    pointer.push('/');
    for c in name.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
    pointer
}

fn expected_types(kind: &TypeKind) -> String {
    let names: Vec<String> = match kind {
        TypeKind::Single(t) => vec![t.to_string()],
        TypeKind::Multiple(set) => set.iter().map(|t| t.to_string()).collect(),
    };
    names.join(" or ")
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The allowed values of an enum, shortened when the list is long (2.0.1 has enums of 40).
fn list_values(options: &Value) -> String {
    const SHOWN: usize = 6;
    let Some(values) = options.as_array() else {
        return truncate(&options.to_string(), 64).into_owned();
    };
    let mut text = values
        .iter()
        .take(SHOWN)
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .collect::<Vec<_>>()
        .join(", ");
    if values.len() > SHOWN {
        let _ = write!(text, ", ... ({} values)", values.len());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(kind: ViolationKind, pointer: &str, message: &str) -> Violation {
        Violation {
            kind,
            pointer: pointer.to_owned(),
            message: message.to_owned(),
        }
    }

    #[test]
    fn all_lists_every_kind_in_declaration_order() {
        assert!(ViolationKind::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    /// The empty object's verdict, worked out once per schema, is the validator's own: a
    /// Heartbeat.req passes, an Authorize.req (idTag required) does not, for every schema.
    #[test]
    fn the_empty_object_gets_the_verdict_of_the_validator() {
        let empty = json!({});
        let mut accepted = 0;
        for version in Version::ALL {
            for action in schemas::actions(version) {
                for kind in [PayloadKind::Request, PayloadKind::Response] {
                    let verdict = validator(version, action, kind).unwrap().is_valid(&empty);
                    let result = validate(version, action, kind, &empty);
                    assert_eq!(result.is_ok(), verdict, "{version} {action} {kind:?}");
                    accepted += usize::from(verdict);
                }
            }
        }
        assert!(accepted > 20, "{accepted}");
        assert!(validate(Version::V16, "Heartbeat", PayloadKind::Request, &empty).is_ok());
        assert!(validate(Version::V16, "Authorize", PayloadKind::Request, &empty).is_err());
    }

    /// Validators are compiled once and shared: the second lookup returns the same one.
    #[test]
    fn a_validator_is_compiled_once_and_reused() {
        let first = validator(Version::V201, "TransactionEvent", PayloadKind::Request).unwrap();
        let again = validator(Version::V201, "TransactionEvent", PayloadKind::Request).unwrap();
        assert!(std::ptr::eq(first, again));
        let response = validator(Version::V201, "TransactionEvent", PayloadKind::Response);
        assert!(!std::ptr::eq(first, response.unwrap()));
    }

    #[test]
    fn member_pointers_escape_tilde_and_slash() {
        assert_eq!(member_pointer("/a", "b/c~d"), "/a/b~1c~0d");
        assert_eq!(member_pointer("", "x"), "/x");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }

    #[test]
    fn bounded_join_keeps_the_head_and_counts_the_rest() {
        let many: Vec<_> = (0..100)
            .map(|i| violation(ViolationKind::TooLong, &format!("/field{i}"), "too long"))
            .collect();
        let text = join_bounded(&many, MAX_DESCRIPTION_LEN);
        assert!(text.len() <= MAX_DESCRIPTION_LEN, "{}", text.len());
        assert!(text.starts_with("/field0: too long; /field1: too long"));
        assert!(text.ends_with(" more)"), "{text}");

        let huge = vec![
            violation(ViolationKind::UnexpectedMember, &"/é".repeat(1000), "m"),
            violation(ViolationKind::TooLong, "/b", "m"),
        ];
        let text = join_bounded(&huge, MAX_DESCRIPTION_LEN);
        assert!(text.len() <= MAX_DESCRIPTION_LEN, "{}", text.len());
        assert!(text.ends_with("... (+1 more)"), "{text}");
    }
}
