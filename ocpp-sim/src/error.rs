//! Why the simulator could not do what it was asked.

use ocpp_core::charge_point::ChargePointError;
use ocpp_core::charge_point::config::LocalSetError;
use ocpp_core::v16::AuthorizationStatus;

/// Why an action on a [`Station`](crate::Station) was not done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// Building or starting the station failed: its store (locked, not a database,
    /// corrupt), a record the machine cannot restore, a trace file, the relay, or settings
    /// that do not fit together (the URL scheme and the security profile, a preset).
    #[error("{0}")]
    Start(String),
    /// The connector does not exist.
    #[error(
        "{station} has connectors 1 to {connectors} (0 is the station as a whole), not {connector}"
    )]
    NoSuchConnector {
        /// The station's id.
        station: String,
        /// Its number of connectors.
        connectors: u32,
        /// The connector asked for.
        connector: u32,
    },
    /// Connector 0 is the station as a whole: it only faults and is cleared.
    #[error("connector 0 is the station as a whole: it can only fault and be cleared")]
    StationAsAWhole,
    /// The station is powered off.
    #[error("the station is off")]
    Off,
    /// The Charge Point role refused the fact or command (a reservation for another id tag,
    /// a transaction running already, not connected, ...).
    #[error("{0}")]
    Refused(ChargePointError),
    /// The configuration key cannot be set to that value.
    #[error("{0}")]
    Configuration(LocalSetError),
    /// The central system (or the local list or cache) did not accept the id tag.
    #[error("id tag {id_tag} not accepted: {status:?}")]
    IdTagRefused {
        /// The id tag.
        id_tag: String,
        /// The verdict.
        status: AuthorizationStatus,
    },
    /// A call got no usable answer: offline with nothing local to decide, no answer in
    /// time, a CallError, the connection closed.
    #[error("{action}: {why}")]
    NoAnswer {
        /// The call.
        action: &'static str,
        /// What happened instead.
        why: String,
    },
    /// The station's connection driver ended while the action ran.
    #[error("the station's connection ended")]
    Gone,
    /// A network cut needs the relay of a `ws://` URL
    /// ([`StationConfig::network_switch`](crate::StationConfig::network_switch)).
    #[error("a network cut needs a ws:// URL and the network switch (wss:// is not relayed)")]
    NoNetworkSwitch,
}

impl From<ocpp_io_tokio::Gone> for SimError {
    fn from(_: ocpp_io_tokio::Gone) -> SimError {
        SimError::Gone
    }
}

impl From<ChargePointError> for SimError {
    fn from(error: ChargePointError) -> SimError {
        SimError::Refused(error)
    }
}
