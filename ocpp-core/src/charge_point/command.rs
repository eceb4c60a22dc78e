//! The application's commands to a [`ChargePoint`] as data, and the setup a Charge Point is
//! built from: what a trace records ([`crate::trace`]) so that a replay can do it again.
//!
//! [`ChargePoint::apply`] runs a [`Command`]; it is the same as calling the method the command
//! names. The typed helpers on [`Recorder<ChargePoint>`] record the command and return what the
//! method returns.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::{Definitions, LocalSetError, StandardKey};
use super::connector::Fault;
use super::firmware::TransferOutcome;
use super::ledger::TransactionKey;
use super::metering::Reading;
use super::role::{
    AuthorizeHandle, ChargePoint, ChargePointConfig, ChargePointError, ConnectorStatus, Decision,
    IdTagAtTransaction, InterruptedTransactions, Reply,
};
use super::smart_charging::ChargingLimit;
use crate::rpc::{CallHandle, IdGenerator};
use crate::time::Now;
use crate::trace::{Recorder, Role, StoredSnapshot, Traced};
use crate::v16::{BootNotificationRequest, DataTransferRequest, Reason};

/// A command of the application to the Charge Point; each variant is the method of the same
/// name with its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// [`ChargePoint::report_status`].
    ReportStatus {
        /// The connector (0: the station).
        connector: u32,
        /// Its status.
        status: ConnectorStatus,
    },
    /// [`ChargePoint::plug_in`].
    PlugIn {
        /// The connector.
        connector: u32,
    },
    /// [`ChargePoint::unplug`].
    Unplug {
        /// The connector.
        connector: u32,
    },
    /// [`ChargePoint::ev_side_disconnected`].
    EvSideDisconnected {
        /// The connector.
        connector: u32,
    },
    /// [`ChargePoint::set_ev_suspended`].
    SetEvSuspended {
        /// The connector.
        connector: u32,
        /// Whether the EV stopped taking energy.
        suspended: bool,
    },
    /// [`ChargePoint::set_evse_suspended`].
    SetEvseSuspended {
        /// The connector.
        connector: u32,
        /// Whether the EVSE stopped offering energy.
        suspended: bool,
    },
    /// [`ChargePoint::report_fault`].
    ReportFault {
        /// The connector (0: the station).
        connector: u32,
        /// The fault.
        fault: Fault,
    },
    /// [`ChargePoint::clear_fault`].
    ClearFault {
        /// The connector (0: the station).
        connector: u32,
    },
    /// [`ChargePoint::prepare`].
    Prepare {
        /// The connector.
        connector: u32,
        /// The id tag of the authorized driver.
        id_tag: String,
    },
    /// [`ChargePoint::authorize`].
    Authorize {
        /// The id tag.
        id_tag: String,
    },
    /// [`ChargePoint::stop_by_id_tag`].
    StopByIdTag {
        /// The connector.
        connector: u32,
        /// The id tag presented.
        id_tag: String,
    },
    /// [`ChargePoint::start_transaction`].
    StartTransaction {
        /// The connector.
        connector: u32,
        /// The id tag.
        id_tag: String,
        /// The meter reading at the start, Wh.
        meter_start: i32,
        /// The reservation the transaction ends.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reservation_id: Option<i32>,
    },
    /// [`ChargePoint::stop_transaction`].
    StopTransaction {
        /// The connector.
        connector: u32,
        /// The meter reading at the stop, Wh.
        meter_stop: i32,
        /// The reason (none: Local).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
        /// The id tag that stopped it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id_tag: Option<String>,
    },
    /// [`ChargePoint::report_meter`].
    ReportMeter {
        /// The connector.
        connector: u32,
        /// The reading, Wh.
        meter_wh: i32,
    },
    /// [`ChargePoint::set_readings`].
    SetReadings {
        /// The connector (0: the main meter).
        connector: u32,
        /// The readings.
        readings: Vec<Reading>,
    },
    /// [`ChargePoint::set_configuration`].
    SetConfiguration {
        /// The key's name.
        key: String,
        /// Its new value.
        value: String,
    },
    /// [`ChargePoint::set_local_limit`].
    SetLocalLimit {
        /// The connector (0: the grid connection).
        connector: u32,
        /// The limit (none: lifted).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<ChargingLimit>,
    },
    /// [`ChargePoint::firmware_downloaded`].
    FirmwareDownloaded {
        /// How the download ended.
        outcome: TransferOutcome,
    },
    /// [`ChargePoint::firmware_installed`].
    FirmwareInstalled {
        /// How the installation ended.
        outcome: TransferOutcome,
    },
    /// [`ChargePoint::diagnostics_uploaded`].
    DiagnosticsUploaded {
        /// How the upload ended.
        outcome: TransferOutcome,
    },
    /// [`ChargePoint::data_transfer`].
    DataTransfer {
        /// The request.
        request: DataTransferRequest,
    },
    /// [`ChargePoint::reply`].
    Reply {
        /// The decision answered.
        decision: Decision,
        /// The answer.
        reply: Reply,
    },
}

