//! The simulated hardware of a station: each connector's physical facts (cable, EV, fault,
//! a driver waiting for the cable), reported to the Charge Point role as the facts they are,
//! and what the hardware does when the central system asks for something (start or stop a
//! transaction, reset, unlock).
//!
//! The role derives every connector status from these facts and its own state
//! (transaction, availability, reservation, ConnectionTimeOut; 1.6 section 4.9). The facts
//! are kept here too: to show them, to start a transaction once both the cable and an
//! accepted driver are there, and to tell a station that was off what changed meanwhile.

use std::sync::Arc;

use ocpp_core::charge_point::{
    ChargePoint, ChargePointError, Decision, Event as CpEvent, Fault, Reply, TransactionKey,
};
use ocpp_core::time::Now;
use ocpp_core::trace::Recorder;
use ocpp_core::v16::{
    AuthorizationStatus, Reason, RemoteStartStopStatus, ResetStatus, ResetType, UnlockStatus,
};

use crate::config::{Operator, StationConfig};
use crate::error::SimError;
use crate::life::{Life, Signals, energy_register};
use crate::state::{ConnectorState, IdTagOutcome, RoleConnector, StationState};

/// The physical facts of one connector (index 0: the station as a whole, which only faults).
#[derive(Debug, Clone, Default)]
pub(crate) struct Physical {
    plugged: bool,
    ev_drawing: bool,
    fault: Option<Fault>,
    /// An id tag accepted (presented, or sent by RemoteStartTransaction) that waits for the
    /// cable to start a transaction.
    authorized: Option<String>,
}

/// What the station does once a request of the central system has been handled.
pub(crate) enum Then {
    Nothing,
    /// The Reset was accepted and its transactions stopped: restart.
    Restart(ResetType),
}

/// The hardware of one station and its current life.
pub(crate) struct Hardware {
    /// The running station; `None` while it is off.
    pub(crate) life: Option<Arc<Life>>,
    connectors: Vec<Physical>,
    /// The network is up.
    pub(crate) online: bool,
}

impl Hardware {
    /// `connectors` connectors, nothing plugged in, nothing running.
    pub(crate) fn new(connectors: u32) -> Hardware {
        Hardware {
            life: None,
            connectors: vec![Physical::default(); connectors as usize + 1],
            online: true,
        }
    }

    /// The running life, or [`SimError::Off`].
    pub(crate) fn life(&self) -> Result<Arc<Life>, SimError> {
        self.life.clone().ok_or(SimError::Off)
    }

    /// A new life began: what the cable and the EV were doing is still true, an id tag that
    /// waited for the cable is forgotten.
    pub(crate) fn powered_on(&mut self, life: Arc<Life>) {
        self.life = Some(life);
        for physical in &mut self.connectors {
            physical.authorized = None;
        }
    }

    fn faulted(&self, connector: u32) -> bool {
        self.connectors[0].fault.is_some() || self.connectors[connector as usize].fault.is_some()
    }

    /// Reports a hardware fact to the running station. While it is off the fact is only kept
    /// here, and [`Hardware::report_all`] tells it when it starts again (its own record of
    /// its facts survives a restart, not what changed meanwhile).
    async fn fact<F>(&self, report: F) -> Result<(), SimError>
    where
        F: FnOnce(&mut Recorder<ChargePoint>, Now) -> Result<(), ChargePointError> + Send + 'static,
    {
        match &self.life {
            Some(life) => life.fact(report).await,
            None => Ok(()),
        }
    }

