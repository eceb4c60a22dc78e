//! The vendored OCA JSON schemas, embedded in the binary, one request and one response schema
//! per action and version.
//!
//! The files live in `ocpp-core/schemas/` (see the README there for their source and
//! license); the tables in this module are generated from that folder by `cargo xtask codegen`
//! so that the list of actions has one source.

mod v16;
mod v201;

use crate::Version;

/// Which payload of an action a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PayloadKind {
    /// The payload of a CALL: what the sender asks for (`.req` in 1.6).
    Request,
    /// The payload of a CALLRESULT: the answer (`.conf` in 1.6).
    Response,
}

impl PayloadKind {
    /// `request` or `response`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PayloadKind::Request => "request",
            PayloadKind::Response => "response",
        }
    }
}

fn table(version: Version) -> &'static [(&'static str, &'static str, &'static str)] {
    match version {
        Version::V16 => v16::SCHEMAS,
        Version::V201 => v201::SCHEMAS,
    }
}

/// The names of every action `version` defines, sorted.
pub fn actions(version: Version) -> impl ExactSizeIterator<Item = &'static str> {
    table(version).iter().map(|(action, _, _)| *action)
}

/// The position of `action` in `version`'s table, or `None` if the version has no such
/// action. Action names are case-sensitive, as OCPP-J 1.6 section 4.2.1 requires.
///
/// Every frame looks its action up several times (the schema, the validator, the accepted
/// set), so this is the generated `match` of the version's action enum, whose variants are in
/// the table's order (a test holds them to it), rather than a search of the table.
pub(crate) fn index(version: Version, action: &str) -> Option<usize> {
    match version {
        Version::V16 => crate::v16::Action::from_name(action).map(|a| a as usize),
        Version::V201 => crate::v201::Action::from_name(action).map(|a| a as usize),
    }
}

/// The schema text for one payload of one action, or `None` if `version` has no such action.
/// Action names are case-sensitive, as OCPP-J 1.6 section 4.2.1 requires.
pub fn schema_text(version: Version, action: &str, kind: PayloadKind) -> Option<&'static str> {
    let (_, request, response) = table(version)[index(version, action)?];
    Some(match kind {
        PayloadKind::Request => request,
        PayloadKind::Response => response,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_has_its_full_action_set() {
        // 1.6: 28 core actions + 11 security white paper actions; 2.0.1: 64 actions.
        assert_eq!(actions(Version::V16).len(), 39);
        assert_eq!(actions(Version::V201).len(), 64);
    }

    #[test]
    fn tables_are_sorted_by_name() {
        for version in Version::ALL {
            let names: Vec<_> = actions(version).collect();
            assert!(names.windows(2).all(|w| w[0] < w[1]), "{version}");
        }
    }

    #[test]
    fn the_action_enums_are_in_table_order_so_the_index_is_their_discriminant() {
        for (index, action) in crate::v16::Action::ALL.iter().enumerate() {
            assert_eq!(*action as usize, index, "{action:?}");
            assert_eq!(v16::SCHEMAS[index].0, action.as_str());
        }
        for (index, action) in crate::v201::Action::ALL.iter().enumerate() {
            assert_eq!(*action as usize, index, "{action:?}");
            assert_eq!(v201::SCHEMAS[index].0, action.as_str());
        }
        assert_eq!(crate::v16::Action::ALL.len(), actions(Version::V16).len());
        assert_eq!(crate::v201::Action::ALL.len(), actions(Version::V201).len());
        assert_eq!(
            index(Version::V16, "Heartbeat").map(|i| v16::SCHEMAS[i].0),
            Some("Heartbeat")
        );
        assert_eq!(index(Version::V201, "heartbeat"), None);
    }

    /// What [`OcppAction`](crate::message::OcppAction) promises, which the endpoint relies
    /// on (the index is the schema table's, a set of actions is one `u64`), for both versions.
    #[test]
    fn both_action_tables_keep_the_ocpp_action_invariants() {
        use crate::message::{OcppAction, Side};
        fn check<A: OcppAction>() {
            let names: Vec<_> = actions(A::VERSION).collect();
            assert_eq!(A::ALL.len(), names.len());
            assert!(A::ALL.len() <= 64);
            for (index, action) in A::ALL.iter().copied().enumerate() {
                assert_eq!(action.index(), index, "{action}");
                assert_eq!(A::from_index(index), Some(action));
                assert_eq!(action.as_str(), names[index]);
                assert_eq!(A::from_name(action.as_str()), Some(action));
                assert_eq!(A::from_name(&action.as_str().to_lowercase()), None);
                let both = action.sent_by(Side::Station) && action.sent_by(Side::Central);
                assert_eq!(both, action.as_str() == "DataTransfer", "{action}");
            }
            assert_eq!(A::from_index(A::ALL.len()), None);
        }
        check::<crate::v16::Action>();
        check::<crate::v201::Action>();
        let heartbeat = crate::v201::Action::Heartbeat;
        assert!(heartbeat.sent_by(Side::Station) && !heartbeat.sent_by(Side::Central));
    }

    #[test]
    fn every_schema_is_json_that_names_its_action() {
        for version in Version::ALL {
            for action in actions(version) {
                for kind in [PayloadKind::Request, PayloadKind::Response] {
                    let text = schema_text(version, action, kind).unwrap();
                    let schema: serde_json::Value = serde_json::from_str(text).unwrap();
                    // OCA's files carry a title; the security white paper ones only an `$id`.
                    let name = ["title", "$id", "id"]
                        .iter()
                        .find_map(|k| schema[*k].as_str())
                        .unwrap();
                    let is_response = name.ends_with("Response") || name.ends_with(".conf");
                    assert!(name.contains(action), "{version} {action}: {name}");
                    assert_eq!(is_response, kind == PayloadKind::Response, "{name}");
                }
            }
        }
    }

    #[test]
    fn lookup_is_case_sensitive_and_per_version() {
        assert!(schema_text(Version::V16, "BootNotification", PayloadKind::Request).is_some());
        assert!(schema_text(Version::V16, "bootnotification", PayloadKind::Request).is_none());
        assert!(schema_text(Version::V16, "TransactionEvent", PayloadKind::Request).is_none());
        assert!(schema_text(Version::V201, "TransactionEvent", PayloadKind::Request).is_some());
    }
}
