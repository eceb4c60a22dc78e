//! Scripted charging sessions, as `ocpp cp` and `ocpp demo` run them: plug in, Authorize,
//! StartTransaction, meter readings, StopTransaction, unplug, with the status reports the
//! role derives from each step, and the latency of each call.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ocpp_core::charge_point::{ChargePointError, Event as CpEvent};
use ocpp_core::v16::AuthorizationStatus;

use crate::error::SimError;
use crate::life::{StationMachine, energy_register};
use crate::station::Station;

/// How a session charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charging {
    /// Meter readings per session; the energy flows between them.
    pub readings: u32,
    /// Time between two readings.
    pub interval: Duration,
    /// Energy per interval, Wh.
    pub step_wh: i32,
}

/// Call latencies measured by sessions: from the command to its answer (Authorize,
/// StartTransaction, StopTransaction). Shared by the sessions of one run.
#[derive(Debug, Default)]
pub struct Latencies(Mutex<Vec<Duration>>);

impl Latencies {
    fn record(&self, latency: Duration) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(latency);
    }

    /// All samples, sorted.
    pub fn sorted(&self) -> Vec<Duration> {
        let mut samples = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        samples.sort();
        samples
    }
}

/// One completed session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The connector it ran on.
    pub connector: u32,
    /// The central system's transaction id.
    pub transaction_id: i32,
    /// Energy delivered, Wh.
    pub energy_wh: i32,
}

impl Station {
    /// One charging session on `connector`: plug in, authorize `id_tag`, start, the meter
    /// readings of `charging`, stop (with the id tag), unplug, each step waiting for the
    /// central system's answer. A failed session takes the cable out again, so that the next
    /// one can start, and counts as an error.
    ///
    /// # Errors
    ///
    /// The step that failed: no such connector, the station off, a refused id tag, no answer
    /// in time, a fact the role refused.
    pub async fn session(
        &self,
        connector: u32,
        id_tag: &str,
        charging: Charging,
        latencies: &Latencies,
    ) -> Result<Session, SimError> {
        let connector = self.connector(connector, false)?;
        let result = self
            .session_steps(connector, id_tag, charging, latencies)
            .await;
        if result.is_err() {
            self.count_error();
            // Back to a state the next session can start from (a transaction still running
            // is stopped as EVDisconnected); best effort.
            let _ = self.hardware().lock().await.cable_out(connector).await;
        }
        result
    }

    async fn session_steps(
        &self,
        connector: u32,
        id_tag: &str,
        charging: Charging,
        latencies: &Latencies,
    ) -> Result<Session, SimError> {
        // The driver plugs in first; the role derives every status from here on (Preparing,
        // Charging, Finishing, Available).
        self.hardware().lock().await.plug_in(connector).await?;
        let life = self.life().await?;

        let sent = Instant::now();
        let info = life.authorize(id_tag).await?;
        latencies.record(sent.elapsed());
        if info.status != AuthorizationStatus::Accepted {
            return Err(SimError::IdTagRefused {
                id_tag: id_tag.to_owned(),
                status: info.status,
            });
        }

        let meter_start = life.meter(connector);
        let tag = id_tag.to_owned();
        let sent = Instant::now();
        let started = life
            .handle
            .run(move |machine: &mut StationMachine, now| {
                machine.set_readings(now, connector, energy_register(meter_start))?;
                let key = machine.start_transaction(now, connector, tag, meter_start, None)?;
                let answer = machine.wait_for_event(move |event| {
                    matches!(event, CpEvent::TransactionStarted { transaction, .. }
                        if *transaction == key)
                });
                Ok::<_, ChargePointError>(answer)
            })
            .await??;
        let CpEvent::TransactionStarted { transaction_id, .. } =
            life.outcome("StartTransaction", started).await?
        else {
            return Err(SimError::Gone);
        };
        latencies.record(sent.elapsed());

        let mut meter = meter_start;
        for _ in 0..charging.readings {
            tokio::time::sleep(charging.interval).await;
            meter = life.add_energy(connector, charging.step_wh).await?;
        }

        let tag = id_tag.to_owned();
        let sent = Instant::now();
        let ended = life
            .handle
            .run(move |machine: &mut StationMachine, now| {
                let key = machine.stop_transaction(now, connector, meter, None, Some(tag))?;
                let answer = machine.wait_for_event(move |event| {
                    matches!(event, CpEvent::TransactionEnded { transaction, .. }
                        if *transaction == key)
                });
                Ok::<_, ChargePointError>(answer)
            })
            .await??;
        life.outcome("StopTransaction", ended).await?;
        latencies.record(sent.elapsed());
        self.hardware().lock().await.cable_out(connector).await?;
        Ok(Session {
            connector,
            transaction_id,
            energy_wh: meter - meter_start,
        })
    }
}
