//! The harness of the Charge Point tests: our Charge Point against a bare endpoint playing a
//! scripted Central System, in virtual time. Shared by the `charge_point_*` test files, each of
//! which uses part of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use ocpp_core::charge_point::config::{Definitions, StandardKey};
use ocpp_core::charge_point::{ChargePoint, ChargePointConfig, Event, Reply};
use ocpp_core::machine::{Machine, Output};
use ocpp_core::persist::Snapshot;
use ocpp_core::rpc::{Call, CounterIds, Endpoint, EndpointConfig, RpcEvent};
use ocpp_core::time::{Monotonic, Now};
use ocpp_core::v16::{self, BootNotificationRequest, RemoteStartStopStatus};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

pub(crate) const START: OffsetDateTime = datetime!(2024-05-01 10:00 UTC);

pub(crate) fn boot_request() -> BootNotificationRequest {
    {
        let mut boot = BootNotificationRequest::new("VendorX", "Model1");
        boot.firmware_version = Some("1.0.0".into());
        boot
    }
}

/// A message the Central System received, with when.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) at: Duration,
    pub(crate) action: String,
    pub(crate) payload: Value,
}

/// Our Charge Point, a bare endpoint playing the Central System, and virtual time.
pub(crate) struct World {
    pub(crate) now: Now,
    pub(crate) cp: ChargePoint,
    pub(crate) cs: Endpoint,
    /// Registration answers the Central System gives, in order; the last one repeats.
    pub(crate) registrations: VecDeque<(&'static str, i64)>,
    /// How far ahead of the station's wall clock the Central System's clock is.
    pub(crate) cs_clock_ahead: time::Duration,
    pub(crate) seen: Vec<Seen>,
    /// Answers to the Central System's own calls.
    pub(crate) answers: Vec<(String, Result<Value, String>)>,
    pub(crate) events: Vec<Event>,
    pub(crate) stored: Snapshot,
    /// CallErrors to answer instead of a result, per action, counted down.
    pub(crate) fail: BTreeMap<String, u32>,
    /// Calls of these actions get no answer at all (counted down).
    pub(crate) swallow: BTreeMap<String, u32>,
    pub(crate) next_transaction_id: i32,
    /// The parentIdTag the Central System gives with an id tag's IdTagInfo.
    pub(crate) parents: BTreeMap<String, String>,
}

/// Standard key definitions with `connectors` connectors and the given initial values.
pub(crate) fn definitions(connectors: u32, keys: &[(StandardKey, &str)]) -> Definitions {
    let mut builder =
        Definitions::builder().initial(StandardKey::NumberOfConnectors, &connectors.to_string());
    for (key, value) in keys {
        builder = builder.initial(*key, value);
    }
    builder.build().unwrap()
}

impl World {
    pub(crate) fn new(connectors: u32, configure: impl FnOnce(&mut ChargePointConfig)) -> World {
        World::with_keys(connectors, &[], configure)
    }

    pub(crate) fn with_keys(
        connectors: u32,
        keys: &[(StandardKey, &str)],
        configure: impl FnOnce(&mut ChargePointConfig),
    ) -> World {
        World::restored(definitions(connectors, keys), configure, Snapshot::new())
    }

