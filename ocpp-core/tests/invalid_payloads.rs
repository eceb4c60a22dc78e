//! Every action of both versions, request and response: each kind of schema failure that the
//! action's schema can exhibit gets the CallError code the validation tables document
//! (`ocpp_core::validate` module docs; OCPP-J 1.6 section 4.2.3, OCPP 2.0.1 part 4 section 4.3).
//!
//! The invalid payloads are derived from a schema-valid "maximal" sample (see `common`) by one
//! mutation each, found by walking the schema: remove a required member, add a member, give a
//! member the wrong type, put a value outside its enumeration, make a string one character too
//! long, a number one below its minimum, an array one item too long or empty where it needs an
//! item, a date-time that is not one. The expected codes are written out here as the wire
//! strings, so the test does not merely repeat the implementation's table.

use std::collections::BTreeMap;

use ocpp_core::validate::validate;
use ocpp_core::{PayloadKind, Version, schemas};
use serde_json::{Value, json};

mod common;
use common::Sample;

/// A failure kind this test provokes, with the code each version's table gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mutation {
    NotAnObject,
    MissingMember,
    ExtraMember,
    WrongType,
    NotInEnum,
    TooLong,
    BelowMinimum,
    TooManyItems,
    TooFewItems,
    BadDateTime,
}

impl Mutation {
    fn expected(self, version: Version) -> &'static str {
        match (self, version) {
            (Mutation::NotAnObject, Version::V16) => "FormationViolation",
            (Mutation::NotAnObject, Version::V201) => "FormatViolation",
            (Mutation::MissingMember, Version::V16) => "ProtocolError",
            (Mutation::MissingMember, Version::V201) => "OccurrenceConstraintViolation",
            (Mutation::ExtraMember, Version::V16) => "FormationViolation",
            (Mutation::ExtraMember, Version::V201) => "ProtocolError",
            (Mutation::WrongType | Mutation::BadDateTime, _) => "TypeConstraintViolation",
            (Mutation::NotInEnum | Mutation::TooLong | Mutation::BelowMinimum, _) => {
                "PropertyConstraintViolation"
            }
            (Mutation::TooManyItems | Mutation::TooFewItems, Version::V16) => {
                "OccurenceConstraintViolation"
            }
            (Mutation::TooManyItems | Mutation::TooFewItems, Version::V201) => {
                "OccurrenceConstraintViolation"
            }
        }
    }
}

/// The first place in `sample` where each constraint-based mutation applies, with the value to
/// put there.
struct Finder<'a> {
    root: &'a Value,
    found: BTreeMap<Mutation, (String, Value)>,
}

impl Finder<'_> {
    fn resolve<'s>(&'s self, schema: &'s Value) -> &'s Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let name = reference.trim_start_matches("#/definitions/");
                &self.root["definitions"][name]
            }
            None => schema,
        }
    }

    fn offer(&mut self, mutation: Mutation, pointer: &str, value: Value) {
        self.found
            .entry(mutation)
            .or_insert_with(|| (pointer.to_owned(), value));
    }

    fn walk(&mut self, schema: &Value, sample: &Value, pointer: &str) {
        let schema = self.resolve(schema).clone();
        if schema.get("enum").is_some() {
            self.offer(Mutation::NotInEnum, pointer, json!("NotAnAllowedValue"));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            let length = usize::try_from(max).unwrap() + 1;
            self.offer(Mutation::TooLong, pointer, json!("x".repeat(length)));
        }
        if schema.get("format").and_then(Value::as_str) == Some("date-time") {
            self.offer(Mutation::BadDateTime, pointer, json!("yesterday at noon"));
        }
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            // Integer fields must stay integers, or the type would be wrong as well.
            let below = if schema["type"] == "integer" {
                json!(min as i64 - 1)
            } else {
                json!(min - 1.0)
            };
            self.offer(Mutation::BelowMinimum, pointer, below);
        }
        match (schema.get("type").and_then(Value::as_str), sample) {
            (Some("object"), Value::Object(members)) => {
                let properties = schema["properties"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                for (name, value) in members {
                    if let Some(property) = properties.get(name) {
                        self.walk(property, value, &format!("{pointer}/{name}"));
                    }
                }
            }
            (Some("array"), Value::Array(items)) => {
                if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
                    let item = items.first().cloned().unwrap_or(Value::Null);
                    let too_many = vec![item; usize::try_from(max).unwrap() + 1];
                    self.offer(Mutation::TooManyItems, pointer, Value::Array(too_many));
                }
                if schema.get("minItems").and_then(Value::as_u64).unwrap_or(0) >= 1 {
                    self.offer(Mutation::TooFewItems, pointer, json!([]));
                }
                if let Some(first) = items.first() {
                    self.walk(&schema["items"], first, &format!("{pointer}/0"));
                }
            }
            _ => {}
        }
    }
}

