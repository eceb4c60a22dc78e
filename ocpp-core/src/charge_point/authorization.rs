//! Local authorization of a 1.6 Charge Point: the Authorization Cache (section 3.5.1), the
//! Local Authorization List (3.5.2, 5.15) and the decision that uses them (3.5, 3.5.3, 3.5.4).
//!
//! A Charge Point that may be offline, or whose Central System answers slowly, decides about an
//! identifier with what it knows locally. This module is that knowledge and that decision, and
//! nothing else: it sends no message and reads no clock. The Charge Point state machine calls it
//! when an idTag is presented ([`Authorization::authorize_locally`]), when an `IdTagInfo` arrives
//! in Authorize.conf, StartTransaction.conf or StopTransaction.conf
//! ([`Authorization::record_id_tag_info`]), and to answer ClearCache
//! ([`Authorization::clear_cache`]), SendLocalList ([`Authorization::send_local_list`]) and
//! GetLocalListVersion ([`Authorization::get_local_list_version`]). The configuration keys that
//! govern all this come in as [`AuthSettings`], read from the configuration registry at the
//! moment of the call ([`AuthSettings::from_configuration`]), so a ChangeConfiguration takes
//! effect at the next call.
//!
//! Every change is appended to the caller's `ops` as [`StoreOp`]s, which the adapter makes
//! durable with the other ops of the same input before anything is transmitted: 3.5.1 "Cache
//! values SHOULD be stored in non-volatile memory, and SHOULD be persisted across reboots, resets
//! and power outages" (errata 3.4), 3.5.2 the same for the list. [`Authorization::restore`]
//! rebuilds both from a [`Snapshot`].
//!
//! ```
//! use ocpp_core::charge_point::authorization::{AuthSettings, Authorization, LocalDecision};
//! use ocpp_core::persist::Snapshot;
//! use ocpp_core::v16::{
//!     AuthorizationData, AuthorizationStatus, IdTagInfo, SendLocalListRequest, UpdateStatus,
//!     UpdateType,
//! };
//! use time::macros::datetime;
//!
//! let settings = AuthSettings {
//!     local_list_supported: true,
//!     local_list_enabled: true,
//!     local_list_max_length: 100,
//!     send_local_list_max_length: 20,
//!     local_authorize_offline: true,
//!     ..AuthSettings::default()
//! };
//! let mut auth = Authorization::new(0);
//! let mut ops = Vec::new();
//! let request = SendLocalListRequest {
//!     list_version: 1,
//!     update_type: UpdateType::Full,
//!     local_authorization_list: Some(vec![AuthorizationData {
//!         id_tag: "04A2B3".into(),
//!         id_tag_info: Some(IdTagInfo {
//!             expiry_date: None,
//!             parent_id_tag: None,
//!             status: AuthorizationStatus::Accepted,
//!         }),
//!     }]),
//! };
//! let outcome = auth.send_local_list(&settings, &request, &mut ops);
//! assert_eq!(outcome.status, UpdateStatus::Accepted);
//!
//! // Offline, an Accepted entry of the list authorizes (LocalAuthorizeOffline, 9.1.12).
//! let now = datetime!(2024-05-01 10:00 UTC);
//! let decision = auth.authorize_locally(&settings, "04a2b3", now, false, &mut ops);
//! assert!(matches!(decision, LocalDecision::Authorized { .. }));
//!
//! // The ops make it durable; a restart finds the same list.
//! let mut snapshot = Snapshot::new();
//! snapshot.apply(&ops);
//! let restored = Authorization::restore(0, &snapshot)?;
//! assert_eq!(restored.local_list().version(), 1);
//! # Ok::<(), ocpp_core::charge_point::RestoreError>(())
//! ```
//!
//! # Decisions, and the text behind each
//!
//! **Identifiers compare case-insensitively.** Errata 3.75 (7.28): "IdToken is case
//! insensitive". Both structures key their entries by the ASCII-lowercase idTag and keep the
//! spelling they were given; `04a2b3` finds the entry of `04A2B3`, and two idTags that differ
//! only in case are duplicates in a SendLocalList.
//!
//! ## The Authorization Cache
//!
//! - **Supported** when the AuthorizationCacheEnabled key exists, **in use** when it is also
//!   true. 9.1.2: "If this key exists, the Charge Point supports an Authorization Cache. If this
//!   key reports a value of true, the Authorization Cache is enabled." A cache not in use is
//!   neither consulted nor updated; what it holds is kept for when it is enabled again.
//! - **Updated from every IdTagInfo** of Authorize.conf, StartTransaction.conf and
//!   StopTransaction.conf, whatever its status (3.5.1: "The Cache contains all the latest
//!   received identifiers (i.e. valid and NOT-valid)", "updated using all received IdTagInfo"),
//!   **except for identifiers in the Local Authorization List in use** (3.5.3: "Identifiers known
//!   in the Local Authorization List SHALL NOT be added to the Authorization Cache"; 4.1: "update
//!   the cache entry, if the idTag is not in the Local Authorization List"). For the same reason
//!   a SendLocalList that puts an identifier in the list removes it from the cache.
//! - **Expiry.** An entry is valid when its status is Accepted and its expiryDate, if any, is
//!   later than the time of the check; an expiryDate equal to now has passed. 3.5.1: "When the
//!   validity of a Cache entry expires, it SHALL be changed to expired in the Cache": an Accepted
//!   entry found expired when it is looked up becomes `Expired` and is persisted so. It is kept
//!   rather than removed (errata 3.73 says the expiryDate is when the idTag "should be removed"):
//!   an Expired entry is NOT-valid, the first kind to go when space is needed, and while it is
//!   there an offline Charge Point rejects the identifier instead of treating it as unknown.
//! - **Capacity and eviction.** The integrator gives the capacity ([`Authorization::new`]). 3.5.1:
//!   "If new identifier authorization data is received and the Authorization Cache is full, the
//!   Charge Point SHALL remove any NOT-valid entries, and then, if necessary, the oldest valid
//!   entries to make space for the new entry." One entry is removed per new entry: the least
//!   recently used NOT-valid entry if there is one, otherwise the least recently used valid one.
//!   "Used" is stored or updated from the Central System, or looked up for a decision; "oldest"
//!   is read as least recently used, so an identifier presented every day stays. Removing only
//!   what makes room keeps the writes to one Delete and keeps the other NOT-valid identifiers
//!   known, which an offline decision needs (3.5.4). A capacity of 0 caches nothing. If a
//!   restore finds more entries than the capacity (the integrator lowered it), the least
//!   recently used ones are dropped and their Deletes go out with the next cache change.
//! - **ClearCache** answers `Accepted` and empties the cache when the cache is supported, even
//!   while it is disabled (the Charge Point was able to clear it: 6.12 "Accepted if the Charge
//!   Point has executed the request"); `Rejected` when it is not supported, errata 3.23: "When
//!   the Authorization Cache is not implemented and the Charge Point receives a ClearCache.req
//!   message. The Charge Point SHALL response with ClearCache.conf with the status: Rejected."
//!
//! ## The Local Authorization List
//!
//! - **Supported** when the LocalAuthListManagement profile is (3.5.2: "The Charge Point
//!   indicates whether the Local Authorization List is supported by the presence or absence of
//!   the LocalAuthListManagement element in the value of the SupportedFeatureProfiles"), **in
//!   use** when LocalAuthListEnabled is also true (9.2.1). While it is not in use the Charge
//!   Point behaves towards the Central System as one without a list: SendLocalList answers
//!   `NotSupported` (7.47) and GetLocalListVersion `-1` (5.10); OCTT TC_042_1_CS accepts -1 from
//!   a Charge Point that "allows localAuthListEnabled=false", and storing updates while reporting
//!   -1 would leave the Central System with a wrong picture. The stored list is kept, and is
//!   back with its version when the list is enabled again.
//! - **SendLocalList** is checked in this order, and a refused request changes nothing:
//!   1. not in use: `NotSupported`;
//!   2. `listVersion` of 0 or less: `Failed` ([`ListRefusal::InvalidVersion`]). Errata 3.52: the
//!      version "SHALL NOT be -1 or 0 as these have a special meaning in
//!      GetLocalListVersion.conf"; other negative numbers are refused too, because a
//!      GetLocalListVersion answering them could not be told from those special values in
//!      meaning (versions only grow);
//!   3. a Differential update whose version is not greater than the current one:
//!      `VersionMismatch`. 7.47: "Version number in the request for a differential update is
//!      less or equal then version number of current list" (OCTT TC_043_2_CS: Full 2,
//!      Differential 5 accepted, Differential 4 refused). The current version is the one last
//!      accepted, even when the list is empty and GetLocalListVersion reports 0. A Full update
//!      may carry any valid version, older ones included: it replaces everything;
//!   4. more entries than SendLocalListMaxLength: `Failed` ([`ListRefusal::TooManyEntries`]).
//!      The request is schema-valid (the schema has no maximum), so it is not a CallError; the
//!      Charge Point fails to apply it, which is what 7.47 `Failed` says ("Failed to update the
//!      Local Authorization List"), and 5.15 tells the Central System what to do next;
//!   5. two entries with the same idTag: `Failed` ([`ListRefusal::DuplicateIdTag`]). 6.41: "All
//!      idTags in the localAuthorizationList MUST be unique, no duplicate values are allowed";
//!   6. in a Full update, an entry without idTagInfo: `Failed`
//!      ([`ListRefusal::MissingIdTagInfo`]). 7.1: idTagInfo is "Required when UpdateType is Full";
//!   7. a list that would be longer than LocalAuthListMaxLength: `Failed`
//!      ([`ListRefusal::ListTooLong`]). 9.2.2: "Maximum number of identifications that can be
//!      stored in the Local Authorization List".
//!
//!   Otherwise `Accepted`. A Full update replaces the list; with no entries it empties it (6.41:
//!   "If no (empty) localAuthorizationList is given and the updateType is Full, all
//!   identifications are removed from the list"). A Differential update adds or replaces the
//!   entries with idTagInfo and deletes those without (7.1); deleting an absent idTag is not an
//!   error; an empty Differential update leaves the entries as they are (6.41) and takes the new
//!   version, since the version is "the version number of the list after the update has been
//!   applied" (6.41).
//! - **GetLocalListVersion**: `-1` when the list is not in use, `0` when it has no entries
//!   (5.10: "A version number of 0 (zero) SHALL be used to indicate that the local authorization
//!   list is empty, and a version number of -1 SHALL be used to indicate that the Charge Point
//!   does not support Local Authorization Lists"; OCTT TC_042_2_CS: an empty Full update with
//!   version 1, then 0), otherwise the version last accepted.
//! - **The list is only changed by SendLocalList** (3.5.2: "The Charge Point SHALL NOT modify the
//!   contents of the Authorization List by any other means"): an expired entry is reported as
//!   Expired but stays as it was sent. When an IdTagInfo from the Central System disagrees with
//!   the list, [`Authorization::record_id_tag_info`] says so, and the state machine sends the
//!   StatusNotification with `LocalListConflict` that 3.5.2 requires.
//!
//! ## The local decision
//!
//! [`Authorization::authorize_locally`] looks the idTag up in the list in use, then (only if it is
//! not there: 3.5.3 "Local Authorization List entries as having priority over Authorization Cache
//! entries") in the cache in use, and decides:
//!
//! | presented idTag | online | offline |
//! |---|---|---|
//! | known, Accepted and not expired | LocalPreAuthorize: `Authorized`, otherwise `AskCentralSystem` | LocalAuthorizeOffline: `Authorized`, otherwise as unknown |
//! | known, any other status, or expired | `AskCentralSystem` | `Rejected` |
//! | unknown | `AskCentralSystem` | AllowOfflineTxForUnknownId: `Authorized`, otherwise `Rejected` |
//!
//! - **Pre-authorized means not asked.** 9.1.13 LocalPreAuthorize: "whether the Charge Point, when
//!   online, will start a transaction for locally-authorized identifiers without waiting for or
//!   requesting an Authorization.conf". So `Authorized` online means no Authorize.req; the
//!   StartTransaction.conf that follows still updates the cache (OCTT TC_007_CS, TC_008_CS).
//! - **Online, a NOT-valid identifier is asked about.** 3.5.1: "When an identifier is presented
//!   that is stored in the cache as NOT-valid, and the Charge Point is online: an
//!   Authorization.req SHOULD be sent". The same is done for a NOT-valid list entry: 4.1 allows
//!   an Authorize.req for any known idTag, the Central System may have changed its mind since the
//!   last SendLocalList, and its answer is what 3.5.2's LocalListConflict is about. Unknown
//!   identifiers are always asked about online (4.1: "SHALL send an Authorization.req").
//! - **Offline, only Accepted authorizes.** 3.5.4: "Identifiers that are present in a Local
//!   Authorization List that have a status other than "Accepted" (Invalid, Restricted, Expired)
//!   MUST be rejected. Identifiers that were valid but are apparently expired due to passage of
//!   time MUST also be rejected." This includes ConcurrentTx (which 3.5.2 counts among the
//!   "valid" list statuses, but 3.5.4's rule is the operative one, and 7.2 ConcurrentTx says the
//!   identifier may not start another transaction), and it is applied to cache entries alike.
//! - **LocalAuthorizeOffline false** means the Charge Point does not authorize offline from its
//!   local data (9.1.12), so an Accepted identifier is then one that "cannot be explicitly
//!   authorized by Local Authorization List or Authorization Cache entries", the definition of
//!   unknown in 3.5.4: AllowOfflineTxForUnknownId decides for it. A known NOT-valid identifier is
//!   rejected whatever the keys say (3.5.4 "MUST be rejected").
//! - **What comes back** is the verdict, the IdTagInfo to act on (an expired Accepted entry comes
//!   back as `Expired`; an unknown identifier authorized offline as a plain `Accepted`; one
//!   rejected offline as `Invalid`, 7.2 "Identifier is unknown") and its [`Source`]. Looking up a
//!   cache entry marks it used (one Put).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::RestoreError;
use super::config::{Configuration, Profile, StandardKey};
use crate::persist::{Snapshot, StoreOp};
use crate::v16::{
    AuthorizationStatus, ClearCacheResponse, ClearCacheStatus, GetLocalListVersionResponse,
    IdTagInfo, SendLocalListRequest, SendLocalListResponse, UpdateStatus, UpdateType,
};

