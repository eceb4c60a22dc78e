//! Every request and response of every action of both versions reads and writes its JSON
//! without loss, and what it writes validates against the vendored schema.
//!
//! The samples come from the schemas themselves, built at test time by [`Sample`]: a
//! "maximal" instance with every optional member present, arrays of two, strings at their
//! maximum length, the first enum value, a fractional date-time and a fractional number; and a
//! "minimal" instance with only the required members and the last enum value. So a new
//! schema member or a wrong field mapping shows up here without anyone writing a fixture.

use ocpp_core::{PayloadKind, Version, schemas, v16, v201};
use serde_json::Value;

mod common;
use common::Sample;

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

/// Not a check: writes the maximal and minimal sample of every payload into the fuzz corpus
/// (`fuzz/corpus/payload/`, in the input format of `ocpp_fuzz::payload`) so the fuzzer starts
/// from valid instances of every action. Run after a schema change:
/// `cargo test -p ocpp-core --test messages_round_trip -- --ignored write_payload_fuzz_seeds`.
#[test]
#[ignore = "writes the fuzz seed corpus; run by hand"]
fn write_payload_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/payload");
    std::fs::create_dir_all(&dir).unwrap();
    for version in Version::ALL {
        for (index, action) in schemas::actions(version).enumerate() {
            for kind in [PayloadKind::Request, PayloadKind::Response] {
                let schema = schema(version, action, kind);
                for maximal in [true, false] {
                    let sample = Sample {
                        root: &schema,
                        maximal,
                    }
                    .build(&schema, "");
                    let selector = u8::from(version == Version::V201)
                        | (u8::from(kind == PayloadKind::Response) << 1);
                    let mut data = vec![selector];
                    data.extend_from_slice(&u16::try_from(index).unwrap().to_le_bytes());
                    data.extend_from_slice(sample.to_string().as_bytes());
                    let name = format!(
                        "{version}-{action}-{}-{}",
                        kind.as_str(),
                        if maximal { "max" } else { "min" }
                    );
                    std::fs::write(dir.join(name), data).unwrap();
                }
            }
        }
    }
}
