//! The 1.6 Charge Point state machine's own cost: one charging transaction turned around in
//! memory, with no network and no store.
//!
//! Each iteration starts a transaction, hands the StartTransaction frame to a bare RPC endpoint
//! playing the Central System (whose cost is included), feeds the answer back, stops the
//! transaction and does the same for the StopTransaction. That is 4 frames through the
//! Charge Point (2 sent, 2 received), 2 schema validations each way, and the store ops of the
//! durable queue (collected, not written). Results are in BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ocpp_core::charge_point::config::{Definitions, StandardKey};
use ocpp_core::charge_point::{ChargePoint, ChargePointConfig};
use ocpp_core::machine::{Machine, Output};
use ocpp_core::persist::Snapshot;
use ocpp_core::rpc::{CounterIds, Endpoint, EndpointConfig, RpcEvent};
use ocpp_core::time::{Monotonic, Now};
use ocpp_core::v16::BootNotificationRequest;
use serde_json::json;

struct Pair {
    now: Now,
    cp: ChargePoint,
    cs: Endpoint,
    next_id: i64,
}

impl Pair {
    fn new(validate: bool) -> Pair {
        let definitions = Definitions::builder()
            .initial(StandardKey::NumberOfConnectors, "1")
            .build()
            .unwrap();
        let boot = BootNotificationRequest::new("Bench", "Bench");
        let mut config = ChargePointConfig::new(boot, definitions);
        config.rpc.validate_received = validate;
        config.rpc.validate_sent = validate;
        let cp =
            ChargePoint::new(config, Box::new(CounterIds::default()), &Snapshot::new()).unwrap();
        let mut cs_config = EndpointConfig::new();
        cs_config.validate_received = validate;
        cs_config.validate_sent = validate;
        let cs = Endpoint::new(cs_config, Box::new(CounterIds::default()));
        let mut pair = Pair {
            now: Now::new(Monotonic::ZERO, time::OffsetDateTime::UNIX_EPOCH),
            cp,
            cs,
            next_id: 0,
        };
        pair.cs.handle_connected(pair.now);
        pair.cp.handle_connected(pair.now);
        pair.settle();
        pair
    }

    /// Moves frames both ways until quiet; the Central System answers what it is asked.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            while let Some(output) = self.cp.poll_output() {
                if let Output::Transmit(text) = output {
                    moved = true;
                    Machine::handle_message(&mut self.cs, self.now, &text);
                }
            }
            while let Some(output) = self.cs.poll_output() {
                match output {
                    Output::Transmit(text) => {
                        moved = true;
                        self.cp.handle_message(self.now, &text);
                    }
                    Output::Event(RpcEvent::Call(call)) => {
                        let answer = match call.action.as_str() {
                            "BootNotification" => json!({"status": "Accepted",
                                "currentTime": "2024-05-01T10:00:00Z", "interval": 300}),
                            "StartTransaction" => {
                                self.next_id += 1;
                                json!({"transactionId": self.next_id,
                                    "idTagInfo": {"status": "Accepted"}})
                            }
                            "StopTransaction" => json!({"idTagInfo": {"status": "Accepted"}}),
                            _ => json!({}),
                        };
                        self.cs.respond(self.now, &call.id, answer).unwrap();
                    }
                    _ => {}
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn transaction(&mut self) {
        self.cp
            .start_transaction(self.now, 1, "04A2B3C4", 1000, None)
            .unwrap();
        self.settle();
        self.cp
            .stop_transaction(self.now, 1, 2000, None, None)
            .unwrap();
        self.settle();
    }
}

fn bench(c: &mut Criterion) {
    ocpp_core::validate::compile_all().expect("schemas compile");
    let mut group = c.benchmark_group("charge point transaction");
    // Each element is one frame handled by the Charge Point (2 sent + 2 received).
    group.throughput(Throughput::Elements(4));
    for (name, validate) in [("validated", true), ("unvalidated", false)] {
        let mut pair = Pair::new(validate);
        group.bench_function(name, |b| b.iter(|| black_box(&mut pair).transaction()));
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
