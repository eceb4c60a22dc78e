//! The Authorization Cache, the Local Authorization List and the local decision of a 1.6
//! Charge Point (`charge_point::authorization`), driven as the state machine drives them. Tests
//! are named after the OCTT 1.6 test cases (TC_xxx_CS) and the sections of 1.6 edition 2 and its
//! errata they prove.

use ocpp_core::charge_point::authorization::{
    AuthSettings, Authorization, CACHE_COLLECTION, InfoRecorded, LOCAL_LIST_COLLECTION,
    ListRefusal, LocalDecision, Source,
};
use ocpp_core::charge_point::config::{Configuration, Definitions, Profile, StandardKey};
use ocpp_core::persist::{Snapshot, StoreOp};
use ocpp_core::v16::{
    AuthorizationData, AuthorizationStatus, ClearCacheStatus, IdTagInfo, SendLocalListRequest,
    UpdateStatus, UpdateType,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2024-05-01 10:00 UTC);

fn info(status: AuthorizationStatus) -> IdTagInfo {
    IdTagInfo {
        expiry_date: None,
        parent_id_tag: None,
        status,
    }
}

fn accepted() -> IdTagInfo {
    info(AuthorizationStatus::Accepted)
}

/// Everything supported and enabled, local authorization on, unknown ids refused offline.
fn all_on() -> AuthSettings {
    AuthSettings {
        cache_supported: true,
        cache_enabled: true,
        local_list_supported: true,
        local_list_enabled: true,
        local_list_max_length: 10,
        send_local_list_max_length: 5,
        local_pre_authorize: true,
        local_authorize_offline: true,
        allow_offline_tx_for_unknown_id: false,
    }
}

fn entry(id_tag: &str, info: Option<IdTagInfo>) -> AuthorizationData {
    AuthorizationData {
        id_tag: id_tag.into(),
        id_tag_info: info,
    }
}

fn request(
    update_type: UpdateType,
    list_version: i32,
    list: Option<Vec<AuthorizationData>>,
) -> SendLocalListRequest {
    SendLocalListRequest {
        list_version,
        local_authorization_list: list,
        update_type,
    }
}

fn send(
    auth: &mut Authorization,
    settings: &AuthSettings,
    request: &SendLocalListRequest,
) -> (UpdateStatus, Option<ListRefusal>, Vec<StoreOp>) {
    let mut ops = Vec::new();
    let outcome = auth.send_local_list(settings, request, &mut ops);
    assert_eq!(outcome.response().status, outcome.status);
    (outcome.status, outcome.refusal, ops)
}

fn version(auth: &Authorization, settings: &AuthSettings) -> i32 {
    auth.get_local_list_version(settings).list_version
}

fn decide(auth: &mut Authorization, s: &AuthSettings, id: &str, online: bool) -> LocalDecision {
    auth.authorize_locally(s, id, NOW, online, &mut Vec::new())
}

fn cache(auth: &mut Authorization, s: &AuthSettings, id: &str, status: AuthorizationStatus) {
    auth.record_id_tag_info(s, id, &info(status), NOW, &mut Vec::new());
}

// ---------------------------------------------------------------- Authorization Cache

/// TC_007_CS: a cached valid id starts a transaction with LocalPreAuthorize, no Authorize.req.
#[test]
fn tc_007_cs_a_cached_accepted_id_is_pre_authorized_online() {
    let s = all_on();
    let mut auth = Authorization::new(10);
    cache(&mut auth, &s, "CACHED", AuthorizationStatus::Accepted);
    let decision = decide(&mut auth, &s, "cached", true);
    assert_eq!(
        decision,
        LocalDecision::Authorized {
            info: accepted(),
            source: Source::Cache
        }
    );
    assert!(decision.is_authorized() && !decision.must_ask_central_system());
}

/// 3.5.1: "The Cache is updated using all received IdTagInfo", valid and NOT-valid.
#[test]
fn section_3_5_1_every_id_tag_info_updates_the_cache() {
    let s = all_on();
    let mut auth = Authorization::new(10);
    let mut ops = Vec::new();
    let first = auth.record_id_tag_info(&s, "T", &accepted(), NOW, &mut ops);
    assert_eq!(first, InfoRecorded::Cached { evicted: None });
    auth.record_id_tag_info(&s, "t", &info(AuthorizationStatus::Blocked), NOW, &mut ops);
    assert_eq!(auth.cache().len(), 1);
    assert_eq!(
        auth.cache().get("T").unwrap().info().status,
        AuthorizationStatus::Blocked
    );
    assert_eq!(ops.len(), 2, "one Put per update");
    assert!(ops.iter().all(|op| op.collection() == CACHE_COLLECTION));
}

