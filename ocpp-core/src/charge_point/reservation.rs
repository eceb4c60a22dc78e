//! Reservations of the Charge Point (1.6 sections 3.11, 5.1 CancelReservation, 5.13
//! ReserveNow; OCTT TC_046_CS to TC_053_CS).
//!
//! A reservation holds a connector, or with `ReserveConnectorZeroSupported` "any connector"
//! (connector 0: the station keeps one connector free for it), for an id tag until its
//! `expiryDate`. Only that id tag, or one with the same parent id tag, may start a transaction
//! there; the transaction carries the `reservationId`, which ends the reservation. It also ends
//! when it expires, is cancelled, or its connector (or the station) becomes Faulted or
//! Unavailable. Reservations are persisted, so they outlive a restart.
//!
//! This module holds the reservations and the ReserveNow rules; the machine (`role`) supplies
//! the connectors' conditions and the time, and turns ends into events and status changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::connector::Condition;
use super::role::RestoreError;
use crate::persist::{Snapshot, StoreOp};
use crate::v16::{ReservationStatus, ReserveNowRequest};

/// Where reservations are persisted; keys are the reservation id.
pub const RESERVATIONS_COLLECTION: &str = "cp16.reservations";

const RECORD_VERSION: u32 = 1;

/// A reservation the station holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    /// The Central System's id for it.
    pub reservation_id: i32,
    /// The connector reserved; 0 for any connector.
    pub connector: u32,
    /// The id tag it is for.
    pub id_tag: String,
    /// The parent id tag whose members may use it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id_tag: Option<String>,
    /// When it ends unused.
    #[serde(with = "crate::primitives::datetime")]
    pub expiry_date: OffsetDateTime,
}

impl Reservation {
    /// Whether `id_tag`, whose parent id tag is `parent` when known, may use the reservation
    /// (section 5.13: the id tag or the parent id tag match; id tags compare without case).
    pub fn admits(&self, id_tag: &str, parent: Option<&str>) -> bool {
        let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        same(id_tag, &self.id_tag)
            || self
                .parent_id_tag
                .as_deref()
                .is_some_and(|reserved| parent.is_some_and(|parent| same(parent, reserved)))
    }
}

impl From<ReserveNowRequest> for Reservation {
    fn from(request: ReserveNowRequest) -> Reservation {
        Reservation {
            reservation_id: request.reservation_id,
            connector: request.connector_id.max(0) as u32,
            id_tag: request.id_tag,
            parent_id_tag: request.parent_id_tag,
            expiry_date: request.expiry_date,
        }
    }
}

/// Why a reservation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationEnd {
    /// A transaction started with it.
    Used,
    /// Its expiryDate was reached.
    Expired,
    /// CancelReservation.
    Cancelled,
    /// A ReserveNow with the same reservation id replaced it.
    Replaced,
    /// Its connector (or the station) became Faulted.
    Faulted,
    /// Its connector (or the station) became Unavailable.
    Unavailable,
}

#[derive(Serialize, Deserialize)]
struct Record {
    v: u32,
    #[serde(flatten)]
    reservation: Reservation,
}

/// The reservations the station holds, by reservation id.
#[derive(Debug, Default)]
pub(super) struct Reservations {
    by_id: BTreeMap<i32, Reservation>,
}

