//! Our 1.6 Charge Point against our 1.6 Central System over real WebSockets on loopback, for
//! a full session (`common::session`: boot, a local session from plug-in to unplug with
//! sampled and triggered meter values, remote start and stop, get and change configuration,
//! trigger message, reset).
//!
//! The session is written once, on the runtime-neutral `ocpp_io` handles and event streams;
//! each test only starts the server and the client on its runtimes: tokio, smol, async-std
//! (the smol adapter with async-std's executor and tasks), and tokio against smol both ways.
//! The same session, recorded, makes the committed traces (`tests/replay.rs`).

mod common;

use common::{central_system, charge_point, client_config, server_config, session};
use ocpp_core::central_system::CentralSystem;
use ocpp_core::trace::Recorder;
use ocpp_io::{ConnectionInfo, NoPersist};
use ocpp_io_smol::Smol;

/// Loopback, any free port.
const ADDR: &str = "127.0.0.1:0";

/// The machine of each accepted connection, not recording.
fn machine(info: &ConnectionInfo) -> Recorder<CentralSystem> {
    central_system(&info.charge_point_id, None)
}

/// The smol adapter's runtime with async-std's spawner: its tasks are async-std tasks.
fn async_std_runtime() -> Smol {
    Smol::with_spawner(|task| {
        async_std::task::spawn(task);
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_session_on_tokio() {
    let server = ocpp_io_tokio::bind(ADDR, server_config(), machine);
    let server = server.await.unwrap();
    let client = ocpp_io_tokio::connect(client_config(server.local_addr()), charge_point(None));
    session(server, client).await;
}

#[test]
fn a_full_session_on_smol() {
    smol::block_on(async {
        let server = ocpp_io_smol::bind(ADDR, server_config(), machine);
        let server = server.await.unwrap();
        let client = ocpp_io_smol::connect(client_config(server.local_addr()), charge_point(None));
        session(server, client).await;
    });
}

/// The smol adapter under async-std: async-std's executor runs the session, async-std tasks
/// run the server's connections and the client.
#[test]
fn a_full_session_on_async_std() {
    async_std::task::block_on(async {
        let persisters =
            |_: &ConnectionInfo| -> Box<dyn ocpp_io::Persister> { Box::new(NoPersist) };
        let server = ocpp_io_smol::bind_on(
            async_std_runtime(),
            ADDR,
            server_config(),
            machine,
            persisters,
        );
        let server = server.await.unwrap();
        let config = client_config(server.local_addr());
        let client = ocpp_io_smol::connect_on(
            async_std_runtime(),
            config,
            charge_point(None),
            Box::new(NoPersist),
        );
        session(server, client).await;
    });
}

/// A tokio Central System and a smol Charge Point; the session runs on smol's executor, the
/// tokio runtime in the background.
#[test]
fn a_full_session_tokio_central_system_smol_charge_point() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _context = tokio.enter();
    smol::block_on(async {
        let server = ocpp_io_tokio::bind(ADDR, server_config(), machine);
        let server = server.await.unwrap();
        let client = ocpp_io_smol::connect(client_config(server.local_addr()), charge_point(None));
        session(server, client).await;
    });
}

/// A smol Central System and a tokio Charge Point; the session runs on tokio.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_session_smol_central_system_tokio_charge_point() {
    let server = ocpp_io_smol::bind(ADDR, server_config(), machine);
    let server = server.await.unwrap();
    let client = ocpp_io_tokio::connect(client_config(server.local_addr()), charge_point(None));
    session(server, client).await;
}
