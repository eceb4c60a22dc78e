//! The messages of OCPP 2.0.1 (64 actions), generated from the vendored part 3 schemas in
//! `ocpp-core/schemas/v201` by `cargo xtask codegen`.
//!
//! Each action `X` has a `XRequest` and a `XResponse`; [`Action`] lists the actions with the
//! side that sends each, and [`Request`] and [`Response`] hold the payload of any action, read
//! with `from_payload` and written with `to_payload`. Documentation comes from the schema
//! descriptions, which quote the OCPP data dictionary (class, attribute and type, then its
//! urn, then the text).
//!
//! # Naming
//!
//! Types keep the names of the schema `definitions` (`IdTokenType`, `ChargingProfileType`,
//! `MeasurandEnumType`). The 64 files repeat many definitions; a name used by several actions
//! is one Rust type, emitted once, and the generator refuses to run if two same-named
//! definitions differ in structure (descriptions aside). In this schema set none do.
//! Fields are the snake_case form of the JSON member names (`type` becomes `kind`, `SoC` is one
//! word: `full_soc`); enum variants are UpperCamelCase and serialize to the exact schema
//! string (`ISO15118Certificate`, `Energy.Active.Import.Register`).
//!
//! # Wire form and leniency
//!
//! Optional members are `Option`s that are omitted, never written as `null`; schema
//! `default`s are not filled in, so a message re-serializes exactly as it was read.
//! [`CustomDataType`] keeps its vendor's extra members in a flattened map. DataTransfer's
//! `data`, which has no type in the schema, is a [`serde_json::Value`]. `integer` is `i32`
//! (part 2 section 2.1.3 defines integer as 32-bit), `number` is
//! [`Decimal`](crate::primitives::Decimal), `date-time` is [`time::OffsetDateTime`]. Unknown
//! members are ignored when reading; refusing them is schema validation's job.

mod generated;

pub use generated::*;
