//! The heap an idle connected Charge Point costs the Central System machine (issue #7: at most
//! 4 KiB of RSS per idle connected station for the whole server).
//!
//! A test binary of its own, because it counts every allocation of the process through a
//! global allocator (`cap`, whose wrapper needs no unsafe code here) and must run alone.

use std::alloc::System;

use cap::Cap;
use ocpp_core::central_system::{
    Answer, CentralSystem, CentralSystemConfig, CentralSystemPolicy, CentralSystemSetup, Event,
};
use ocpp_core::machine::{Machine, Output};
use ocpp_core::rpc::CounterIds;
use ocpp_core::time::{Monotonic, Now};
use ocpp_core::trace::Recorder;
use ocpp_core::v16::{Action, BootNotificationResponse, RegistrationStatus};

#[global_allocator]
static HEAP: Cap<System> = Cap::new(System, usize::MAX);

const BOOT: &str = r#"[2,"b1","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"ModelY","chargePointSerialNumber":"SN-0001","firmwareVersion":"1.2.3"}]"#;

/// Connects, boots (answer drained) and sends a few Heartbeats, as a station does right after
/// it connects; what the csms holds for it afterwards. With `decided`, the application
/// answers the BootNotification itself (as `ocpp csms` does, once the station is stored);
/// without `reports`, the machine keeps no copy of it (`ocpp csms` keeps its own).
fn idle_station(id: &str, decided: bool, reports: bool) -> Recorder<CentralSystem> {
    let mut now = Now::new(
        Monotonic::from_millis(1_000),
        time::OffsetDateTime::UNIX_EPOCH,
    );
    let mut config = CentralSystemConfig::new(id);
    if decided {
        config.policy = CentralSystemPolicy::default().ask(Action::BootNotification);
    }
    if !reports {
        config.policy = config.policy.without_reports();
    }
    let setup = CentralSystemSetup::of(&config);
    let mut cs = Recorder::<CentralSystem>::new(&setup, Box::new(CounterIds::default()), None)
        .expect("the default setup builds");
    cs.handle_connected(now);
    let mut transmits = 0;
    let mut registered = false;
    let mut drain = |cs: &mut Recorder<CentralSystem>, now: Now| {
        let mut decisions = Vec::new();
        while let Some(output) = cs.poll_output() {
            match output {
                Output::Transmit(_) => transmits += 1,
                Output::Event(Event::Registered { .. }) => registered = true,
                Output::Event(Event::Request {
                    answer: Answer::Decide(decision),
                    ..
                }) => decisions.push(decision),
                _ => {}
            }
        }
        for decision in decisions {
            let accepted = BootNotificationResponse {
                status: RegistrationStatus::Accepted,
                current_time: now.wall,
                interval: 300,
            };
            cs.reply(now, decision, accepted)
                .expect("the decision is awaited");
            while let Some(output) = cs.poll_output() {
                match output {
                    Output::Transmit(_) => transmits += 1,
                    Output::Event(Event::Registered { .. }) => registered = true,
                    _ => {}
                }
            }
        }
    };
    drain(&mut cs, now);
    cs.handle_message(now, BOOT);
    drain(&mut cs, now);
    for i in 0..5 {
        now = Now::new(
            Monotonic::from_millis(1_000 + 300_000 * (i + 1)),
            now.wall + std::time::Duration::from_secs(300),
        );
        cs.handle_message(now, &format!(r#"[2,"h{i}","Heartbeat",{{}}]"#));
        drain(&mut cs, now);
    }
    assert_eq!(transmits, 6, "the boot and five heartbeats were answered");
    assert!(registered);
    cs
}

/// The bound: what a connected, booted, idle machine may keep on the heap besides its own
/// inline size: the charge point id, the boot record (216 B and its strings), the RPC
/// endpoint's id generator and the policy's set of automatic actions. 280 B when written;
/// 4.9 KB before the output queues gave their memory back when drained, the accepted-action
/// set was shared, and the recorder kept its setup only for a sink.
const HEAP_BOUND: usize = 512;

/// The same without the boot record the machine keeps for `boot_notification()`
/// (`CentralSystemPolicy::without_reports`, as `ocpp csms` runs it).
const HEAP_BOUND_WITHOUT_REPORTS: usize = 128;

/// The machine's own size, which the server holds inline for every connection (928 B before
/// the boot record, the requests of events and the RPC call in flight were boxed).
const INLINE_BOUND: usize = 640;

#[test]
fn an_idle_booted_central_system_holds_little_heap() {
    ocpp_core::validate::compile_all().expect("schemas compile");
    // Whatever is built once per process (validators, shared sets) is built by a first run.
    drop(idle_station("CP-WARM", false, true));
    drop(idle_station("CP-WARM", true, false));

    // One test, the cases in turn: the allocation count is the process's.
    for (decided, reports, bound) in [
        (false, true, HEAP_BOUND),
        (true, true, HEAP_BOUND),
        (true, false, HEAP_BOUND_WITHOUT_REPORTS),
    ] {
        let before = HEAP.allocated();
        let stations: Vec<_> = (0..100)
            .map(|i| idle_station(&format!("CP-{i:04}"), decided, reports))
            .collect();
        let after = HEAP.allocated();
        let inline = std::mem::size_of::<Recorder<CentralSystem>>();
        let per_station = (after - before - stations.capacity() * inline) / stations.len();
        eprintln!(
            "Recorder<CentralSystem> (boot decided by the application: {decided}, reports \
             kept: {reports}): {inline} B inline, {per_station} B of heap per idle station"
        );
        assert_eq!(stations.iter().filter(|cs| cs.is_connected()).count(), 100);
        assert!(
            per_station <= bound,
            "an idle station (boot decided by the application: {decided}, reports kept: \
             {reports}) holds {per_station} B of heap, more than {bound} B"
        );
    }
    let inline = std::mem::size_of::<Recorder<CentralSystem>>();
    assert!(
        inline <= INLINE_BOUND,
        "Recorder<CentralSystem> is {inline} B"
    );
    // Every queued output is this large; a queue's least capacity is four of them.
    let output = std::mem::size_of::<Output<Event>>();
    assert!(output <= 128, "Output<central_system::Event> is {output} B");
    // The same for the Charge Point, of which the load tool and the simulator run many.
    let output = std::mem::size_of::<Output<ocpp_core::charge_point::Event>>();
    assert!(output <= 112, "Output<charge_point::Event> is {output} B");
}