/// 3.5.1: "When the validity of a Cache entry expires, it SHALL be changed to expired in the
/// Cache"; 3.5.4: expired identifiers are rejected offline.
#[test]
fn section_3_5_1_an_expired_cache_entry_becomes_expired_and_is_persisted() {
    let s = all_on();
    let mut auth = Authorization::new(10);
    let expiring = IdTagInfo {
        expiry_date: Some(NOW + Duration::minutes(5)),
        ..accepted()
    };
    let mut ops = Vec::new();
    auth.record_id_tag_info(&s, "T", &expiring, NOW, &mut ops);
    let before = auth.authorize_locally(&s, "T", NOW, false, &mut ops);
    assert!(before.is_authorized());
    let later = NOW + Duration::minutes(5);
    let after = auth.authorize_locally(&s, "T", later, false, &mut ops);
    assert!(matches!(
        after,
        LocalDecision::Rejected { ref info, source: Source::Cache }
            if info.status == AuthorizationStatus::Expired
    ));
    let mut snapshot = Snapshot::new();
    snapshot.apply(&ops);
    let restored = Authorization::restore(10, &snapshot).unwrap();
    assert_eq!(
        restored.cache().get("T").unwrap().info().status,
        AuthorizationStatus::Expired
    );
}

/// 3.5.1 "If new identifier authorization data is received and the Authorization Cache is
/// full": least recently used valid entry out, one Delete.
#[test]
fn section_3_5_1_a_full_cache_evicts_the_least_recently_used_entry() {
    let s = all_on();
    let mut auth = Authorization::new(2);
    cache(&mut auth, &s, "A", AuthorizationStatus::Accepted);
    cache(&mut auth, &s, "B", AuthorizationStatus::Accepted);
    decide(&mut auth, &s, "A", true);
    let mut ops = Vec::new();
    let recorded = auth.record_id_tag_info(&s, "C", &accepted(), NOW, &mut ops);
    assert_eq!(
        recorded,
        InfoRecorded::Cached {
            evicted: Some("B".into())
        }
    );
    assert!(matches!(&ops[0], StoreOp::Delete { key, .. } if key == "b"));
    assert!(auth.cache().get("B").is_none() && auth.cache().get("A").is_some());
}

/// 9.1.2: AuthorizationCacheEnabled false: the cache is neither used nor updated.
#[test]
fn section_9_1_2_a_disabled_cache_is_neither_used_nor_updated() {
    let on = all_on();
    let off = AuthSettings {
        cache_enabled: false,
        ..all_on()
    };
    let mut auth = Authorization::new(10);
    cache(&mut auth, &on, "KNOWN", AuthorizationStatus::Accepted);
    let mut ops = Vec::new();
    let recorded = auth.record_id_tag_info(&off, "NEW", &accepted(), NOW, &mut ops);
    assert_eq!(recorded, InfoRecorded::CacheUnused);
    assert!(ops.is_empty() && auth.cache().get("NEW").is_none());
    assert_eq!(
        decide(&mut auth, &off, "KNOWN", true),
        LocalDecision::AskCentralSystem { known: None }
    );
    assert!(
        decide(&mut auth, &on, "KNOWN", true).is_authorized(),
        "kept for later"
    );
}

/// TC_061_CS: ClearCache.conf Accepted, and the id swiped before is asked about again.
#[test]
fn tc_061_cs_clear_cache_empties_the_cache_and_the_id_is_asked_about_again() {
    let s = all_on();
    let mut auth = Authorization::new(10);
    cache(&mut auth, &s, "TAG", AuthorizationStatus::Accepted);
    let mut ops = Vec::new();
    let response = auth.clear_cache(&s, &mut ops);
    assert_eq!(response.status, ClearCacheStatus::Accepted);
    assert_eq!(
        ops,
        [StoreOp::Clear {
            collection: CACHE_COLLECTION
        }]
    );
    assert!(auth.cache().is_empty());
    assert!(decide(&mut auth, &s, "TAG", true).must_ask_central_system());
}