    pub(crate) fn restored(
        definitions: Definitions,
        configure: impl FnOnce(&mut ChargePointConfig),
        stored: Snapshot,
    ) -> World {
        let mut config = ChargePointConfig::new(boot_request(), definitions);
        configure(&mut config);
        let cp = ChargePoint::new(config, Box::new(CounterIds::default()), &stored).unwrap();
        let cs = Endpoint::new(
            EndpointConfig::new(),
            Box::new(CounterIds::starting_at(1000)),
        );
        World {
            now: Now::new(Monotonic::ZERO, START),
            cp,
            cs,
            registrations: VecDeque::from([("Accepted", 60)]),
            cs_clock_ahead: time::Duration::ZERO,
            seen: Vec::new(),
            answers: Vec::new(),
            events: Vec::new(),
            stored,
            fail: Default::default(),
            swallow: Default::default(),
            next_transaction_id: 100,
            parents: BTreeMap::new(),
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.now.monotonic.elapsed()
    }

    pub(crate) fn connect(&mut self) {
        self.cs.handle_connected(self.now);
        self.cp.handle_connected(self.now);
        self.settle();
    }

    pub(crate) fn disconnect(&mut self) {
        self.cs.handle_disconnected(self.now);
        self.cp.handle_disconnected(self.now);
        self.settle();
    }

    /// Exchanges frames until both sides are quiet.
    pub(crate) fn settle(&mut self) {
        loop {
            let mut moved = false;
            while let Some(output) = self.cp.poll_output() {
                match output {
                    Output::Transmit(text) => {
                        moved = true;
                        Machine::handle_message(&mut self.cs, self.now, &text);
                    }
                    Output::Persist(op) => self.stored.apply([&op]),
                    Output::Event(event) => self.events.push(event),
                    Output::Close(close) => panic!("unexpected close {close:?}"),
                }
            }
            while let Some(output) = self.cs.poll_output() {
                match output {
                    Output::Transmit(text) => {
                        moved = true;
                        self.cp.handle_message(self.now, &text);
                    }
                    Output::Event(RpcEvent::Call(call)) => self.central_system(Call {
                        id: call.id,
                        action: call.action.to_string(),
                        payload: call.payload,
                    }),
                    Output::Event(RpcEvent::Completed {
                        action, outcome, ..
                    }) => {
                        self.answers
                            .push((action.to_string(), outcome.map_err(|e| format!("{e:?}"))));
                    }
                    Output::Event(RpcEvent::PeerError { error, .. }) => {
                        panic!("the station sent something wrong: {error:?}")
                    }
                    other => panic!("unexpected output of the bare endpoint: {other:?}"),
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// The IdTagInfo of the request's `idTag`, with its parent from [`World::parents`].
    fn id_tag_info(&self, payload: &Value, status: &str) -> Value {
        let mut info = json!({"status": status});
        if let Some(parent) = payload["idTag"]
            .as_str()
            .and_then(|tag| self.parents.get(tag))
        {
            info["parentIdTag"] = json!(parent);
        }
        info
    }

    /// The scripted Central System's answer to the station's calls.
    pub(crate) fn central_system(&mut self, call: Call) {
        let cs_time = self.now.wall + self.cs_clock_ahead;
        let time = ocpp_core::primitives::datetime::format(cs_time);
        self.seen.push(Seen {
            at: self.elapsed(),
            action: call.action.clone(),
            payload: call.payload.clone(),
        });
        if let Some(n) = self.swallow.get_mut(&call.action).filter(|n| **n > 0) {
            *n -= 1;
            return;
        }
        if let Some(n) = self.fail.get_mut(&call.action).filter(|n| **n > 0) {
            *n -= 1;
            self.cs
                .respond_error(
                    self.now,
                    &call.id,
                    ocpp_core::ErrorCode::InternalError,
                    "boom",
                    None,
                )
                .unwrap();
            return;
        }
        let answer = match call.action.as_str() {
            "StartTransaction" => {
                self.next_transaction_id += 1;
                let status = match call.payload["idTag"].as_str() {
                    Some("INVALID") => "Invalid",
                    _ => "Accepted",
                };
                let info = self.id_tag_info(&call.payload, status);
                json!({"transactionId": self.next_transaction_id, "idTagInfo": info})
            }
            "StopTransaction" => {
                json!({"idTagInfo": self.id_tag_info(&call.payload, "Accepted")})
            }
            "BootNotification" => {
                let (status, interval) = if self.registrations.len() > 1 {
                    self.registrations.pop_front().unwrap()
                } else {
                    self.registrations[0]
                };
                json!({"status": status, "currentTime": time, "interval": interval})
            }
            "Heartbeat" => json!({"currentTime": time}),
            "StatusNotification"
            | "MeterValues"
            | "DiagnosticsStatusNotification"
            | "FirmwareStatusNotification" => json!({}),
            "Authorize" => {
                let status = match call.payload["idTag"].as_str() {
                    Some("BLOCKED") => "Blocked",
                    _ => "Accepted",
                };
                json!({"idTagInfo": self.id_tag_info(&call.payload, status)})
            }
            "DataTransfer" => match call.payload["vendorId"].as_str() {
                Some("com.example") => json!({"status": "Accepted", "data": "pong"}),
                _ => json!({"status": "UnknownVendorId"}),
            },
            other => panic!("the scripted Central System does not expect {other}"),
        };
        self.cs.respond(self.now, &call.id, answer).unwrap();
    }

    /// Runs virtual time forward to `elapsed` since the start, firing every deadline on the way.
    pub(crate) fn run_until(&mut self, elapsed: Duration) {
        let end = Monotonic::from_elapsed(elapsed);
        // A deadline that handle_timeout does not move would spin forever: fail instead.
        for _ in 0..1_000_000 {
            let next = [self.cp.poll_timeout(), self.cs.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(at) if at <= end => {
                    let step = at.saturating_since(self.now.monotonic);
                    self.now = self.now.advanced(step);
                    self.cp.handle_timeout(self.now);
                    self.cs.handle_timeout(self.now);
                    self.settle();
                }
                _ => {
                    let step = end.saturating_since(self.now.monotonic);
                    self.now = self.now.advanced(step);
                    return;
                }
            }
        }
        panic!("a deadline at or before {end:?} does not move");
    }

    /// The Central System calls the station.
    pub(crate) fn cs_calls(&mut self, action: &str, payload: Value) -> Result<Value, String> {
        let known = v16::Action::from_name(action).expect("a 1.6 action");
        let _ = self.cs.call(self.now, known, payload).unwrap();
        self.settle();
        let (got, answer) = self.answers.pop().expect("the station answered");
        assert_eq!(got, action);
        answer
    }

    pub(crate) fn run_for_seconds(&mut self, seconds: u64) {
        self.run_until(self.elapsed() + secs(seconds));
    }

    pub(crate) fn actions(&self) -> Vec<&str> {
        self.seen.iter().map(|s| s.action.as_str()).collect()
    }

    pub(crate) fn take_seen(&mut self) -> Vec<Seen> {
        std::mem::take(&mut self.seen)
    }
}

pub(crate) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub(crate) fn statuses(seen: &[Seen]) -> Vec<(i64, &str)> {
    seen.iter()
        .filter(|s| s.action == "StatusNotification")
        .map(|s| {
            (
                s.payload["connectorId"].as_i64().unwrap(),
                s.payload["status"].as_str().unwrap(),
            )
        })
        .collect()
}

pub(crate) fn sent<'a>(seen: &'a [Seen], action: &str) -> Vec<&'a Seen> {
    seen.iter().filter(|s| s.action == action).collect()
}

/// A station with `connectors` connectors and the given keys, accepted, the statuses of its
/// boot taken.
pub(crate) fn accepted(connectors: u32, keys: &[(StandardKey, &str)]) -> World {
    let mut world = World::with_keys(connectors, keys, |_| {});
    world.connect();
    world.take_seen();
    world
}

/// The Central System sends RemoteStartTransaction and the application accepts it.
pub(crate) fn accept_remote_start(world: &mut World, connector: u32, id_tag: &str) {
    let _ = world
        .cs
        .call(
            world.now,
            v16::Action::RemoteStartTransaction,
            json!({"connectorId": connector, "idTag": id_tag}),
        )
        .unwrap();
    world.settle();
    let decision = world
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::RemoteStartRequested { decision, .. } => Some(decision.clone()),
            _ => None,
        })
        .expect("the application decides");
    world
        .cp
        .reply(
            world.now,
            decision,
            Reply::RemoteStart(RemoteStartStopStatus::Accepted),
        )
        .unwrap();
    world.settle();
}

/// The Central System makes `connector` operative or inoperative (ChangeAvailability).
pub(crate) fn change_availability(world: &mut World, connector: u32, operative: bool) -> Value {
    let kind = if operative {
        "Operative"
    } else {
        "Inoperative"
    };
    world
        .cs_calls(
            "ChangeAvailability",
            json!({"connectorId": connector, "type": kind}),
        )
        .unwrap()
}