/// Where the Authorization Cache is kept; key: the ASCII-lowercase idTag, one record per entry.
pub const CACHE_COLLECTION: &str = "cp16.auth-cache";
/// Where the Local Authorization List is kept: the key [`LOCAL_LIST_VERSION_KEY`] holds the
/// version, and `id/` followed by the ASCII-lowercase idTag holds each entry.
pub const LOCAL_LIST_COLLECTION: &str = "cp16.local-list";
/// The key of the list version's record in [`LOCAL_LIST_COLLECTION`].
pub const LOCAL_LIST_VERSION_KEY: &str = "version";

const ENTRY_PREFIX: &str = "id/";
const RECORD_VERSION: u32 = 1;

/// The configuration keys local authorization obeys, read at the moment of each call.
///
/// [`AuthSettings::from_configuration`] reads them from the registry; tests and integrators
/// without the registry fill the fields. The default is a Charge Point with neither cache nor
/// list, which authorizes nothing locally.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthSettings {
    /// The AuthorizationCacheEnabled key exists (9.1.2).
    pub cache_supported: bool,
    /// AuthorizationCacheEnabled is true (9.1.2).
    pub cache_enabled: bool,
    /// The LocalAuthListManagement profile is supported (3.5.2).
    pub local_list_supported: bool,
    /// LocalAuthListEnabled is true (9.2.1).
    pub local_list_enabled: bool,
    /// LocalAuthListMaxLength (9.2.2): the most entries the list may hold.
    pub local_list_max_length: u32,
    /// SendLocalListMaxLength (9.2.3): the most entries one SendLocalList.req may carry.
    pub send_local_list_max_length: u32,
    /// LocalPreAuthorize (9.1.13).
    pub local_pre_authorize: bool,
    /// LocalAuthorizeOffline (9.1.12).
    pub local_authorize_offline: bool,
    /// AllowOfflineTxForUnknownId (9.1.1).
    pub allow_offline_tx_for_unknown_id: bool,
}

