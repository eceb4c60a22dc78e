//! Every request and response of every action of both versions reads and writes its JSON
//! without loss, and what it writes validates against the vendored schema.
//!
//! The samples come from the schemas themselves, built at test time by [`Sample`]: a
//! "maximal" instance with every optional member present, arrays of two, strings at their
//! maximum length, the first enum value, a fractional date-time and a fractional number; and a
//! "minimal" instance with only the required members and the last enum value. So a new
//! schema member or a wrong field mapping shows up here without anyone writing a fixture.

use ocpp_core::{PayloadKind, Version, schemas, v16, v201};
use serde_json::{Map, Value, json};

/// Builds a schema-valid instance of a schema.
struct Sample<'a> {
    /// The schema file's root, for `#/definitions/...` references.
    root: &'a Value,
    /// Maximal (every member) or minimal (required members only).
    maximal: bool,
}

impl Sample<'_> {
    fn build(&self, schema: &Value, at: &str) -> Value {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let name = reference
                .strip_prefix("#/definitions/")
                .unwrap_or_else(|| panic!("{at}: unexpected $ref {reference}"));
            return self.build(&self.root["definitions"][name], at);
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            let pick = if self.maximal {
                values.first()
            } else {
                values.last()
            };
            return pick.cloned().unwrap_or_else(|| panic!("{at}: empty enum"));
        }
        let Some(ty) = schema.get("type").and_then(Value::as_str) else {
            // DataTransfer (2.0.1) `data`: any JSON.
            return if self.maximal {
                json!({ "vendorRecord": [1, "two", 3.5, true, { "nested": null }] })
            } else {
                json!("text")
            };
        };
        match ty {
            "object" => self.object(schema, at),
            "array" => {
                let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
                let max = schema
                    .get("maxItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(u64::MAX);
                let count = if self.maximal { 2.clamp(min, max) } else { min };
                (0..count)
                    .map(|i| self.build(&schema["items"], &format!("{at}[{i}]")))
                    .collect()
            }
            "string" => self.string(schema),
            "integer" => {
                // The 2.0.1 files write bounds as floats (`100.0`).
                let bound = |key| schema.get(key).and_then(Value::as_f64).map(|b| b as i64);
                let (min, max) = (bound("minimum"), bound("maximum"));
                json!(match (self.maximal, min, max) {
                    (true, _, Some(max)) => max,
                    (true, _, None) => 2_147_483_647,
                    (false, Some(min), _) => min,
                    (false, None, _) => -7,
                })
            }
            "number" => {
                // Both fit `multipleOf: 0.1` and keep their digits exactly.
                let text = if self.maximal { "12345.6" } else { "-3.2" };
                serde_json::from_str(text).unwrap()
            }
            "boolean" => json!(self.maximal),
            other => panic!("{at}: type {other} has no sample"),
        }
    }

    fn object(&self, schema: &Value, at: &str) -> Value {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut out = Map::new();
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                if self.maximal || required.contains(&name.as_str()) {
                    out.insert(name.clone(), self.build(property, &format!("{at}.{name}")));
                }
            }
        }
        // An object that allows extra members (2.0.1 CustomDataType) gets one, to prove that
        // it survives the round trip.
        if self.maximal && schema.get("additionalProperties") != Some(&Value::Bool(false)) {
            out.insert(
                "extraVendorMember".to_owned(),
                json!({ "any": ["thing", 1] }),
            );
        }
        Value::Object(out)
    }

    fn string(&self, schema: &Value) -> Value {
        match schema.get("format").and_then(Value::as_str) {
            Some("date-time") if self.maximal => json!("2013-02-01T20:53:32.486Z"),
            Some("date-time") => json!("2013-02-01T20:53:32Z"),
            Some("uri") => json!("ftp://example.com/file"),
            Some(other) => panic!("format {other} has no sample"),
            None => {
                let max = schema.get("maxLength").and_then(Value::as_u64);
                let len = if self.maximal { max.unwrap_or(24) } else { 1 };
                let text: String = (0..len)
                    .map(|i| char::from(b'a' + u8::try_from(i % 26).unwrap()))
                    .collect();
                json!(text)
            }
        }
    }
}

fn schema(version: Version, action: &str, kind: PayloadKind) -> Value {
    let text = schemas::schema_text(version, action, kind).unwrap();
    serde_json::from_str(text).unwrap()
}

fn assert_valid(schema: &Value, instance: &Value, what: &str) {
    let validator = jsonschema::validator_for(schema).unwrap_or_else(|e| panic!("{what}: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:?}\n{instance:#}");
}

/// Reads `sample` into the typed payload, writes it back and checks the result: equal JSON
/// (number text included, so decimals are compared exactly), valid against the schema, and
/// reading the written JSON gives the same typed value.
fn check<T: PartialEq + std::fmt::Debug>(
    version: Version,
    action: &str,
    kind: PayloadKind,
    read: impl Fn(Value) -> Result<T, serde_json::Error>,
    write: impl Fn(&T) -> Value,
) -> usize {
    let schema = schema(version, action, kind);
    let mut checked = 0;
    for maximal in [true, false] {
        let what = format!(
            "{version} {action} {} ({})",
            kind.as_str(),
            if maximal { "maximal" } else { "minimal" }
        );
        let sample = Sample {
            root: &schema,
            maximal,
        }
        .build(&schema, "");
        assert_valid(&schema, &sample, &format!("{what}, the sample itself"));
        let typed =
            read(sample.clone()).unwrap_or_else(|e| panic!("{what}: read: {e}\n{sample:#}"));
        let written = write(&typed);
        assert_eq!(written, sample, "{what}");
        assert_eq!(
            written.to_string(),
            sample.to_string(),
            "{what}: number text"
        );
        assert_valid(&schema, &written, &what);
        let again = read(written).unwrap_or_else(|e| panic!("{what}: read back: {e}"));
        assert_eq!(again, typed, "{what}: typed -> JSON -> typed");
        checked += 1;
    }
    checked
}

#[test]
fn every_v16_request_and_response_round_trips_and_validates() {
    let mut checked = 0;
    for action in v16::Action::ALL {
        let name = action.as_str();
        checked += check(
            Version::V16,
            name,
            PayloadKind::Request,
            |v| v16::Request::from_payload(action, v),
            v16::Request::to_payload,
        );
        checked += check(
            Version::V16,
            name,
            PayloadKind::Response,
            |v| v16::Response::from_payload(action, v),
            v16::Response::to_payload,
        );
    }
    assert_eq!(checked, 39 * 2 * 2);
}

#[test]
fn every_v201_request_and_response_round_trips_and_validates() {
    let mut checked = 0;
    for action in v201::Action::ALL {
        let name = action.as_str();
        checked += check(
            Version::V201,
            name,
            PayloadKind::Request,
            |v| v201::Request::from_payload(action, v),
            v201::Request::to_payload,
        );
        checked += check(
            Version::V201,
            name,
            PayloadKind::Response,
            |v| v201::Response::from_payload(action, v),
            v201::Response::to_payload,
        );
    }
    assert_eq!(checked, 64 * 2 * 2);
}