/// Every mutation that applies to this payload schema, with the invalid payload it makes.
fn mutations(root: &Value, sample: &Value) -> Vec<(Mutation, Value)> {
    let mut out = vec![(Mutation::NotAnObject, json!(["not", "an", "object"]))];
    let members = sample.as_object().expect("payloads are objects");
    if let Some(required) = root.get("required").and_then(Value::as_array)
        && let Some(first) = required.first().and_then(Value::as_str)
    {
        let mut payload = sample.clone();
        payload.as_object_mut().unwrap().remove(first);
        out.push((Mutation::MissingMember, payload));
    }
    let mut payload = sample.clone();
    payload
        .as_object_mut()
        .unwrap()
        .insert("notInTheSchema".into(), json!(1));
    out.push((Mutation::ExtraMember, payload));
    // The first top-level member that has a type gets a value of another type.
    if let Some((name, value)) = members.iter().find(|(name, _)| {
        let property = &root["properties"][name.as_str()];
        property.get("type").is_some() || property.get("$ref").is_some()
    }) {
        let wrong = if value.is_string() {
            json!(12)
        } else {
            json!("somestring")
        };
        let mut payload = sample.clone();
        payload[name.as_str()] = wrong;
        out.push((Mutation::WrongType, payload));
    }
    let mut finder = Finder {
        root,
        found: BTreeMap::new(),
    };
    finder.walk(root, sample, "");
    for (mutation, (pointer, value)) in finder.found {
        let mut payload = sample.clone();
        *payload
            .pointer_mut(&pointer)
            .expect("the pointer came from the sample") = value;
        out.push((mutation, payload));
    }
    out
}

#[test]
fn every_failure_kind_of_every_action_gets_the_documented_code() {
    for version in Version::ALL {
        let mut tried: BTreeMap<Mutation, usize> = BTreeMap::new();
        for action in schemas::actions(version) {
            for kind in [PayloadKind::Request, PayloadKind::Response] {
                let text = schemas::schema_text(version, action, kind).unwrap();
                let root: Value = serde_json::from_str(text).unwrap();
                let sample = Sample {
                    root: &root,
                    maximal: true,
                }
                .build(&root, "");
                assert!(validate(version, action, kind, &sample).is_ok());
                for (mutation, payload) in mutations(&root, &sample) {
                    let what = format!("{version} {action} {} {mutation:?}", kind.as_str());
                    let error = validate(version, action, kind, &payload)
                        .err()
                        .unwrap_or_else(|| panic!("{what}: accepted {payload}"));
                    assert_eq!(
                        error.error_code().wire_name(version),
                        mutation.expected(version),
                        "{what}: {error}"
                    );
                    *tried.entry(mutation).or_default() += 1;
                }
            }
        }
        // Every kind whose keyword some schema of the version uses was provoked, so no row of
        // the table that can occur goes untested (1.6 has no `maxItems` and no `minimum`).
        let texts: String = schemas::actions(version)
            .flat_map(|action| {
                [PayloadKind::Request, PayloadKind::Response]
                    .map(|kind| schemas::schema_text(version, action, kind).unwrap())
            })
            .collect();
        for (mutation, keyword) in [
            (Mutation::NotAnObject, "\"type\""),
            (Mutation::MissingMember, "\"required\""),
            (Mutation::ExtraMember, "additionalProperties"),
            (Mutation::WrongType, "\"type\""),
            (Mutation::NotInEnum, "\"enum\""),
            (Mutation::TooLong, "\"maxLength\""),
            (Mutation::BelowMinimum, "\"minimum\""),
            (Mutation::TooManyItems, "\"maxItems\""),
            (Mutation::TooFewItems, "\"minItems\""),
            (Mutation::BadDateTime, "\"date-time\""),
        ] {
            let tried = tried.get(&mutation).copied().unwrap_or(0);
            assert_eq!(
                tried > 0,
                texts.contains(keyword),
                "{version}: {mutation:?} tried {tried} times"
            );
        }
        // 2 payloads per action, each not-an-object and extra-member at least.
        let actions = schemas::actions(version).len();
        assert!(tried[&Mutation::NotAnObject] == 2 * actions);
        assert!(tried[&Mutation::ExtraMember] == 2 * actions);
    }
}
