//! A simulated station driven through the library's API against our own Central System
//! machine on a loopback server, as a conformance test would drive it: the facts reported
//! become the StatusNotifications and transaction messages of OCPP 1.6 sections 4.8 to
//! 4.10, a network cut queues what the station sends, and an accepted Reset stops, delivers
//! and boots again (section 5.14).

use std::time::Duration;

use futures_util::StreamExt;
use ocpp_core::Version;
use ocpp_core::central_system::{
    self, CentralSystem, CentralSystemConfig, CentralSystemPolicy, Registration,
};
use ocpp_core::machine::Close;
use ocpp_core::rpc::UuidV4Ids;
use ocpp_core::v16::{
    AuthorizationStatus, ChargePointStatus, Reason, RemoteStartStopStatus,
    RemoteStartTransactionRequest, Request, ResetRequest, ResetStatus, ResetType,
};
use ocpp_io_tokio::{Awaiting, Connection, Disconnect, Event, ServerConfig};
use ocpp_sim::{IdTagOutcome, Metering, Operator, Station, StationConfig, StationEvent};

const BOUND: Duration = Duration::from_secs(20);

type Server = ocpp_io_tokio::Server<Awaiting<CentralSystem>>;

/// A Central System accepting every station and id tag, and its URL. It accepted them
/// before, too: a station that only reconnects sends no BootNotification (section 4.2).
async fn central_system() -> (Server, String) {
    let server = ocpp_io_tokio::bind("127.0.0.1:0", ServerConfig::new([Version::V16]), |info| {
        let mut config = CentralSystemConfig::new(&info.charge_point_id);
        config.policy = CentralSystemPolicy::accept_all();
        config.registration = Registration::Accepted;
        Awaiting::new(CentralSystem::new(config, Box::new(UuidV4Ids)))
    })
    .await
    .expect("bound");
    let url = format!("ws://{}", server.local_addr());
    (server, url)
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sim-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// The next connection of a station.
async fn accept(server: &mut Server) -> Connection<Awaiting<CentralSystem>> {
    tokio::time::timeout(BOUND, server.next_connection())
        .await
        .expect("connected in time")
        .expect("a connection")
}

/// The first request of the station that `pick` takes; those before it are passed over.
async fn request<T>(
    connection: &mut Connection<Awaiting<CentralSystem>>,
    what: &str,
    mut pick: impl FnMut(&Request) -> Option<T>,
) -> T {
    let wait = async {
        while let Some(event) = connection.events.next().await {
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

/// Waits for the StatusNotification of `connector` reporting `status`.
async fn status(
    connection: &mut Connection<Awaiting<CentralSystem>>,
    connector: i32,
    status: ChargePointStatus,
) {
    request(connection, &format!("{status:?} on {connector}"), |r| {
        matches!(r, Request::StatusNotification(s)
            if s.connector_id == connector && s.status == status)
        .then_some(())
    })
    .await;
}

/// TC_003_CS (a regular session) and TC_045_CS-style offline steps, each manual action
/// through the library: plug in (Preparing), an accepted id tag (StartTransaction,
/// SuspendedEV until the EV draws power), the EV draws (Charging), a network cut during
/// which the driver unplugs (the StopTransaction, reason EVDisconnected, is queued), and
/// the network back (it is delivered).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_facts_become_what_the_central_system_sees() {
    let (mut server, url) = central_system().await;
    let dir = scratch("manual");
    let mut config = StationConfig::new("SIM-M", url, dir.join("cp.redb"));
    config.operator = Operator::Manual;
    config.network_switch = true;
    let station = Station::start(config).await.expect("started");
    let mut peer = accept(&mut server).await;
    station.accepted(BOUND).await.expect("accepted");
    status(&mut peer, 1, ChargePointStatus::Available).await;

    station.plug_in(1).await.expect("plugged in");
    status(&mut peer, 1, ChargePointStatus::Preparing).await;
    let outcome = station.present_id_tag(1, "TAG-M").await.expect("presented");
    let IdTagOutcome::Authorized(info) = outcome else {
        panic!("no transaction ran: {outcome:?}");
    };
    assert_eq!(info.status, AuthorizationStatus::Accepted);
    let start = request(&mut peer, "StartTransaction", |r| match r {
        Request::StartTransaction(start) => Some(start.clone()),
        _ => None,
    })
    .await;
    assert_eq!((start.connector_id, start.id_tag.as_str()), (1, "TAG-M"));
    status(&mut peer, 1, ChargePointStatus::SuspendedEv).await;
    station.set_ev_drawing(1, true).await.expect("EV draws");
    status(&mut peer, 1, ChargePointStatus::Charging).await;

    station.set_online(false).await.expect("network cut");
    let deadline = tokio::time::Instant::now() + BOUND;
    while station.is_connected() {
        assert!(tokio::time::Instant::now() < deadline, "still connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    station.unplug(1).await.expect("unplugged");
    let state = station.state().await;
    assert_eq!(state.queued_transaction_messages, Some(1), "{state:?}");
    assert!(!state.connectors[0].plugged);
    station.set_online(true).await.expect("network back");
    let mut again = accept(&mut server).await;
    let stop = request(&mut again, "StopTransaction", |r| match r {
        Request::StopTransaction(stop) => Some(stop.clone()),
        _ => None,
    })
    .await;
    assert_eq!(stop.reason, Some(Reason::EvDisconnected));
    assert_eq!(station.drain(BOUND).await, 0);
    station.shutdown().await;
    server.shutdown().await;
}

/// 1.6 section 5.11 and 5.14 with nobody at the station: a remote start plugs an EV in that
/// charges at once; an accepted Reset stops the transaction (reason SoftReset) in the same
/// step as the answer, delivers the StopTransaction, closes the connection with a close
/// frame (1000) and starts the station again on its store, which boots with the connector
/// Available.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_reset_delivers_the_stop_closes_and_boots_again() {
    let (mut server, url) = central_system().await;
    let dir = scratch("reset");
    let mut config = StationConfig::new("SIM-R", url, dir.join("cp.redb"));
    config.restart_on_reset = true;
    config.metering = Metering {
        tick: Duration::from_millis(20),
        step_wh: 100,
    };
    let station = Station::start(config).await.expect("started");
    let mut events = station.events();
    let mut peer = accept(&mut server).await;
    station.accepted(BOUND).await.expect("accepted");

    let started = peer
        .handle
        .call(RemoteStartTransactionRequest {
            connector_id: Some(1),
            id_tag: "TAG-R".into(),
            charging_profile: None,
        })
        .await
        .expect("answered");
    assert_eq!(started.status, RemoteStartStopStatus::Accepted);
    status(&mut peer, 1, ChargePointStatus::Charging).await;
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let state = station.state().await;
        let meter = state.connectors[0].role.as_ref().map_or(0, |r| r.meter_wh);
        if meter >= 300 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{state:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let reset = peer
        .handle
        .call(ResetRequest {
            kind: ResetType::Soft,
        })
        .await
        .expect("answered");
    assert_eq!(reset.status, ResetStatus::Accepted);
    let stop = request(&mut peer, "StopTransaction", |r| match r {
        Request::StopTransaction(stop) => Some(stop.clone()),
        _ => None,
    })
    .await;
    assert_eq!(stop.reason, Some(Reason::SoftReset));
    assert!(stop.meter_stop >= 300, "{stop:?}");
    let closed = tokio::time::timeout(BOUND, async {
        while let Some(event) = peer.events.next().await {
            if let Event::Disconnected(reason) = event {
                return reason;
            }
        }
        panic!("the connection ended without a disconnect");
    })
    .await
    .expect("closed in time");
    assert!(
        matches!(closed, Disconnect::Peer(Some(Close { code: 1000, .. }))),
        "{closed:?}"
    );

    let mut again = accept(&mut server).await;
    request(&mut again, "BootNotification", |r| {
        matches!(r, Request::BootNotification(_)).then_some(())
    })
    .await;
    status(&mut again, 1, ChargePointStatus::Available).await;
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        match event {
            StationEvent::Restarting(kind) => seen.push(format!("restarting {kind:?}")),
            StationEvent::PoweredOff => seen.push("off".to_owned()),
            StationEvent::PoweredOn => seen.push("on".to_owned()),
            _ => {}
        }
    }
    assert_eq!(seen, ["restarting Soft", "off", "on"]);
    station.shutdown().await;
    server.shutdown().await;
}

/// Without `restart_on_reset` a station cannot keep the promise of a reset (1.6 section
/// 5.14): Rejected, and it stays connected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_that_does_not_restart_rejects_a_reset() {
    let (mut server, url) = central_system().await;
    let dir = scratch("no-reset");
    let station = Station::start(StationConfig::new("SIM-N", url, dir.join("cp.redb")))
        .await
        .expect("started");
    let peer = accept(&mut server).await;
    station.accepted(BOUND).await.expect("accepted");
    let reset = peer
        .handle
        .call(ResetRequest {
            kind: ResetType::Hard,
        })
        .await
        .expect("answered");
    assert_eq!(reset.status, ResetStatus::Rejected);
    assert!(station.is_connected());
    assert!(station.state().await.running);
    station.shutdown().await;
    server.shutdown().await;
}