    /// Reports every connector's facts, as they are now, to a station that was off.
    pub(crate) async fn report_all(&self) -> Result<(), SimError> {
        for (physical, connector) in self.connectors.iter().zip(0u32..) {
            let (plugged, drawing, fault) = (
                physical.plugged,
                physical.ev_drawing,
                physical.fault.clone(),
            );
            self.fact(move |cp, now| {
                if connector > 0 {
                    if plugged {
                        cp.plug_in(now, connector)?;
                    } else {
                        cp.unplug(now, connector)?;
                    }
                    cp.set_ev_suspended(now, connector, !drawing)?;
                }
                match fault {
                    Some(fault) => cp.report_fault(now, connector, fault),
                    None => cp.clear_fault(now, connector),
                }
            })
            .await?;
        }
        Ok(())
    }

    /// The cable is plugged in; a transaction starts if an accepted id tag waits for it.
    pub(crate) async fn plug_in(&mut self, connector: u32) -> Result<(), SimError> {
        self.connectors[connector as usize].plugged = true;
        self.fact(move |cp, now| cp.plug_in(now, connector)).await?;
        self.start_if_ready(connector).await
    }

    /// The cable is unplugged. During a transaction the role stops it
    /// (StopTransactionOnEVSideDisconnect, 9.1.23) at the meter reading of this very moment.
    pub(crate) async fn unplug(&mut self, connector: u32) -> Result<(), SimError> {
        let meter = self.life.as_ref().map(|life| life.meter(connector));
        self.fact(move |cp, now| {
            if let Some(meter) = meter {
                cp.report_meter(now, connector, meter)?;
            }
            cp.unplug(now, connector)
        })
        .await?;
        let physical = &mut self.connectors[connector as usize];
        physical.plugged = false;
        physical.ev_drawing = false;
        Ok(())
    }

    /// The EV draws power (Charging during a transaction) or stops drawing (SuspendedEV).
    pub(crate) async fn set_ev_drawing(
        &mut self,
        connector: u32,
        drawing: bool,
    ) -> Result<(), SimError> {
        self.connectors[connector as usize].ev_drawing = drawing;
        self.fact(move |cp, now| cp.set_ev_suspended(now, connector, !drawing))
            .await
    }

    /// A fault of `connector` (0: the station as a whole), reported until it is cleared.
    pub(crate) async fn report_fault(
        &mut self,
        connector: u32,
        fault: Fault,
    ) -> Result<(), SimError> {
        self.connectors[connector as usize].fault = Some(fault.clone());
        self.fact(move |cp, now| cp.report_fault(now, connector, fault))
            .await
    }

    /// The fault of `connector` is gone.
    pub(crate) async fn clear_fault(&mut self, connector: u32) -> Result<(), SimError> {
        self.connectors[connector as usize].fault = None;
        self.fact(move |cp, now| cp.clear_fault(now, connector))
            .await
    }

    /// An id tag is presented at `connector`. With a transaction running, the role decides
    /// whether it stops it (`ChargePoint::stop_by_id_tag`: the tag that started it, or an
    /// accepted tag of its group; 1.6 section 3.5, OCTT TC_068_CS / TC_069_CS) and stops it
    /// itself. Without one, an accepted tag waits for the cable (or starts at once).
    pub(crate) async fn present_id_tag(
        &mut self,
        connector: u32,
        id_tag: String,
    ) -> Result<IdTagOutcome, SimError> {
        let life = self.life()?;
        let running = life
            .run(move |cp, _| cp.transaction(connector).is_some())
            .await?;
        if running {
            let id_tag_info = life.present_at_transaction(connector, id_tag).await?;
            // The machine stopped it (or not) in the step that decided: no waiting for events.
            let stopped = life
                .run(move |cp, _| cp.transaction(connector).is_none())
                .await?;
            return Ok(IdTagOutcome::AtTransaction {
                stopped,
                id_tag_info,
            });
        }
        let info = life.authorize(&id_tag).await?;
        if info.status == AuthorizationStatus::Accepted {
            // Preparing, and ConnectionTimeOut to plug in (the role's; a reservation for
            // another id tag refuses it).
            let tag = id_tag.clone();
            life.fact(move |cp, now| cp.prepare(now, connector, tag))
                .await?;
            self.connectors[connector as usize].authorized = Some(id_tag);
            self.start_if_ready(connector).await?;
        }
        Ok(IdTagOutcome::Authorized(info))
    }