/// Errata 3.23: without an Authorization Cache, ClearCache.conf is Rejected.
#[test]
fn errata_3_23_clear_cache_is_rejected_without_a_cache() {
    let s = AuthSettings {
        cache_supported: false,
        cache_enabled: false,
        ..all_on()
    };
    let mut ops = Vec::new();
    let response = Authorization::new(10).clear_cache(&s, &mut ops);
    assert_eq!(response.status, ClearCacheStatus::Rejected);
    assert!(ops.is_empty());
}

/// 6.12: a supported but disabled cache can still be cleared: Accepted.
#[test]
fn section_6_12_a_disabled_cache_is_cleared_and_accepted() {
    let mut auth = Authorization::new(10);
    cache(&mut auth, &all_on(), "TAG", AuthorizationStatus::Accepted);
    let off = AuthSettings {
        cache_enabled: false,
        ..all_on()
    };
    let response = auth.clear_cache(&off, &mut Vec::new());
    assert_eq!(response.status, ClearCacheStatus::Accepted);
    assert!(auth.cache().is_empty());
}

/// 3.5.3: identifiers of the list are not cached, and a disagreement is a LocalListConflict
/// (3.5.2).
#[test]
fn section_3_5_3_list_identifiers_are_not_cached_and_conflicts_are_reported() {
    let s = all_on();
    let mut auth = Authorization::new(10);
    let full = request(
        UpdateType::Full,
        1,
        Some(vec![entry("LISTED", Some(accepted()))]),
    );
    send(&mut auth, &s, &full);
    let mut ops = Vec::new();
    let same = auth.record_id_tag_info(&s, "listed", &accepted(), NOW, &mut ops);
    assert_eq!(same, InfoRecorded::InLocalList { conflict: false });
    let busy = info(AuthorizationStatus::ConcurrentTx);
    let busy = auth.record_id_tag_info(&s, "LISTED", &busy, NOW, &mut ops);
    assert_eq!(busy, InfoRecorded::InLocalList { conflict: false });
    let blocked = info(AuthorizationStatus::Blocked);
    let blocked = auth.record_id_tag_info(&s, "LISTED", &blocked, NOW, &mut ops);
    assert_eq!(blocked, InfoRecorded::InLocalList { conflict: true });
    assert!(ops.is_empty() && auth.cache().is_empty());
    assert_eq!(
        auth.local_list().get("LISTED").unwrap().info().status,
        AuthorizationStatus::Accepted,
        "3.5.2: only SendLocalList changes the list"
    );
}

/// 3.5.3: a SendLocalList that lists a cached identifier removes it from the cache.
#[test]
fn section_3_5_3_listing_an_identifier_removes_it_from_the_cache() {
    let s = all_on();
    let mut auth = Authorization::new(10);
    cache(&mut auth, &s, "BOTH", AuthorizationStatus::Blocked);
    let full = request(
        UpdateType::Full,
        1,
        Some(vec![entry("both", Some(accepted()))]),
    );
    let (status, _, ops) = send(&mut auth, &s, &full);
    assert_eq!(status, UpdateStatus::Accepted);
    assert!(auth.cache().is_empty());
    assert!(ops.contains(&StoreOp::Delete {
        collection: CACHE_COLLECTION,
        key: "both".into()
    }));
}

// ---------------------------------------------------------------- Local Authorization List

/// TC_042_1_CS: GetLocalListVersion is -1 without the profile and while LocalAuthListEnabled is
/// false.
#[test]
fn tc_042_1_cs_the_version_is_minus_one_when_not_supported_or_not_enabled() {
    let mut auth = Authorization::new(0);
    send(
        &mut auth,
        &all_on(),
        &request(
            UpdateType::Full,
            3,
            Some(vec![entry("A", Some(accepted()))]),
        ),
    );
    let unsupported = AuthSettings {
        local_list_supported: false,
        ..all_on()
    };
    let disabled = AuthSettings {
        local_list_enabled: false,
        ..all_on()
    };
    assert_eq!(version(&auth, &unsupported), -1);
    assert_eq!(version(&auth, &disabled), -1);
    assert_eq!(version(&auth, &all_on()), 3, "kept while disabled");
}