/// What a [`Command`] returned besides success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Nothing (the commands that return `()`).
    Done,
    /// The result of a set_configuration, whose refusals are its own
    /// ([`LocalSetError`], not a [`ChargePointError`]).
    Configuration(Result<(), LocalSetError>),
    /// The handle of an authorize.
    Authorize(AuthorizeHandle),
    /// What [`ChargePoint::stop_by_id_tag`] made of the id tag.
    IdTagAtTransaction(IdTagAtTransaction),
    /// The transaction a start or stop concerns.
    Transaction(TransactionKey),
    /// The call a data transfer made.
    Call(CallHandle),
}

impl ChargePoint {
    /// Runs `command`: the same as calling the method it names.
    pub fn apply(&mut self, now: Now, command: Command) -> Result<Applied, ChargePointError> {
        Ok(match command {
            Command::ReportStatus { connector, status } => {
                self.report_status(now, connector, status)?;
                Applied::Done
            }
            Command::PlugIn { connector } => done(self.plug_in(now, connector))?,
            Command::Unplug { connector } => done(self.unplug(now, connector))?,
            Command::EvSideDisconnected { connector } => {
                done(self.ev_side_disconnected(now, connector))?
            }
            Command::SetEvSuspended {
                connector,
                suspended,
            } => done(self.set_ev_suspended(now, connector, suspended))?,
            Command::SetEvseSuspended {
                connector,
                suspended,
            } => done(self.set_evse_suspended(now, connector, suspended))?,
            Command::ReportFault { connector, fault } => {
                done(self.report_fault(now, connector, fault))?
            }
            Command::ClearFault { connector } => done(self.clear_fault(now, connector))?,
            Command::Prepare { connector, id_tag } => done(self.prepare(now, connector, id_tag))?,
            Command::Authorize { id_tag } => Applied::Authorize(self.authorize(now, id_tag)?),
            Command::StopByIdTag { connector, id_tag } => {
                Applied::IdTagAtTransaction(self.stop_by_id_tag(now, connector, id_tag)?)
            }
            Command::StartTransaction {
                connector,
                id_tag,
                meter_start,
                reservation_id,
            } => Applied::Transaction(self.start_transaction(
                now,
                connector,
                id_tag,
                meter_start,
                reservation_id,
            )?),
            Command::StopTransaction {
                connector,
                meter_stop,
                reason,
                id_tag,
            } => Applied::Transaction(
                self.stop_transaction(now, connector, meter_stop, reason, id_tag)?,
            ),
            Command::ReportMeter {
                connector,
                meter_wh,
            } => {
                self.report_meter(connector, meter_wh)?;
                Applied::Done
            }
            Command::SetReadings {
                connector,
                readings,
            } => {
                self.set_readings(connector, readings)?;
                Applied::Done
            }
            Command::SetConfiguration { key, value } => {
                Applied::Configuration(self.set_configuration(now, &key, &value))
            }
            Command::SetLocalLimit { connector, limit } => {
                done(self.set_local_limit(now, connector, limit))?
            }
            Command::FirmwareDownloaded { outcome } => {
                done(self.firmware_downloaded(now, outcome))?
            }
            Command::FirmwareInstalled { outcome } => done(self.firmware_installed(now, outcome))?,
            Command::DiagnosticsUploaded { outcome } => {
                done(self.diagnostics_uploaded(now, outcome))?
            }
            Command::DataTransfer { request } => Applied::Call(self.data_transfer(now, request)?),
            Command::Reply { decision, reply } => {
                self.reply(now, decision, reply)?;
                Applied::Done
            }
        })
    }
}

/// A command that returns `()`: [`Applied::Done`].
fn done(result: Result<(), ChargePointError>) -> Result<Applied, ChargePointError> {
    result.map(|()| Applied::Done)
}

fn default_call_timeout_ms() -> u64 {
    30_000
}

