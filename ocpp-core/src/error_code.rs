//! CallError codes of OCPP-J, with the spelling each version puts on the wire.
//!
//! The two versions share most codes but not their spelling: OCPP-J 1.6 (section 4.2.3)
//! defines `FormationViolation` and `OccurenceConstraintViolation`, and its errata sheet
//! (sections 5.1 and 5.2) keeps both misspellings on purpose ("do not fix, this is a message
//! level change"). OCPP 2.0.1 part 4 (section 4.3) spells them `FormatViolation` and
//! `OccurrenceConstraintViolation` and adds `MessageTypeNotSupported` and
//! `RpcFrameworkError`. This stack sends the spelling of the connection's version and accepts
//! either spelling of every code on receive, because peers of both versions get it wrong.

use std::fmt;

use crate::Version;

/// A CallError code, independent of how a version spells it.
///
/// Use [`ErrorCode::wire_name`] to serialise it for a connection and [`ErrorCode::parse`] to
/// read one off the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The requested action is not known by the receiver.
    NotImplemented,
    /// The requested action is recognised but not supported by the receiver.
    NotSupported,
    /// An internal error kept the receiver from processing the action.
    InternalError,
    /// 1.6: the payload is incomplete. 2.0.1: the payload does not conform to the PDU
    /// structure.
    ProtocolError,
    /// A security issue kept the receiver from completing the action.
    SecurityError,
    /// The payload is syntactically incorrect (1.6 spells it `FormationViolation`).
    FormatViolation,
    /// A field contains an invalid value (length, enumeration, pattern, range).
    PropertyConstraintViolation,
    /// A field violates occurrence constraints (1.6 spells it `OccurenceConstraintViolation`).
    OccurrenceConstraintViolation,
    /// A field violates data type constraints, e.g. `"somestring": 12`.
    TypeConstraintViolation,
    /// Any other error.
    GenericError,
    /// 2.0.1 only: the message type number is not supported.
    MessageTypeNotSupported,
    /// 2.0.1 only: the message is not a valid RPC request, e.g. it could not be read.
    RpcFrameworkError,
}