    /// Starts a transaction on `connector` with its waiting id tag, if the cable is in and
    /// nothing is faulted.
    async fn start_if_ready(&mut self, connector: u32) -> Result<(), SimError> {
        let physical = &self.connectors[connector as usize];
        let (true, Some(tag), false) = (
            physical.plugged,
            physical.authorized.clone(),
            self.faulted(connector),
        ) else {
            return Ok(());
        };
        let drawing = physical.ev_drawing;
        let life = self.life()?;
        let meter = life.meter(connector);
        life.run(move |cp, now| cp.start_transaction(now, connector, tag, meter, None))
            .await??;
        self.connectors[connector as usize].authorized = None;
        // Until the EV draws power, the transaction is SuspendedEV.
        life.fact(move |cp, now| cp.set_ev_suspended(now, connector, !drawing))
            .await
    }

    /// Ends `transaction` on `connector` with the meter's reading, as the role asked, unless
    /// it ended already; whether it was stopped here.
    async fn stop(
        &self,
        connector: u32,
        transaction: TransactionKey,
        reason: Reason,
    ) -> Result<bool, SimError> {
        let life = self.life()?;
        let meter = life.meter(connector);
        let stopped = life
            .run(move |cp, now| {
                if cp.transaction(connector).map(|(key, _)| key) != Some(transaction) {
                    return Ok(false);
                }
                cp.stop_transaction(now, connector, meter, Some(reason), None)
                    .map(|_| true)
            })
            .await??;
        Ok(stopped)
    }

    /// With nobody at the station, the cable comes out once its transaction has ended.
    async fn take_cable(&mut self, operator: Operator, connector: u32) -> Result<(), SimError> {
        match operator {
            Operator::Automatic => self.cable_out(connector).await,
            Operator::Manual => Ok(()),
        }
    }

    /// The cable comes out, and nothing else is said (a scripted session's last step).
    pub(crate) async fn cable_out(&mut self, connector: u32) -> Result<(), SimError> {
        let physical = &mut self.connectors[connector as usize];
        physical.plugged = false;
        physical.ev_drawing = false;
        self.fact(move |cp, now| cp.unplug(now, connector)).await
    }

    /// Carries out a request of the central system that the hardware decides.
    pub(crate) async fn on_request(
        &mut self,
        config: &StationConfig,
        signals: &Signals,
        event: CpEvent,
    ) -> Result<Then, SimError> {
        match event {
            CpEvent::RemoteStartRequested {
                decision,
                connector,
                id_tag,
                authorize_first,
                ..
            } => {
                self.remote_start(config, decision, connector, id_tag, authorize_first)
                    .await?;
            }
            CpEvent::StopRequested {
                connector,
                transaction,
                reason,
            } => {
                let stopped = self.stop(connector, transaction, reason).await?;
                if stopped {
                    self.take_cable(config.operator, connector).await?;
                }
            }
            CpEvent::UnlockRequested {
                decision,
                connector,
                transaction,
            } => {
                // 1.6 section 5.18: the transaction first (UnlockCommand), then the lock.
                if let Some(transaction) = transaction
                    && self
                        .stop(connector, transaction, Reason::UnlockCommand)
                        .await?
                {
                    self.take_cable(config.operator, connector).await?;
                }
                let unlocked = Reply::Unlock(UnlockStatus::Unlocked);
                self.life()?
                    .fact(move |cp, now| cp.reply(now, decision, unlocked))
                    .await?;
            }
            CpEvent::ResetRequested { decision, kind } => {
                return self.reset(config, signals, decision, kind).await;
            }
            CpEvent::ConnectionTimedOut { connector, .. } => {
                // The role gave up on the driver (ConnectionTimeOut): the id tag waits no more.
                if let Some(physical) = self.connectors.get_mut(connector as usize) {
                    physical.authorized = None;
                }
            }
            _ => {}
        }
        Ok(Then::Nothing)
    }