/// TC_042_2_CS: an empty Full update with listVersion 1, then GetLocalListVersion is 0 (5.10).
#[test]
fn tc_042_2_cs_an_empty_list_reports_version_zero() {
    let s = all_on();
    let mut auth = Authorization::new(0);
    assert_eq!(version(&auth, &s), 0, "never set");
    send(
        &mut auth,
        &s,
        &request(
            UpdateType::Full,
            4,
            Some(vec![entry("A", Some(accepted()))]),
        ),
    );
    let (status, _, ops) = send(&mut auth, &s, &request(UpdateType::Full, 1, None));
    assert_eq!(status, UpdateStatus::Accepted);
    assert_eq!(version(&auth, &s), 0);
    assert!(auth.local_list().is_empty());
    assert_eq!(
        ops[0],
        StoreOp::Clear {
            collection: LOCAL_LIST_COLLECTION
        }
    );
}

/// TC_043_CS: a Full then a Differential update are Accepted, and the listed ids authorize.
#[test]
fn tc_043_cs_full_then_differential_update() {
    let s = all_on();
    let mut auth = Authorization::new(0);
    let full = request(
        UpdateType::Full,
        1,
        Some(vec![
            entry("A", Some(accepted())),
            entry("B", Some(accepted())),
        ]),
    );
    assert_eq!(send(&mut auth, &s, &full).0, UpdateStatus::Accepted);
    let diff = request(
        UpdateType::Differential,
        2,
        Some(vec![
            entry("C", Some(accepted())),
            entry("A", Some(info(AuthorizationStatus::Blocked))),
            entry("B", None),
            entry("NEVER-LISTED", None),
        ]),
    );
    let (status, _, ops) = send(&mut auth, &s, &diff);
    assert_eq!(status, UpdateStatus::Accepted);
    assert_eq!(version(&auth, &s), 2);
    let ids: Vec<_> = auth
        .local_list()
        .iter()
        .map(|e| e.id_tag().to_owned())
        .collect();
    assert_eq!(ids, ["A", "C"]);
    assert_eq!(
        ops.len(),
        4,
        "version, C, A, delete B; nothing for an absent id"
    );
    assert!(decide(&mut auth, &s, "c", false).is_authorized());
    assert!(!decide(&mut auth, &s, "a", false).is_authorized());
}

/// 6.41: a Differential update without entries leaves them and takes the new version.
#[test]
fn section_6_41_an_empty_differential_update_keeps_the_entries() {
    let s = all_on();
    let mut auth = Authorization::new(0);
    send(
        &mut auth,
        &s,
        &request(
            UpdateType::Full,
            1,
            Some(vec![entry("A", Some(accepted()))]),
        ),
    );
    let (status, _, _) = send(&mut auth, &s, &request(UpdateType::Differential, 2, None));
    assert_eq!(status, UpdateStatus::Accepted);
    assert_eq!(auth.local_list().len(), 1);
    assert_eq!(version(&auth, &s), 2);
}

/// TC_043_1_CS: without the profile, or disabled, SendLocalList.conf is NotSupported.
#[test]
fn tc_043_1_cs_send_local_list_is_not_supported() {
    let full = request(
        UpdateType::Full,
        1,
        Some(vec![entry("A", Some(accepted()))]),
    );
    for s in [
        AuthSettings {
            local_list_supported: false,
            ..all_on()
        },
        AuthSettings {
            local_list_enabled: false,
            ..all_on()
        },
    ] {
        let mut auth = Authorization::new(0);
        let (status, refusal, ops) = send(&mut auth, &s, &full);
        assert_eq!((status, refusal), (UpdateStatus::NotSupported, None));
        assert!(ops.is_empty() && auth.local_list().is_empty());
        assert!(!decide(&mut auth, &all_on(), "A", false).is_authorized());
    }
}

/// TC_043_2_CS: Full 2, Differential 5 Accepted, Differential 4 VersionMismatch, version 5
/// kept; 7.47 "less or equal": the same version is a mismatch too.
#[test]
fn tc_043_2_cs_an_old_differential_version_is_a_version_mismatch() {
    let s = all_on();
    let mut auth = Authorization::new(0);
    let one = || Some(vec![entry("A", Some(accepted()))]);
    assert_eq!(
        send(&mut auth, &s, &request(UpdateType::Full, 2, one())).0,
        UpdateStatus::Accepted
    );
    assert_eq!(version(&auth, &s), 2);
    let (status, _, _) = send(&mut auth, &s, &request(UpdateType::Differential, 5, one()));
    assert_eq!(status, UpdateStatus::Accepted);
    assert_eq!(version(&auth, &s), 5);
    for old in [4, 5] {
        let (status, _, ops) = send(
            &mut auth,
            &s,
            &request(UpdateType::Differential, old, one()),
        );
        assert_eq!(status, UpdateStatus::VersionMismatch);
        assert!(ops.is_empty());
        assert_eq!(version(&auth, &s), 5);
    }
    // A Full update may go back: it replaces everything.
    assert_eq!(
        send(&mut auth, &s, &request(UpdateType::Full, 3, one())).0,
        UpdateStatus::Accepted
    );
    assert_eq!(version(&auth, &s), 3);
}

