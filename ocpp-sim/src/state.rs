//! What a station shows: its state at one moment, what presenting an id tag did, and the
//! events it publishes.

use ocpp_core::charge_point::{ConnectorStatus, Event as CpEvent, Registration, TransactionKey};
use ocpp_core::v16::{ChargePointErrorCode, IdTagInfo, ResetType};

/// A station at one moment: the simulated hardware, and what its role says while it runs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StationState {
    /// The charge point id.
    pub id: String,
    /// Powered on.
    pub running: bool,
    /// A WebSocket connection is open.
    pub connected: bool,
    /// The network is up (always, without a network switch).
    pub online: bool,
    /// The fault of the station as a whole (connector 0), if any.
    pub fault: Option<ChargePointErrorCode>,
    /// Where the station stands with the central system; `None` while off.
    pub registration: Option<Registration>,
    /// Transaction messages not yet acknowledged; `None` while off.
    pub queued_transaction_messages: Option<usize>,
    /// Connectors 1 and up.
    pub connectors: Vec<ConnectorState>,
}

/// One connector at one moment.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConnectorState {
    /// The connector id, from 1.
    pub connector: u32,
    /// A cable is plugged in.
    pub plugged: bool,
    /// The EV draws power (when a transaction lets it).
    pub ev_drawing: bool,
    /// The connector's fault, if any.
    pub fault: Option<ChargePointErrorCode>,
    /// An accepted id tag that waits for the cable to start a transaction.
    pub waiting_id_tag: Option<String>,
    /// What the role says about the connector; `None` while the station is off.
    pub role: Option<RoleConnector>,
}

/// A connector as the Charge Point role sees it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RoleConnector {
    /// The status the role derived (section 4.9) and last reported.
    pub status: Option<ConnectorStatus>,
    /// Available for charging (ChangeAvailability).
    pub operative: bool,
    /// The transaction running, and its id once the central system gave one.
    pub transaction: Option<(TransactionKey, Option<i32>)>,
    /// The energy register, Wh.
    pub meter_wh: i32,
}

/// What presenting an id tag at a connector did.
#[derive(Debug, Clone, PartialEq)]
pub enum IdTagOutcome {
    /// No transaction ran: the verdict on the id tag. An accepted one waits for the cable,
    /// or started the transaction if the cable was in.
    Authorized(IdTagInfo),
    /// A transaction ran: whether the id tag stopped it (its own tag, or one of its group;
    /// section 3.5), with the verdict when one had to be asked for.
    AtTransaction {
        /// The transaction stopped.
        stopped: bool,
        /// The verdict on a tag of the transaction's group.
        id_tag_info: Option<IdTagInfo>,
    },
}

/// What happens to a station, for whoever subscribes ([`Station::events`](crate::Station::events)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StationEvent {
    /// Powered on: a new machine built from the store connects.
    PoweredOn,
    /// Powered off.
    PoweredOff,
    /// The station accepted a Reset and restarts (powered off, then on).
    Restarting(ResetType),
    /// A WebSocket connection opened.
    Connected,
    /// The connection closed or dropped.
    Disconnected,
    /// An event of the Charge Point machine.
    Machine(CpEvent),
}
