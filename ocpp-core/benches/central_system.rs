//! The 1.6 Central System machine's own cost per round trip, as `ocpp csms` runs it: a
//! `Recorder<CentralSystem>` without a trace sink, validation on (the default), no network.
//!
//! - **heartbeat**: one Heartbeat CALL in, its CALLRESULT (with `currentTime`) and the
//!   `Event::Request` out, drained as a driver drains it;
//! - **boot notification**: the same for a BootNotification of all nine fields (the machine
//!   keeps it, answers Accepted and reports `Registered` too).
//!
//! Results are in BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ocpp_core::central_system::{CentralSystem, CentralSystemConfig, CentralSystemSetup};
use ocpp_core::machine::{Machine, Output};
use ocpp_core::rpc::CounterIds;
use ocpp_core::time::{Monotonic, Now};
use ocpp_core::trace::Recorder;

const BOOT: &str = r#"[2,"b1","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"ModelY","chargePointSerialNumber":"SN-0001","chargeBoxSerialNumber":"CB-0001","firmwareVersion":"1.2.3","iccid":"8931000000000000001","imsi":"240010000000001","meterType":"ACME-1","meterSerialNumber":"M-0001"}]"#;
const HEARTBEAT: &str = r#"[2,"h1","Heartbeat",{}]"#;

/// A connected, booted Central System machine as the csms holds it.
fn connected() -> (Recorder<CentralSystem>, Now) {
    let now = Now::new(
        Monotonic::from_millis(1_000),
        time::macros::datetime!(2026-11-21 10:00:00.123 UTC),
    );
    let setup = CentralSystemSetup::of(&CentralSystemConfig::new("CP-BENCH"));
    let mut cs = Recorder::<CentralSystem>::new(&setup, Box::new(CounterIds::default()), None)
        .expect("the default setup builds");
    cs.handle_connected(now);
    while cs.poll_output().is_some() {}
    cs.handle_message(now, BOOT);
    while cs.poll_output().is_some() {}
    (cs, now)
}

/// One frame in, every output drained; the number of transmits (1). Not inlined, so that
/// callgrind can count one round trip: `--toggle-collect='*round_trip*'`.
#[inline(never)]
fn round_trip(cs: &mut Recorder<CentralSystem>, now: Now, frame: &str) -> usize {
    cs.handle_message(now, frame);
    let mut sent = 0;
    while let Some(output) = cs.poll_output() {
        if let Output::Transmit(text) = black_box(output) {
            sent += usize::from(!text.is_empty());
        }
    }
    sent
}

fn bench(c: &mut Criterion) {
    ocpp_core::validate::compile_all().expect("schemas compile");
    let mut group = c.benchmark_group("central system round trip");
    group.throughput(Throughput::Elements(1));
    for (name, frame) in [("heartbeat", HEARTBEAT), ("boot notification", BOOT)] {
        let (mut cs, now) = connected();
        assert_eq!(round_trip(&mut cs, now, frame), 1);
        group.bench_function(name, |b| {
            b.iter(|| round_trip(black_box(&mut cs), now, black_box(frame)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