/// TC_043_3_CS: the ways a SendLocalList fails, each leaving the list as it was.
#[test]
fn tc_043_3_cs_refused_updates_fail_and_change_nothing() {
    let s = AuthSettings {
        local_list_max_length: 3,
        send_local_list_max_length: 2,
        ..all_on()
    };
    let mut auth = Authorization::new(0);
    let two = Some(vec![
        entry("A", Some(accepted())),
        entry("B", Some(accepted())),
    ]);
    assert_eq!(
        send(&mut auth, &s, &request(UpdateType::Full, 1, two)).0,
        UpdateStatus::Accepted
    );
    let cases = [
        // Errata 3.52: listVersion SHALL NOT be -1 or 0.
        (
            request(UpdateType::Full, 0, None),
            ListRefusal::InvalidVersion(0),
        ),
        (
            request(UpdateType::Differential, -1, None),
            ListRefusal::InvalidVersion(-1),
        ),
        // 9.2.3 SendLocalListMaxLength.
        (
            request(
                UpdateType::Full,
                2,
                Some(vec![entry("X", Some(accepted())); 3]),
            ),
            ListRefusal::TooManyEntries { given: 3, max: 2 },
        ),
        // 6.41: no duplicates, compared case-insensitively (errata 3.75).
        (
            request(
                UpdateType::Differential,
                2,
                Some(vec![entry("dup", Some(accepted())), entry("DUP", None)]),
            ),
            ListRefusal::DuplicateIdTag("DUP".into()),
        ),
        // 7.1: idTagInfo is required when the update is Full.
        (
            request(UpdateType::Full, 2, Some(vec![entry("N", None)])),
            ListRefusal::MissingIdTagInfo("N".into()),
        ),
        // 9.2.2 LocalAuthListMaxLength: 2 listed + 2 new > 3.
        (
            request(
                UpdateType::Differential,
                2,
                Some(vec![
                    entry("C", Some(accepted())),
                    entry("D", Some(accepted())),
                ]),
            ),
            ListRefusal::ListTooLong {
                resulting: 4,
                max: 3,
            },
        ),
    ];
    for (req, refusal) in cases {
        let (status, why, ops) = send(&mut auth, &s, &req);
        assert_eq!((status, why), (UpdateStatus::Failed, Some(refusal)));
        assert!(ops.is_empty());
        assert_eq!(version(&auth, &s), 1);
        assert_eq!(auth.local_list().len(), 2);
    }
    // Removing one makes room for the other: 2 - 1 + 1 + 1 = 3.
    let fits = request(
        UpdateType::Differential,
        2,
        Some(vec![entry("A", None), entry("C", Some(accepted()))]),
    );
    assert_eq!(send(&mut auth, &s, &fits).0, UpdateStatus::Accepted);
}

/// TC_008_CS: an Accepted id of the list starts a transaction online with LocalPreAuthorize,
/// the cache disabled.
#[test]
fn tc_008_cs_a_listed_id_is_pre_authorized_online() {
    let s = AuthSettings {
        cache_enabled: false,
        ..all_on()
    };
    let mut auth = Authorization::new(10);
    send(
        &mut auth,
        &s,
        &request(
            UpdateType::Full,
            1,
            Some(vec![entry("VALID", Some(accepted()))]),
        ),
    );
    assert_eq!(
        decide(&mut auth, &s, "VALID", true),
        LocalDecision::Authorized {
            info: accepted(),
            source: Source::LocalList
        }
    );
}

/// 3.5.3: the list has priority over the cache for the same identifier.
#[test]
fn section_3_5_3_the_list_has_priority_over_the_cache() {
    let s = all_on();
    let mut auth = Authorization::new(10);
    let list_off = AuthSettings {
        local_list_enabled: false,
        ..all_on()
    };
    // The id is listed as Blocked, and cached as Accepted while the list was disabled.
    send(
        &mut auth,
        &s,
        &request(
            UpdateType::Full,
            1,
            Some(vec![entry("ID", Some(info(AuthorizationStatus::Blocked)))]),
        ),
    );
    cache(&mut auth, &list_off, "ID", AuthorizationStatus::Accepted);
    let decision = decide(&mut auth, &s, "ID", false);
    assert_eq!(decision.source(), Some(Source::LocalList));
    assert!(!decision.is_authorized());
    assert_eq!(
        decide(&mut auth, &list_off, "ID", false).source(),
        Some(Source::Cache)
    );
}