fn default_boot_retry_ms() -> u64 {
    60_000
}

fn default_cache_capacity() -> usize {
    1_000
}

/// Everything a [`ChargePoint`] is built from, in a form a trace header carries: the
/// BootNotification, the initial values of standard configuration keys over the standard
/// table, the timing settings and the store snapshot restored at start.
///
/// Stations that need more of [`ChargePointConfig`] than this (keys of the application,
/// other profiles or accessibilities) cannot be recorded yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargePointSetup {
    /// What the station says in its BootNotification.
    pub boot: BootNotificationRequest,
    /// Initial values of standard configuration keys, by name, over the standard table.
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
    /// The RPC call timeout, ms.
    #[serde(default = "default_call_timeout_ms")]
    pub call_timeout_ms: u64,
    /// [`ChargePointConfig::boot_retry`], ms.
    #[serde(default = "default_boot_retry_ms")]
    pub boot_retry_ms: u64,
    /// [`InterruptedTransactions::Continue`] rather than StopAsPowerLoss.
    #[serde(default)]
    pub continue_interrupted: bool,
    /// [`ChargePointConfig::authorization_cache_capacity`].
    #[serde(default = "default_cache_capacity")]
    pub authorization_cache_capacity: usize,
    /// The store's records at start.
    #[serde(default)]
    pub snapshot: StoredSnapshot,
}

impl ChargePointSetup {
    /// The defaults of [`ChargePointConfig::new`] with the standard keys, a first start.
    pub fn new(boot: BootNotificationRequest) -> ChargePointSetup {
        ChargePointSetup {
            boot,
            keys: BTreeMap::new(),
            call_timeout_ms: default_call_timeout_ms(),
            boot_retry_ms: default_boot_retry_ms(),
            continue_interrupted: false,
            authorization_cache_capacity: default_cache_capacity(),
            snapshot: StoredSnapshot::default(),
        }
    }

    /// Sets the initial value of a standard key.
    pub fn key(mut self, key: StandardKey, value: &str) -> ChargePointSetup {
        self.keys.insert(key.name().to_owned(), value.to_owned());
        self
    }

    /// The configuration this setup stands for.
    pub fn config(&self) -> Result<ChargePointConfig, String> {
        let mut definitions = Definitions::builder();
        for (name, value) in &self.keys {
            let key = StandardKey::from_name(name)
                .ok_or_else(|| format!("{name} is not a standard configuration key"))?;
            definitions = definitions.initial(key, value);
        }
        let definitions = definitions.build().map_err(|e| e.to_string())?;
        let mut config = ChargePointConfig::new(self.boot.clone(), definitions);
        config.rpc.call_timeout = Duration::from_millis(self.call_timeout_ms);
        config.boot_retry = Duration::from_millis(self.boot_retry_ms);
        config.interrupted_transactions = if self.continue_interrupted {
            InterruptedTransactions::Continue
        } else {
            InterruptedTransactions::StopAsPowerLoss
        };
        config.authorization_cache_capacity = self.authorization_cache_capacity;
        Ok(config)
    }
}

impl Traced for ChargePoint {
    const ROLE: Role = Role::ChargePoint;
    type Setup = ChargePointSetup;
    type Command = Command;
    type Outcome = Result<Applied, ChargePointError>;

    fn from_setup(setup: &ChargePointSetup, ids: Box<dyn IdGenerator>) -> Result<Self, String> {
        let snapshot = setup.snapshot.to_snapshot()?;
        ChargePoint::new(setup.config()?, ids, &snapshot).map_err(|e| e.to_string())
    }

    fn apply_command(&mut self, now: Now, command: Command) -> Self::Outcome {
        self.apply(now, command)
    }
}

/// The Charge Point's commands, recorded; each returns what the method of the same name does.
impl Recorder<ChargePoint> {
    /// [`ChargePoint::report_status`], recorded.
    pub fn report_status(
        &mut self,
        now: Now,
        connector: u32,
        status: ConnectorStatus,
    ) -> Result<(), ChargePointError> {
        self.apply(now, Command::ReportStatus { connector, status })
            .map(drop)
    }

    /// [`ChargePoint::plug_in`], recorded.
    pub fn plug_in(&mut self, now: Now, connector: u32) -> Result<(), ChargePointError> {
        self.apply(now, Command::PlugIn { connector }).map(drop)
    }

