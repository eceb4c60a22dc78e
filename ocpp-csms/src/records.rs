//! What the ledger knows of a station and of a transaction: the public view the API reads and
//! the shape a [`Store`](crate::Store) loads back.

use std::collections::BTreeMap;
use std::sync::Arc;

use ocpp_core::v16::{BootNotificationRequest, MeterValue, StatusNotificationRequest};
use time::OffsetDateTime;

/// A station as the central system remembers it, across its connections and restarts.
#[derive(Debug, Clone, PartialEq)]
pub struct Station {
    /// The charge point id (the last segment of its connection URL).
    pub id: String,
    /// The last BootNotification. A station that has one was accepted: the ledger accepts
    /// every station once its boot is durable. Shared, so that the record of every message
    /// of the station copies a pointer, not the boot.
    pub boot: Option<Arc<BootNotificationRequest>>,
    /// When the last message of the station arrived. A Heartbeat changes it in memory only;
    /// it is written with the station's next record.
    pub last_seen: Option<OffsetDateTime>,
    /// The last StatusNotification of each connector.
    pub connectors: BTreeMap<i32, StatusNotificationRequest>,
    /// The meter values of the last MeterValues of each connector.
    pub meter_values: BTreeMap<i32, Vec<MeterValue>>,
}

impl Station {
    /// A station that has sent nothing yet.
    pub fn new(id: impl Into<String>) -> Station {
        Station {
            id: id.into(),
            boot: None,
            last_seen: None,
            connectors: BTreeMap::new(),
            meter_values: BTreeMap::new(),
        }
    }

    /// Whether the station was accepted: it booted, here or before a restart.
    pub fn is_registered(&self) -> bool {
        self.boot.is_some()
    }
}

/// A transaction as the central system records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    /// The id the central system gave it in its StartTransaction.conf.
    pub id: i32,
    /// The charge point id of the station that started it.
    pub station: String,
    /// The connector it runs on.
    pub connector: i32,
    /// The id tag that started it.
    pub id_tag: String,
    /// The meter reading at its start, Wh.
    pub meter_start: i32,
    /// The StartTransaction timestamp, RFC 3339 as `ocpp_core::primitives::datetime::format`
    /// writes it (the text is part of what recognises a retransmitted StartTransaction).
    pub started: String,
    /// The meter reading at its stop, Wh, once stopped.
    pub meter_stop: Option<i32>,
    /// The StopTransaction timestamp, written as `started` is, once stopped.
    pub stopped: Option<String>,
    /// Why it stopped (the 1.6 `Reason` as spelled on the wire; `Local` when the station
    /// gave none), once stopped.
    pub stop_reason: Option<String>,
    /// Its meter values, from MeterValues and the StopTransaction's transactionData, in the
    /// order they arrived, each once.
    pub meter_values: Vec<MeterValue>,
}

impl Transaction {
    /// Whether it is still running (no StopTransaction received).
    pub fn is_active(&self) -> bool {
        self.stopped.is_none()
    }
}