// ---------------------------------------------------------------- the local decision

/// TC_037_1_CS: offline, a valid id of the list, of the cache, or unknown with
/// AllowOfflineTxForUnknownId starts a transaction.
#[test]
fn tc_037_1_cs_offline_valid_ids_are_authorized() {
    let s = AuthSettings {
        allow_offline_tx_for_unknown_id: true,
        ..all_on()
    };
    let mut auth = Authorization::new(10);
    send(
        &mut auth,
        &s,
        &request(
            UpdateType::Full,
            1,
            Some(vec![entry("LISTED", Some(accepted()))]),
        ),
    );
    cache(&mut auth, &s, "CACHED", AuthorizationStatus::Accepted);
    for (id, source) in [
        ("LISTED", Source::LocalList),
        ("CACHED", Source::Cache),
        ("STRANGER", Source::UnknownOffline),
    ] {
        let decision = decide(&mut auth, &s, id, false);
        assert_eq!(
            decision,
            LocalDecision::Authorized {
                info: accepted(),
                source
            },
            "{id}"
        );
    }
}

/// TC_037_2_CS / TC_037_3_CS, 3.5.4: offline, an id known with another status than Accepted is
/// rejected, even with AllowOfflineTxForUnknownId.
#[test]
fn tc_037_2_cs_and_tc_037_3_cs_offline_known_invalid_ids_are_rejected() {
    let s = AuthSettings {
        allow_offline_tx_for_unknown_id: true,
        ..all_on()
    };
    let statuses = [
        AuthorizationStatus::Invalid,
        AuthorizationStatus::Blocked,
        AuthorizationStatus::Expired,
        AuthorizationStatus::ConcurrentTx,
    ];
    for status in statuses {
        let mut auth = Authorization::new(10);
        send(
            &mut auth,
            &s,
            &request(
                UpdateType::Full,
                1,
                Some(vec![entry("LISTED", Some(info(status)))]),
            ),
        );
        cache(&mut auth, &s, "CACHED", status);
        for (id, source) in [("LISTED", Source::LocalList), ("CACHED", Source::Cache)] {
            assert_eq!(
                decide(&mut auth, &s, id, false),
                LocalDecision::Rejected {
                    info: info(status),
                    source
                },
                "{id} {status:?}"
            );
        }
    }
}

/// 3.5.4: "Identifiers that were valid but are apparently expired due to passage of time MUST
/// also be rejected"; the list entry itself is not changed (3.5.2).
#[test]
fn section_3_5_4_an_expired_list_entry_is_rejected_offline_and_asked_about_online() {
    let s = all_on();
    let mut auth = Authorization::new(10);
    let expired = IdTagInfo {
        expiry_date: Some(NOW - Duration::seconds(1)),
        ..accepted()
    };
    send(
        &mut auth,
        &s,
        &request(
            UpdateType::Full,
            1,
            Some(vec![entry("OLD", Some(expired.clone()))]),
        ),
    );
    let offline = decide(&mut auth, &s, "OLD", false);
    assert!(
        matches!(offline, LocalDecision::Rejected { ref info, .. } if info.status == AuthorizationStatus::Expired)
    );
    let online = decide(&mut auth, &s, "OLD", true);
    assert!(online.must_ask_central_system());
    assert_eq!(online.info().unwrap().status, AuthorizationStatus::Expired);
    assert_eq!(auth.local_list().get("OLD").unwrap().info(), &expired);
}

