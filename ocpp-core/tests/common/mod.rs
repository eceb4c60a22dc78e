//! Shared by the integration tests: schema-driven sample payloads.

use serde_json::{Map, Value, json};

/// Builds a schema-valid instance of a schema: "maximal" (every optional member, arrays of
/// two, strings at their maximum length, the first enum value, a fractional date-time and
/// number) or "minimal" (required members only, the last enum value).
pub(crate) struct Sample<'a> {
    /// The schema file's root, for `#/definitions/...` references.
    pub(crate) root: &'a Value,
    /// Maximal (every member) or minimal (required members only).
    pub(crate) maximal: bool,
}

impl Sample<'_> {
    pub(crate) fn build(&self, schema: &Value, at: &str) -> Value {
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