impl ErrorCode {
    /// Every code, in the order of the 2.0.1 table.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::FormatViolation,
        ErrorCode::GenericError,
        ErrorCode::InternalError,
        ErrorCode::MessageTypeNotSupported,
        ErrorCode::NotImplemented,
        ErrorCode::NotSupported,
        ErrorCode::OccurrenceConstraintViolation,
        ErrorCode::PropertyConstraintViolation,
        ErrorCode::ProtocolError,
        ErrorCode::RpcFrameworkError,
        ErrorCode::SecurityError,
        ErrorCode::TypeConstraintViolation,
    ];

    /// The code as `version` spells it on the wire.
    ///
    /// The two 2.0.1-only codes have no 1.6 spelling; for a 1.6 connection they are sent as the
    /// 1.6 code that covers the same failure (see [`ErrorCode::for_version`]).
    pub const fn wire_name(self, version: Version) -> &'static str {
        match (self.for_version(version), version) {
            (ErrorCode::FormatViolation, Version::V16) => "FormationViolation",
            (ErrorCode::OccurrenceConstraintViolation, Version::V16) => {
                "OccurenceConstraintViolation"
            }
            (code, _) => code.canonical_name(),
        }
    }

    /// The code that `version` has for this failure: itself, except that the 2.0.1-only codes
    /// become `FormationViolation` (an unreadable message, 1.6 section 4.2.3: "syntactically
    /// incorrect") and `NotSupported` (an unsupported message type) on 1.6.
    pub const fn for_version(self, version: Version) -> ErrorCode {
        match (self, version) {
            (ErrorCode::RpcFrameworkError, Version::V16) => ErrorCode::FormatViolation,
            (ErrorCode::MessageTypeNotSupported, Version::V16) => ErrorCode::NotSupported,
            (code, _) => code,
        }
    }

    /// The 2.0.1 spelling, which is also the one this crate uses in logs and messages.
    pub const fn canonical_name(self) -> &'static str {
        match self {
            ErrorCode::NotImplemented => "NotImplemented",
            ErrorCode::NotSupported => "NotSupported",
            ErrorCode::InternalError => "InternalError",
            ErrorCode::ProtocolError => "ProtocolError",
            ErrorCode::SecurityError => "SecurityError",
            ErrorCode::FormatViolation => "FormatViolation",
            ErrorCode::PropertyConstraintViolation => "PropertyConstraintViolation",
            ErrorCode::OccurrenceConstraintViolation => "OccurrenceConstraintViolation",
            ErrorCode::TypeConstraintViolation => "TypeConstraintViolation",
            ErrorCode::GenericError => "GenericError",
            ErrorCode::MessageTypeNotSupported => "MessageTypeNotSupported",
            ErrorCode::RpcFrameworkError => "RpcFrameworkError",
        }
    }

    /// Reads a code received from a peer of any version, accepting both spellings of the
    /// codes that 1.6 and 2.0.1 spell differently. Matching is exact (case-sensitive), as the
    /// specs define the codes as enumeration values.
    pub fn parse(name: &str) -> Option<ErrorCode> {
        match name {
            "FormationViolation" => Some(ErrorCode::FormatViolation),
            "OccurenceConstraintViolation" => Some(ErrorCode::OccurrenceConstraintViolation),
            _ => ErrorCode::ALL
                .into_iter()
                .find(|code| code.canonical_name() == name),
        }
    }

    /// Whether `version` defines this code.
    pub const fn is_defined_in(self, version: Version) -> bool {
        !matches!(
            (self, version),
            (
                ErrorCode::MessageTypeNotSupported | ErrorCode::RpcFrameworkError,
                Version::V16
            )
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.canonical_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OCPP-J 1.6 errata 5.1 and 5.2: the misspelled codes stay on the 1.6 wire.
    #[test]
    fn v16_keeps_the_misspellings_its_errata_preserve() {
        assert_eq!(
            ErrorCode::FormatViolation.wire_name(Version::V16),
            "FormationViolation"
        );
        assert_eq!(
            ErrorCode::OccurrenceConstraintViolation.wire_name(Version::V16),
            "OccurenceConstraintViolation"
        );
        assert_eq!(
            ErrorCode::FormatViolation.wire_name(Version::V201),
            "FormatViolation"
        );
        assert_eq!(
            ErrorCode::OccurrenceConstraintViolation.wire_name(Version::V201),
            "OccurrenceConstraintViolation"
        );
    }

    #[test]
    fn both_spellings_are_accepted_on_receive() {
        for name in ["FormationViolation", "FormatViolation"] {
            assert_eq!(ErrorCode::parse(name), Some(ErrorCode::FormatViolation));
        }
        for name in [
            "OccurenceConstraintViolation",
            "OccurrenceConstraintViolation",
        ] {
            assert_eq!(
                ErrorCode::parse(name),
                Some(ErrorCode::OccurrenceConstraintViolation)
            );
        }
        assert_eq!(ErrorCode::parse("formatviolation"), None);
        assert_eq!(ErrorCode::parse("NoSuchCode"), None);
    }

    #[test]
    fn every_code_parses_back_from_its_wire_name_in_both_versions() {
        for code in ErrorCode::ALL {
            for version in Version::ALL {
                let sent = code.wire_name(version);
                assert_eq!(ErrorCode::parse(sent), Some(code.for_version(version)));
                assert!(code.for_version(version).is_defined_in(version));
            }
        }
    }

    /// OCPP-J 1.6 section 4.2.3 lists exactly ten codes; 2.0.1 part 4 section 4.3 twelve.
    #[test]
    fn each_version_sends_only_codes_its_table_lists() {
        let v16: std::collections::BTreeSet<_> = ErrorCode::ALL
            .iter()
            .map(|c| c.wire_name(Version::V16))
            .collect();
        assert_eq!(v16.len(), 10);
        assert!(!v16.contains("RpcFrameworkError"));
        assert!(!v16.contains("FormatViolation"));
        let v201: std::collections::BTreeSet<_> = ErrorCode::ALL
            .iter()
            .map(|c| c.wire_name(Version::V201))
            .collect();
        assert_eq!(v201.len(), 12);
    }
}