    /// RemoteStartTransaction (1.6 section 5.11), after the role's own checks: the connector
    /// asked for, or the first free one, if it is free (no transaction, operative, no fault,
    /// no other driver waiting); the answer goes out first, then the Authorize (with
    /// `AuthorizeRemoteTxRequests`). Automatic: the EV is plugged in and the transaction
    /// starts in one step, so that a Reset or Unlock handled meanwhile finds the connector
    /// charging; it charges until something stops it. Manual: the id tag waits for the
    /// cable.
    async fn remote_start(
        &mut self,
        config: &StationConfig,
        decision: Decision,
        connector: Option<u32>,
        id_tag: String,
        authorize_first: bool,
    ) -> Result<(), SimError> {
        let life = self.life()?;
        let count = config.connectors;
        let machine: Vec<(bool, bool)> = life
            .run(move |cp, _| {
                (1..=count)
                    .map(|c| (cp.transaction(c).is_some(), cp.is_operative(c)))
                    .collect()
            })
            .await?;
        let free = |c: &u32| {
            let index = c.checked_sub(1).map(|i| i as usize);
            let Some(&(running, operative)) = index.and_then(|i| machine.get(i)) else {
                return false;
            };
            !running
                && operative
                && !self.faulted(*c)
                && self.connectors[*c as usize].authorized.is_none()
        };
        let chosen = match connector {
            Some(c) => Some(c).filter(free),
            None => (1..=count).find(free),
        };
        let status = match chosen {
            Some(_) => RemoteStartStopStatus::Accepted,
            None => RemoteStartStopStatus::Rejected,
        };
        life.fact(move |cp, now| cp.reply(now, decision, Reply::RemoteStart(status)))
            .await?;
        let Some(chosen) = chosen else {
            return Ok(());
        };
        if authorize_first {
            let status = life.authorize(&id_tag).await.map(|info| info.status);
            if status != Ok(AuthorizationStatus::Accepted) {
                if !self.connectors[chosen as usize].plugged {
                    // The driver leaves: the waiting session ends (B1).
                    self.fact(move |cp, now| cp.unplug(now, chosen)).await?;
                }
                return Err(match status {
                    Ok(status) => SimError::IdTagRefused { id_tag, status },
                    Err(error) => error,
                });
            }
        }
        if connector.is_none() {
            // For a given connector the role prepared it already (Preparing).
            let tag = id_tag.clone();
            life.fact(move |cp, now| cp.prepare(now, chosen, tag))
                .await?;
        }
        match config.operator {
            Operator::Automatic => {
                let physical = &mut self.connectors[chosen as usize];
                physical.plugged = true;
                physical.ev_drawing = true;
                let meter = life.meter(chosen);
                life.run(move |cp, now| {
                    cp.set_readings(now, chosen, energy_register(meter))?;
                    cp.plug_in(now, chosen)?;
                    cp.start_transaction(now, chosen, id_tag, meter, None)
                })
                .await??;
                Ok(())
            }
            Operator::Manual => {
                self.connectors[chosen as usize].authorized = Some(id_tag);
                self.start_if_ready(chosen).await
            }
        }
    }