impl Reservations {
    /// The reservations stored in `snapshot`.
    pub(super) fn restore(snapshot: &Snapshot) -> Result<Reservations, RestoreError> {
        let mut by_id = BTreeMap::new();
        for (key, value) in snapshot.records(RESERVATIONS_COLLECTION) {
            let bad = |reason: String| RestoreError::BadRecord {
                collection: RESERVATIONS_COLLECTION,
                key: key.to_owned(),
                reason,
            };
            let record: Record = serde_json::from_slice(value).map_err(|e| bad(e.to_string()))?;
            if record.v != RECORD_VERSION {
                return Err(bad(format!("record version {} is unknown", record.v)));
            }
            if key != record.reservation.reservation_id.to_string() {
                return Err(bad("the key is not the reservation id".to_owned()));
            }
            by_id.insert(record.reservation.reservation_id, record.reservation);
        }
        Ok(Reservations { by_id })
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Reservation> {
        self.by_id.values()
    }

    /// The reservation of connector `connector` (> 0) itself.
    pub(super) fn on(&self, connector: u32) -> Option<&Reservation> {
        self.by_id.values().find(|r| r.connector == connector)
    }

    /// The reservations of "any connector".
    pub(super) fn of_any_connector(&self) -> impl Iterator<Item = &Reservation> {
        self.by_id.values().filter(|r| r.connector == 0)
    }

    pub(super) fn insert(&mut self, reservation: Reservation, ops: &mut Vec<StoreOp>) {
        let value = serde_json::to_vec(&Record {
            v: RECORD_VERSION,
            reservation: reservation.clone(),
        })
        .unwrap_or_default();
        ops.push(StoreOp::Put {
            collection: RESERVATIONS_COLLECTION,
            key: reservation.reservation_id.to_string(),
            value,
        });
        self.by_id.insert(reservation.reservation_id, reservation);
    }

    pub(super) fn remove(&mut self, id: i32, ops: &mut Vec<StoreOp>) -> Option<Reservation> {
        let removed = self.by_id.remove(&id)?;
        ops.push(StoreOp::Delete {
            collection: RESERVATIONS_COLLECTION,
            key: id.to_string(),
        });
        Some(removed)
    }

    /// The earliest expiry.
    pub(super) fn next_expiry(&self) -> Option<OffsetDateTime> {
        self.by_id.values().map(|r| r.expiry_date).min()
    }

    /// The reservations expired at `now` (wall clock).
    pub(super) fn expired(&self, now: OffsetDateTime) -> Vec<i32> {
        self.by_id
            .values()
            .filter(|r| r.expiry_date <= now)
            .map(|r| r.reservation_id)
            .collect()
    }

    /// The answer to `request` (section 5.13), given each connector's condition (index 0: the
    /// station) with the reservations aside, whether connector 0 may be reserved, and the time.
    /// A reservation with the same id is left out of the count: it would be replaced.
    pub(super) fn decide(
        &self,
        request: &ReserveNowRequest,
        conditions: &[Condition],
        zero_supported: bool,
        now: OffsetDateTime,
    ) -> ReservationStatus {
        let others = || {
            self.by_id
                .values()
                .filter(|r| r.reservation_id != request.reservation_id)
        };
        let Ok(connector) = usize::try_from(request.connector_id) else {
            return ReservationStatus::Rejected;
        };
        if connector >= conditions.len()
            || (connector == 0 && !zero_supported)
            || request.expiry_date <= now
        {
            return ReservationStatus::Rejected;
        }
        match conditions[0] {
            Condition::Faulted => return ReservationStatus::Faulted,
            Condition::Unavailable => return ReservationStatus::Unavailable,
            Condition::Free | Condition::Occupied => {}
        }
        let reserved_apart = |id: usize| others().any(|r| r.connector as usize == id);
        let any_connector = others().filter(|r| r.connector == 0).count();
        // Free connectors without a reservation of their own, beside `except`.
        let free = |except: usize| {
            (1..conditions.len())
                .filter(|&id| id != except && conditions[id] == Condition::Free)
                .filter(|&id| !reserved_apart(id))
                .count()
        };
        if connector > 0 {
            return match conditions[connector] {
                Condition::Faulted => ReservationStatus::Faulted,
                Condition::Unavailable => ReservationStatus::Unavailable,
                Condition::Occupied => ReservationStatus::Occupied,
                // Reserved already, or the last connector kept for "any connector".
                Condition::Free if reserved_apart(connector) || free(connector) < any_connector => {
                    ReservationStatus::Occupied
                }
                Condition::Free => ReservationStatus::Accepted,
            };
        }
        if free(0) > any_connector {
            return ReservationStatus::Accepted;
        }
        let connectors = &conditions[1..];
        if connectors.iter().all(|c| *c == Condition::Faulted) {
            ReservationStatus::Faulted
        } else if connectors
            .iter()
            .all(|c| matches!(c, Condition::Faulted | Condition::Unavailable))
        {
            ReservationStatus::Unavailable
        } else {
            ReservationStatus::Occupied
        }
    }
}
