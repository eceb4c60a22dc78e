//! Reads the vendored JSON schemas of one OCPP version into a small type model.
//!
//! The reader understands exactly the JSON-schema constructs the OCA files use and returns an
//! error naming the file and location for anything else, so a new construct in a future schema
//! set stops the generator instead of turning into a loosely typed field.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use crate::json::{Json as Value, Object as Map};

use crate::tables::{self, Sender};

/// A generator failure: a message naming the file and schema location at fault.
pub type Error = String;

/// The two OCPP versions the generator knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// OCPP 1.6 (core schemas draft-04, security white paper schemas draft-06).
    V16,
    /// OCPP 2.0.1 (draft-06 with `definitions`).
    V201,
}

impl Version {
    /// The folder and module name: `v16` or `v201`.
    pub fn key(self) -> &'static str {
        match self {
            Version::V16 => "v16",
            Version::V201 => "v201",
        }
    }

    /// The `ocpp_core::Version` variant.
    pub fn core_variant(self) -> &'static str {
        match self {
            Version::V16 => "V16",
            Version::V201 => "V201",
        }
    }

    /// The file names of the request and response schema of `action`.
    pub fn schema_files(self, action: &str) -> (String, String) {
        match self {
            Version::V16 => (format!("{action}.json"), format!("{action}Response.json")),
            Version::V201 => (
                format!("{action}Request.json"),
                format!("{action}Response.json"),
            ),
        }
    }
}

/// The Rust type of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    /// `string` without a format the generator maps (plain text, `uri`).
    String,
    /// `integer`: `i32`.
    Integer,
    /// `number`: the exact `Decimal` newtype.
    Decimal,
    /// `boolean`.
    Bool,
    /// `string` with `format: date-time`.
    DateTime,
    /// A property without `type` or `$ref`: any JSON value.
    Any,
    /// A generated struct or enum.
    Named(String),
    /// `array` of the inner type.
    Vec(Box<Ty>),
}

/// One property of an object.
#[derive(Debug, Clone)]
pub struct Field {
    /// The JSON member name.
    pub json_name: String,
    /// Its type.
    pub ty: Ty,
    /// Whether the schema lists it in `required`.
    pub required: bool,
    /// The schema `description` of the property, if any.
    pub description: Option<String>,
    /// Constraints worth stating when there is no description (1.6 has none).
    pub constraints: Vec<String>,
}

/// What a named type is.
#[derive(Debug, Clone)]
pub enum Kind {
    /// An object.
    Struct {
        /// Its properties, in schema order.
        fields: Vec<Field>,
        /// Whether members beyond `fields` are allowed (`additionalProperties` absent or
        /// true); they are kept in a flattened map.
        open: bool,
    },
    /// A string enumeration, in schema order.
    Enum {
        /// The exact strings.
        values: Vec<String>,
    },
}

/// A named type found in one schema file.
#[derive(Debug, Clone)]
pub struct Def {
    /// The Rust name.
    pub name: String,
    /// The schema `description`, if any.
    pub description: Option<String>,
    /// The shape.
    pub kind: Kind,
    /// `file#location`, for error messages.
    pub origin: String,
}

impl Def {
    /// A text that is equal for two definitions exactly when they describe the same JSON
    /// (descriptions and other documentation are left out).
    pub fn structure(&self) -> String {
        match &self.kind {
            Kind::Enum { values } => format!("enum {values:?}"),
            Kind::Struct { fields, open } => {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|f| format!("{}:{:?}:{}", f.json_name, f.ty, f.required))
                    .collect();
                format!("struct open={open} {fields:?}")
            }
        }
    }
}

/// Which payload of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// The CALL payload.
    Request,
    /// The CALLRESULT payload.
    Response,
}

impl Payload {
    /// `Request` or `Response`, the suffix of the root type name.
    pub fn suffix(self) -> &'static str {
        match self {
            Payload::Request => "Request",
            Payload::Response => "Response",
        }
    }
}

/// One action with the types of its two payloads.
#[derive(Debug)]
pub struct Action {
    /// The action name as sent in a CALL.
    pub name: String,
    /// Which side sends the CALL.
    pub sender: Sender,
    /// The request and response schema file names.
    pub files: (String, String),
    /// The root structs and every named type their schemas define, request first.
    pub defs: Vec<Def>,
}