impl AuthSettings {
    /// The settings as the configuration registry holds them now.
    pub fn from_configuration(config: &Configuration) -> AuthSettings {
        AuthSettings {
            cache_supported: config.is_defined(StandardKey::AuthorizationCacheEnabled.name()),
            cache_enabled: config.authorization_cache_enabled(),
            local_list_supported: config.supports(Profile::LocalAuthListManagement),
            local_list_enabled: config.local_auth_list_enabled(),
            local_list_max_length: config.local_auth_list_max_length(),
            send_local_list_max_length: config.send_local_list_max_length(),
            local_pre_authorize: config.local_pre_authorize(),
            local_authorize_offline: config.local_authorize_offline(),
            allow_offline_tx_for_unknown_id: config.allow_offline_tx_for_unknown_id(),
        }
    }

    /// Whether the cache is consulted and updated.
    pub fn cache_in_use(&self) -> bool {
        self.cache_supported && self.cache_enabled
    }

    /// Whether the list is consulted, and SendLocalList and GetLocalListVersion served.
    pub fn local_list_in_use(&self) -> bool {
        self.local_list_supported && self.local_list_enabled
    }
}

/// Where the information behind a [`LocalDecision`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An entry of the Local Authorization List.
    LocalList,
    /// An entry of the Authorization Cache.
    Cache,
    /// Nothing local could authorize the identifier and the Charge Point is offline with
    /// AllowOfflineTxForUnknownId (3.5.4): it is authorized as unknown. When the connection is
    /// back, its StartTransaction.conf decides (3.5.4, StopTransactionOnInvalidId).
    UnknownOffline,
    /// Nothing local could authorize the identifier and the Charge Point is offline without
    /// AllowOfflineTxForUnknownId.
    Unknown,
}

/// What the Charge Point does with a presented idTag, decided from local knowledge.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalDecision {
    /// Authorized now, without an Authorize.req: start charging (the StartTransaction.req still
    /// goes, queued while offline).
    Authorized {
        /// The information to act on (its parentIdTag, its expiry).
        info: IdTagInfo,
        /// Where it comes from.
        source: Source,
    },
    /// Refused now, without an Authorize.req.
    Rejected {
        /// Why: its status is not Accepted.
        info: IdTagInfo,
        /// Where it comes from.
        source: Source,
    },
    /// Online and not decidable locally: send an Authorize.req and act on its answer (which
    /// goes to [`Authorization::record_id_tag_info`]).
    AskCentralSystem {
        /// What is known locally, for display while waiting: the entry and its source
        /// ([`Source::LocalList`] or [`Source::Cache`]), or `None` for an unknown idTag.
        known: Option<(IdTagInfo, Source)>,
    },
}

impl LocalDecision {
    /// Whether the identifier is authorized now.
    pub fn is_authorized(&self) -> bool {
        matches!(self, LocalDecision::Authorized { .. })
    }

    /// Whether an Authorize.req must be sent before deciding.
    pub fn must_ask_central_system(&self) -> bool {
        matches!(self, LocalDecision::AskCentralSystem { .. })
    }

