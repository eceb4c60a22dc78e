//! Throughput of `RedbStore::apply` (one durable transaction per call) and of `load`.
//!
//! `cargo bench -p ocpp-store --bench apply`. Each apply commits with immediate durability, so
//! the figures measure the disk's `fsync` as much as redb.

use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ocpp_store::{RecordStore, RedbStore, StoreOp};

struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("ocpp-store-bench-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small record, the size of a queued 1.6 MeterValues frame with a few values.
fn value() -> Vec<u8> {
    vec![b'x'; 200]
}

fn apply(c: &mut Criterion) {
    let mut group = c.benchmark_group("apply");
    for batch in [1u64, 10] {
        let dir = TempDir::new(&format!("apply-{batch}"));
        let mut store = RedbStore::open(dir.0.join("store.redb")).unwrap();
        let mut sequence = 0u64;
        group.throughput(Throughput::Elements(batch));
        group.bench_function(BenchmarkId::new("puts per call", batch), |b| {
            b.iter(|| {
                let ops: Vec<StoreOp> = (0..batch)
                    .map(|_| {
                        sequence += 1;
                        StoreOp::Put {
                            collection: "queue",
                            // A bounded key space, so the file does not grow without end.
                            key: format!("{:010}", sequence % 10_000),
                            value: value(),
                        }
                    })
                    .collect();
                store.apply(&ops).unwrap();
            })
        });
    }
    group.finish();
}

fn load(c: &mut Criterion) {
    let dir = TempDir::new("load");
    let path = dir.0.join("store.redb");
    let mut store = RedbStore::open(&path).unwrap();
    let ops: Vec<StoreOp> = (0..10_000)
        .map(|i| StoreOp::Put {
            collection: if i % 2 == 0 { "queue" } else { "cache" },
            key: format!("{i:010}"),
            value: value(),
        })
        .collect();
    store.apply(&ops).unwrap();
    let mut group = c.benchmark_group("10000 records");
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("load", |b| {
        b.iter(|| {
            let snapshot = store.load().unwrap();
            assert_eq!(snapshot.records("queue").count(), 5_000);
        })
    });
    drop(store);
    // Opening verifies every page's checksum; this is what a restart costs before `load`.
    group.bench_function("open", |b| b.iter(|| drop(RedbStore::open(&path).unwrap())));
    group.finish();
}

criterion_group!(benches, apply, load);
criterion_main!(benches);
