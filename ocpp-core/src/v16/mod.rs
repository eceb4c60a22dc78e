//! The messages of OCPP 1.6: the 28 actions of OCPP 1.6 edition 2 and the 11 of the security
//! white paper ("Improved security for OCPP 1.6-J"), generated from the vendored schemas in
//! `ocpp-core/schemas/v16` by `cargo xtask codegen`.
//!
//! Each action `X` has a `XRequest` (the `.req` of the specification) and a `XResponse` (the
//! `.conf`); [`Action`] lists the actions with the side that sends each, and [`Request`] and
//! [`Response`] hold the payload of any action, read with `from_payload` and written with
//! `to_payload`.
//!
//! # Naming
//!
//! The 1.6 core schemas define objects and enumerations inline, without names. The generated
//! types take the names of the specification's chapter 7 ("Types"): [`IdTagInfo`],
//! [`ChargingProfile`], [`MeterValue`], [`SampledValue`], [`Measurand`], [`UnitOfMeasure`] and so
//! on; a type used by several actions (such as [`IdTagInfo`] in Authorize, StartTransaction,
//! StopTransaction and SendLocalList) is one Rust type, and the generator checks that every
//! schema defines it the same way. The security white paper schemas carry their own
//! definitions, whose names are kept ([`CertificateHashDataType`], [`LogEnumType`]).
//!
//! Fields are the snake_case form of the JSON member names; `type` (ChangeAvailability,
//! Reset) is `kind`. Enum variants are UpperCamelCase and serialize to the exact schema string
//! (`Measurand::EnergyActiveImportRegister` is `"Energy.Active.Import.Register"`,
//! `UnitOfMeasure::Celcius` is `"Celcius"`). The 1.6 schemas have no descriptions, so each
//! item's documentation states only what the schema says: member name, whether it is
//! required, length limits.
//!
//! # Wire form and leniency
//!
//! Optional members are `Option`s that are omitted, never written as `null`. `integer` is
//! `i32`, `number` is [`Decimal`](crate::primitives::Decimal), `date-time` is
//! [`time::OffsetDateTime`] (see [`primitives::datetime`](crate::primitives::datetime)).
//! Unknown members are ignored when reading: refusing them (`additionalProperties: false`) is
//! the job of schema validation, which can be switched off for lenient peers.
//!
//! # Schema oddities
//!
//! `StopTransaction.json` comes from the 2025-04 errata set (its `id` says so) and
//! `MeterValues.json` has the same unit list: both accept `Celcius` and `Celsius`, so
//! [`UnitOfMeasure`] has both variants. `GetDiagnostics` and `UpdateFirmware` declare
//! `location` with `format: uri`; it is kept as a `String`.

mod generated;

pub use generated::*;

impl BootNotificationRequest {
    /// A BootNotification with only the two required members, the vendor and the model;
    /// the optional ones can be set on the result.
    pub fn new(
        charge_point_vendor: impl Into<String>,
        charge_point_model: impl Into<String>,
    ) -> BootNotificationRequest {
        BootNotificationRequest {
            charge_point_vendor: charge_point_vendor.into(),
            charge_point_model: charge_point_model.into(),
            charge_point_serial_number: None,
            charge_box_serial_number: None,
            firmware_version: None,
            iccid: None,
            imsi: None,
            meter_type: None,
            meter_serial_number: None,
        }
    }
}
