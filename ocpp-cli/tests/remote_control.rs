//! `ocpp cp --sessions 0` under the control of a Central System: the requests the simulator
//! decides (RemoteStartTransaction, UnlockConnector, Reset) are answered and carried out.
//!
//! Found by the live interop runs (conformance/interop): the peers' central systems timed out
//! on these requests because the simulator never answered them. The Central System here is
//! our own machine on a loopback server, so the test needs no third-party peer.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use ocpp_core::Version;
use ocpp_core::central_system::{
    self, CentralSystem, CentralSystemConfig, CentralSystemPolicy, TypedResponse,
};
use ocpp_core::rpc::UuidV4Ids;
use ocpp_core::v16::{
    ChargePointStatus, Reason, RemoteStartStopStatus, RemoteStartTransactionRequest,
    RemoteStartTransactionResponse, Request, ResetRequest, ResetResponse, ResetStatus, ResetType,
    UnlockConnectorRequest, UnlockConnectorResponse, UnlockStatus,
};
use ocpp_io_tokio::{Connection, Event, ServerConfig};

const BOUND: Duration = Duration::from_secs(20);

/// Kills the charge point when the test ends, whichever way.
struct Station(Child);

impl Drop for Station {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One connection of the station, and the requests it sent that no one has looked at yet
/// (a request can arrive while a call waits for its answer).
struct Peer {
    connection: Connection<CentralSystem>,
    unseen: Vec<Request>,
}

impl Peer {
    /// The first request of the station that `pick` accepts; the earlier ones are dropped.
    async fn request<T>(&mut self, what: &str, mut pick: impl FnMut(&Request) -> Option<T>) -> T {
        while !self.unseen.is_empty() {
            if let Some(found) = pick(&self.unseen.remove(0)) {
                return found;
            }
        }
        let events = &mut self.connection.events;
        let wait = async {
            while let Some(event) = events.next().await {
                if let Event::Machine(central_system::Event::Request { request, .. }) = &event
                    && let Some(found) = pick(request)
                {
                    return found;
                }
            }
            panic!("the connection ended before {what}");
        };
        tokio::time::timeout(BOUND, wait)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    /// A typed call to the station, answered.
    async fn call<R, T>(&mut self, request: R) -> T
    where
        R: ocpp_core::OcppRequest<Action = ocpp_core::v16::Action>,
        T: TypedResponse,
    {
        let handle = self
            .connection
            .handle
            .run(move |machine, now| machine.call(now, &request))
            .await
            .expect("the connection runs")
            .expect("the call is sent");
        let (events, unseen) = (&mut self.connection.events, &mut self.unseen);
        let wait = async {
            while let Some(event) = events.next().await {
                match event {
                    Event::Machine(central_system::Event::CallCompleted(done))
                        if done.handle == handle =>
                    {
                        return done.response::<T>().expect("a typed answer");
                    }
                    Event::Machine(central_system::Event::Request { request, .. }) => {
                        unseen.push(*request);
                    }
                    _ => {}
                }
            }
            panic!("the connection ended before the answer");
        };
        tokio::time::timeout(BOUND, wait)
            .await
            .expect("answered in time")
    }
}

async fn accept(server: &mut ocpp_io_tokio::Server<CentralSystem>) -> Peer {
    let connection = tokio::time::timeout(BOUND, server.next_connection())
        .await
        .expect("connected in time")
        .expect("a connection");
    Peer {
        connection,
        unseen: Vec::new(),
    }
}

/// 1.6 section 5.11: a RemoteStartTransaction on connector 1 is answered Accepted, then the
/// transaction starts there with the given id tag.
async fn remote_start(peer: &mut Peer) {
    let answer: RemoteStartTransactionResponse = peer
        .call(RemoteStartTransactionRequest {
            connector_id: Some(1),
            id_tag: "TAG-RC".into(),
            charging_profile: None,
        })
        .await;
    assert_eq!(answer.status, RemoteStartStopStatus::Accepted);
    let started = peer
        .request("StartTransaction", |r| match r {
            Request::StartTransaction(start) => Some(start.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (started.connector_id, started.id_tag.as_str()),
        (1, "TAG-RC")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocpp_cp_answers_remote_start_unlock_and_reset_and_boots_again_after_the_reset() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("remote-control");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let mut server =
        ocpp_io_tokio::bind("127.0.0.1:0", ServerConfig::new([Version::V16]), |info| {
            let mut config = CentralSystemConfig::new(&info.charge_point_id);
            config.policy = CentralSystemPolicy::accept_all();
            CentralSystem::new(config, Box::new(UuidV4Ids))
        })
        .await
        .expect("bound");
    let url = format!("ws://{}", server.local_addr());
    let db = dir.join("cp.redb");
    let _station = Station(
        Command::new(env!("CARGO_BIN_EXE_ocpp"))
            .args([
                "cp",
                "--url",
                &url,
                "--id",
                "CP-RC",
                "--sessions",
                "0",
                "--db",
            ])
            .arg(&db)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ocpp cp runs"),
    );
    let mut peer = accept(&mut server).await;
    peer.request("BootNotification", |r| {
        matches!(r, Request::BootNotification(_)).then_some(())
    })
    .await;

    remote_start(&mut peer).await;

    // 1.6 section 5.18: the transaction on the connector is stopped first, then unlocked.
    let answer: UnlockConnectorResponse =
        peer.call(UnlockConnectorRequest { connector_id: 1 }).await;
    assert_eq!(answer.status, UnlockStatus::Unlocked);
    let stopped = peer
        .request("StopTransaction", |r| match r {
            Request::StopTransaction(stop) => Some(stop.clone()),
            _ => None,
        })
        .await;
    assert_eq!(stopped.reason, Some(Reason::UnlockCommand));

    // 1.6 section 5.14: accepted, the running transaction is stopped (SoftReset), the station
    // restarts on its store and boots again with the connector free.
    remote_start(&mut peer).await;
    let answer: ResetResponse = peer
        .call(ResetRequest {
            kind: ResetType::Soft,
        })
        .await;
    assert_eq!(answer.status, ResetStatus::Accepted);
    let stopped = peer
        .request("StopTransaction of the reset", |r| match r {
            Request::StopTransaction(stop) => Some(stop.clone()),
            _ => None,
        })
        .await;
    assert_eq!(stopped.reason, Some(Reason::SoftReset));
    let mut again = accept(&mut server).await;
    again
        .request("BootNotification after the reset", |r| {
            matches!(r, Request::BootNotification(_)).then_some(())
        })
        .await;
    let status = again
        .request("connector 1's status after the reboot", |r| match r {
            Request::StatusNotification(status) if status.connector_id == 1 => Some(status.status),
            _ => None,
        })
        .await;
    assert_eq!(status, ChargePointStatus::Available);
    server.shutdown().await;
}
