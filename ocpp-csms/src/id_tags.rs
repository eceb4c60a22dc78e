//! Which id tags may charge: a list the operator gives (read from JSON), or every tag.

use std::collections::BTreeMap;

use ocpp_core::primitives::datetime;
use ocpp_core::v16::{AuthorizationStatus, IdTagInfo};
use serde::Deserialize;
use time::OffsetDateTime;

/// The id tags the central system knows, and so its verdict on each (1.6 section 4.1).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum IdTags {
    /// Every id tag is Accepted.
    #[default]
    AcceptAll,
    /// Only these: a listed tag gets its entry (Expired once its expiry date has passed),
    /// any other tag is Invalid.
    List(BTreeMap<String, IdTagInfo>),
}

/// Why a list of id tags was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTagsError {
    /// Not JSON of the expected shape.
    #[error(
        "not a JSON array of {{\"idTag\", \"status\", \"expiryDate\"?, \"parentIdTag\"?}}: {0}"
    )]
    Malformed(String),
    /// An id tag that is not a 1.6 IdToken.
    #[error("idTag {0:?} is not 1 to 20 characters (OCPP 1.6 IdToken)")]
    BadIdTag(String),
    /// An id tag listed twice: which entry holds would be a guess.
    #[error("idTag {0:?} is listed twice")]
    Duplicate(String),
}

/// One entry of a list of id tags.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    id_tag: String,
    status: AuthorizationStatus,
    #[serde(default, with = "datetime::option")]
    expiry_date: Option<OffsetDateTime>,
    #[serde(default)]
    parent_id_tag: Option<String>,
}

impl IdTags {
    /// Reads a list from JSON: an array of `{"idTag", "status", "expiryDate"?,
    /// "parentIdTag"?}`, `status` an AuthorizationStatus (Accepted, Blocked, Expired,
    /// Invalid, ConcurrentTx).
    ///
    /// # Errors
    ///
    /// What is wrong with the text: not such an array, an id tag that is empty or longer than
    /// 20 characters, or one listed twice.
    pub fn from_json(text: &str) -> Result<IdTags, IdTagsError> {
        let entries: Vec<Entry> =
            serde_json::from_str(text).map_err(|e| IdTagsError::Malformed(e.to_string()))?;
        let mut tags = BTreeMap::new();
        for entry in entries {
            if entry.id_tag.is_empty() || entry.id_tag.len() > 20 {
                return Err(IdTagsError::BadIdTag(entry.id_tag));
            }
            let info = IdTagInfo {
                expiry_date: entry.expiry_date,
                parent_id_tag: entry.parent_id_tag,
                status: entry.status,
            };
            if tags.insert(entry.id_tag.clone(), info).is_some() {
                return Err(IdTagsError::Duplicate(entry.id_tag));
            }
        }
        Ok(IdTags::List(tags))
    }

    /// Whether every tag is accepted, so that the machine may answer Authorize on its own.
    pub fn accepts_all(&self) -> bool {
        matches!(self, IdTags::AcceptAll)
    }

    /// The verdict on `id_tag` at `now`.
    pub fn verdict(&self, id_tag: &str, now: OffsetDateTime) -> IdTagInfo {
        let IdTags::List(tags) = self else {
            return info(AuthorizationStatus::Accepted);
        };
        match tags.get(id_tag) {
            Some(entry) => {
                let mut entry = entry.clone();
                if entry.status == AuthorizationStatus::Accepted
                    && entry.expiry_date.is_some_and(|expiry| expiry <= now)
                {
                    entry.status = AuthorizationStatus::Expired;
                }
                entry
            }
            None => info(AuthorizationStatus::Invalid),
        }
    }
}

fn info(status: AuthorizationStatus) -> IdTagInfo {
    IdTagInfo {
        expiry_date: None,
        parent_id_tag: None,
        status,
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    /// TC_023_1_CSMS, TC_023_2_CSMS, TC_023_3_CSMS: an unknown tag is Invalid, a listed
    /// tag past its expiry date Expired, a Blocked tag Blocked.
    #[test]
    fn a_list_decides_by_entry_and_expiry() {
        let tags = IdTags::from_json(
            r#"[{"idTag": "OK", "status": "Accepted", "expiryDate": "2030-01-01T00:00:00Z"},
                {"idTag": "BAD", "status": "Blocked"}]"#,
        )
        .unwrap();
        let before = datetime!(2029-12-31 23:59:59 UTC);
        let after = datetime!(2030-01-01 00:00:00 UTC);
        assert_eq!(
            tags.verdict("OK", before).status,
            AuthorizationStatus::Accepted
        );
        assert_eq!(
            tags.verdict("OK", after).status,
            AuthorizationStatus::Expired
        );
        assert_eq!(
            tags.verdict("BAD", before).status,
            AuthorizationStatus::Blocked
        );
        assert_eq!(
            tags.verdict("NOBODY", before).status,
            AuthorizationStatus::Invalid
        );
        assert_eq!(
            IdTags::AcceptAll.verdict("NOBODY", before).status,
            AuthorizationStatus::Accepted
        );
    }

    #[test]
    fn a_bad_list_says_what_is_wrong() {
        assert!(matches!(
            IdTags::from_json("{}"),
            Err(IdTagsError::Malformed(_))
        ));
        assert_eq!(
            IdTags::from_json(r#"[{"idTag": "", "status": "Accepted"}]"#),
            Err(IdTagsError::BadIdTag(String::new()))
        );
        assert_eq!(
            IdTags::from_json(r#"[{"idTag": "123456789012345678901", "status": "Accepted"}]"#),
            Err(IdTagsError::BadIdTag("123456789012345678901".to_owned()))
        );
        assert_eq!(
            IdTags::from_json(
                r#"[{"idTag": "A", "status": "Accepted"}, {"idTag": "A", "status": "Blocked"}]"#
            ),
            Err(IdTagsError::Duplicate("A".to_owned()))
        );
    }
}