    /// Reset (1.6 section 5.14): accepted only by a station that restarts
    /// ([`StationConfig::restart_on_reset`]). The running transactions are stopped (reason
    /// SoftReset or HardReset) in the same step as the answer, so that their
    /// StopTransactions are queued, and delivered, before the station closes and restarts.
    async fn reset(
        &mut self,
        config: &StationConfig,
        signals: &Signals,
        decision: Decision,
        kind: ResetType,
    ) -> Result<Then, SimError> {
        let life = self.life()?;
        let status = if config.restart_on_reset {
            ResetStatus::Accepted
        } else {
            ResetStatus::Rejected
        };
        signals.note(format_args!("Reset {kind:?}: {status:?}"));
        if status == ResetStatus::Rejected {
            life.fact(move |cp, now| cp.reply(now, decision, Reply::Reset(status)))
                .await?;
            return Ok(Then::Nothing);
        }
        let reason = match kind {
            ResetType::Hard => Reason::HardReset,
            ResetType::Soft => Reason::SoftReset,
        };
        let meters: Vec<(u32, i32)> = (1..=config.connectors)
            .map(|c| (c, life.meter(c)))
            .collect();
        let automatic = config.operator == Operator::Automatic;
        let stopped = life
            .run(move |cp, now| {
                cp.reply(now, decision, Reply::Reset(status))?;
                let mut stopped = Vec::new();
                for (connector, meter) in meters {
                    if cp.transaction(connector).is_some() {
                        let _ = cp.stop_transaction(now, connector, meter, Some(reason), None);
                        if automatic {
                            // Nobody at the station: the session ends with the restart.
                            let _ = cp.unplug(now, connector);
                        }
                        stopped.push(connector);
                    }
                }
                Ok::<_, ChargePointError>(stopped)
            })
            .await??;
        if automatic {
            for connector in stopped {
                let physical = &mut self.connectors[connector as usize];
                physical.plugged = false;
                physical.ev_drawing = false;
            }
        }
        Ok(Then::Restart(kind))
    }

    /// Advances the meter of every connector whose EV draws power in a transaction.
    pub(crate) async fn tick(&self, step_wh: i32) -> Result<(), SimError> {
        let Some(life) = &self.life else {
            return Ok(());
        };
        for (physical, connector) in self.connectors.iter().zip(0u32..).skip(1) {
            if !physical.ev_drawing || self.faulted(connector) {
                continue;
            }
            let running = life
                .run(move |cp, _| cp.transaction(connector).is_some())
                .await?;
            if running {
                life.add_energy(connector, step_wh).await?;
            }
        }
        Ok(())
    }

    /// The station's state as the hardware knows it, with what the role says while it runs.
    pub(crate) async fn state(&self, id: &str, connected: bool) -> StationState {
        let mut state = StationState {
            id: id.to_owned(),
            running: self.life.is_some(),
            connected: false,
            online: self.online,
            fault: self.connectors[0].fault.as_ref().map(|f| f.error_code),
            registration: None,
            queued_transaction_messages: None,
            connectors: self
                .connectors
                .iter()
                .zip(0u32..)
                .skip(1)
                .map(|(physical, connector)| ConnectorState {
                    connector,
                    plugged: physical.plugged,
                    ev_drawing: physical.ev_drawing,
                    fault: physical.fault.as_ref().map(|f| f.error_code),
                    waiting_id_tag: physical.authorized.clone(),
                    role: None,
                })
                .collect(),
        };
        let Some(life) = &self.life else {
            return state;
        };
        state.connected = connected;
        let count = self.connectors.len() as u32 - 1;
        let machine = life
            .run(move |cp, _| {
                let connectors: Vec<_> = (1..=count)
                    .map(|c| {
                        (
                            cp.connector_status(c).cloned(),
                            cp.is_operative(c),
                            cp.transaction(c),
                        )
                    })
                    .collect();
                (
                    cp.registration(),
                    cp.queued_transaction_messages(),
                    connectors,
                )
            })
            .await;
        if let Ok((registration, queued, connectors)) = machine {
            state.registration = Some(registration);
            state.queued_transaction_messages = Some(queued);
            for (connector, (status, operative, transaction)) in
                state.connectors.iter_mut().zip(connectors)
            {
                connector.role = Some(RoleConnector {
                    status,
                    operative,
                    transaction,
                    meter_wh: life.meter(connector.connector),
                });
            }
        }
        state
    }
}