/// 4.1 and 3.5: the whole decision table, online and offline, for an id of the list, of the
/// cache and an unknown one, under every combination of LocalPreAuthorize,
/// LocalAuthorizeOffline and AllowOfflineTxForUnknownId.
#[test]
fn section_3_5_the_local_decision_table() {
    #[derive(Debug, PartialEq)]
    enum V {
        Auth(Source),
        Reject(Source),
        Ask,
    }
    for bits in 0..8u8 {
        let s = AuthSettings {
            local_pre_authorize: bits & 1 != 0,
            local_authorize_offline: bits & 2 != 0,
            allow_offline_tx_for_unknown_id: bits & 4 != 0,
            ..all_on()
        };
        let mut auth = Authorization::new(10);
        send(
            &mut auth,
            &s,
            &request(
                UpdateType::Full,
                1,
                Some(vec![
                    entry("L-OK", Some(accepted())),
                    entry("L-NO", Some(info(AuthorizationStatus::Blocked))),
                ]),
            ),
        );
        cache(&mut auth, &s, "C-OK", AuthorizationStatus::Accepted);
        cache(&mut auth, &s, "C-NO", AuthorizationStatus::Invalid);
        for (id, known) in [
            ("L-OK", Some((true, Source::LocalList))),
            ("L-NO", Some((false, Source::LocalList))),
            ("C-OK", Some((true, Source::Cache))),
            ("C-NO", Some((false, Source::Cache))),
            ("UNKNOWN", None),
        ] {
            for online in [true, false] {
                let unknown_offline = if s.allow_offline_tx_for_unknown_id {
                    V::Auth(Source::UnknownOffline)
                } else {
                    V::Reject(Source::Unknown)
                };
                let expected = match (online, known) {
                    (true, Some((true, source))) if s.local_pre_authorize => V::Auth(source),
                    (true, _) => V::Ask,
                    (false, Some((false, source))) => V::Reject(source),
                    (false, Some((true, source))) if s.local_authorize_offline => V::Auth(source),
                    (false, _) => unknown_offline,
                };
                let actual = match decide(&mut auth, &s, id, online) {
                    LocalDecision::Authorized { source, .. } => V::Auth(source),
                    LocalDecision::Rejected { source, .. } => V::Reject(source),
                    LocalDecision::AskCentralSystem { .. } => V::Ask,
                };
                assert_eq!(actual, expected, "{id} online={online} {s:?}");
            }
        }
    }
}

/// 3.5.4 and 7.2: an unknown id authorized offline is a plain Accepted; one refused is Invalid.
#[test]
fn section_3_5_4_unknown_offline_ids_get_plain_information() {
    let mut auth = Authorization::new(10);
    let refuse = all_on();
    let allow = AuthSettings {
        allow_offline_tx_for_unknown_id: true,
        ..all_on()
    };
    assert_eq!(
        decide(&mut auth, &refuse, "X", false),
        LocalDecision::Rejected {
            info: info(AuthorizationStatus::Invalid),
            source: Source::Unknown
        }
    );
    assert_eq!(
        decide(&mut auth, &allow, "X", false).info(),
        Some(&accepted())
    );
    assert_eq!(decide(&mut auth, &allow, "X", true).source(), None);
}

// ---------------------------------------------------------------- configuration and persistence

/// The settings come from the configuration registry (9.1, 9.2).
#[test]
fn settings_are_read_from_the_configuration_registry() {
    let definitions = Definitions::builder()
        .profiles(&[Profile::Core, Profile::LocalAuthListManagement])
        .initial(StandardKey::AuthorizationCacheEnabled, "true")
        .initial(StandardKey::LocalAuthListEnabled, "true")
        .initial(StandardKey::LocalAuthListMaxLength, "50")
        .initial(StandardKey::SendLocalListMaxLength, "20")
        .initial(StandardKey::LocalPreAuthorize, "true")
        .initial(StandardKey::LocalAuthorizeOffline, "false")
        .initial(StandardKey::AllowOfflineTxForUnknownId, "true")
        .build()
        .unwrap();
    let s = AuthSettings::from_configuration(&Configuration::new(definitions));
    assert_eq!(
        s,
        AuthSettings {
            cache_supported: true,
            cache_enabled: true,
            local_list_supported: true,
            local_list_enabled: true,
            local_list_max_length: 50,
            send_local_list_max_length: 20,
            local_pre_authorize: true,
            local_authorize_offline: false,
            allow_offline_tx_for_unknown_id: true,
        }
    );
    let core_only = Definitions::builder()
        .profiles(&[Profile::Core])
        .without_key(StandardKey::AuthorizationCacheEnabled)
        .build()
        .unwrap();
    let s = AuthSettings::from_configuration(&Configuration::new(core_only));
    assert!(!s.cache_supported && !s.local_list_supported);
    assert!(!s.cache_in_use() && !s.local_list_in_use());
}