/// Every action of one version, and where each named type is used.
#[derive(Debug)]
pub struct VersionModel {
    /// The version.
    pub version: Version,
    /// Actions sorted by name.
    pub actions: Vec<Action>,
    /// For each type name, the actions that use it.
    pub users: BTreeMap<String, BTreeSet<String>>,
}

/// Reads every schema of `version` from `dir`.
pub fn read_version(version: Version, dir: &Path) -> Result<VersionModel, Error> {
    let mut files = BTreeSet::new();
    for entry in fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") {
            files.insert(name);
        }
    }
    let action_names: BTreeSet<String> = match version {
        Version::V16 => files
            .iter()
            .filter(|f| !f.ends_with("Response.json"))
            .map(|f| f.trim_end_matches(".json").to_owned())
            .collect(),
        Version::V201 => files
            .iter()
            .filter_map(|f| f.strip_suffix("Request.json").map(str::to_owned))
            .collect(),
    };
    let mut unused_files = files.clone();
    let mut names = tables::inline_names(version);
    let senders = tables::senders(version);
    let sender_names: BTreeSet<String> = senders.keys().map(|a| (*a).to_owned()).collect();
    if sender_names != action_names {
        return Err(format!(
            "{}: the sender table and the schema folder disagree: only in the table {:?}, only in the folder {:?}",
            version.key(),
            sender_names.difference(&action_names).collect::<Vec<_>>(),
            action_names.difference(&sender_names).collect::<Vec<_>>(),
        ));
    }

    let mut actions = Vec::new();
    for name in &action_names {
        let (req, resp) = version.schema_files(name);
        let mut defs = Vec::new();
        for (file, payload) in [(&req, Payload::Request), (&resp, Payload::Response)] {
            if !unused_files.remove(file) {
                return Err(format!("{}: missing {file}", dir.display()));
            }
            let path = dir.join(file);
            let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let schema: Value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut reader = FileReader {
                file: file.trim_end_matches(".json"),
                root: &schema,
                names: &mut names,
                defs: Vec::new(),
                seen: BTreeMap::new(),
            };
            let root_name = format!("{name}{}", payload.suffix());
            reader.read_root(&root_name)?;
            defs.extend(reader.defs);
        }
        actions.push(Action {
            name: name.clone(),
            sender: senders[name.as_str()],
            files: (req, resp),
            defs,
        });
    }
    if !unused_files.is_empty() {
        return Err(format!(
            "{}: schema files that belong to no action: {unused_files:?}",
            dir.display()
        ));
    }
    if let Some(((file, location), _)) = names.iter().find(|(_, entry)| !entry.used) {
        return Err(format!(
            "{}: naming table entry {file}#{location} matches no schema location",
            version.key()
        ));
    }

    let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut first: BTreeMap<String, &Def> = BTreeMap::new();
    for action in &actions {
        for def in &action.defs {
            users
                .entry(def.name.clone())
                .or_default()
                .insert(action.name.clone());
            match first.get(&def.name) {
                None => {
                    first.insert(def.name.clone(), def);
                }
                Some(earlier) if earlier.structure() != def.structure() => {
                    return Err(format!(
                        "{}: two structurally different types are both named {}: {} and {}; \
                         give one a distinct name in xtask/src/tables.rs",
                        version.key(),
                        def.name,
                        earlier.origin,
                        def.origin
                    ));
                }
                Some(_) => {}
            }
        }
    }
    Ok(VersionModel {
        version,
        actions,
        users,
    })
}

/// One entry of the naming table, with whether a schema location used it.
#[derive(Debug)]
pub struct NameEntry {
    /// The Rust name to give the type at that location.
    pub name: &'static str,
    /// Set when the reader looked the entry up.
    pub used: bool,
}

struct FileReader<'a> {
    file: &'a str,
    root: &'a Value,
    names: &'a mut BTreeMap<(&'static str, &'static str), NameEntry>,
    defs: Vec<Def>,
    /// Definitions already read in this file: definition key -> Rust name.
    seen: BTreeMap<String, String>,
}

const DOC_KEYS: &[&str] = &["description", "javaType", "comment"];