    /// The information decided on, or known locally while the Central System is asked.
    pub fn info(&self) -> Option<&IdTagInfo> {
        match self {
            LocalDecision::Authorized { info, .. } | LocalDecision::Rejected { info, .. } => {
                Some(info)
            }
            LocalDecision::AskCentralSystem { known } => known.as_ref().map(|(info, _)| info),
        }
    }

    /// Where the information comes from; `None` when the Central System is asked about an
    /// unknown idTag.
    pub fn source(&self) -> Option<Source> {
        match self {
            LocalDecision::Authorized { source, .. } | LocalDecision::Rejected { source, .. } => {
                Some(*source)
            }
            LocalDecision::AskCentralSystem { known } => known.as_ref().map(|(_, source)| *source),
        }
    }
}

/// What became of an IdTagInfo received from the Central System.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InfoRecorded {
    /// Stored in the cache, in place of an older entry of the same idTag or as a new one.
    Cached {
        /// The idTag (as it was spelled) of the entry removed to make room, if the cache was full.
        evicted: Option<String>,
    },
    /// The idTag is in the Local Authorization List in use, so it is not cached (3.5.3).
    InLocalList {
        /// The Central System's status disagrees with the list's: the state machine sends a
        /// StatusNotification for connector 0 with errorCode `LocalListConflict` (3.5.2). A
        /// `ConcurrentTx` answer for an Accepted entry is no conflict (7.2: the identifier is
        /// valid, only busy).
        conflict: bool,
    },
    /// The cache is not supported, not enabled, or has capacity 0: nothing stored.
    CacheUnused,
}

/// Why a SendLocalList.req was answered `Failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListRefusal {
    /// `listVersion` was 0 or negative (errata 3.52).
    InvalidVersion(i32),
    /// More entries than SendLocalListMaxLength (9.2.3).
    TooManyEntries {
        /// Entries in the request.
        given: usize,
        /// SendLocalListMaxLength.
        max: u32,
    },
    /// An idTag appears twice, compared case-insensitively (6.41).
    DuplicateIdTag(String),
    /// A Full update has an entry without idTagInfo (7.1).
    MissingIdTagInfo(String),
    /// The list would hold more entries than LocalAuthListMaxLength (9.2.2).
    ListTooLong {
        /// Entries after the update.
        resulting: usize,
        /// LocalAuthListMaxLength.
        max: u32,
    },
}

/// The answer to a SendLocalList.req.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendLocalListOutcome {
    /// The status to send.
    pub status: UpdateStatus,
    /// Why it is `Failed`, for the log; `None` for every other status.
    pub refusal: Option<ListRefusal>,
}

impl SendLocalListOutcome {
    /// The SendLocalList.conf payload.
    pub fn response(&self) -> SendLocalListResponse {
        SendLocalListResponse {
            status: self.status,
        }
    }

    fn status(status: UpdateStatus) -> SendLocalListOutcome {
        SendLocalListOutcome {
            status,
            refusal: None,
        }
    }

    fn failed(refusal: ListRefusal) -> SendLocalListOutcome {
        SendLocalListOutcome {
            status: UpdateStatus::Failed,
            refusal: Some(refusal),
        }
    }
}

/// The form idTags are compared in (errata 3.75: IdToken is case-insensitive).
fn fold(id_tag: &str) -> String {
    id_tag.to_ascii_lowercase()
}

/// Whether `info` authorizes at `now`: Accepted and not past its expiryDate.
fn is_valid(info: &IdTagInfo, now: OffsetDateTime) -> bool {
    info.status == AuthorizationStatus::Accepted && !is_expired(info, now)
}

fn is_expired(info: &IdTagInfo, now: OffsetDateTime) -> bool {
    info.expiry_date.is_some_and(|expiry| expiry <= now)
}

/// `info` as it stands at `now`: an Accepted entry past its expiryDate is Expired (3.5.4).
fn effective(info: &IdTagInfo, now: OffsetDateTime) -> IdTagInfo {
    let mut info = info.clone();
    if info.status == AuthorizationStatus::Accepted && is_expired(&info, now) {
        info.status = AuthorizationStatus::Expired;
    }
    info
}

fn plain(status: AuthorizationStatus) -> IdTagInfo {
    IdTagInfo {
        expiry_date: None,
        parent_id_tag: None,
        status,
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Strings, integers, enums and RFC 3339 timestamps: these records always serialise.
    serde_json::to_vec(value).unwrap_or_default()
}

/// One entry of the Authorization Cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheEntry {
    v: u32,
    id_tag: String,
    info: IdTagInfo,
    #[serde(with = "crate::primitives::datetime")]
    stored_at: OffsetDateTime,
    last_used: u64,
}

impl CacheEntry {
    /// The idTag as the Central System's answer was about it.
    pub fn id_tag(&self) -> &str {
        &self.id_tag
    }

    /// The information last received (with the status changed to Expired once found expired).
    pub fn info(&self) -> &IdTagInfo {
        &self.info
    }

    /// When the information was last received.
    pub fn stored_at(&self) -> OffsetDateTime {
        self.stored_at
    }
}

/// The Authorization Cache (3.5.1): the latest IdTagInfo of each identifier the Central System
/// answered about, bounded by a capacity, least recently used out first.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationCache {
    capacity: usize,
    entries: BTreeMap<String, CacheEntry>,
    /// Use stamp -> key: the order of use, oldest first.
    order: BTreeMap<u64, String>,
    next_use: u64,
    /// Keys dropped at restore (over capacity) whose Deletes have not gone out yet.
    pending_deletes: Vec<String>,
}

impl AuthorizationCache {
    /// The capacity given by the integrator.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `id_tag` (case-insensitive), as stored.
    pub fn get(&self, id_tag: &str) -> Option<&CacheEntry> {
        self.entries.get(&fold(id_tag))
    }

    /// The entries, least recently used first.
    pub fn iter_by_use(&self) -> impl Iterator<Item = &CacheEntry> {
        self.order.values().filter_map(|key| self.entries.get(key))
    }

    fn flush_pending(&mut self, ops: &mut Vec<StoreOp>) {
        for key in self.pending_deletes.drain(..) {
            ops.push(StoreOp::Delete {
                collection: CACHE_COLLECTION,
                key,
            });
        }
    }

    fn save(&self, key: &str, ops: &mut Vec<StoreOp>) {
        if let Some(entry) = self.entries.get(key) {
            ops.push(StoreOp::Put {
                collection: CACHE_COLLECTION,
                key: key.to_owned(),
                value: encode(entry),
            });
        }
    }

