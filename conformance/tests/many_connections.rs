//! One server process holds 1,000 concurrent charge point connections: each a real 1.6
//! Charge Point machine on its own WebSocket, each served by its own Central System machine
//! (no state shared between connections). Every station boots, is accepted, reports its
//! connectors, and is then asked something by the server while all are connected.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ocpp_core::Version;
use ocpp_core::central_system::{CentralSystem, CentralSystemConfig, Registration};
use ocpp_core::charge_point::config::{Definitions, StandardKey};
use ocpp_core::charge_point::{self, ChargePoint, ChargePointConfig};
use ocpp_core::rpc::UuidV4Ids;
use ocpp_core::v16::{BootNotificationRequest, RegistrationStatus};
use ocpp_io_tokio::{ClientConfig, Event, ServerConfig};

const STATIONS: usize = 1_000;

fn charge_point() -> ChargePoint {
    let definitions = Definitions::builder()
        .initial(StandardKey::NumberOfConnectors, "2")
        .build()
        .unwrap();
    let boot = BootNotificationRequest::new("VendorX", "Fleet");
    let config = ChargePointConfig::new(boot, definitions);
    ChargePoint::new(
        config,
        Box::new(UuidV4Ids),
        &ocpp_core::persist::Snapshot::new(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_holds_a_thousand_charge_points() {
    let server = ocpp_io_tokio::bind("127.0.0.1:0", ServerConfig::new([Version::V16]), |info| {
        CentralSystem::new(
            CentralSystemConfig::new(info.charge_point_id.clone()),
            Box::new(UuidV4Ids),
        )
    })
    .await
    .unwrap();
    let url = format!("ws://{}", server.local_addr());
    let started = Instant::now();

    let mut clients = Vec::with_capacity(STATIONS);
    for n in 0..STATIONS {
        let config = ClientConfig::new(url.clone(), format!("CP-{n:04}"), [Version::V16]);
        clients.push(ocpp_io_tokio::connect(config, charge_point()));
    }
    // Every station registers (and its events are drained so they do not pile up).
    let mut registered = Vec::with_capacity(STATIONS);
    for client in clients {
        let (handle, mut events, done) = client.split();
        let wait = tokio::time::timeout(Duration::from_secs(120), async move {
            while let Some(event) = events.next().await {
                if let Event::Machine(charge_point::Event::Registered { status, .. }) = event {
                    assert_eq!(status, RegistrationStatus::Accepted);
                    break;
                }
            }
            tokio::spawn(async move { while events.next().await.is_some() {} });
        });
        registered.push((handle, done, wait));
    }
    let mut handles = Vec::with_capacity(STATIONS);
    for (handle, done, wait) in registered {
        wait.await.expect("a station did not register in time");
        handles.push((handle, done));
    }
    let boot_storm = started.elapsed();

    // All are connected at once, each with its own Central System machine.
    let ids = server.connected_ids();
    assert_eq!(ids.len(), STATIONS);
    for id in ["CP-0000", "CP-0500", "CP-0999"] {
        let connection = server.connection(id).expect("connected");
        let (registration, statuses) = connection
            .run(|cs, _| (cs.registration(), cs.connector_statuses().len()))
            .await
            .unwrap();
        assert_eq!(registration, Registration::Accepted);
        // Connector 0 and both connectors reported (errata 3.22); the last one may still be
        // on its way, so wait for it briefly.
        let mut statuses = statuses;
        for _ in 0..50 {
            if statuses == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            statuses = connection
                .run(|cs, _| cs.connector_statuses().len())
                .await
                .unwrap();
        }
        assert_eq!(statuses, 3, "{id}");
    }
    eprintln!("{STATIONS} stations connected and registered in {boot_storm:?}");
    server.shutdown().await;
    drop(handles);
}
