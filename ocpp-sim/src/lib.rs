//! A simulated OCPP 1.6 charge point: the real Charge Point role of `ocpp-core`, with a
//! redb store, over a real WebSocket, driven by simulated hardware.
//!
//! One [`Station`] is built from a [`StationConfig`] (id, URL, security, store, connectors,
//! configuration presets, who acts at the station, trace file) and then driven through a
//! plain API: hardware facts ([`Station::plug_in`], [`Station::unplug`],
//! [`Station::present_id_tag`], [`Station::set_ev_drawing`], [`Station::report_fault`]),
//! network cuts ([`Station::set_online`]), power ([`Station::power_cycle`],
//! [`Station::power_off`], [`Station::power_on`]), its [`Station::state`] and its
//! [`Station::events`]. `ocpp cp` (scripted sessions, [`Station::session`]), its
//! `--control` HTTP API, `ocpp demo` and the tests all drive stations through it.
//!
//! What the station decides and what it leaves to the role: the role owns the protocol and
//! derives every connector status from the facts reported to it (1.6 section 4.9); the
//! simulated hardware owns the cable, the EV, the meter and the lock, and carries out what
//! the central system asks of them (RemoteStart and RemoteStop, Reset, UnlockConnector). The
//! [`Operator`] says whether somebody stands at the station: [`Operator::Automatic`] plugs
//! an EV in when a transaction is started remotely and takes the cable out when one is
//! stopped on request; [`Operator::Manual`] leaves every fact to the API, as the OCTT
//! manual actions need.
//!
//! Durability is the machine's and the store's: every record the machine emits is committed
//! before its frame goes out, and a station started again on the same file resends what was
//! not acknowledged and ends the transaction that was running as PowerLoss. A station lives
//! several lives: each power-on (the first, a power cycle, the restart after an accepted
//! Reset) opens the store again and builds a new machine from it, and with a trace each
//! life records its own file ([`TracePath`]).
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use ocpp_sim::{IdTagOutcome, Operator, Station, StationConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = StationConfig::new("CP-1", "ws://127.0.0.1:9000", "cp-1.redb");
//! config.operator = Operator::Manual;
//! config.network_switch = true;
//! let station = Station::start(config).await?;
//! station.accepted(Duration::from_secs(10)).await?;
//!
//! // A driver plugs in and presents a card: the transaction starts.
//! station.plug_in(1).await?;
//! let verdict = station.present_id_tag(1, "04A2B3").await?;
//! assert!(matches!(verdict, IdTagOutcome::Authorized(_)));
//! station.set_ev_drawing(1, true).await?;
//!
//! // The network goes; the driver leaves; the stop is delivered once it is back.
//! station.set_online(false).await?;
//! station.unplug(1).await?;
//! station.set_online(true).await?;
//! assert_eq!(station.drain(Duration::from_secs(10)).await, 0);
//! station.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod config;
mod error;
mod hardware;
mod life;
mod relay;
mod session;
mod state;
mod station;

pub use config::{Metering, Operator, StationConfig, TracePath, station_store};
pub use error::SimError;
pub use life::{StationHandle, StationMachine};
pub use session::{Charging, Latencies, Session};
pub use state::{ConnectorState, IdTagOutcome, RoleConnector, StationEvent, StationState};
pub use station::Station;