impl FileReader<'_> {
    fn at(&self, location: &str) -> String {
        format!("{}.json#{location}", self.file)
    }

    fn check_keys(&self, schema: &Map, allowed: &[&str], location: &str) -> Result<(), Error> {
        for key in schema.keys() {
            if !allowed.contains(&key.as_str()) && !DOC_KEYS.contains(&key.as_str()) {
                return Err(format!(
                    "{}: schema keyword {key:?} is not understood by the generator",
                    self.at(location)
                ));
            }
        }
        Ok(())
    }

    /// The name of the type at `location`: the naming table's, else a definition's own name.
    fn name_for(&mut self, location: &str, default: Option<&str>) -> Result<String, Error> {
        let key = self
            .names
            .keys()
            .find(|(file, loc)| *file == self.file && *loc == location)
            .copied();
        if let Some(key) = key {
            let entry = self.names.get_mut(&key).ok_or("naming table changed")?;
            entry.used = true;
            return Ok(entry.name.to_owned());
        }
        default.map(str::to_owned).ok_or_else(|| {
            format!(
                "{}: inline type has no name; add it to the naming table in xtask/src/tables.rs",
                self.at(location)
            )
        })
    }

    fn read_root(&mut self, name: &str) -> Result<(), Error> {
        let root = self.root;
        let object = root
            .as_object()
            .ok_or_else(|| format!("{}: the schema is not an object", self.at("")))?;
        if object.get("type").and_then(Value::as_str) != Some("object") {
            return Err(format!("{}: the root is not of type object", self.at("")));
        }
        let body = object.without(&["$schema", "$id", "id", "title", "definitions"]);
        if let Some(definitions) = object.get("definitions") {
            definitions
                .as_object()
                .ok_or_else(|| format!("{}: definitions is not an object", self.at("")))?;
        }
        let def = self.read_object(name, &body, "")?;
        // The root goes first so that each action file starts with its payload type.
        self.defs.insert(0, def);
        Ok(())
    }

    fn read_object(&mut self, name: &str, schema: &Map, location: &str) -> Result<Def, Error> {
        self.check_keys(
            schema,
            &["type", "properties", "required", "additionalProperties"],
            location,
        )?;
        let open = match schema.get("additionalProperties") {
            None | Some(Value::Bool(true)) => true,
            Some(Value::Bool(false)) => false,
            Some(other) => {
                return Err(format!(
                    "{}: additionalProperties {other} is not understood",
                    self.at(location)
                ));
            }
        };
        let required: Vec<&str> = match schema.get("required") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| format!("{}: bad required", self.at(location)))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(format!("{}: bad required", self.at(location))),
        };
        let empty = Map::default();
        let properties = match schema.get("properties") {
            None => &empty,
            Some(Value::Object(p)) => p,
            Some(_) => return Err(format!("{}: bad properties", self.at(location))),
        };
        for r in &required {
            if !properties.contains_key(r) {
                return Err(format!(
                    "{}: required member {r:?} is not a property",
                    self.at(location)
                ));
            }
        }
        let mut fields = Vec::new();
        for (json_name, property) in properties.iter() {
            let sub = join(location, json_name);
            let property = property
                .as_object()
                .ok_or_else(|| format!("{}: property is not an object", self.at(&sub)))?;
            let ty = self.read_type(property, &sub)?;
            fields.push(Field {
                json_name: json_name.clone(),
                ty,
                required: required.contains(&json_name.as_str()),
                description: description(property),
                constraints: constraints(property),
            });
        }
        Ok(Def {
            name: name.to_owned(),
            description: description(schema),
            kind: Kind::Struct { fields, open },
            origin: self.at(location),
        })
    }

    fn read_type(&mut self, schema: &Map, location: &str) -> Result<Ty, Error> {
        if let Some(reference) = schema.get("$ref") {
            self.check_keys(schema, &["$ref"], location)?;
            let reference = reference
                .as_str()
                .ok_or_else(|| format!("{}: $ref is not a string", self.at(location)))?;
            return self.read_definition(reference, location).map(Ty::Named);
        }
        let Some(ty) = schema.get("type") else {
            // DataTransfer `data` (2.0.1): deliberately any JSON.
            self.check_keys(schema, &[], location)?;
            return Ok(Ty::Any);
        };
        match ty.as_str() {
            Some("string") if schema.contains_key("enum") => {
                let name = self.name_for(location, None)?;
                let def = self.read_enum(&name, schema, location)?;
                self.defs.push(def);
                Ok(Ty::Named(name))
            }
            Some("string") => {
                self.check_keys(
                    schema,
                    &["type", "maxLength", "minLength", "format", "default"],
                    location,
                )?;
                match schema.get("format").map(|f| f.as_str()) {
                    None => Ok(Ty::String),
                    Some(Some("date-time")) => Ok(Ty::DateTime),
                    // Kept as text: a URI is passed through, not interpreted, by this stack.
                    Some(Some("uri")) => Ok(Ty::String),
                    Some(other) => Err(format!(
                        "{}: string format {other:?} is not understood",
                        self.at(location)
                    )),
                }
            }
            Some("integer") => {
                self.check_keys(schema, &["type", "minimum", "maximum", "default"], location)?;
                Ok(Ty::Integer)
            }
            Some("number") => {
                self.check_keys(
                    schema,
                    &["type", "minimum", "maximum", "multipleOf", "default"],
                    location,
                )?;
                Ok(Ty::Decimal)
            }
            Some("boolean") => {
                self.check_keys(schema, &["type", "default"], location)?;
                Ok(Ty::Bool)
            }
            Some("array") => {
                self.check_keys(
                    schema,
                    &["type", "items", "minItems", "maxItems", "additionalItems"],
                    location,
                )?;
                let items = schema
                    .get("items")
                    .and_then(Value::as_object)
                    .ok_or_else(|| {
                        format!("{}: array without an items schema", self.at(location))
                    })?;
                let inner = self.read_type(items, &format!("{location}[]"))?;
                if matches!(inner, Ty::Vec(_) | Ty::DateTime | Ty::Any) {
                    return Err(format!(
                        "{}: arrays of {inner:?} are not supported",
                        self.at(location)
                    ));
                }
                Ok(Ty::Vec(Box::new(inner)))
            }
            Some("object") => {
                let name = self.name_for(location, None)?;
                let def = self.read_object(&name, schema, location)?;
                self.defs.push(def);
                Ok(Ty::Named(name))
            }
            _ => Err(format!(
                "{}: type {ty} is not understood",
                self.at(location)
            )),
        }
    }

    fn read_enum(&self, name: &str, schema: &Map, location: &str) -> Result<Def, Error> {
        // The OCA files put `additionalProperties: false` on string enums, where it means nothing.
        self.check_keys(
            schema,
            &["type", "enum", "additionalProperties", "default"],
            location,
        )?;
        let values: Vec<String> = schema
            .get("enum")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{}: enum is not an array", self.at(location)))?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{}: non-string enum value", self.at(location)))
            })
            .collect::<Result<_, _>>()?;
        if values.is_empty() {
            return Err(format!("{}: empty enum", self.at(location)));
        }
        Ok(Def {
            name: name.to_owned(),
            description: description(schema),
            kind: Kind::Enum { values },
            origin: self.at(location),
        })
    }

    /// Reads `#/definitions/Name` once per file and returns its Rust name.
    fn read_definition(&mut self, reference: &str, location: &str) -> Result<String, Error> {
        let key = reference.strip_prefix("#/definitions/").ok_or_else(|| {
            format!(
                "{}: $ref {reference:?} is not a local definition",
                self.at(location)
            )
        })?;
        if let Some(name) = self.seen.get(key) {
            return Ok(name.clone());
        }
        let def_location = format!("definitions/{key}");
        let name = self.name_for(&def_location, Some(key))?;
        self.seen.insert(key.to_owned(), name.clone());
        let root = self.root;
        let schema = root
            .get("definitions")
            .and_then(|d| d.get(key))
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{}: $ref {reference:?} does not resolve", self.at(location)))?;
        let def = match schema.get("type").and_then(Value::as_str) {
            Some("string") if schema.contains_key("enum") => {
                self.read_enum(&name, schema, &def_location)?
            }
            Some("object") => self.read_object(&name, schema, &def_location)?,
            _ => {
                return Err(format!(
                    "{}: only object and string-enum definitions are understood",
                    self.at(&def_location)
                ));
            }
        };
        self.defs.push(def);
        Ok(name)
    }
}

