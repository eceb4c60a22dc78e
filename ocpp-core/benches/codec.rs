//! Decode + validate + encode of typical OCPP-J frames: how many frames per second one core
//! turns around.
//!
//! Each iteration takes a CALL frame's text through what the stack does with it: parse the
//! frame, validate the payload (in the `validated` group), decode it into the generated type,
//! encode the typed value again (validating it before sending, in the `validated` group) and
//! write the frame text. The `unvalidated` group skips both validations and encodes the typed
//! value straight into the frame. Results are in BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ocpp_core::rpc::Frame;
use ocpp_core::validate::validate;
use ocpp_core::{OcppRequest, PayloadKind, v16, v201};

const BOOT_NOTIFICATION: &str = r#"[2,"b7c3e0a2-0f4e-4d2a-9a55-1a2b3c4d5e6f","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"SingleSocketCharger","chargePointSerialNumber":"SN-000123","chargeBoxSerialNumber":"CB-000123","firmwareVersion":"1.4.2","iccid":"89310410106543789301","imsi":"204043260000001","meterType":"DZG DVH4013","meterSerialNumber":"M-123456"}]"#;

const START_TRANSACTION: &str = r#"[2,"c1d2e3f4-0a1b-4c2d-8e3f-405162738495","StartTransaction",{"connectorId":1,"idTag":"04A2B3C4D5E6F7","meterStart":1234567,"reservationId":42,"timestamp":"2024-05-01T10:15:30.123Z"}]"#;

fn meter_values() -> String {
    let measurands = [
        ("Energy.Active.Import.Register", "Wh", None, "1234567.8"),
        ("Power.Active.Import", "W", None, "11040"),
        ("Current.Import", "A", Some("L1"), "16.02"),
        ("Current.Import", "A", Some("L2"), "15.98"),
        ("Current.Import", "A", Some("L3"), "16.10"),
        ("Voltage", "V", Some("L1-N"), "230.4"),
        ("Voltage", "V", Some("L2-N"), "229.8"),
        ("Voltage", "V", Some("L3-N"), "231.1"),
        ("SoC", "Percent", None, "57"),
        ("Temperature", "Celsius", None, "34.5"),
    ];
    let sampled: Vec<String> = measurands
        .iter()
        .map(|(measurand, unit, phase, value)| {
            let phase = phase.map_or(String::new(), |p| format!(r#","phase":"{p}""#));
            format!(
                r#"{{"value":"{value}","context":"Sample.Periodic","format":"Raw","measurand":"{measurand}"{phase},"location":"Outlet","unit":"{unit}"}}"#
            )
        })
        .collect();
    format!(
        r#"[2,"d4e5f6a7-1b2c-4d3e-9f40-516273849506","MeterValues",{{"connectorId":1,"transactionId":1001,"meterValue":[{{"timestamp":"2024-05-01T10:30:00Z","sampledValue":[{}]}}]}}]"#,
        sampled.join(",")
    )
}

const TRANSACTION_EVENT: &str = r#"[2,"e5f6a7b8-2c3d-4e4f-a051-627384950617","TransactionEvent",{"eventType":"Updated","timestamp":"2024-05-01T10:30:00Z","triggerReason":"MeterValuePeriodic","seqNo":7,"offline":false,"transactionInfo":{"transactionId":"f0e1d2c3-b4a5-4697-8889-7a6b5c4d3e2f","chargingState":"Charging","timeSpentCharging":900},"evse":{"id":1,"connectorId":1},"idToken":{"idToken":"04A2B3C4D5E6F7","type":"ISO14443"},"meterValue":[{"timestamp":"2024-05-01T10:30:00Z","sampledValue":[{"value":1234.5,"context":"Sample.Periodic","measurand":"Energy.Active.Import.Register","unitOfMeasure":{"unit":"kWh","multiplier":0}},{"value":11.04,"measurand":"Power.Active.Import","unitOfMeasure":{"unit":"kW"}},{"value":16.02,"measurand":"Current.Import","phase":"L1"}]}]}]"#;

/// Parse, validate, decode, encode, validate, write: the full checked path.
fn validated<R: OcppRequest>(text: &str) -> String {
    let Ok(Frame::Call(call)) = Frame::parse(text) else {
        panic!("benchmark input is not a CALL")
    };
    validate(R::VERSION, R::ACTION, PayloadKind::Request, &call.payload).expect("valid input");
    let typed = R::deserialize(&call.payload).expect("decodable input");
    let payload = serde_json::to_value(&typed).expect("encodable");
    validate(R::VERSION, R::ACTION, PayloadKind::Request, &payload).expect("valid output");
    Frame::call_text(&call.id, R::ACTION, &payload)
}

/// Parse, decode, encode straight into the frame text: no validation.
fn unvalidated<R: OcppRequest>(text: &str) -> String {
    let Ok(Frame::Call(call)) = Frame::parse(text) else {
        panic!("benchmark input is not a CALL")
    };
    let typed = R::deserialize(&call.payload).expect("decodable input");
    serde_json::to_string(&(2, &call.id, R::ACTION, &typed)).expect("encodable")
}

/// One way of turning a frame around.
type Path = fn(&str) -> String;

fn bench(c: &mut Criterion) {
    let meter_values = meter_values();
    let frames: [(&str, &str, Path, Path); 4] = [
        (
            "v16 BootNotification",
            BOOT_NOTIFICATION,
            validated::<v16::BootNotificationRequest>,
            unvalidated::<v16::BootNotificationRequest>,
        ),
        (
            "v16 StartTransaction",
            START_TRANSACTION,
            validated::<v16::StartTransactionRequest>,
            unvalidated::<v16::StartTransactionRequest>,
        ),
        (
            "v16 MeterValues x10",
            &meter_values,
            validated::<v16::MeterValuesRequest>,
            unvalidated::<v16::MeterValuesRequest>,
        ),
        (
            "v201 TransactionEvent",
            TRANSACTION_EVENT,
            validated::<v201::TransactionEventRequest>,
            unvalidated::<v201::TransactionEventRequest>,
        ),
    ];
    // Compile every validator before measuring: that is a start-up cost, not a per-frame one.
    ocpp_core::validate::compile_all().expect("schemas compile");
    for (name, text, checked, unchecked) in frames {
        // Both paths must reproduce the frame's content, or the benchmark measures nonsense.
        // (The inputs are written as the stack writes them: a zero fraction of a second would
        // come back without its `.000`.)
        let original: serde_json::Value = serde_json::from_str(text).unwrap();
        for path in [checked, unchecked] {
            let again: serde_json::Value = serde_json::from_str(&path(text)).unwrap();
            assert_eq!(again, original, "{name} does not round-trip");
        }
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(1));
        group.bench_function("validated", |b| b.iter(|| checked(black_box(text))));
        group.bench_function("unvalidated", |b| b.iter(|| unchecked(black_box(text))));
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