/// 3.5.1 / 3.5.2 (errata 3.4): both structures survive a restart through their StoreOps.
#[test]
fn the_cache_and_the_list_survive_a_restart() {
    let s = all_on();
    let mut auth = Authorization::new(10);
    let mut snapshot = Snapshot::new();
    let list = request(
        UpdateType::Full,
        7,
        Some(vec![
            entry(
                "Alpha",
                Some(IdTagInfo {
                    expiry_date: Some(datetime!(2030-01-01 00:00 UTC)),
                    parent_id_tag: Some("PARENT".into()),
                    status: AuthorizationStatus::Accepted,
                }),
            ),
            entry("Beta", Some(info(AuthorizationStatus::Blocked))),
        ]),
    );
    let (_, _, ops) = send(&mut auth, &s, &list);
    snapshot.apply(&ops);
    let mut ops = Vec::new();
    auth.record_id_tag_info(&s, "Gamma", &accepted(), NOW, &mut ops);
    auth.record_id_tag_info(
        &s,
        "Delta",
        &info(AuthorizationStatus::Expired),
        NOW,
        &mut ops,
    );
    auth.authorize_locally(&s, "gamma", NOW, true, &mut ops);
    snapshot.apply(&ops);

    let restored = Authorization::restore(10, &snapshot).unwrap();
    assert_eq!(version(&restored, &s), 7);
    let listed: Vec<_> = restored
        .local_list()
        .iter()
        .map(|e| (e.id_tag(), e.info().clone()))
        .collect();
    let original: Vec<_> = auth
        .local_list()
        .iter()
        .map(|e| (e.id_tag(), e.info().clone()))
        .collect();
    assert_eq!(listed, original);
    let cached: Vec<_> = restored.cache().iter_by_use().cloned().collect();
    let before: Vec<_> = auth.cache().iter_by_use().cloned().collect();
    assert_eq!(cached, before);
    assert_eq!(
        cached.iter().map(|e| e.id_tag()).collect::<Vec<_>>(),
        ["Delta", "Gamma"]
    );
    assert_eq!(cached[0].stored_at(), NOW);
}

/// A Full update is one batch: Clear, the version, one Put per entry; a Differential one
/// writes only what changes.
#[test]
fn a_full_update_is_one_batch_and_a_differential_one_writes_only_its_entries() {
    let s = all_on();
    let mut auth = Authorization::new(0);
    let (_, _, ops) = send(
        &mut auth,
        &s,
        &request(
            UpdateType::Full,
            1,
            Some(vec![
                entry("A", Some(accepted())),
                entry("B", Some(accepted())),
            ]),
        ),
    );
    let keys: Vec<_> = ops
        .iter()
        .map(|op| match op {
            StoreOp::Put { key, .. } => format!("put {key}"),
            StoreOp::Delete { key, .. } => format!("delete {key}"),
            StoreOp::Clear { .. } => "clear".to_owned(),
        })
        .collect();
    assert_eq!(keys, ["clear", "put version", "put id/a", "put id/b"]);
    assert!(
        ops.iter()
            .all(|op| op.collection() == LOCAL_LIST_COLLECTION)
    );
    let (_, _, ops) = send(
        &mut auth,
        &s,
        &request(UpdateType::Differential, 2, Some(vec![entry("a", None)])),
    );
    assert_eq!(ops.len(), 2);
    assert!(ops.contains(&StoreOp::Delete {
        collection: LOCAL_LIST_COLLECTION,
        key: "id/a".into()
    }));
}

/// Unreadable records are restore errors, never panics or silent resets.
#[test]
fn unreadable_records_are_restore_errors() {
    for (collection, key, value) in [
        (CACHE_COLLECTION, "x", &b"\xff\xfe"[..]),
        (CACHE_COLLECTION, "x", b"{\"v\":1}"),
        (LOCAL_LIST_COLLECTION, "version", b"[]"),
        (
            LOCAL_LIST_COLLECTION,
            "id/x",
            b"{\"v\":1,\"idTag\":\"x\",\"info\":{}}",
        ),
    ] {
        let mut snapshot = Snapshot::new();
        snapshot.insert(collection, key.to_owned(), value.to_vec());
        let error = Authorization::restore(10, &snapshot).unwrap_err();
        assert!(
            error.to_string().contains(&format!("{collection}/{key}")),
            "{error}"
        );
    }
    assert!(Authorization::restore(10, &Snapshot::new()).is_ok());
}
