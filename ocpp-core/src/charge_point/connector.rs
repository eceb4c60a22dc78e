//! What the station knows about each connector, and the status it derives from that (1.6
//! section 4.9).
//!
//! The application reports only what the hardware knows: a cable plugged in or out, the EV or
//! the EVSE suspending the energy transfer, a fault. The stack adds its own state (a
//! transaction running, availability, a reservation, a driver who was authorized and has
//! `ConnectionTimeOut` to plug in) and derives the status the Central System is told, along the
//! transitions of the 4.9 table. An application that drives the status itself reports it
//! outright with `report_status`; that status wins until the application next reports a
//! hardware fact about the connector.

use serde::{Deserialize, Serialize};

use super::role::ConnectorStatus;
use crate::v16::{ChargePointErrorCode, ChargePointStatus};

/// Where the charging cable of a connector is, as the hardware sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Cable {
    /// No cable connects the connector to an EV (or the application does not report cables).
    #[default]
    Unplugged,
    /// A cable connects the connector to an EV.
    Plugged,
    /// The cable was pulled out at the EV side but is still in the station's socket (stations
    /// with a socket, not a fixed cable): the connector is not free for the next driver yet.
    EvSideDisconnected,
}

/// A fault that prevents charging on a connector (or, on connector 0, the whole station).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The error; anything but `NoError`.
    pub error_code: ChargePointErrorCode,
    /// Free text about the error (at most 50 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
    /// The vendor of `vendor_error_code` (at most 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<String>,
    /// A vendor-specific error code (at most 50 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_error_code: Option<String>,
}

impl Fault {
    /// A fault with only its error code.
    pub fn new(error_code: ChargePointErrorCode) -> Fault {
        Fault {
            error_code,
            info: None,
            vendor_id: None,
            vendor_error_code: None,
        }
    }
}

/// The facts about a connector that survive a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Facts {
    #[serde(default)]
    pub(super) cable: Cable,
    /// The EV does not take energy (SuspendedEV).
    #[serde(default)]
    pub(super) ev_suspended: bool,
    /// The EVSE does not offer energy (SuspendedEVSE).
    #[serde(default)]
    pub(super) evse_suspended: bool,
    /// The cable was unplugged at the EV side during the transaction, which goes on
    /// (`StopTransactionOnEVSideDisconnect` false): SuspendedEV until it is plugged again.
    #[serde(default)]
    pub(super) disconnected_in_transaction: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) fault: Option<Fault>,
    /// A session ended and the driver still has to act (take the cable away): Finishing.
    #[serde(default)]
    pub(super) finishing: bool,
    /// StartTransaction.conf refused the id tag and the transaction goes on (section 3.5.4):
    /// the EVSE must not offer energy (SuspendedEVSE, C5).
    #[serde(default)]
    pub(super) deauthorized: bool,
    /// The status the application reported outright (`report_status`), which wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) explicit: Option<ConnectorStatus>,
}

/// What the stack itself knows about a connector, beside the facts.
#[derive(Debug, Clone, Copy)]
pub(super) struct StackState {
    pub(super) transaction: bool,
    pub(super) operative: bool,
    pub(super) reserved: bool,
    /// An authorized driver (or a remote start) waits for the cable.
    pub(super) waiting: bool,
}

/// The info sent with SuspendedEV when the cable was unplugged at the EV side (OCTT TC_005_3_CS).
pub(super) const EV_SIDE_DISCONNECTED: &str = "EV side disconnected";

/// The status of `connector` (0: the station) from its facts and the stack's state, by the
/// transitions of section 4.9.
pub(super) fn derive(connector: u32, facts: &Facts, stack: StackState) -> ConnectorStatus {
    if let Some(explicit) = &facts.explicit {
        // Section 5.2: an inoperative connector is Unavailable once no transaction runs.
        return if !stack.operative && !stack.transaction {
            ConnectorStatus::new(ChargePointStatus::Unavailable)
        } else {
            explicit.clone()
        };
    }
    // A fault wins over every other state (transitions A9 to H9).
    if let Some(fault) = &facts.fault {
        return ConnectorStatus {
            status: ChargePointStatus::Faulted,
            error_code: fault.error_code,
            info: fault.info.clone(),
            vendor_id: fault.vendor_id.clone(),
            vendor_error_code: fault.vendor_error_code.clone(),
        };
    }
    let status = |status| ConnectorStatus::new(status);
    // Connector 0 is only ever Available, Unavailable or Faulted.
    if connector == 0 {
        return status(if stack.operative {
            ChargePointStatus::Available
        } else {
            ChargePointStatus::Unavailable
        });
    }
    if stack.transaction {
        // "SuspendedEVSE SHALL have precedence over status SuspendedEV."
        return if facts.evse_suspended || facts.deauthorized {
            status(ChargePointStatus::SuspendedEvse)
        } else if facts.disconnected_in_transaction {
            ConnectorStatus {
                info: Some(EV_SIDE_DISCONNECTED.to_owned()),
                ..status(ChargePointStatus::SuspendedEv)
            }
        } else if facts.ev_suspended {
            status(ChargePointStatus::SuspendedEv)
        } else {
            status(ChargePointStatus::Charging)
        };
    }
    if !stack.operative {
        return status(ChargePointStatus::Unavailable);
    }
    if facts.finishing {
        return status(ChargePointStatus::Finishing);
    }
    if stack.waiting || facts.cable != Cable::Unplugged {
        return status(ChargePointStatus::Preparing);
    }
    if stack.reserved {
        return status(ChargePointStatus::Reserved);
    }
    status(ChargePointStatus::Available)
}
/// Whether a connector could take a new reservation or a new driver, for ReserveNow (section
/// 5.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Condition {
    Free,
    Occupied,
    Faulted,
    Unavailable,
}

/// The condition of a connector (0: the station as a whole), reservations aside.
pub(super) fn condition(facts: &Facts, stack: StackState) -> Condition {
    let unreserved = StackState {
        reserved: false,
        ..stack
    };
    match derive(1, facts, unreserved).status {
        ChargePointStatus::Available => Condition::Free,
        ChargePointStatus::Faulted => Condition::Faulted,
        ChargePointStatus::Unavailable => Condition::Unavailable,
        // Reported outright by the application; the stack holds no reservation here.
        ChargePointStatus::Reserved => Condition::Free,
        _ => Condition::Occupied,
    }
}
