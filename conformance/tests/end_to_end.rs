//! Our 1.6 Charge Point against our 1.6 Central System over real WebSockets on loopback, for
//! a full session (`common::full_session`: boot, authorize, start, meter values, stop, remote
//! start and stop, get and change configuration, trigger, reset). The scenario is written once
//! on futures (handles and event streams are runtime-neutral) and run on tokio, and with a
//! tokio charge point against a smol central system.

mod common;

use common::{central_system, charge_point, connect_and_run};
use ocpp_core::Version;
use ocpp_io_tokio::ServerConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_session_on_tokio() {
    let mut server =
        ocpp_io_tokio::bind("127.0.0.1:0", ServerConfig::new([Version::V16]), |info| {
            central_system(&info.charge_point_id, None)
        })
        .await
        .unwrap();
    connect_and_run(&mut server, "CP-E2E", charge_point(None))
        .await
        .end()
        .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_session_tokio_charge_point_smol_central_system() {
    let mut server = smol::block_on(ocpp_io_smol::bind(
        "127.0.0.1:0",
        ServerConfig::new([Version::V16]),
        |info| central_system(&info.charge_point_id, None),
    ))
    .unwrap();
    connect_and_run(&mut server, "CP-MIXED", charge_point(None))
        .await
        .end()
        .await;
}