    /// Marks the entry of `key` as just used.
    fn touch(&mut self, key: &str) {
        let stamp = self.next_use;
        if let Some(entry) = self.entries.get_mut(key) {
            self.order.remove(&entry.last_used);
            entry.last_used = stamp;
            self.order.insert(stamp, key.to_owned());
            self.next_use += 1;
        }
    }

    fn remove(&mut self, key: &str) -> Option<CacheEntry> {
        let entry = self.entries.remove(key)?;
        self.order.remove(&entry.last_used);
        Some(entry)
    }

    /// Looks `id_tag` up for a decision: marks it used and, if it has expired, Expired (3.5.1);
    /// persists the entry. Returns the information as it now stands.
    fn lookup(
        &mut self,
        id_tag: &str,
        now: OffsetDateTime,
        ops: &mut Vec<StoreOp>,
    ) -> Option<IdTagInfo> {
        let key = fold(id_tag);
        let entry = self.entries.get_mut(&key)?;
        entry.info = effective(&entry.info, now);
        let info = entry.info.clone();
        self.touch(&key);
        self.flush_pending(ops);
        self.save(&key, ops);
        Some(info)
    }

    /// Stores `info` for `id_tag`, making room if needed; `None` with capacity 0.
    fn store(
        &mut self,
        id_tag: &str,
        info: &IdTagInfo,
        now: OffsetDateTime,
        ops: &mut Vec<StoreOp>,
    ) -> Option<Option<String>> {
        if self.capacity == 0 {
            return None;
        }
        self.flush_pending(ops);
        let key = fold(id_tag);
        let mut evicted = None;
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            // 3.5.1: NOT-valid entries go first, then the oldest valid ones.
            let victim = self
                .order
                .values()
                .find(|k| {
                    self.entries
                        .get(*k)
                        .is_some_and(|e| !is_valid(&e.info, now))
                })
                .or_else(|| self.order.values().next())
                .cloned();
            if let Some(victim) = victim
                && let Some(entry) = self.remove(&victim)
            {
                ops.push(StoreOp::Delete {
                    collection: CACHE_COLLECTION,
                    key: victim,
                });
                evicted = Some(entry.id_tag);
            }
        }
        let stamp = self.next_use;
        self.next_use += 1;
        if let Some(old) = self.entries.get(&key) {
            self.order.remove(&old.last_used);
        }
        self.entries.insert(
            key.clone(),
            CacheEntry {
                v: RECORD_VERSION,
                id_tag: id_tag.to_owned(),
                info: info.clone(),
                stored_at: now,
                last_used: stamp,
            },
        );
        self.order.insert(stamp, key.clone());
        self.save(&key, ops);
        Some(evicted)
    }

    /// Removes `id_tag`'s entry if there is one (it went into the local list).
    fn forget(&mut self, id_tag: &str, ops: &mut Vec<StoreOp>) {
        let key = fold(id_tag);
        if self.remove(&key).is_some() {
            ops.push(StoreOp::Delete {
                collection: CACHE_COLLECTION,
                key,
            });
        }
    }

    fn clear(&mut self, ops: &mut Vec<StoreOp>) {
        self.entries.clear();
        self.order.clear();
        self.pending_deletes.clear();
        ops.push(StoreOp::Clear {
            collection: CACHE_COLLECTION,
        });
    }

    fn restore(capacity: usize, snapshot: &Snapshot) -> Result<AuthorizationCache, RestoreError> {
        let mut cache = AuthorizationCache {
            capacity,
            ..AuthorizationCache::default()
        };
        for (key, bytes) in snapshot.records(CACHE_COLLECTION) {
            let bad = |reason: String| RestoreError::BadRecord {
                collection: CACHE_COLLECTION,
                key: key.to_owned(),
                reason,
            };
            let entry: CacheEntry =
                serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
            if entry.v != RECORD_VERSION {
                return Err(bad(format!("record version {} is unknown", entry.v)));
            }
            if fold(&entry.id_tag) != key {
                return Err(bad(format!(
                    "it holds the entry of idTag {:?}",
                    entry.id_tag
                )));
            }
            if let Some(other) = cache.order.get(&entry.last_used) {
                return Err(bad(format!("its use stamp is also {other:?}'s")));
            }
            cache.next_use = cache.next_use.max(entry.last_used + 1);
            cache.order.insert(entry.last_used, key.to_owned());
            cache.entries.insert(key.to_owned(), entry);
        }
        while cache.entries.len() > capacity {
            let Some((_, key)) = cache.order.pop_first() else {
                break;
            };
            cache.entries.remove(&key);
            cache.pending_deletes.push(key);
        }
        Ok(cache)
    }
}

/// One entry of the Local Authorization List, as the Central System sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListEntry {
    v: u32,
    id_tag: String,
    info: IdTagInfo,
}

impl ListEntry {
    /// The idTag as the Central System spelled it.
    pub fn id_tag(&self) -> &str {
        &self.id_tag
    }

