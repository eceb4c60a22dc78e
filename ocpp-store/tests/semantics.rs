//! `RedbStore` and `MemoryStore` mean the same thing: `load` after any sequence of `apply`
//! calls, and after a reopen, equals `Snapshot::apply` of all the ops (the contract of
//! `ocpp_core::persist`).

mod common;

use common::{TempDir, delete, put};
use ocpp_store::{MemoryStore, RecordStore, RedbStore, Snapshot, StoreOp};

const COLLECTIONS: [&str; 3] = ["queue", "config", "cache"];

/// Deterministic pseudo-random ops over few keys, so that puts, deletes and clears collide.
fn ops(seed: u64, count: usize) -> Vec<Vec<StoreOp>> {
    let mut state = seed;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut batches = Vec::new();
    for _ in 0..count {
        let len = next(6) as usize; // including empty batches
        let mut batch = Vec::new();
        for _ in 0..len {
            let collection = COLLECTIONS[next(3) as usize];
            let key = format!("{:04}", next(12));
            match next(10) {
                0 => batch.push(StoreOp::Clear { collection }),
                1..=3 => batch.push(delete(collection, &key)),
                _ => {
                    let value = vec![next(256) as u8; next(300) as usize];
                    batch.push(put(collection, &key, &value));
                }
            }
        }
        batches.push(batch);
    }
    batches
}

#[test]
fn redb_and_memory_stores_agree_with_snapshot_apply_across_reopens() {
    let dir = TempDir::new("agree");
    let path = dir.file("store.redb");
    let mut redb = RedbStore::open(&path).unwrap();
    let mut memory = MemoryStore::new();
    let mut model = Snapshot::new();
    for (i, batch) in ops(0x9E37_79B9_7F4A_7C15, 120).iter().enumerate() {
        redb.apply(batch).unwrap();
        memory.apply(batch).unwrap();
        model.apply(batch);
        assert_eq!(redb.load().unwrap(), model, "redb after batch {i}");
        assert_eq!(memory.load().unwrap(), model, "memory after batch {i}");
        if i % 17 == 0 {
            drop(redb);
            redb = RedbStore::open(&path).unwrap();
            assert_eq!(redb.load().unwrap(), model, "reopened after batch {i}");
        }
    }
}

#[test]
fn ops_of_one_call_apply_in_order() {
    let dir = TempDir::new("order");
    let mut store = RedbStore::open(dir.file("store.redb")).unwrap();
    store
        .apply(&[
            put("queue", "1", b"a"),
            delete("queue", "1"),
            put("queue", "1", b"b"),
            put("cache", "x", b"1"),
            StoreOp::Clear {
                collection: "cache",
            },
            put("cache", "y", b"2"),
            delete("nothing", "z"),
        ])
        .unwrap();
    let snapshot = store.load().unwrap();
    assert_eq!(snapshot.get("queue", "1"), Some(&b"b"[..]));
    assert_eq!(
        snapshot
            .records("cache")
            .map(|(k, _)| k)
            .collect::<Vec<_>>(),
        ["y"]
    );
    assert_eq!(
        snapshot.collections().collect::<Vec<_>>(),
        ["cache", "queue"]
    );
}

#[test]
fn an_empty_apply_writes_nothing() {
    let dir = TempDir::new("empty-apply");
    let path = dir.file("store.redb");
    let mut store = RedbStore::open(&path).unwrap();
    store.apply(&[put("queue", "1", b"a")]).unwrap();
    let before = std::fs::read(&path).unwrap();
    for _ in 0..10 {
        store.apply(&[]).unwrap();
    }
    assert!(std::fs::read(&path).unwrap() == before, "the file changed");
}

#[test]
fn stores_are_usable_as_trait_objects() {
    let dir = TempDir::new("dyn");
    let mut stores: Vec<Box<dyn RecordStore + Send>> = vec![
        Box::new(MemoryStore::new()),
        Box::new(RedbStore::open(dir.file("store.redb")).unwrap()),
    ];
    for store in &mut stores {
        store.apply(&[put("config", "k", b"v")]).unwrap();
        assert_eq!(store.load().unwrap().get("config", "k"), Some(&b"v"[..]));
    }
}

#[test]
fn keys_sort_as_byte_strings_like_the_snapshot() {
    let dir = TempDir::new("order-keys");
    let mut store = RedbStore::open(dir.file("store.redb")).unwrap();
    let keys = ["b", "a", "ä", "B", "10", "9", "", "a\u{0}"];
    let batch: Vec<_> = keys.iter().map(|k| put("keys", k, k.as_bytes())).collect();
    store.apply(&batch).unwrap();
    let mut model = Snapshot::new();
    model.apply(&batch);
    let stored: Vec<_> = store
        .load()
        .unwrap()
        .records("keys")
        .map(|(k, _)| k.to_owned())
        .collect();
    let expected: Vec<_> = model.records("keys").map(|(k, _)| k.to_owned()).collect();
    assert_eq!(stored, expected);
}