fn join(location: &str, member: &str) -> String {
    if location.is_empty() {
        member.to_owned()
    } else {
        format!("{location}.{member}")
    }
}

fn description(schema: &Map) -> Option<String> {
    schema
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn constraints(schema: &Map) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(n) = schema.get("maxLength") {
        out.push(format!("at most {n} characters"));
    }
    if let Some(n) = schema.get("minItems") {
        out.push(format!("at least {n} items"));
    }
    if let Some(n) = schema.get("maxItems") {
        out.push(format!("at most {n} items"));
    }
    if let Some(n) = schema.get("multipleOf") {
        out.push(format!("a multiple of {n}"));
    }
    if let Some(Value::String(f)) = schema.get("format")
        && f == "uri"
    {
        out.push("a URI".to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(
        file: &'static str,
        schema: &str,
        names: &[(&'static str, &'static str, &'static str)],
    ) -> Result<Vec<Def>, Error> {
        let root: Value = serde_json::from_str(schema).unwrap();
        let mut names = names
            .iter()
            .map(|&(f, l, name)| ((f, l), NameEntry { name, used: false }))
            .collect();
        let mut reader = FileReader {
            file,
            root: &root,
            names: &mut names,
            defs: Vec::new(),
            seen: BTreeMap::new(),
        };
        reader.read_root("RootRequest")?;
        Ok(reader.defs)
    }

    #[test]
    fn unknown_constructs_fail_loudly_with_their_location() {
        for (schema, expected) in [
            (
                r##"{"type":"object","properties":{"a":{"oneOf":[{"type":"string"}]}}}"##,
                "F.json#a: schema keyword \"oneOf\"",
            ),
            (
                r##"{"type":"object","properties":{"a":{"type":"string","format":"email"}}}"##,
                "F.json#a: string format",
            ),
            (
                r##"{"type":"object","properties":{"a":{"type":["string","null"]}}}"##,
                "F.json#a: type",
            ),
            (
                r##"{"type":"object","properties":{"a":{"type":"object"}}}"##,
                "F.json#a: inline type has no name",
            ),
            (
                r##"{"type":"object","properties":{"a":{"$ref":"#/definitions/X"}}}"##,
                "does not resolve",
            ),
            (
                r##"{"type":"object","required":["b"],"properties":{}}"##,
                "required member \"b\"",
            ),
            (
                r##"{"type":"object","properties":{"a":{"type":"array"}}}"##,
                "array without an items schema",
            ),
            (
                r##"{"type":"object","additionalProperties":{"type":"string"}}"##,
                "additionalProperties",
            ),
        ] {
            let err = read("F", schema, &[]).unwrap_err();
            assert!(err.contains(expected), "{schema}: {err}");
        }
    }

    #[test]
    fn named_inline_types_and_definitions_are_read_in_document_order() {
        let defs = read(
            "F",
            r##"{"type":"object","definitions":{"E":{"type":"string","enum":["b","a"]}},
                "properties":{"z":{"$ref":"#/definitions/E"},"y":{"type":"object","properties":{"n":{"type":"number"}}}},
                "required":["z"]}"##,
            &[("F", "y", "Inline")],
        )
        .unwrap();
        let names: Vec<_> = defs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["RootRequest", "E", "Inline"]);
        let Kind::Struct { fields, open } = &defs[0].kind else {
            panic!()
        };
        assert!(open);
        assert_eq!(fields[0].json_name, "z");
        assert!(fields[0].required && !fields[1].required);
        assert_eq!(fields[1].ty, Ty::Named("Inline".into()));
        let Kind::Enum { values } = &defs[1].kind else {
            panic!()
        };
        assert_eq!(values, &["b", "a"]);
    }

    #[test]
    fn structure_ignores_descriptions_but_not_shape() {
        let a = read("F", r##"{"type":"object","description":"one","properties":{"x":{"type":"integer","description":"d"}}}"##, &[]).unwrap();
        let b = read(
            "F",
            r##"{"type":"object","description":"two","properties":{"x":{"type":"integer"}}}"##,
            &[],
        )
        .unwrap();
        let c = read(
            "F",
            r##"{"type":"object","properties":{"x":{"type":"number"}}}"##,
            &[],
        )
        .unwrap();
        assert_eq!(a[0].structure(), b[0].structure());
        assert_ne!(a[0].structure(), c[0].structure());
    }
}