    /// Its information, unchanged (expiry is evaluated when it is used).
    pub fn info(&self) -> &IdTagInfo {
        &self.info
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionRecord {
    v: u32,
    list_version: i32,
}

/// The Local Authorization List (3.5.2): a version and the entries the Central System sent.
#[derive(Debug, Clone, Default)]
pub struct LocalAuthList {
    /// The version last accepted; 0 before the first update.
    version: i32,
    entries: BTreeMap<String, ListEntry>,
}

impl LocalAuthList {
    /// The version of the last accepted update, 0 if there was none. GetLocalListVersion
    /// reports it only when the list has entries ([`Authorization::get_local_list_version`]).
    pub fn version(&self) -> i32 {
        self.version
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `id_tag` (case-insensitive).
    pub fn get(&self, id_tag: &str) -> Option<&ListEntry> {
        self.entries.get(&fold(id_tag))
    }

    /// The entries in the order of their lowercase idTags.
    pub fn iter(&self) -> impl Iterator<Item = &ListEntry> {
        self.entries.values()
    }

    fn entry_key(folded: &str) -> String {
        format!("{ENTRY_PREFIX}{folded}")
    }

    fn version_op(&self) -> StoreOp {
        StoreOp::Put {
            collection: LOCAL_LIST_COLLECTION,
            key: LOCAL_LIST_VERSION_KEY.to_owned(),
            value: encode(&VersionRecord {
                v: RECORD_VERSION,
                list_version: self.version,
            }),
        }
    }

    fn restore(snapshot: &Snapshot) -> Result<LocalAuthList, RestoreError> {
        let mut list = LocalAuthList::default();
        let mut versioned = false;
        for (key, bytes) in snapshot.records(LOCAL_LIST_COLLECTION) {
            let bad = |reason: String| RestoreError::BadRecord {
                collection: LOCAL_LIST_COLLECTION,
                key: key.to_owned(),
                reason,
            };
            if key == LOCAL_LIST_VERSION_KEY {
                let record: VersionRecord =
                    serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
                if record.v != RECORD_VERSION {
                    return Err(bad(format!("record version {} is unknown", record.v)));
                }
                if record.list_version <= 0 {
                    return Err(bad(format!(
                        "list version {} is not one an update can set",
                        record.list_version
                    )));
                }
                list.version = record.list_version;
                versioned = true;
            } else if let Some(folded) = key.strip_prefix(ENTRY_PREFIX) {
                let entry: ListEntry =
                    serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
                if entry.v != RECORD_VERSION {
                    return Err(bad(format!("record version {} is unknown", entry.v)));
                }
                if fold(&entry.id_tag) != folded {
                    return Err(bad(format!(
                        "it holds the entry of idTag {:?}",
                        entry.id_tag
                    )));
                }
                list.entries.insert(folded.to_owned(), entry);
            } else {
                return Err(bad("not a key of the local list".to_owned()));
            }
        }
        if !versioned && let Some(key) = list.entries.keys().next() {
            return Err(RestoreError::BadRecord {
                collection: LOCAL_LIST_COLLECTION,
                key: LocalAuthList::entry_key(key),
                reason: "the list has entries but no version record".to_owned(),
            });
        }
        Ok(list)
    }
}

/// The Authorization Cache and the Local Authorization List of one Charge Point, and the local
/// decision over both. See the [module docs](self) for the rules and where they come from.
#[derive(Debug, Clone, Default)]
pub struct Authorization {
    cache: AuthorizationCache,
    list: LocalAuthList,
}

impl Authorization {
    /// Empty structures, for a first start; the cache holds at most `cache_capacity` entries.
    pub fn new(cache_capacity: usize) -> Authorization {
        Authorization {
            cache: AuthorizationCache {
                capacity: cache_capacity,
                ..AuthorizationCache::default()
            },
            list: LocalAuthList::default(),
        }
    }

    /// Both structures as stored in `snapshot` (collections [`CACHE_COLLECTION`] and
    /// [`LOCAL_LIST_COLLECTION`]).
    ///
    /// # Errors
    ///
    /// [`RestoreError::BadRecord`] for the first record that does not decode, has an unknown
    /// record version, is stored under a key that does not match its idTag, or, in the list,
    /// for an unknown key, a version of 0 or less, or entries without a version record. A cache
    /// holding more entries than `cache_capacity` is no error: see the [module docs](self).
    pub fn restore(
        cache_capacity: usize,
        snapshot: &Snapshot,
    ) -> Result<Authorization, RestoreError> {
        Ok(Authorization {
            cache: AuthorizationCache::restore(cache_capacity, snapshot)?,
            list: LocalAuthList::restore(snapshot)?,
        })
    }

    /// The Authorization Cache.
    pub fn cache(&self) -> &AuthorizationCache {
        &self.cache
    }

    /// The Local Authorization List.
    pub fn local_list(&self) -> &LocalAuthList {
        &self.list
    }

    /// Decides about `id_tag`, presented at `now` (wall clock) while the Charge Point is
    /// `online` or not, from the list and the cache in use (see the table in the
    /// [module docs](self)).
    ///
    /// A cache entry looked up is marked used, and Expired if its expiryDate has passed: its
    /// record is appended to `ops`.
    pub fn authorize_locally(
        &mut self,
        settings: &AuthSettings,
        id_tag: &str,
        now: OffsetDateTime,
        online: bool,
        ops: &mut Vec<StoreOp>,
    ) -> LocalDecision {
        let known = if let Some(entry) = settings
            .local_list_in_use()
            .then(|| self.list.get(id_tag))
            .flatten()
        {
            Some((effective(&entry.info, now), Source::LocalList))
        } else if settings.cache_in_use() {
            self.cache
                .lookup(id_tag, now, ops)
                .map(|info| (info, Source::Cache))
        } else {
            None
        };
        match known {
            Some((info, source)) => {
                let valid = info.status == AuthorizationStatus::Accepted;
                match (online, valid) {
                    (true, true) if settings.local_pre_authorize => {
                        LocalDecision::Authorized { info, source }
                    }
                    (true, _) => LocalDecision::AskCentralSystem {
                        known: Some((info, source)),
                    },
                    (false, false) => LocalDecision::Rejected { info, source },
                    (false, true) if settings.local_authorize_offline => {
                        LocalDecision::Authorized { info, source }
                    }
                    (false, true) => Self::unknown_offline(settings),
                }
            }
            None if online => LocalDecision::AskCentralSystem { known: None },
            None => Self::unknown_offline(settings),
        }
    }

    fn unknown_offline(settings: &AuthSettings) -> LocalDecision {
        if settings.allow_offline_tx_for_unknown_id {
            LocalDecision::Authorized {
                info: plain(AuthorizationStatus::Accepted),
                source: Source::UnknownOffline,
            }
        } else {
            LocalDecision::Rejected {
                info: plain(AuthorizationStatus::Invalid),
                source: Source::Unknown,
            }
        }
    }

    /// Takes in the IdTagInfo the Central System sent for `id_tag` in an Authorize.conf,
    /// StartTransaction.conf or StopTransaction.conf, received at `now`: the cache in use is
    /// updated unless the idTag is in the list in use, and a disagreement with the list is
    /// reported ([`InfoRecorded::InLocalList`]).
    pub fn record_id_tag_info(
        &mut self,
        settings: &AuthSettings,
        id_tag: &str,
        info: &IdTagInfo,
        now: OffsetDateTime,
        ops: &mut Vec<StoreOp>,
    ) -> InfoRecorded {
        if settings.local_list_in_use()
            && let Some(entry) = self.list.get(id_tag)
        {
            let listed = effective(&entry.info, now).status;
            let busy = listed == AuthorizationStatus::Accepted
                && info.status == AuthorizationStatus::ConcurrentTx;
            return InfoRecorded::InLocalList {
                conflict: listed != info.status && !busy,
            };
        }
        if !settings.cache_in_use() {
            return InfoRecorded::CacheUnused;
        }
        match self.cache.store(id_tag, info, now, ops) {
            Some(evicted) => InfoRecorded::Cached { evicted },
            None => InfoRecorded::CacheUnused,
        }
    }

    /// Answers ClearCache.req (5.4): empties a supported cache (one Clear op) and answers
    /// `Accepted`, or `Rejected` without a cache (errata 3.23).
    pub fn clear_cache(
        &mut self,
        settings: &AuthSettings,
        ops: &mut Vec<StoreOp>,
    ) -> ClearCacheResponse {
        if !settings.cache_supported {
            return ClearCacheResponse {
                status: ClearCacheStatus::Rejected,
            };
        }
        self.cache.clear(ops);
        ClearCacheResponse {
            status: ClearCacheStatus::Accepted,
        }
    }

    /// Answers GetLocalListVersion.req (5.10): -1 when the list is not in use, 0 when it is
    /// empty, otherwise its version.
    pub fn get_local_list_version(&self, settings: &AuthSettings) -> GetLocalListVersionResponse {
        let list_version = if !settings.local_list_in_use() {
            -1
        } else if self.list.is_empty() {
            0
        } else {
            self.list.version
        };
        GetLocalListVersionResponse { list_version }
    }

    /// Answers SendLocalList.req (5.15) and, when `Accepted`, applies it: the ops of one update,
    /// a Full one included, are one batch appended to `ops` (for a Full update: a Clear of the
    /// collection, the version, then one Put per entry; the cache entries of listed idTags are
    /// deleted too). A refused request changes nothing and appends nothing. The checks and their
    /// order are in the [module docs](self).
    pub fn send_local_list(
        &mut self,
        settings: &AuthSettings,
        request: &SendLocalListRequest,
        ops: &mut Vec<StoreOp>,
    ) -> SendLocalListOutcome {
        if !settings.local_list_in_use() {
            return SendLocalListOutcome::status(UpdateStatus::NotSupported);
        }
        let version = request.list_version;
        if version <= 0 {
            return SendLocalListOutcome::failed(ListRefusal::InvalidVersion(version));
        }
        let full = request.update_type == UpdateType::Full;
        if !full && version <= self.list.version {
            return SendLocalListOutcome::status(UpdateStatus::VersionMismatch);
        }
        let items = request.local_authorization_list.as_deref().unwrap_or(&[]);
        let max = settings.send_local_list_max_length;
        if items.len() > usize::try_from(max).unwrap_or(usize::MAX) {
            return SendLocalListOutcome::failed(ListRefusal::TooManyEntries {
                given: items.len(),
                max,
            });
        }
        let mut seen = BTreeSet::new();
        for item in items {
            if !seen.insert(fold(&item.id_tag)) {
                return SendLocalListOutcome::failed(ListRefusal::DuplicateIdTag(
                    item.id_tag.clone(),
                ));
            }
            if full && item.id_tag_info.is_none() {
                return SendLocalListOutcome::failed(ListRefusal::MissingIdTagInfo(
                    item.id_tag.clone(),
                ));
            }
        }
        let resulting = if full {
            items.len()
        } else {
            let mut count = self.list.len();
            for item in items {
                let present = self.list.entries.contains_key(&fold(&item.id_tag));
                match (&item.id_tag_info, present) {
                    (Some(_), false) => count += 1,
                    (None, true) => count -= 1,
                    _ => {}
                }
            }
            count
        };
        let max = settings.local_list_max_length;
        if resulting > usize::try_from(max).unwrap_or(usize::MAX) {
            return SendLocalListOutcome::failed(ListRefusal::ListTooLong { resulting, max });
        }

        if full {
            self.list.entries.clear();
            ops.push(StoreOp::Clear {
                collection: LOCAL_LIST_COLLECTION,
            });
        }
        self.list.version = version;
        ops.push(self.list.version_op());
        for item in items {
            let key = fold(&item.id_tag);
            match &item.id_tag_info {
                Some(info) => {
                    let entry = ListEntry {
                        v: RECORD_VERSION,
                        id_tag: item.id_tag.clone(),
                        info: info.clone(),
                    };
                    ops.push(StoreOp::Put {
                        collection: LOCAL_LIST_COLLECTION,
                        key: LocalAuthList::entry_key(&key),
                        value: encode(&entry),
                    });
                    self.list.entries.insert(key, entry);
                    // 3.5.3: an identifier of the list is not in the cache.
                    self.cache.forget(&item.id_tag, ops);
                }
                None => {
                    if self.list.entries.remove(&key).is_some() {
                        ops.push(StoreOp::Delete {
                            collection: LOCAL_LIST_COLLECTION,
                            key: LocalAuthList::entry_key(&key),
                        });
                    }
                }
            }
        }
        SendLocalListOutcome::status(UpdateStatus::Accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2024-05-01 10:00 UTC);

    fn cache_on() -> AuthSettings {
        AuthSettings {
            cache_supported: true,
            cache_enabled: true,
            ..AuthSettings::default()
        }
    }

    fn info(status: AuthorizationStatus) -> IdTagInfo {
        plain(status)
    }

    fn keys(auth: &Authorization) -> Vec<&str> {
        auth.cache().iter_by_use().map(CacheEntry::id_tag).collect()
    }

    #[test]
    fn id_tags_fold_to_ascii_lowercase_errata_3_75() {
        assert_eq!(fold("04A2b3"), "04a2b3");
        let mut auth = Authorization::new(4);
        let mut ops = Vec::new();
        auth.record_id_tag_info(
            &cache_on(),
            "ABC",
            &info(AuthorizationStatus::Accepted),
            NOW,
            &mut ops,
        );
        assert_eq!(auth.cache().get("abc").unwrap().id_tag(), "ABC");
    }

    /// 3.5.1: "remove any NOT-valid entries, and then, if necessary, the oldest valid entries".
    #[test]
    fn a_full_cache_evicts_a_not_valid_entry_before_any_valid_one() {
        let mut auth = Authorization::new(3);
        let mut ops = Vec::new();
        let s = cache_on();
        auth.record_id_tag_info(&s, "A", &info(AuthorizationStatus::Accepted), NOW, &mut ops);
        auth.record_id_tag_info(&s, "B", &info(AuthorizationStatus::Blocked), NOW, &mut ops);
        let expiring = IdTagInfo {
            expiry_date: Some(NOW + Duration::hours(1)),
            ..info(AuthorizationStatus::Accepted)
        };
        auth.record_id_tag_info(&s, "C", &expiring, NOW, &mut ops);
        let later = NOW + Duration::hours(2);
        let first = auth.record_id_tag_info(
            &s,
            "D",
            &info(AuthorizationStatus::Accepted),
            later,
            &mut ops,
        );
        assert_eq!(
            first,
            InfoRecorded::Cached {
                evicted: Some("B".into())
            }
        );
        // C has expired by now: NOT-valid, so it goes before the older valid A.
        let second = auth.record_id_tag_info(
            &s,
            "E",
            &info(AuthorizationStatus::Accepted),
            later,
            &mut ops,
        );
        assert_eq!(
            second,
            InfoRecorded::Cached {
                evicted: Some("C".into())
            }
        );
        let third = auth.record_id_tag_info(
            &s,
            "F",
            &info(AuthorizationStatus::Accepted),
            later,
            &mut ops,
        );
        assert_eq!(
            third,
            InfoRecorded::Cached {
                evicted: Some("A".into())
            }
        );
        assert_eq!(keys(&auth), ["D", "E", "F"]);
    }

    #[test]
    fn a_lookup_and_an_update_make_an_entry_the_most_recently_used() {
        let mut auth = Authorization::new(3);
        let mut ops = Vec::new();
        let s = AuthSettings {
            local_pre_authorize: true,
            ..cache_on()
        };
        for tag in ["A", "B", "C"] {
            auth.record_id_tag_info(&s, tag, &info(AuthorizationStatus::Accepted), NOW, &mut ops);
        }
        auth.authorize_locally(&s, "a", NOW, true, &mut ops);
        assert_eq!(keys(&auth), ["B", "C", "A"]);
        auth.record_id_tag_info(&s, "B", &info(AuthorizationStatus::Accepted), NOW, &mut ops);
        assert_eq!(keys(&auth), ["C", "A", "B"]);
        auth.record_id_tag_info(&s, "D", &info(AuthorizationStatus::Accepted), NOW, &mut ops);
        assert_eq!(keys(&auth), ["A", "B", "D"]);
    }

    #[test]
    fn a_cache_of_capacity_zero_stores_nothing() {
        let mut auth = Authorization::new(0);
        let mut ops = Vec::new();
        let recorded = auth.record_id_tag_info(
            &cache_on(),
            "A",
            &info(AuthorizationStatus::Accepted),
            NOW,
            &mut ops,
        );
        assert_eq!(recorded, InfoRecorded::CacheUnused);
        assert!(ops.is_empty());
    }

    #[test]
    fn a_restore_over_capacity_keeps_the_most_recently_used_and_deletes_the_rest_later() {
        let mut auth = Authorization::new(3);
        let mut ops = Vec::new();
        let s = cache_on();
        for tag in ["A", "B", "C"] {
            auth.record_id_tag_info(&s, tag, &info(AuthorizationStatus::Accepted), NOW, &mut ops);
        }
        let mut snapshot = Snapshot::new();
        snapshot.apply(&ops);
        let mut smaller = Authorization::restore(2, &snapshot).unwrap();
        assert_eq!(keys(&smaller), ["B", "C"]);
        let mut later = Vec::new();
        smaller.record_id_tag_info(
            &s,
            "D",
            &info(AuthorizationStatus::Accepted),
            NOW,
            &mut later,
        );
        snapshot.apply(&later);
        let again = Authorization::restore(2, &snapshot).unwrap();
        assert_eq!(keys(&again), ["C", "D"]);
        assert_eq!(snapshot.records(CACHE_COLLECTION).count(), 2);
    }

    #[test]
    fn restored_use_stamps_continue_after_the_highest_one() {
        let mut auth = Authorization::new(4);
        let mut ops = Vec::new();
        let s = cache_on();
        for tag in ["A", "B"] {
            auth.record_id_tag_info(&s, tag, &info(AuthorizationStatus::Accepted), NOW, &mut ops);
        }
        let mut snapshot = Snapshot::new();
        snapshot.apply(&ops);
        let mut restored = Authorization::restore(4, &snapshot).unwrap();
        assert_eq!(restored.cache.next_use, 2);
        restored.record_id_tag_info(&s, "A", &info(AuthorizationStatus::Accepted), NOW, &mut ops);
        assert_eq!(keys(&restored), ["B", "A"]);
    }

    fn bad_record(collection: &'static str, key: &str, value: &str) -> RestoreError {
        let mut snapshot = Snapshot::new();
        snapshot.insert(collection, key.to_owned(), value.as_bytes().to_vec());
        Authorization::restore(4, &snapshot).unwrap_err()
    }

    fn reason(error: RestoreError) -> String {
        let RestoreError::BadRecord { reason, .. } = error;
        reason
    }

    #[test]
    fn unreadable_cache_records_are_restore_errors() {
        let entry = r#"{"v":1,"idTag":"A","info":{"status":"Accepted"},"storedAt":"2024-05-01T10:00:00Z","lastUsed":0}"#;
        assert!(
            bad_record(CACHE_COLLECTION, "a", "not json")
                .to_string()
                .contains("auth-cache/a")
        );
        assert!(
            reason(bad_record(
                CACHE_COLLECTION,
                "a",
                &entry.replace("\"v\":1", "\"v\":9")
            ))
            .contains("version 9")
        );
        assert!(reason(bad_record(CACHE_COLLECTION, "b", entry)).contains("idTag"));
        assert!(
            reason(bad_record(
                CACHE_COLLECTION,
                "a",
                &entry.replace("Accepted", "Maybe")
            ))
            .contains("variant")
        );
        let mut snapshot = Snapshot::new();
        snapshot.insert(CACHE_COLLECTION, "a".into(), entry.as_bytes().to_vec());
        snapshot.insert(
            CACHE_COLLECTION,
            "b".into(),
            entry.replace("\"A\"", "\"B\"").into_bytes(),
        );
        assert!(reason(Authorization::restore(4, &snapshot).unwrap_err()).contains("use stamp"));
    }

    #[test]
    fn unreadable_local_list_records_are_restore_errors() {
        let entry = r#"{"v":1,"idTag":"A","info":{"status":"Accepted"}}"#;
        assert!(
            reason(bad_record(LOCAL_LIST_COLLECTION, "id/a", entry)).contains("no version record")
        );
        assert!(reason(bad_record(LOCAL_LIST_COLLECTION, "id/b", entry)).contains("idTag"));
        assert!(reason(bad_record(LOCAL_LIST_COLLECTION, "other", entry)).contains("not a key"));
        assert!(
            reason(bad_record(
                LOCAL_LIST_COLLECTION,
                "version",
                r#"{"v":1,"listVersion":0}"#
            ))
            .contains("list version 0")
        );
        assert!(
            reason(bad_record(
                LOCAL_LIST_COLLECTION,
                "version",
                r#"{"v":2,"listVersion":3}"#
            ))
            .contains("version 2")
        );
        assert!(reason(bad_record(LOCAL_LIST_COLLECTION, "version", "{}")).contains("missing"));
    }
}