    /// [`ChargePoint::unplug`], recorded.
    pub fn unplug(&mut self, now: Now, connector: u32) -> Result<(), ChargePointError> {
        self.apply(now, Command::Unplug { connector }).map(drop)
    }

    /// [`ChargePoint::ev_side_disconnected`], recorded.
    pub fn ev_side_disconnected(
        &mut self,
        now: Now,
        connector: u32,
    ) -> Result<(), ChargePointError> {
        self.apply(now, Command::EvSideDisconnected { connector })
            .map(drop)
    }

    /// [`ChargePoint::set_ev_suspended`], recorded.
    pub fn set_ev_suspended(
        &mut self,
        now: Now,
        connector: u32,
        suspended: bool,
    ) -> Result<(), ChargePointError> {
        let command = Command::SetEvSuspended {
            connector,
            suspended,
        };
        self.apply(now, command).map(drop)
    }

    /// [`ChargePoint::set_evse_suspended`], recorded.
    pub fn set_evse_suspended(
        &mut self,
        now: Now,
        connector: u32,
        suspended: bool,
    ) -> Result<(), ChargePointError> {
        let command = Command::SetEvseSuspended {
            connector,
            suspended,
        };
        self.apply(now, command).map(drop)
    }

    /// [`ChargePoint::report_fault`], recorded.
    pub fn report_fault(
        &mut self,
        now: Now,
        connector: u32,
        fault: Fault,
    ) -> Result<(), ChargePointError> {
        self.apply(now, Command::ReportFault { connector, fault })
            .map(drop)
    }

    /// [`ChargePoint::clear_fault`], recorded.
    pub fn clear_fault(&mut self, now: Now, connector: u32) -> Result<(), ChargePointError> {
        self.apply(now, Command::ClearFault { connector }).map(drop)
    }

    /// [`ChargePoint::prepare`], recorded.
    pub fn prepare(
        &mut self,
        now: Now,
        connector: u32,
        id_tag: impl Into<String>,
    ) -> Result<(), ChargePointError> {
        let id_tag = id_tag.into();
        self.apply(now, Command::Prepare { connector, id_tag })
            .map(drop)
    }

    /// [`ChargePoint::authorize`], recorded.
    pub fn authorize(
        &mut self,
        now: Now,
        id_tag: impl Into<String>,
    ) -> Result<AuthorizeHandle, ChargePointError> {
        let id_tag = id_tag.into();
        match self.apply(now, Command::Authorize { id_tag })? {
            Applied::Authorize(handle) => Ok(handle),
            other => unreachable_outcome(other),
        }
    }

    /// [`ChargePoint::stop_by_id_tag`], recorded.
    pub fn stop_by_id_tag(
        &mut self,
        now: Now,
        connector: u32,
        id_tag: impl Into<String>,
    ) -> Result<IdTagAtTransaction, ChargePointError> {
        let id_tag = id_tag.into();
        match self.apply(now, Command::StopByIdTag { connector, id_tag })? {
            Applied::IdTagAtTransaction(outcome) => Ok(outcome),
            other => unreachable_outcome(other),
        }
    }

    /// [`ChargePoint::start_transaction`], recorded.
    pub fn start_transaction(
        &mut self,
        now: Now,
        connector: u32,
        id_tag: impl Into<String>,
        meter_start: i32,
        reservation_id: Option<i32>,
    ) -> Result<TransactionKey, ChargePointError> {
        let command = Command::StartTransaction {
            connector,
            id_tag: id_tag.into(),
            meter_start,
            reservation_id,
        };
        transaction(self.apply(now, command)?)
    }

    /// [`ChargePoint::stop_transaction`], recorded.
    pub fn stop_transaction(
        &mut self,
        now: Now,
        connector: u32,
        meter_stop: i32,
        reason: Option<Reason>,
        id_tag: Option<String>,
    ) -> Result<TransactionKey, ChargePointError> {
        let command = Command::StopTransaction {
            connector,
            meter_stop,
            reason,
            id_tag,
        };
        transaction(self.apply(now, command)?)
    }

    /// [`ChargePoint::report_meter`], recorded.
    pub fn report_meter(
        &mut self,
        now: Now,
        connector: u32,
        meter_wh: i32,
    ) -> Result<(), ChargePointError> {
        let command = Command::ReportMeter {
            connector,
            meter_wh,
        };
        self.apply(now, command).map(drop)
    }

