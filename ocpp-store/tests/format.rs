//! The on-disk format is versioned: a file of this version reopens, a file of a newer version
//! is refused, and the committed fixture of version 1 must keep opening with its records
//! (DESIGN.md, "Store": "tables carry a schema version; opening an older file migrates it; a
//! newer ... file is a clear error").

mod common;

use std::path::{Path, PathBuf};

use common::{TempDir, delete, put};
use ocpp_store::{FORMAT_VERSION, RecordStore, RedbStore, StoreError, StoreOp};
use redb::{Database, ReadableDatabase, TableDefinition};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("ocpp_store_meta");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format-v1.redb")
}

/// The ops that made the fixture: two collections, a deleted key and a cleared collection.
fn fixture_ops() -> Vec<StoreOp> {
    vec![
        put("queue", "0000000001", b"[2,\"1\",\"StartTransaction\",{}]"),
        put("queue", "0000000002", b"[2,\"2\",\"MeterValues\",{}]"),
        put("queue", "0000000003", b"[2,\"3\",\"StopTransaction\",{}]"),
        delete("queue", "0000000002"),
        put("config", "HeartbeatInterval", b"300"),
        put("config", "MeterValueSampleInterval", b"60"),
        put("scratch", "gone", b"x"),
        StoreOp::Clear {
            collection: "scratch",
        },
        put("binary", "all-bytes", &(0..=255u8).collect::<Vec<_>>()),
    ]
}

/// Writes `tests/fixtures/format-v1.redb`. Run it only when creating the fixture of a new
/// format version (after renaming the test and the file):
/// `cargo test -p ocpp-store --test format -- --ignored make_format_v1_fixture`.
#[test]
#[ignore = "writes the committed fixture; run by hand for a new format version"]
fn make_format_v1_fixture() {
    let path = fixture();
    let _ = std::fs::remove_file(&path);
    let mut store = RedbStore::open(&path).unwrap();
    store.apply(&fixture_ops()).unwrap();
    drop(store);
    // Shrink the file for the repository; compaction keeps the format.
    let mut db = Database::open(&path).unwrap();
    while db.compact().unwrap() {}
}

#[test]
fn the_format_v1_fixture_opens_with_its_records() {
    let dir = TempDir::new("fixture");
    // Opening takes the lock and may write, so open a copy.
    let path = dir.file("format-v1.redb");
    std::fs::copy(fixture(), &path).expect("the fixture file exists");
    let store = RedbStore::open(&path).unwrap();
    let snapshot = store.load().unwrap();
    let mut expected = ocpp_store::Snapshot::new();
    expected.apply(&fixture_ops());
    assert_eq!(snapshot, expected);
    assert_eq!(
        snapshot
            .records("queue")
            .map(|(k, _)| k)
            .collect::<Vec<_>>(),
        ["0000000001", "0000000003"]
    );
    assert_eq!(
        snapshot.collections().collect::<Vec<_>>(),
        ["binary", "config", "queue"]
    );
}

fn set_version(path: &Path, version: u32) {
    let db = Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut meta = txn.open_table(META).unwrap();
        meta.insert("format_version", &version.to_be_bytes()[..])
            .unwrap();
    }
    txn.commit().unwrap();
}

fn meta_value(path: &Path, key: &str) -> Vec<u8> {
    let db = Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(META).unwrap();
    meta.get(key).unwrap().unwrap().value().to_vec()
}

#[test]
fn a_new_store_records_its_format_version_and_creator() {
    let dir = TempDir::new("meta");
    let path = dir.file("store.redb");
    drop(RedbStore::open(&path).unwrap());
    assert_eq!(
        meta_value(&path, "format_version"),
        FORMAT_VERSION.to_be_bytes()
    );
    assert_eq!(
        meta_value(&path, "created_by"),
        format!("ocpp-store {}", env!("CARGO_PKG_VERSION")).as_bytes()
    );
    // No leftover of the creation.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["store.redb"]);
}

#[test]
fn the_present_version_reopens_and_a_newer_one_is_refused() {
    let dir = TempDir::new("too-new");
    let path = dir.file("store.redb");
    let mut store = RedbStore::open(&path).unwrap();
    store.apply(&[put("queue", "1", b"a")]).unwrap();
    drop(store);

    // The present version reopens, with its records.
    let store = RedbStore::open(&path).unwrap();
    assert_eq!(store.load().unwrap().get("queue", "1"), Some(&b"a"[..]));
    drop(store);

    set_version(&path, FORMAT_VERSION + 1);
    let error = RedbStore::open(&path).unwrap_err();
    match &error {
        StoreError::TooNew {
            found, supported, ..
        } => {
            assert_eq!((*found, *supported), (FORMAT_VERSION + 1, FORMAT_VERSION));
        }
        other => panic!("{other:?}"),
    }
    assert!(error.to_string().contains(&path.display().to_string()));
    // Refused, not rewritten.
    assert_eq!(
        meta_value(&path, "format_version"),
        (FORMAT_VERSION + 1).to_be_bytes()
    );
}

#[test]
fn a_meta_table_without_a_sound_version_is_corrupt() {
    let dir = TempDir::new("bad-version");
    let path = dir.file("store.redb");
    drop(RedbStore::open(&path).unwrap());
    set_version(&path, 0);
    assert!(matches!(
        RedbStore::open(&path),
        Err(StoreError::Corrupt { .. })
    ));
    {
        let db = Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert("format_version", &b"\x01"[..])
            .unwrap();
        txn.commit().unwrap();
    }
    match RedbStore::open(&path) {
        Err(StoreError::Corrupt { detail, .. }) => assert!(detail.contains("1 bytes"), "{detail}"),
        other => panic!("{other:?}"),
    }
}