    /// [`ChargePoint::set_readings`], recorded.
    pub fn set_readings(
        &mut self,
        now: Now,
        connector: u32,
        readings: Vec<Reading>,
    ) -> Result<(), ChargePointError> {
        let command = Command::SetReadings {
            connector,
            readings,
        };
        self.apply(now, command).map(drop)
    }

    /// [`ChargePoint::set_configuration`], recorded.
    pub fn set_configuration(
        &mut self,
        now: Now,
        key: &str,
        value: &str,
    ) -> Result<(), LocalSetError> {
        let command = Command::SetConfiguration {
            key: key.to_owned(),
            value: value.to_owned(),
        };
        match self.apply(now, command) {
            Ok(Applied::Configuration(result)) => result,
            other => unreachable_outcome(other),
        }
    }

    /// [`ChargePoint::set_local_limit`], recorded.
    pub fn set_local_limit(
        &mut self,
        now: Now,
        connector: u32,
        limit: Option<ChargingLimit>,
    ) -> Result<(), ChargePointError> {
        self.apply(now, Command::SetLocalLimit { connector, limit })
            .map(drop)
    }

    /// [`ChargePoint::firmware_downloaded`], recorded.
    pub fn firmware_downloaded(
        &mut self,
        now: Now,
        outcome: TransferOutcome,
    ) -> Result<(), ChargePointError> {
        self.apply(now, Command::FirmwareDownloaded { outcome })
            .map(drop)
    }

    /// [`ChargePoint::firmware_installed`], recorded.
    pub fn firmware_installed(
        &mut self,
        now: Now,
        outcome: TransferOutcome,
    ) -> Result<(), ChargePointError> {
        self.apply(now, Command::FirmwareInstalled { outcome })
            .map(drop)
    }

    /// [`ChargePoint::diagnostics_uploaded`], recorded.
    pub fn diagnostics_uploaded(
        &mut self,
        now: Now,
        outcome: TransferOutcome,
    ) -> Result<(), ChargePointError> {
        self.apply(now, Command::DiagnosticsUploaded { outcome })
            .map(drop)
    }

    /// [`ChargePoint::data_transfer`], recorded.
    pub fn data_transfer(
        &mut self,
        now: Now,
        request: DataTransferRequest,
    ) -> Result<CallHandle, ChargePointError> {
        match self.apply(now, Command::DataTransfer { request })? {
            Applied::Call(handle) => Ok(handle),
            other => unreachable_outcome(other),
        }
    }

    /// [`ChargePoint::reply`], recorded.
    pub fn reply(
        &mut self,
        now: Now,
        decision: Decision,
        reply: Reply,
    ) -> Result<(), ChargePointError> {
        self.apply(now, Command::Reply { decision, reply })
            .map(drop)
    }
}

fn transaction(applied: Applied) -> Result<TransactionKey, ChargePointError> {
    match applied {
        Applied::Transaction(key) => Ok(key),
        other => unreachable_outcome(other),
    }
}

/// `apply` returns the variant of its command; anything else is a bug in `apply`.
fn unreachable_outcome<T>(applied: impl std::fmt::Debug) -> T {
    unreachable!("ChargePoint::apply returned {applied:?} for another command")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v16::ChargePointStatus;

    #[test]
    fn setups_build_their_configuration_and_refuse_unknown_keys() {
        let boot = BootNotificationRequest::new("V", "M");
        let setup = ChargePointSetup::new(boot.clone()).key(StandardKey::NumberOfConnectors, "3");
        let config = setup.config().unwrap();
        assert_eq!(config.boot, boot);
        assert_eq!(config.rpc.call_timeout, Duration::from_secs(30));
        let mut unknown = setup.clone();
        unknown.keys.insert("NoSuchKey".into(), "1".into());
        assert_eq!(
            unknown.config().unwrap_err(),
            "NoSuchKey is not a standard configuration key"
        );
        let mut invalid = setup;
        invalid
            .keys
            .insert("NumberOfConnectors".into(), "many".into());
        assert!(invalid.config().is_err());
    }

    #[test]
    fn commands_are_written_in_snake_case_with_their_arguments() {
        let command = Command::ReportStatus {
            connector: 1,
            status: ConnectorStatus::new(ChargePointStatus::Charging),
        };
        let json = serde_json::to_string(&command).unwrap();
        assert_eq!(
            json,
            r#"{"report_status":{"connector":1,"status":{"status":"Charging","error_code":"NoError"}}}"#
        );
        assert_eq!(serde_json::from_str::<Command>(&json).unwrap(), command);
    }
}
