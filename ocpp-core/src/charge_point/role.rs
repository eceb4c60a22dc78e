//! The OCPP 1.6 Charge Point state machine.
//!
//! This part covers registration, heartbeats and connector status: what a station must do from
//! power-on until it is accepted, and what it reports while it is. The application tells it
//! what the hardware knows ([`ChargePoint::plug_in`], [`ChargePoint::report_fault`] and the
//! like, or the status outright with [`ChargePoint::report_status`]); the machine derives the
//! statuses (see `connector`), and decides what to send and when.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::authorization::{AuthSettings, Authorization, InfoRecorded, LocalDecision, Source};
use super::config::{self, Configuration, Definitions, Profile, RestoreIssue, StandardKey};
use super::connector::{self, Cable, Condition, Facts, Fault, StackState};
use super::firmware::{Firmware, FirmwareSettings, Notice, TransferError, TransferOutcome};
use super::ledger::{Ledger, TransactionKey};
use super::metering::{self, Metering, Reading};
use super::reservation::{Reservation, ReservationEnd, Reservations};
use super::smart_charging::{self, ChargingLimit, Rejection, RunningTransaction, SmartCharging};
use crate::machine::{Completes, Machine, Output};
use crate::message::OcppRequest;
use crate::persist::{Snapshot, StoreOp};
use crate::primitives::Decimal;
use crate::rpc::{
    AcceptedActions, CallFailure, CallHandle, CallRefused, Endpoint, EndpointConfig, HeldCall,
    IdGenerator, PeerError, RespondError, RpcEvent,
};
use crate::time::{Monotonic, Now};
use crate::v16::{
    self, AuthorizationStatus, AuthorizeRequest, AuthorizeResponse, AvailabilityStatus,
    AvailabilityType, BootNotificationRequest, BootNotificationResponse, CancelReservationResponse,
    CancelReservationStatus, ChangeAvailabilityResponse, ChangeConfigurationResponse,
    ChargePointErrorCode, ChargePointStatus, ChargingProfile, DataTransferRequest,
    DataTransferResponse, DiagnosticsStatusNotificationRequest, FirmwareStatusNotificationRequest,
    GetDiagnosticsRequest, GetDiagnosticsResponse, HeartbeatRequest, HeartbeatResponse, IdTagInfo,
    MessageTrigger, Reason, RegistrationStatus, RemoteStartStopStatus,
    RemoteStartTransactionResponse, RemoteStopTransactionResponse, ReservationStatus,
    ReserveNowRequest, ReserveNowResponse, ResetResponse, ResetStatus, ResetType,
    StartTransactionRequest, StartTransactionResponse, StatusNotificationRequest,
    StopTransactionRequest, StopTransactionResponse, TriggerMessageRequest, TriggerMessageResponse,
    TriggerMessageStatus, UnlockConnectorResponse, UnlockStatus, UpdateFirmwareResponse,
};
use crate::v16::{ChargingProfileStatus, ClearChargingProfileResponse, SetChargingProfileResponse};
use crate::{ErrorCode, Version};

/// The collection connector states are persisted in; keys are the connector id, zero-padded
/// to four digits so they sort numerically.
pub const CONNECTOR_STATUS_COLLECTION: &str = "cp16.connector-status";

/// Settings of a [`ChargePoint`] that do not change while it runs.
#[derive(Debug, Clone)]
pub struct ChargePointConfig {
    /// What the station says about itself in every BootNotification.
    pub boot: BootNotificationRequest,
    /// The configuration keys the station has, with their initial values and limits. The
    /// number of connectors is the read-only `NumberOfConnectors`: ids run from 1, and 0 is
    /// the station as a whole (1.6 section 3.8). Values the Central System changed are
    /// restored from the store over these.
    pub definitions: Definitions,
    /// Settings of the RPC layer. Its version must be 1.6 and its accepted actions are set by
    /// the machine.
    pub rpc: EndpointConfig,
    /// How long to wait before another BootNotification when the Central System gives an
    /// interval of 0 or does not answer (section 4.2 leaves the choice to the station). Default
    /// 60 s.
    pub boot_retry: Duration,
    /// What to do at start-up with transactions that were running when the station went
    /// down.
    pub interrupted_transactions: InterruptedTransactions,
    /// How many id tags the Authorization Cache holds (section 3.5.1 leaves the size to the
    /// station); the least recently used not-valid entry goes first. Default 1,000.
    pub authorization_cache_capacity: usize,
    /// Firmware updates and diagnostics uploads where the protocol leaves the choice to the
    /// station (Firmware Management profile).
    pub firmware: FirmwareSettings,
    /// The set voltage of the area, for converting charging limits between A and W (section
    /// 7.12). Default 230 V.
    pub nominal_voltage: Decimal,
    /// What one connector can deliver: a Composite Schedule reports it where no charging
    /// profile or local limit applies. Default 32 A on 3 phases.
    pub connector_rating: ChargingLimit,
}

/// What becomes of a transaction that was running when the station lost power or was reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InterruptedTransactions {
    /// End it with a StopTransaction of reason PowerLoss and the last meter reading known
    /// (section 4.10: "If the transaction is not ended normally, the Reason SHOULD be set to a
    /// correct value"). The default: most hardware stops charging without power.
    #[default]
    StopAsPowerLoss,
    /// Keep it running: the hardware kept charging (e.g. the controller restarted, not the
    /// power electronics). The application stops it later as usual.
    Continue,
}

impl ChargePointConfig {
    /// Defaults for a station that boots with `boot` and has the keys of `definitions`.
    pub fn new(boot: BootNotificationRequest, definitions: Definitions) -> ChargePointConfig {
        ChargePointConfig {
            boot,
            definitions,
            rpc: EndpointConfig::new(),
            boot_retry: Duration::from_secs(60),
            interrupted_transactions: InterruptedTransactions::StopAsPowerLoss,
            authorization_cache_capacity: 1_000,
            firmware: FirmwareSettings::default(),
            nominal_voltage: Decimal::from(230),
            connector_rating: ChargingLimit::amps(Decimal::from(32), 3),
        }
    }
}

/// Where the station stands with the Central System (1.6 section 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// No BootNotification answered since power-on: only BootNotification may be sent.
    Unregistered,
    /// Accepted: everything may be sent.
    Accepted,
    /// Pending: the Central System may configure the station; the station sends requests only
    /// when triggered, and boots again after the interval.
    Pending,
    /// Rejected: nothing is sent and nothing is answered until the interval has passed.
    Rejected,
}

/// A connector's status as the application reports it (the fields of StatusNotification
/// besides the connector and the time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorStatus {
    /// The status.
    pub status: ChargePointStatus,
    /// The error, `NoError` when there is none.
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

impl ConnectorStatus {
    /// A status without an error.
    pub fn new(status: ChargePointStatus) -> ConnectorStatus {
        ConnectorStatus {
            status,
            error_code: ChargePointErrorCode::NoError,
            info: None,
            vendor_id: None,
            vendor_error_code: None,
        }
    }
}

/// What the machine tells the application.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The Central System answered a BootNotification.
    Registered {
        /// Its verdict.
        status: RegistrationStatus,
        /// Accepted: the heartbeat interval; otherwise the wait before the next
        /// BootNotification.
        interval: Duration,
    },
    /// The Central System's time (from a BootNotification or Heartbeat answer). The machine
    /// corrects its own timestamps by `offset`; the application may set its clock.
    ClockSynchronized {
        /// The Central System's time.
        central_system_time: OffsetDateTime,
        /// How far the caller's wall clock is behind it.
        offset: time::Duration,
    },
    /// The verdict on [`ChargePoint::authorize`]: at once when the Local Authorization List
    /// or the Authorization Cache decides (section 3.5), otherwise when the Central System
    /// answers. Only `status: Accepted` authorizes.
    Authorized {
        /// The handle `authorize` returned.
        handle: AuthorizeHandle,
        /// The id tag asked about.
        id_tag: String,
        /// The verdict, or why the Central System gave none.
        result: Result<IdTagInfo, CallFailure>,
        /// Where a local verdict comes from; `None` when the Central System decided.
        source: Option<Source>,
    },
    /// The answer to [`ChargePoint::data_transfer`].
    DataTransferAnswered {
        /// The handle `data_transfer` returned.
        handle: CallHandle,
        /// The Central System's answer, or why there is none.
        result: Result<DataTransferResponse, CallFailure>,
    },
    /// The Central System sent a DataTransfer (section 5.6); answer it with
    /// [`ChargePoint::reply`] and a [`Reply::DataTransfer`]. Vendor-specific data is the
    /// application's business; an application that knows no vendors answers
    /// `UnknownVendorId`.
    DataTransferRequested {
        /// What to pass to [`ChargePoint::reply`].
        decision: Decision,
        /// The request.
        request: DataTransferRequest,
    },
    /// The Central System changed a configuration key (ChangeConfiguration), or the station
    /// did (the heartbeat interval of a BootNotification answer). The new value is persisted
    /// before the answer goes out.
    ConfigurationChanged {
        /// The key's name.
        key: String,
        /// The new value; `None` for write-only keys (AuthorizationKey), which are never
        /// echoed.
        value: Option<String>,
        /// It takes effect only after the next start (`RebootRequired`).
        after_reboot: bool,
    },
    /// A stored configuration record was not applied at start-up (see
    /// [`config::Configuration::restore`]); the key keeps its initial value.
    ConfigurationNotRestored(RestoreIssue),
    /// The Central System answered a StartTransaction: the transaction has its id.
    TransactionStarted {
        /// The station's number for it.
        transaction: TransactionKey,
        /// The connector.
        connector: u32,
        /// The Central System's transaction id.
        transaction_id: i32,
        /// The verdict on the id tag.
        id_tag_info: IdTagInfo,
    },
    /// StartTransaction.conf did not accept the id tag (section 3.5.4). With
    /// `StopTransactionOnInvalidId` the machine has stopped the transaction (reason
    /// DeAuthorized) and the application must end the energy transfer; without it the
    /// application must only suspend the energy transfer, the transaction goes on.
    TransactionDeauthorized {
        /// The transaction.
        transaction: TransactionKey,
        /// The connector.
        connector: u32,
        /// The verdict.
        id_tag_info: IdTagInfo,
        /// Whether the machine stopped the transaction.
        stopped: bool,
    },
    /// The Central System acknowledged a StopTransaction: the transaction is complete.
    TransactionEnded {
        /// The transaction.
        transaction: TransactionKey,
        /// Its id (-1 if the StartTransaction never got through).
        transaction_id: i32,
        /// The verdict on the id tag that stopped it, if the Central System gave one.
        id_tag_info: Option<IdTagInfo>,
    },
    /// A transaction was running when the station went down (reported at the first input
    /// after start-up); `stopped` says whether it was ended as PowerLoss.
    TransactionInterrupted {
        /// The transaction.
        transaction: TransactionKey,
        /// The connector.
        connector: u32,
        /// Whether the machine queued its StopTransaction.
        stopped: bool,
    },
    /// A transaction-related message was given up after the Central System failed to process
    /// it `TransactionMessageAttempts` times (section 3.7.1).
    TransactionMessageDiscarded {
        /// The transaction.
        transaction: TransactionKey,
        /// The message's action.
        action: String,
    },
    /// The Central System asks to start a transaction (section 5.11); the machine already
    /// refused what the protocol forbids (connector 0 or unknown, a transaction running, the
    /// connector unavailable, the station pending). Reply with [`Reply::RemoteStart`]; once
    /// accepted, start the transaction with [`ChargePoint::start_transaction`] when the EV is
    /// ready, after authorizing the id tag first if `authorize_first`
    /// (`AuthorizeRemoteTxRequests`).
    RemoteStartRequested {
        /// What to pass to [`ChargePoint::reply`].
        decision: Decision,
        /// The connector asked for; `None` leaves the choice to the station (which may
        /// refuse).
        connector: Option<u32>,
        /// The id tag to start with.
        id_tag: String,
        /// A TxProfile for the transaction, if the Central System sent one (boxed: rare and
        /// large, and every output of the machine would be as large).
        charging_profile: Option<Box<ChargingProfile>>,
        /// Authorize the id tag before starting (section 5.11).
        authorize_first: bool,
    },
    /// The transaction on `connector` must stop (RemoteStopTransaction, Reset,
    /// UnlockConnector): end the energy transfer, then call
    /// [`ChargePoint::stop_transaction`] with `reason` and the final meter reading.
    StopRequested {
        /// The connector.
        connector: u32,
        /// The transaction.
        transaction: TransactionKey,
        /// The reason to report.
        reason: Reason,
    },
    /// An id tag presented with [`ChargePoint::stop_by_id_tag`] ended the transaction on
    /// `connector`: the id tag that started it, or one of its group (section 3.5: the same
    /// parent id tag). The machine has stopped the transaction (reason Local, the meter last
    /// reported, `id_tag` in the StopTransaction); the application must end the energy
    /// transfer.
    TransactionStoppedByIdTag {
        /// The connector.
        connector: u32,
        /// The transaction.
        transaction: TransactionKey,
        /// The id tag that stopped it.
        id_tag: String,
    },
    /// The Central System asks for a reset (section 5.14). Reply with [`Reply::Reset`]; on
    /// `Accepted` the machine asks for every running transaction to be stopped
    /// ([`Event::StopRequested`]), then the application restarts (soft: the software; hard:
    /// the hardware).
    ResetRequested {
        /// What to pass to [`ChargePoint::reply`].
        decision: Decision,
        /// Soft or hard.
        kind: ResetType,
    },
    /// The Central System asks to unlock a connector (section 5.18). If `transaction` runs,
    /// stop it first (reason UnlockCommand), then try the lock and reply with
    /// [`Reply::Unlock`].
    UnlockRequested {
        /// What to pass to [`ChargePoint::reply`].
        decision: Decision,
        /// The connector.
        connector: u32,
        /// The transaction running on it, if any.
        transaction: Option<TransactionKey>,
    },
    /// A connector (0: the whole station) became operative or inoperative (section 5.2). The
    /// machine reports the status (Unavailable / the application's status again) itself.
    AvailabilityChanged {
        /// The connector.
        connector: u32,
        /// Operative (may charge) or not.
        operative: bool,
    },
    /// The driver did not plug in within `ConnectionTimeOut` after being authorized for the
    /// connector (`id_tag`), or plugged in and presented no id tag in time (`None`): the
    /// session is given up (section 9.1.6, errata 3.20). Do not start a transaction for it.
    ConnectionTimedOut {
        /// The connector.
        connector: u32,
        /// The id tag that was authorized, if any.
        id_tag: Option<String>,
    },
    /// The cable was unplugged at the EV side (see [`ChargePoint::ev_side_disconnected`]).
    EvDisconnected {
        /// The connector.
        connector: u32,
        /// The transaction that was running on it, if one was.
        transaction: Option<TransactionKey>,
        /// The machine stopped the transaction with reason EVDisconnected
        /// (`StopTransactionOnEVSideDisconnect`): end the energy transfer. Otherwise a
        /// transaction goes on, suspended until the cable is back.
        stopped: bool,
        /// Unlock the cable at the station's side (`UnlockConnectorOnEVSideDisconnect`).
        unlock: bool,
    },
    /// The Central System reserved a connector (ReserveNow, section 5.13); the machine
    /// reports it Reserved and refuses other id tags there.
    ReservationMade(Reservation),
    /// A reservation ended; the machine reports the connector's status again.
    ReservationEnded {
        /// The reservation.
        reservation: Reservation,
        /// Why.
        reason: ReservationEnd,
    },
    /// The limit on what `connector` (0: the whole station) may draw changed (section 3.13):
    /// a charging profile was set, cleared, began or ended, a schedule period began, a
    /// transaction started or stopped, or the application's local limit changed. The
    /// application applies it to the hardware.
    ChargingLimitChanged {
        /// The connector.
        connector: u32,
        /// The limit; `None` when nothing limits the connector.
        limit: Option<ChargingLimit>,
    },
    /// A call the machine made failed; it retries where the protocol says so.
    CallFailed {
        /// The action.
        action: String,
        /// Why.
        failure: CallFailure,
    },
    /// A message the machine wanted to send was refused by the RPC layer before sending,
    /// e.g. a StatusNotification whose `info` breaks the schema's length limit.
    CallRefused {
        /// The action.
        action: String,
        /// Why.
        reason: CallRefused,
    },
    /// Download the firmware at `location` now (UpdateFirmware, section 5.19: the retrieve
    /// date has come), then report with [`ChargePoint::firmware_downloaded`]. `attempt`
    /// counts from 1; a failed download is asked for again after the retry interval while
    /// retries remain.
    FirmwareDownloadRequested {
        /// Where to download from (the protocol is in the URI, chapter 8).
        location: String,
        /// Which attempt this is.
        attempt: u32,
    },
    /// Install the downloaded firmware now (no transaction runs any more, or the station
    /// installs while charging), then report with [`ChargePoint::firmware_installed`], before
    /// or after restarting into it (errata 3.47 recommends after).
    FirmwareInstallRequested {
        /// Where the firmware came from.
        location: String,
    },
    /// A newer UpdateFirmware replaced the update whose download was asked for: drop it.
    FirmwareUpdateCancelled {
        /// Where the dropped firmware came from.
        location: String,
    },
    /// The Central System asks for diagnostics (GetDiagnostics, section 5.9). Reply with
    /// [`Reply::Diagnostics`]: the name of the file that will be uploaded, or none if there
    /// is no diagnostic information. The upload itself is asked for with
    /// [`Event::DiagnosticsUploadRequested`].
    DiagnosticsRequested {
        /// What to pass to [`ChargePoint::reply`].
        decision: Decision,
        /// Where the file will go.
        location: String,
        /// The oldest logging information to include, if limited.
        start_time: Option<OffsetDateTime>,
        /// The latest logging information to include, if limited.
        stop_time: Option<OffsetDateTime>,
    },
    /// Upload the diagnostics file now, then report with
    /// [`ChargePoint::diagnostics_uploaded`]. `attempt` counts from 1.
    DiagnosticsUploadRequested {
        /// Where to upload to (a directory URI, chapter 8).
        location: String,
        /// The file name given in the GetDiagnostics answer.
        file_name: String,
        /// The oldest logging information to include, if limited.
        start_time: Option<OffsetDateTime>,
        /// The latest logging information to include, if limited.
        stop_time: Option<OffsetDateTime>,
        /// Which attempt this is.
        attempt: u32,
    },
    /// The Central System sent something wrong; it was answered or dropped per the spec.
    PeerError {
        /// What was wrong.
        error: PeerError,
        /// The CallError code sent back, if any.
        answered: Option<ErrorCode>,
    },
}

/// A request of the Central System that waits for the application's decision; see
/// [`ChargePoint::reply`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Decision(String);

/// The application's answer to a request it was asked to decide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The answer to [`Event::DataTransferRequested`].
    DataTransfer(DataTransferResponse),
    /// The answer to [`Event::RemoteStartRequested`]: whether the station will try to start
    /// the transaction.
    RemoteStart(RemoteStartStopStatus),
    /// The answer to [`Event::ResetRequested`]: whether the station will reset.
    Reset(ResetStatus),
    /// The answer to [`Event::UnlockRequested`]: what the lock did.
    Unlock(UnlockStatus),
    /// The answer to [`Event::DiagnosticsRequested`]: the file that will be uploaded, or
    /// `None` when there is no diagnostic information (section 5.9).
    Diagnostics {
        /// The file's name (at most 255 characters).
        file_name: Option<String>,
    },
}

impl Reply {
    fn action(&self) -> &'static str {
        match self {
            Reply::DataTransfer(_) => "DataTransfer",
            Reply::RemoteStart(_) => "RemoteStartTransaction",
            Reply::Reset(_) => "Reset",
            Reply::Unlock(_) => "UnlockConnector",
            Reply::Diagnostics { .. } => "GetDiagnostics",
        }
    }
}

/// Identifies one [`ChargePoint::authorize`] to its [`Event::Authorized`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuthorizeHandle(u64);

/// What [`ChargePoint::stop_by_id_tag`] makes of an id tag presented at a connector with a
/// transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTagAtTransaction {
    /// The id tag started the transaction: the machine stopped it at once, asking nobody
    /// (OCTT TC_068_CS); [`Event::TransactionStoppedByIdTag`] is among this call's outputs.
    Stopped,
    /// Another id tag, and the group of the transaction's id tag is known: its verdict is
    /// asked for as [`ChargePoint::authorize`] does. [`Event::Authorized`] with this handle
    /// tells it; if the id tag is Accepted with the transaction's parent id tag, the machine
    /// stops the transaction in the same step and [`Event::TransactionStoppedByIdTag`]
    /// follows (OCTT TC_069_CS).
    Authorizing(AuthorizeHandle),
    /// Another id tag, and the transaction's id tag has no parent id tag the station knows
    /// of: no other id tag is of its group, so nothing is asked and nothing stops (OCTT
    /// TC_068_CS, step 1: no Authorize, no StopTransaction).
    NotOfTheGroup,
}

/// An id tag of another driver being authorized to stop a transaction of its group.
#[derive(Debug, Clone)]
struct StopCandidate {
    handle: AuthorizeHandle,
    connector: u32,
    transaction: TransactionKey,
    /// The parent id tag of the transaction's id tag.
    parent: String,
}

/// How many id tags may be waiting for their verdict to stop a transaction at once: one per
/// connector is plenty; the oldest gives way.
const STOP_CANDIDATES: usize = 16;

/// The application's commands whose outcome comes later as an event: what
/// [`Completes::completes`] says an event ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Completion {
    /// [`ChargePoint::authorize`], ended by [`Event::Authorized`].
    Authorize(AuthorizeHandle),
    /// [`ChargePoint::data_transfer`], ended by [`Event::DataTransferAnswered`].
    DataTransfer(CallHandle),
}

impl Completes for Event {
    type Key = Completion;

    fn completes(&self) -> Option<Completion> {
        match self {
            Event::Authorized { handle, .. } => Some(Completion::Authorize(*handle)),
            Event::DataTransferAnswered { handle, .. } => Some(Completion::DataTransfer(*handle)),
            _ => None,
        }
    }
}

/// Why a command of the application was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChargePointError {
    /// There is no connection to the Central System: messages that are not transaction
    /// messages fail fast rather than wait.
    #[error("not connected to the Central System")]
    Offline,
    /// The Central System has not accepted the station (section 4.2: before acceptance only
    /// BootNotification may be sent, and while pending only what it triggers).
    #[error("the Central System has not accepted the station ({0:?})")]
    NotAccepted(Registration),
    /// The RPC layer refused the message, e.g. a payload that breaks its schema.
    #[error(transparent)]
    Refused(#[from] CallRefused),
    /// No request of the Central System waits for this decision: it was answered already, or
    /// its connection closed (the Central System will have timed it out).
    #[error("no request waits for decision {0:?}")]
    UnknownDecision(Decision),
    /// The reply does not answer the request it was given for.
    #[error("a {reply} reply cannot answer a {request} request")]
    WrongReply {
        /// The action of the waiting request.
        request: String,
        /// The action the reply answers.
        reply: &'static str,
    },
    /// A transaction runs on the connector already.
    #[error("a transaction runs on connector {0} already")]
    TransactionRunning(u32),
    /// No transaction runs on the connector.
    #[error("no transaction runs on connector {0}")]
    NoTransaction(u32),
    /// Transactions run on connectors 1 and up, never on 0 (section 3.8).
    #[error("transactions run on connectors 1 and up, not on 0")]
    ConnectorZero,
    /// The reply breaks its schema; the Central System was sent an InternalError instead.
    #[error("invalid {action} reply: {description}")]
    InvalidReply {
        /// The action.
        action: String,
        /// What is wrong.
        description: String,
    },
    /// The connector is reserved for another id tag (section 5.13), or it is the last free
    /// connector and a reservation of "any connector" holds it. An id tag whose parent id tag
    /// the station does not know (neither the Local Authorization List nor the cache has it)
    /// is authorized first with [`ChargePoint::authorize`]: the Central System's answer names
    /// the parent.
    #[error("connector {connector} is reserved (reservation {reservation_id})")]
    Reserved {
        /// The connector.
        connector: u32,
        /// The reservation that holds it.
        reservation_id: i32,
    },
    /// A fault needs an error code other than `NoError`.
    #[error("a fault needs an error code other than NoError")]
    NoErrorIsNoFault,
    /// The connector id is above the configured number of connectors.
    #[error("connector {connector} does not exist (the station has {connectors})")]
    UnknownConnector {
        /// The id given.
        connector: u32,
        /// The configured number of connectors.
        connectors: u32,
    },
    /// A report on a firmware or diagnostics transfer the machine did not ask for.
    #[error(transparent)]
    Transfer(#[from] TransferError),
}

/// Why a snapshot could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// A stored record does not decode; the store was written by an incompatible version or is
    /// damaged.
    #[error("stored record {collection}/{key} is unreadable: {reason}")]
    BadRecord {
        /// Its collection.
        collection: &'static str,
        /// Its key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// The record a connector's facts are persisted as. Version 1 held only the status the
/// application reported, which restores as that status reported outright.
#[derive(Debug, Serialize, Deserialize)]
struct StatusRecord {
    /// Format version of the record.
    v: u32,
    #[serde(flatten)]
    facts: Facts,
}

const STATUS_RECORD_VERSION: u32 = 2;

#[derive(Debug)]
struct Connector {
    /// What the hardware and the application said, persisted.
    facts: Facts,
    /// The status last derived from the facts and the stack's state.
    status: ConnectorStatus,
    /// An authorized driver (or a remote start) waiting for the cable: the id tag, and since
    /// when (for `ConnectionTimeOut`).
    session: Option<(String, Monotonic)>,
    /// When the cable was plugged in without a driver authorized (for `ConnectionTimeOut`).
    plugged_at: Option<Monotonic>,
    /// When `status` changed (for `MinimumStatusDuration` and the message timestamp).
    changed_at: Monotonic,
    changed_at_wall: Option<OffsetDateTime>,
    /// What the Central System was last told, if anything since the last registration.
    reported: Option<ConnectorStatus>,
    /// A StatusNotification of this connector is in flight.
    in_flight: bool,
    /// A TriggerMessage asked for this connector's status.
    triggered: bool,
}

/// What an outgoing call of the machine was for.
#[derive(Debug)]
enum Purpose {
    Boot,
    Heartbeat,
    Status {
        connector: u32,
        sent: ConnectorStatus,
    },
    Authorize {
        id_tag: String,
        handle: AuthorizeHandle,
    },
    DataTransfer,
    /// The head of the transaction queue.
    Queued,
    /// A one-off notification (LocalListConflict) whose answer changes nothing.
    Notice,
    /// The head of the firmware and diagnostics status notifications.
    TransferNotice,
}

/// The OCPP 1.6 Charge Point state machine. Drive it through [`Machine`].
pub struct ChargePoint {
    config: ChargePointConfig,
    endpoint: Endpoint,
    connected: bool,
    registration: Registration,
    /// When the next BootNotification may go out (while not accepted).
    next_boot: Monotonic,
    boot_triggered: bool,
    /// Connectors whose meter values a TriggerMessage asked for.
    triggered_meter_values: BTreeSet<u32>,
    heartbeat_triggered: bool,
    configuration: Configuration,
    authorization: Authorization,
    next_authorize: u64,
    metering: Metering,
    /// The stored metering records, until the first input brings the time to rebuild the
    /// schedules from (they are checked at construction).
    metering_records: Option<Snapshot>,
    ledger: Ledger,
    /// The head of the transaction queue is in flight.
    queue_busy: bool,
    /// Transactions found running at start-up, dealt with at the first input or command
    /// (which brings the time), before anything else.
    interrupted: Vec<TransactionKey>,
    /// Connectors set Inoperative (0: the whole station).
    inoperative: BTreeSet<u32>,
    /// Availability changes waiting for a transaction to end.
    scheduled: BTreeMap<u32, AvailabilityType>,
    /// The reset accepted before the last restart, which decides the reason of the
    /// transactions it interrupted.
    reset_before_start: Option<ResetType>,
    /// Requests to reset waiting for the application, with their kind.
    pending_resets: BTreeMap<Decision, ResetType>,
    /// Remote starts for a given connector waiting for the application: the connector and
    /// the id tag, prepared once accepted.
    pending_remote_starts: BTreeMap<Decision, (u32, String)>,
    reservations: Reservations,
    /// When the next reservation expires, by the clock of the last input.
    reservation_deadline: Option<Monotonic>,
    /// Parent id tags of the latest verdicts of the Central System, most recent last: what a
    /// reservation for a parent id tag is checked against when neither the Local
    /// Authorization List nor the cache knows the id tag (section 5.13).
    recent_parents: VecDeque<(String, String)>,
    /// Id tags whose verdict decides whether they stop a transaction of their group.
    stop_candidates: Vec<StopCandidate>,
    /// When the last frame went to the Central System: heartbeats are only needed when the
    /// line has been quiet (section 4.6).
    last_sent: Monotonic,
    /// Added to the caller's wall clock for timestamps: the Central System's clock rules.
    clock_offset: time::Duration,
    connectors: Vec<Connector>,
    calls: BTreeMap<CallHandle, Purpose>,
    /// Requests of the Central System waiting for the application, with their action.
    decisions: BTreeMap<Decision, &'static str>,
    /// Firmware updates, diagnostics uploads and their status notifications.
    firmware: Firmware,
    /// GetDiagnostics requests waiting for the application.
    pending_diagnostics: BTreeMap<Decision, GetDiagnosticsRequest>,
    /// A TriggerMessage asked for a FirmwareStatusNotification.
    firmware_triggered: bool,
    /// A TriggerMessage asked for a DiagnosticsStatusNotification.
    diagnostics_triggered: bool,
    /// Charging profiles and local limits (section 3.13).
    smart: SmartCharging,
    /// The limit each connector was last told ([`Event::ChargingLimitChanged`]); absent is
    /// none, and when the next may change.
    charging_limits: BTreeMap<u32, ChargingLimit>,
    next_limit_change: Option<Monotonic>,
    outputs: VecDeque<Output<Event>>,
}

impl std::fmt::Debug for ChargePoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChargePoint")
            .field("registration", &self.registration)
            .field("connected", &self.connected)
            .field("connectors", &self.connectors)
            .finish_non_exhaustive()
    }
}

/// The Firmware Management actions, answered when the station has that profile.
const FIRMWARE_ACTIONS: [&str; 2] = ["GetDiagnostics", "UpdateFirmware"];

/// The actions of the Central System this machine answers; the rest of 1.6 is answered
/// `NotSupported` until the features that handle them exist.
const HANDLED_ACTIONS: [&str; 14] = [
    "CancelReservation",
    "ChangeAvailability",
    "ChangeConfiguration",
    "ClearCache",
    "DataTransfer",
    "GetConfiguration",
    "GetLocalListVersion",
    "SendLocalList",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "ReserveNow",
    "Reset",
    "TriggerMessage",
    "UnlockConnector",
];

/// How many parent id tags of the Central System's verdicts the station remembers for
/// reservations: enough for the drivers at its connectors at any one time.
const RECENT_PARENTS: usize = 16;

/// The actions of the Smart Charging profile, answered when it is supported.
const SMART_CHARGING_ACTIONS: [&str; 3] = [
    "ClearChargingProfile",
    "GetCompositeSchedule",
    "SetChargingProfile",
];

/// Where connector availability (ChangeAvailability) is persisted, section 5.2: "Connector
/// set to Unavailable shall persist a reboot". Key: the connector, four digits; value:
/// `inoperative`, or a change `scheduled-operative` / `scheduled-inoperative` waiting for a
/// transaction to end.
pub const AVAILABILITY_COLLECTION: &str = "cp16.availability";

/// Where the station notes an accepted Reset, so that after the restart the transactions it
/// interrupted are stopped with reason HardReset / SoftReset rather than PowerLoss.
const STATE_COLLECTION: &str = "cp16.state";
const RESET_KEY: &str = "reset";

impl ChargePoint {
    /// A station as it powers on, with the state restored from `snapshot` (empty on the first
    /// start). Every connector whose status was never stored starts `Available`.
    pub fn new(
        config: ChargePointConfig,
        ids: Box<dyn IdGenerator>,
        snapshot: &Snapshot,
    ) -> Result<ChargePoint, RestoreError> {
        let (configuration, issues) = Configuration::restore(config.definitions.clone(), snapshot);
        let connector_count = configuration.number_of_connectors();
        let mut rpc = config.rpc.clone();
        // Section 5.13 answers Rejected for a station "configured not to accept
        // reservations", and OCTT TC_048_4_CS / TC_050_4_CS expect exactly that of one without
        // the Reservation profile: its actions are always answered (see `reserve_now`).
        // Errata 3.39: without Smart Charging its requests are answered NotSupported.
        let optional = [
            (Profile::FirmwareManagement, &FIRMWARE_ACTIONS[..]),
            (Profile::SmartCharging, &SMART_CHARGING_ACTIONS[..]),
        ];
        let supported = optional
            .into_iter()
            .filter(|(profile, _)| configuration.supports(*profile))
            .flat_map(|(_, actions)| actions.iter().copied());
        rpc.accepted_actions = AcceptedActions::only(
            HANDLED_ACTIONS
                .into_iter()
                .chain(supported)
                .filter_map(v16::Action::from_name),
        );
        let mut connectors: Vec<Connector> = (0..=connector_count)
            .map(|_| Connector {
                facts: Facts::default(),
                status: ConnectorStatus::new(ChargePointStatus::Available),
                session: None,
                plugged_at: None,
                changed_at: Monotonic::ZERO,
                changed_at_wall: None,
                reported: None,
                in_flight: false,
                triggered: false,
            })
            .collect();
        for (key, value) in snapshot.records(CONNECTOR_STATUS_COLLECTION) {
            let bad = |reason: String| RestoreError::BadRecord {
                collection: CONNECTOR_STATUS_COLLECTION,
                key: key.to_owned(),
                reason,
            };
            let id: usize = key.parse().map_err(|_| bad("not a connector id".into()))?;
            let record: Value = serde_json::from_slice(value).map_err(|e| bad(e.to_string()))?;
            let facts = match record.get("v").and_then(Value::as_u64) {
                Some(1) => Facts {
                    explicit: Some(
                        ConnectorStatus::deserialize(&record).map_err(|e| bad(e.to_string()))?,
                    ),
                    ..Facts::default()
                },
                Some(2) => {
                    StatusRecord::deserialize(&record)
                        .map_err(|e| bad(e.to_string()))?
                        .facts
                }
                other => return Err(bad(format!("record version {other:?} is unknown"))),
            };
            // A connector beyond the configured count was removed from the hardware.
            if let Some(connector) = connectors.get_mut(id) {
                connector.facts = facts;
            }
        }
        let ledger = Ledger::restore(snapshot)?;
        let firmware = Firmware::restore(snapshot)?;
        let reservations = Reservations::restore(snapshot)?;
        let authorization = Authorization::restore(config.authorization_cache_capacity, snapshot)?;
        let mut metering_records = Snapshot::new();
        for (key, value) in snapshot.records(metering::COLLECTION) {
            metering_records.insert(metering::COLLECTION, key.to_owned(), value.to_vec());
        }
        // Checked now so that a damaged record is a construction error like the others.
        let placeholder = Now::new(Monotonic::ZERO, OffsetDateTime::UNIX_EPOCH);
        Metering::restore(&metering_records, placeholder)?;
        let interrupted = ledger.running().map(|t| t.key).collect();
        let mut smart = SmartCharging::restore(snapshot)?;
        let mut orphans = Vec::new();
        smart.drop_orphans(&running_transactions(&ledger), &mut orphans);
        let mut inoperative = BTreeSet::new();
        let mut scheduled = BTreeMap::new();
        for (key, value) in snapshot.records(AVAILABILITY_COLLECTION) {
            let bad = |reason: &str| RestoreError::BadRecord {
                collection: AVAILABILITY_COLLECTION,
                key: key.to_owned(),
                reason: reason.to_owned(),
            };
            let connector: u32 = key.parse().map_err(|_| bad("not a connector id"))?;
            match value {
                b"inoperative" => {
                    inoperative.insert(connector);
                }
                b"scheduled-inoperative" => {
                    scheduled.insert(connector, AvailabilityType::Inoperative);
                }
                b"scheduled-operative" => {
                    inoperative.insert(connector);
                    scheduled.insert(connector, AvailabilityType::Operative);
                }
                _ => return Err(bad("unknown availability")),
            }
        }
        let reset_before_start = match snapshot.get(STATE_COLLECTION, RESET_KEY) {
            None => None,
            Some(b"Hard") => Some(ResetType::Hard),
            Some(b"Soft") => Some(ResetType::Soft),
            Some(_) => {
                return Err(RestoreError::BadRecord {
                    collection: STATE_COLLECTION,
                    key: RESET_KEY.to_owned(),
                    reason: "unknown reset kind".to_owned(),
                });
            }
        };
        let outputs = orphans
            .into_iter()
            .map(Output::Persist)
            .chain(
                issues
                    .into_iter()
                    .map(|issue| Output::Event(Event::ConfigurationNotRestored(issue))),
            )
            .collect();
        let mut cp = ChargePoint {
            endpoint: Endpoint::new(rpc, ids),
            configuration,
            authorization,
            next_authorize: 0,
            metering: Metering::new(),
            metering_records: Some(metering_records),
            ledger,
            queue_busy: false,
            interrupted,
            inoperative,
            scheduled,
            reset_before_start,
            pending_resets: BTreeMap::new(),
            pending_remote_starts: BTreeMap::new(),
            reservations,
            reservation_deadline: None,
            recent_parents: VecDeque::new(),
            stop_candidates: Vec::new(),
            config,
            connected: false,
            registration: Registration::Unregistered,
            next_boot: Monotonic::ZERO,
            boot_triggered: false,
            triggered_meter_values: BTreeSet::new(),
            heartbeat_triggered: false,
            last_sent: Monotonic::ZERO,
            clock_offset: time::Duration::ZERO,
            connectors,
            calls: BTreeMap::new(),
            decisions: BTreeMap::new(),
            firmware,
            pending_diagnostics: BTreeMap::new(),
            firmware_triggered: false,
            diagnostics_triggered: false,
            smart,
            charging_limits: BTreeMap::new(),
            next_limit_change: None,
            outputs,
        };
        // The statuses at power-on are where the stability clocks start, not changes.
        for id in 0..cp.connectors.len() {
            cp.connectors[id].status = cp.effective_status(id);
        }
        Ok(cp)
    }

    /// Where the station stands with the Central System.
    pub fn registration(&self) -> Registration {
        self.registration
    }

    /// The heartbeat interval in force (`HeartbeatInterval`).
    pub fn heartbeat_interval(&self) -> Duration {
        self.configuration.heartbeat_interval()
    }

    /// The configuration keys and their values.
    pub fn configuration(&self) -> &Configuration {
        &self.configuration
    }

    /// The Authorization Cache and the Local Authorization List.
    pub fn authorization(&self) -> &Authorization {
        &self.authorization
    }

    fn connector_count(&self) -> u32 {
        // Index 0 is the station itself.
        (self.connectors.len() - 1) as u32
    }

    /// The time to put in messages: the caller's wall clock corrected by the Central System's
    /// last reported time.
    pub fn time(&self, now: Now) -> OffsetDateTime {
        now.wall + self.clock_offset
    }

    /// The status of a connector (0: the station) as the stack derives it from what the
    /// application reported and its own state: what the Central System is told once it has
    /// been stable for `MinimumStatusDuration`.
    pub fn connector_status(&self, connector: u32) -> Option<&ConnectorStatus> {
        self.connectors
            .get(connector as usize)
            .map(|connector| &connector.status)
    }

    /// Whether a connector (0: the station) may be used, after ChangeAvailability.
    /// Connectors are also inoperative while downloaded firmware waits to be installed or is
    /// being installed (errata 3.49), unless a transaction runs on them.
    pub fn is_operative(&self, connector: u32) -> bool {
        !self.inoperative.contains(&connector)
            && (connector == 0 || !self.inoperative.contains(&0))
            && !self.firmware.holds_connectors()
    }

    /// The status the Central System is told, derived per section 4.9 (see [`connector`]).
    fn effective_status(&self, connector: usize) -> ConnectorStatus {
        let stack = StackState {
            reserved: self.is_reserved(connector as u32),
            ..self.stack_state(connector)
        };
        connector::derive(connector as u32, &self.connectors[connector].facts, stack)
    }

    /// The stack's own state of a connector, reservations aside.
    fn stack_state(&self, connector: usize) -> StackState {
        let id = connector as u32;
        let slot = &self.connectors[connector];
        StackState {
            transaction: id > 0 && self.ledger.running_on(id).is_some(),
            operative: self.is_operative(id),
            reserved: false,
            waiting: slot.session.is_some(),
        }
    }

    /// Each connector's condition for a new reservation or driver, index 0 the station.
    fn conditions(&self) -> Vec<Condition> {
        (0..self.connectors.len())
            .map(|id| connector::condition(&self.connectors[id].facts, self.stack_state(id)))
            .collect()
    }

    /// Free connectors without a reservation of their own, beside `except`.
    fn free_connectors(&self, conditions: &[Condition], except: u32) -> Vec<u32> {
        (1..conditions.len() as u32)
            .filter(|&id| id != except && conditions[id as usize] == Condition::Free)
            .filter(|&id| self.reservations.on(id).is_none())
            .collect()
    }

    /// Reserved: by a reservation of its own, or as one of the last free connectors that the
    /// reservations of "any connector" hold (OCTT TC_049_CS).
    fn is_reserved(&self, connector: u32) -> bool {
        if connector == 0 {
            return false;
        }
        if self.reservations.on(connector).is_some() {
            return true;
        }
        let any = self.reservations.of_any_connector().count();
        if any == 0 {
            return false;
        }
        let free = self.free_connectors(&self.conditions(), 0);
        free.contains(&connector) && free.len() <= any
    }

    /// The reservation `id_tag` uses on `connector`, if any; refused when the connector is
    /// held for someone else (section 5.13).
    fn reservation_for(
        &self,
        connector: u32,
        id_tag: &str,
    ) -> Result<Option<i32>, ChargePointError> {
        let parent = self.parent_of(id_tag);
        let admitted = |r: &Reservation| r.admits(id_tag, parent.as_deref());
        if let Some(r) = self.reservations.on(connector) {
            return if admitted(r) {
                Ok(Some(r.reservation_id))
            } else {
                Err(ChargePointError::Reserved {
                    connector,
                    reservation_id: r.reservation_id,
                })
            };
        }
        let mut any = self.reservations.of_any_connector();
        if let Some(r) = self.reservations.of_any_connector().find(|r| admitted(r)) {
            return Ok(Some(r.reservation_id));
        }
        let count = self.reservations.of_any_connector().count();
        let left = self.free_connectors(&self.conditions(), connector).len();
        match any.next() {
            Some(r) if left < count => Err(ChargePointError::Reserved {
                connector,
                reservation_id: r.reservation_id,
            }),
            _ => Ok(None),
        }
    }

    /// The parent id tag of `id_tag`, from the Local Authorization List, the cache or the
    /// Central System's latest verdicts.
    fn parent_of(&self, id_tag: &str) -> Option<String> {
        let listed = self
            .authorization
            .local_list()
            .get(id_tag)
            .map(|e| e.info());
        let cached = || self.authorization.cache().get(id_tag).map(|e| e.info());
        listed
            .or_else(cached)
            .and_then(|info| info.parent_id_tag.clone())
            .or_else(|| {
                self.recent_parents
                    .iter()
                    .rev()
                    .find(|(tag, _)| tag.eq_ignore_ascii_case(id_tag))
                    .map(|(_, parent)| parent.clone())
            })
    }

    /// The reservations the station holds.
    pub fn reservations(&self) -> impl Iterator<Item = &Reservation> {
        self.reservations.iter()
    }

    fn end_reservation(&mut self, id: i32, reason: ReservationEnd) {
        let mut ops = Vec::new();
        if let Some(reservation) = self.reservations.remove(id, &mut ops) {
            self.persist(ops);
            self.outputs
                .push_back(Output::Event(Event::ReservationEnded {
                    reservation,
                    reason,
                }));
        }
    }

    /// Ends what expired, and what a fault or unavailability ended (section 5.13), and sets
    /// the deadline of the next expiry.
    fn check_reservations(&mut self, now: Now) {
        let wall = self.time(now);
        for id in self.reservations.expired(wall) {
            self.end_reservation(id, ReservationEnd::Expired);
        }
        let conditions = self.conditions();
        let ended: Vec<(i32, ReservationEnd)> = self
            .reservations
            .iter()
            .filter_map(|r| {
                let condition = match conditions[0] {
                    // A stored reservation of a connector the hardware no longer has ends.
                    Condition::Free | Condition::Occupied => conditions
                        .get(r.connector as usize)
                        .copied()
                        .unwrap_or(Condition::Unavailable),
                    station => station,
                };
                match condition {
                    Condition::Faulted => Some((r.reservation_id, ReservationEnd::Faulted)),
                    Condition::Unavailable => Some((r.reservation_id, ReservationEnd::Unavailable)),
                    Condition::Free | Condition::Occupied => None,
                }
            })
            .collect();
        for (id, reason) in ended {
            self.end_reservation(id, reason);
        }
        self.reservation_deadline = self.reservations.next_expiry().map(|expiry| {
            now.monotonic + Duration::try_from(expiry - wall).unwrap_or(Duration::ZERO)
        });
    }

    /// ReserveNow (section 5.13).
    fn reserve_now(&mut self, now: Now, request: ReserveNowRequest) -> ReservationStatus {
        if !self.configuration.supports(Profile::Reservation) {
            // Section 5.13: a station configured not to accept reservations answers Rejected.
            return ReservationStatus::Rejected;
        }
        let status = self.reservations.decide(
            &request,
            &self.conditions(),
            self.configuration.reserve_connector_zero_supported(),
            self.time(now),
        );
        if status == ReservationStatus::Accepted {
            self.end_reservation(request.reservation_id, ReservationEnd::Replaced);
            let reservation = Reservation::from(request);
            let mut ops = Vec::new();
            self.reservations.insert(reservation.clone(), &mut ops);
            self.persist(ops);
            self.outputs
                .push_back(Output::Event(Event::ReservationMade(reservation)));
        }
        status
    }

    /// Starts the stability clock of every connector whose derived status changed.
    fn refresh_statuses(&mut self, now: Now) {
        let wall = self.time(now);
        for id in 0..self.connectors.len() {
            let status = self.effective_status(id);
            let slot = &mut self.connectors[id];
            if slot.status != status {
                slot.status = status;
                slot.changed_at = now.monotonic;
                slot.changed_at_wall = Some(wall);
            }
        }
    }

    /// The application reports a connector's status outright (0 = the station as a whole),
    /// for applications that drive the status themselves. It wins over the status the stack
    /// derives (Reserved included) until the application reports a hardware fact about the
    /// connector ([`ChargePoint::plug_in`] and the like); only an inoperative connector
    /// without a transaction is reported Unavailable regardless (section 5.2). It is persisted at once
    /// and sent as a StatusNotification when the station may send and the status has been
    /// stable for `MinimumStatusDuration`.
    pub fn report_status(
        &mut self,
        now: Now,
        connector: u32,
        status: ConnectorStatus,
    ) -> Result<(), ChargePointError> {
        self.settle_restored(now);
        self.check_connector(connector)?;
        let mut facts = self.connectors[connector as usize].facts.clone();
        facts.explicit = Some(status);
        self.set_facts(connector, facts);
        self.pump(now);
        Ok(())
    }

    /// Replaces a connector's facts, persisting them if they changed.
    fn set_facts(&mut self, connector: u32, facts: Facts) {
        let slot = &mut self.connectors[connector as usize];
        if slot.facts == facts {
            return;
        }
        slot.facts = facts;
        let value = serde_json::to_vec(&StatusRecord {
            v: STATUS_RECORD_VERSION,
            facts: slot.facts.clone(),
        })
        .unwrap_or_default();
        self.outputs.push_back(Output::Persist(StoreOp::Put {
            collection: CONNECTOR_STATUS_COLLECTION,
            key: format!("{connector:04}"),
            value,
        }));
    }

    /// Applies a hardware fact the application reports: the status is the stack's to derive
    /// from now on.
    fn hardware_fact(
        &mut self,
        now: Now,
        connector: u32,
        change: impl FnOnce(&mut Facts),
    ) -> Result<(), ChargePointError> {
        self.settle_restored(now);
        self.check_connector(connector)?;
        let mut facts = self.connectors[connector as usize].facts.clone();
        facts.explicit = None;
        change(&mut facts);
        self.set_facts(connector, facts);
        Ok(())
    }

    /// [`ChargePoint::hardware_fact`], then sends what is due.
    fn apply_fact(
        &mut self,
        now: Now,
        connector: u32,
        change: impl FnOnce(&mut Facts),
    ) -> Result<(), ChargePointError> {
        self.hardware_fact(now, connector, change)?;
        self.pump(now);
        Ok(())
    }

    /// A cable now connects `connector` to an EV (transition A2, or F2 after a transaction).
    /// A driver authorized for the connector no longer times out; without one, the driver
    /// has `ConnectionTimeOut` to present an id tag (errata 3.20, B6).
    pub fn plug_in(&mut self, now: Now, connector: u32) -> Result<(), ChargePointError> {
        self.no_connector_zero(connector)?;
        self.hardware_fact(now, connector, |facts| {
            facts.cable = Cable::Plugged;
            facts.finishing = false;
            facts.disconnected_in_transaction = false;
        })?;
        self.connectors[connector as usize].plugged_at = Some(now.monotonic);
        self.pump(now);
        Ok(())
    }

    /// The cable is gone from `connector`: unplugged at the EV with a fixed cable, or taken
    /// out of the socket. The connector is free for the next driver (F1), and a waiting
    /// session ends (B1). During a transaction this is an EV-side disconnect (see
    /// [`ChargePoint::ev_side_disconnected`]).
    pub fn unplug(&mut self, now: Now, connector: u32) -> Result<(), ChargePointError> {
        self.cable_out(now, connector, Cable::Unplugged)
    }

    /// The cable was pulled out at the EV side but is still in the station's socket. During
    /// a transaction the stack stops it with reason EVDisconnected when
    /// `StopTransactionOnEVSideDisconnect` is true (Finishing until [`ChargePoint::unplug`]),
    /// and otherwise reports SuspendedEV until the cable is plugged in again; either way
    /// [`Event::EvDisconnected`] says whether to unlock (`UnlockConnectorOnEVSideDisconnect`).
    pub fn ev_side_disconnected(
        &mut self,
        now: Now,
        connector: u32,
    ) -> Result<(), ChargePointError> {
        self.cable_out(now, connector, Cable::EvSideDisconnected)
    }

    /// The EV stops (`true`) or resumes (`false`) taking energy: SuspendedEV during a
    /// transaction (C4, D3).
    pub fn set_ev_suspended(
        &mut self,
        now: Now,
        connector: u32,
        suspended: bool,
    ) -> Result<(), ChargePointError> {
        self.no_connector_zero(connector)?;
        self.apply_fact(now, connector, |facts| facts.ev_suspended = suspended)
    }

    /// The EVSE stops (`true`) or resumes (`false`) offering energy, e.g. for a local power
    /// limit: SuspendedEVSE during a transaction, which wins over SuspendedEV (C5, E3).
    pub fn set_evse_suspended(
        &mut self,
        now: Now,
        connector: u32,
        suspended: bool,
    ) -> Result<(), ChargePointError> {
        self.no_connector_zero(connector)?;
        self.apply_fact(now, connector, |facts| facts.evse_suspended = suspended)
    }

    /// A fault prevents charging on `connector` (0: the whole station): Faulted with the
    /// fault's error code until [`ChargePoint::clear_fault`]. The fault's `error_code` must
    /// not be `NoError`.
    pub fn report_fault(
        &mut self,
        now: Now,
        connector: u32,
        fault: Fault,
    ) -> Result<(), ChargePointError> {
        if fault.error_code == ChargePointErrorCode::NoError {
            return Err(ChargePointError::NoErrorIsNoFault);
        }
        self.apply_fact(now, connector, |facts| facts.fault = Some(fault))
    }

    /// The fault of `connector` is resolved: the status returns to what the other facts say
    /// (transitions I1 to I8).
    pub fn clear_fault(&mut self, now: Now, connector: u32) -> Result<(), ChargePointError> {
        self.apply_fact(now, connector, |facts| facts.fault = None)
    }

    /// A driver was authorized for `connector` (the application decided the id tag, e.g.
    /// after [`Event::Authorized`]): Preparing, and unless the cable is in already, the driver
    /// has `ConnectionTimeOut` to plug in before the stack gives up with
    /// [`Event::ConnectionTimedOut`] (9.1.6, TC_004_2_CS). An accepted remote start for a
    /// given connector does this by itself. Start the transaction with
    /// [`ChargePoint::start_transaction`] once the cable is in. A waiting driver is not
    /// persisted: after a restart they present the id tag again. Refused with
    /// [`ChargePointError::Reserved`] when a reservation holds the connector for another id
    /// tag.
    pub fn prepare(
        &mut self,
        now: Now,
        connector: u32,
        id_tag: impl Into<String>,
    ) -> Result<(), ChargePointError> {
        self.no_connector_zero(connector)?;
        if self.ledger.running_on(connector).is_some() {
            return Err(ChargePointError::TransactionRunning(connector));
        }
        let id_tag = id_tag.into();
        self.settle_restored(now);
        self.reservation_for(connector, &id_tag)?;
        // F2: presenting an id tag again starts a new session.
        self.hardware_fact(now, connector, |facts| facts.finishing = false)?;
        self.connectors[connector as usize].session = Some((id_tag, now.monotonic));
        self.pump(now);
        Ok(())
    }

    fn no_connector_zero(&self, connector: u32) -> Result<(), ChargePointError> {
        self.check_connector(connector)?;
        if connector == 0 {
            return Err(ChargePointError::ConnectorZero);
        }
        Ok(())
    }

    fn cable_out(
        &mut self,
        now: Now,
        connector: u32,
        cable: Cable,
    ) -> Result<(), ChargePointError> {
        self.no_connector_zero(connector)?;
        let running = self
            .ledger
            .running_on(connector)
            .map(|t| (t.key, t.last_meter));
        let free = cable == Cable::Unplugged;
        self.hardware_fact(now, connector, |facts| {
            facts.cable = cable;
            // Without a transaction, a cable left in the socket is the driver's to take away
            // before the next one may start (as in errata 3.20).
            facts.finishing = !free && (facts.finishing || running.is_none());
        })?;
        let slot = &mut self.connectors[connector as usize];
        slot.plugged_at = None;
        if free {
            slot.session = None;
        }
        let ev_side = running.is_some() || cable == Cable::EvSideDisconnected;
        if ev_side {
            let unlock = self.configuration.unlock_connector_on_ev_side_disconnect();
            let mut stopped = false;
            if let Some((key, last_meter)) = running {
                // Section 9.1.23: stop administratively, or let the transaction go on
                // suspended until the cable is back (OCTT TC_005_1_CS to TC_005_3_CS).
                if self.configuration.stop_transaction_on_ev_side_disconnect() {
                    stopped = self
                        .queue_stop(now, key, last_meter, Some(Reason::EvDisconnected), None)
                        .is_ok();
                    self.apply_scheduled(now);
                } else {
                    let mut facts = self.connectors[connector as usize].facts.clone();
                    facts.disconnected_in_transaction = true;
                    self.set_facts(connector, facts);
                }
            }
            self.outputs.push_back(Output::Event(Event::EvDisconnected {
                connector,
                transaction: running.map(|(key, _)| key),
                stopped,
                unlock,
            }));
        }
        self.pump(now);
        Ok(())
    }

    /// `ConnectionTimeOut` (9.1.6, errata 3.20/3.21): a driver authorized without plugging
    /// in, or a cable plugged in without a driver authorized, is given up.
    fn connection_timeouts(&mut self, now: Now) {
        let timeout = self.configuration.connection_timeout();
        for id in 1..self.connectors.len() {
            let Some(due) = self.connection_deadline(id, timeout) else {
                continue;
            };
            if now.monotonic < due {
                continue;
            }
            let slot = &mut self.connectors[id];
            let id_tag = match slot.session.take() {
                // B1: back to Available.
                Some((id_tag, _)) => Some(id_tag),
                None => {
                    // B6: the cable stays in, so the next driver may not start on it.
                    slot.plugged_at = None;
                    let mut facts = slot.facts.clone();
                    facts.finishing = true;
                    self.set_facts(id as u32, facts);
                    None
                }
            };
            self.outputs
                .push_back(Output::Event(Event::ConnectionTimedOut {
                    connector: id as u32,
                    id_tag,
                }));
        }
    }

    /// When connector `id` gives up waiting for a cable or a driver, if it waits.
    fn connection_deadline(&self, id: usize, timeout: Duration) -> Option<Monotonic> {
        let slot = &self.connectors[id];
        if timeout.is_zero() || self.ledger.running_on(id as u32).is_some() {
            return None;
        }
        match (&slot.session, slot.facts.cable) {
            (Some((_, since)), Cable::Unplugged) => Some(*since + timeout),
            (None, Cable::Plugged) if !slot.facts.finishing => {
                slot.plugged_at.map(|at| at + timeout)
            }
            _ => None,
        }
    }

    /// Decides whether `id_tag` may charge (sections 3.5 and 4.1): from the Local
    /// Authorization List and the Authorization Cache where the configuration allows
    /// (`LocalPreAuthorize` online; `LocalAuthorizeOffline` and `AllowOfflineTxForUnknownId`
    /// offline), otherwise by asking the Central System. The verdict comes as
    /// [`Event::Authorized`], among the outputs of this very call when it is local. Fails when
    /// the Central System must be asked and cannot be (an id tag over 20 characters, say).
    pub fn authorize(
        &mut self,
        now: Now,
        id_tag: impl Into<String>,
    ) -> Result<AuthorizeHandle, ChargePointError> {
        self.settle_restored(now);
        let id_tag = id_tag.into();
        let handle = AuthorizeHandle(self.next_authorize);
        self.next_authorize += 1;
        let settings = AuthSettings::from_configuration(&self.configuration);
        let online = self.connected && self.registration == Registration::Accepted;
        let mut ops = Vec::new();
        let decision = self.authorization.authorize_locally(
            &settings,
            &id_tag,
            self.time(now),
            online,
            &mut ops,
        );
        self.persist(ops);
        match decision {
            LocalDecision::Authorized { info, source }
            | LocalDecision::Rejected { info, source } => {
                self.authorized(now, handle, id_tag, Ok(info), Some(source));
            }
            LocalDecision::AskCentralSystem { .. } => {
                let request = AuthorizeRequest {
                    id_tag: id_tag.clone(),
                };
                let _ = self.send_for_application(
                    now,
                    &request,
                    Purpose::Authorize { id_tag, handle },
                )?;
            }
        }
        Ok(handle)
    }

    /// An id tag is presented at `connector`, where a transaction runs (section 3.5, OCTT
    /// TC_068_CS and TC_069_CS): the id tag that started it stops it at once, another id tag
    /// only once it is authorized with the same parent id tag, and one that cannot be of the
    /// transaction's group is not even asked about. The machine stops the transaction itself
    /// (reason Local, the meter last given to [`ChargePoint::report_meter`]) and says so with
    /// [`Event::TransactionStoppedByIdTag`]. Ids compare case-insensitively (1.6:
    /// `CiString20Type`).
    ///
    /// Fails with [`ChargePointError::NoTransaction`] without a transaction on `connector`
    /// (present the id tag to [`ChargePoint::authorize`] to start one), or as
    /// [`ChargePoint::authorize`] does.
    pub fn stop_by_id_tag(
        &mut self,
        now: Now,
        connector: u32,
        id_tag: impl Into<String>,
    ) -> Result<IdTagAtTransaction, ChargePointError> {
        self.settle_restored(now);
        self.no_connector_zero(connector)?;
        let (transaction, started_by) = self
            .ledger
            .running_on(connector)
            .map(|t| (t.key, t.id_tag.clone()))
            .ok_or(ChargePointError::NoTransaction(connector))?;
        let id_tag = id_tag.into();
        if id_tag.eq_ignore_ascii_case(&started_by) {
            // Not `Stopped` unless its StopTransaction is queued.
            self.stop_for_id_tag(now, connector, transaction, id_tag)?;
            self.pump(now);
            return Ok(IdTagAtTransaction::Stopped);
        }
        let Some(parent) = self.parent_of(&started_by) else {
            return Ok(IdTagAtTransaction::NotOfTheGroup);
        };
        if self.stop_candidates.len() >= STOP_CANDIDATES {
            self.stop_candidates.remove(0);
        }
        // Noted before asking: a local verdict comes within `authorize` itself.
        let handle = AuthorizeHandle(self.next_authorize);
        self.stop_candidates.push(StopCandidate {
            handle,
            connector,
            transaction,
            parent,
        });
        match self.authorize(now, id_tag) {
            Ok(given) => {
                // A local verdict may have stopped the transaction already.
                self.pump(now);
                Ok(IdTagAtTransaction::Authorizing(given))
            }
            Err(error) => {
                self.stop_candidates.retain(|c| c.handle != handle);
                Err(error)
            }
        }
    }

    /// Stops `transaction`, if it still runs on `connector`, for `id_tag` (see
    /// [`ChargePoint::stop_by_id_tag`]); an error if its StopTransaction cannot be queued.
    fn stop_for_id_tag(
        &mut self,
        now: Now,
        connector: u32,
        transaction: TransactionKey,
        id_tag: String,
    ) -> Result<(), ChargePointError> {
        let Some(last_meter) = self
            .ledger
            .running_on(connector)
            .filter(|t| t.key == transaction)
            .map(|t| t.last_meter)
        else {
            return Ok(());
        };
        self.queue_stop(now, transaction, last_meter, None, Some(id_tag.clone()))?;
        self.apply_scheduled(now);
        self.outputs
            .push_back(Output::Event(Event::TransactionStoppedByIdTag {
                connector,
                transaction,
                id_tag,
            }));
        Ok(())
    }

    /// The verdict on an id tag: [`Event::Authorized`], and the stop of a transaction of its
    /// group if it was presented for that and may.
    fn authorized(
        &mut self,
        now: Now,
        handle: AuthorizeHandle,
        id_tag: String,
        result: Result<IdTagInfo, CallFailure>,
        source: Option<Source>,
    ) {
        let candidate = self
            .stop_candidates
            .iter()
            .position(|c| c.handle == handle)
            .map(|index| self.stop_candidates.remove(index));
        let stops = candidate.filter(|c| {
            result.as_ref().is_ok_and(|info| {
                info.status == AuthorizationStatus::Accepted
                    && info
                        .parent_id_tag
                        .as_deref()
                        .is_some_and(|p| p.eq_ignore_ascii_case(&c.parent))
            })
        });
        let stopping = stops.map(|c| (c.connector, c.transaction, id_tag.clone()));
        self.outputs.push_back(Output::Event(Event::Authorized {
            handle,
            id_tag,
            result,
            source,
        }));
        if let Some((connector, transaction, id_tag)) = stopping {
            // The verdict came in its own input: a stop that cannot be queued leaves the
            // transaction running, which the absence of the event tells.
            let _ = self.stop_for_id_tag(now, connector, transaction, id_tag);
        }
    }

    /// Records an IdTagInfo the Central System sent (Authorize, StartTransaction and
    /// StopTransaction answers) in the Authorization Cache (section 3.5.1); a conflict with the
    /// Local Authorization List is reported with a StatusNotification of connector 0 (3.5.2).
    fn record_id_tag_info(&mut self, now: Now, id_tag: &str, info: &IdTagInfo) {
        if let Some(parent) = &info.parent_id_tag {
            self.recent_parents
                .push_back((id_tag.to_owned(), parent.clone()));
            if self.recent_parents.len() > RECENT_PARENTS {
                self.recent_parents.pop_front();
            }
        }
        let settings = AuthSettings::from_configuration(&self.configuration);
        let mut ops = Vec::new();
        let recorded = self.authorization.record_id_tag_info(
            &settings,
            id_tag,
            info,
            self.time(now),
            &mut ops,
        );
        self.persist(ops);
        if let InfoRecorded::InLocalList { conflict: true } = recorded
            && self.connected
            && self.registration == Registration::Accepted
        {
            let mut status = self.effective_status(0);
            status.error_code = ChargePointErrorCode::LocalListConflict;
            let request = StatusNotificationRequest {
                connector_id: 0,
                error_code: status.error_code,
                info: Some(format!("{id_tag} conflicts with the local list")),
                status: status.status,
                timestamp: Some(self.time(now)),
                vendor_id: None,
                vendor_error_code: None,
            };
            if let Ok(handle) = self.endpoint.call_request(now, &request) {
                // Reported once; the connector's own status tracking is untouched.
                self.calls.insert(handle, Purpose::Notice);
            }
        }
    }

    /// A transaction has started on `connector` (section 4.8): the id tag is authorized and
    /// the energy transfer may begin. The StartTransaction is stored before anything else
    /// happens and delivered in order, online or not. Returns the station's number for the
    /// transaction; its id follows as [`Event::TransactionStarted`].
    pub fn start_transaction(
        &mut self,
        now: Now,
        connector: u32,
        id_tag: impl Into<String>,
        meter_start: i32,
        reservation_id: Option<i32>,
    ) -> Result<TransactionKey, ChargePointError> {
        self.settle_restored(now);
        self.check_connector(connector)?;
        if connector == 0 {
            return Err(ChargePointError::ConnectorZero);
        }
        if self.ledger.running_on(connector).is_some() {
            return Err(ChargePointError::TransactionRunning(connector));
        }
        let id_tag = id_tag.into();
        // Section 5.13: the reservation the id tag uses goes with the StartTransaction.
        let reserved = self.reservation_for(connector, &id_tag)?;
        let reservation_id = reserved.or(reservation_id);
        let timestamp = self.time(now);
        let request = StartTransactionRequest {
            connector_id: connector as i32,
            id_tag: id_tag.clone(),
            meter_start,
            reservation_id,
            timestamp,
        };
        // Checked now, so that a message that could never be sent is refused to the caller
        // instead of blocking the queue.
        let payload = self.checked_payload(&request)?;
        let mut ops = Vec::new();
        let key = self.ledger.begin(
            connector,
            id_tag,
            meter_start,
            timestamp,
            reservation_id,
            &mut ops,
        );
        self.ledger
            .enqueue(key, StartTransactionRequest::ACTION, payload, &mut ops);
        let corrected = Now::new(now.monotonic, timestamp);
        self.metering
            .transaction_started(corrected, connector, key, &self.configuration, &mut ops);
        // Section 5.16.2: the TxProfile of the remote start this transaction answers.
        let settings = self.smart_settings();
        self.smart
            .transaction_started(&settings, connector, &request.id_tag, timestamp, &mut ops);
        self.persist(ops);
        if let Some(id) = reserved {
            self.end_reservation(id, ReservationEnd::Used);
        }
        let slot = &mut self.connectors[connector as usize];
        slot.session = None;
        slot.plugged_at = None;
        let mut facts = slot.facts.clone();
        facts.finishing = false;
        self.set_facts(connector, facts);
        self.pump(now);
        Ok(key)
    }

    /// The transaction on `connector` has stopped (section 4.10), with the meter reading and
    /// the reason (`None` means Local, a normal stop by the id tag's owner) and the id tag
    /// that stopped it, if one did. Stored and delivered in order, like the start.
    pub fn stop_transaction(
        &mut self,
        now: Now,
        connector: u32,
        meter_stop: i32,
        reason: Option<Reason>,
        id_tag: Option<String>,
    ) -> Result<TransactionKey, ChargePointError> {
        self.settle_restored(now);
        self.check_connector(connector)?;
        let key = self
            .ledger
            .running_on(connector)
            .map(|t| t.key)
            .ok_or(ChargePointError::NoTransaction(connector))?;
        self.queue_stop(now, key, meter_stop, reason, id_tag)?;
        self.apply_scheduled(now);
        self.pump(now);
        Ok(key)
    }

    /// The latest energy meter reading of `connector`, in Wh: what a StopTransaction reports
    /// if the transaction has to be ended without the application (at power-up, or when the
    /// Central System deauthorizes its id tag).
    pub fn report_meter(&mut self, connector: u32, meter_wh: i32) -> Result<(), ChargePointError> {
        self.check_connector(connector)?;
        if let Some(key) = self.ledger.running_on(connector).map(|t| t.key) {
            let mut ops = Vec::new();
            self.ledger
                .update(key, &mut ops, |t| t.last_meter = meter_wh);
            self.persist(ops);
        }
        Ok(())
    }

    /// The current meter readings of `connector` (0: the main meter), in place of the previous
    /// ones: what the machine samples for MeterValues when the configured intervals come
    /// (section 3.16). Measurands the station does not measure are simply absent.
    pub fn set_readings(
        &mut self,
        connector: u32,
        readings: Vec<Reading>,
    ) -> Result<(), ChargePointError> {
        self.check_connector(connector)?;
        self.metering.set_readings(connector, readings);
        Ok(())
    }

    /// The station's own operator (a local menu, a test harness) sets the configuration key
    /// `key` to `value`: checked like a ChangeConfiguration of the Central System, but without
    /// its access rules (section 9: read-write for the Central System is a separate matter),
    /// persisted, and reported as [`Event::ConfigurationChanged`]. Read-only and unknown keys
    /// are refused.
    pub fn set_configuration(
        &mut self,
        now: Now,
        key: &str,
        value: &str,
    ) -> Result<(), config::LocalSetError> {
        let applied = self.configuration.set_local(key, value)?;
        self.changed(&applied);
        self.pump(now);
        Ok(())
    }

    /// The application's own limit on what `connector` may draw (0: the station's grid
    /// connection), `None` to lift it: it caps the charging profiles' limits (section 5.7:
    /// "possible local limits") and counts in Composite Schedules.
    pub fn set_local_limit(
        &mut self,
        now: Now,
        connector: u32,
        limit: Option<ChargingLimit>,
    ) -> Result<(), ChargePointError> {
        self.check_connector(connector)?;
        self.smart.set_local_limit(connector, limit);
        self.update_charging_limits(now);
        Ok(())
    }

    /// The limit on what `connector` (0: the station) may draw now; `None` when nothing
    /// limits it.
    pub fn charging_limit(&self, now: Now, connector: u32) -> Option<ChargingLimit> {
        let running = running_transactions(&self.ledger);
        self.smart
            .limit_at(&self.smart_settings(), connector, self.time(now), &running)
    }

    /// The installed charging profiles and local limits.
    pub fn smart_charging(&self) -> &SmartCharging {
        &self.smart
    }

    /// The transaction running on `connector`: its number and, once known, its id.
    pub fn transaction(&self, connector: u32) -> Option<(TransactionKey, Option<i32>)> {
        self.ledger
            .running_on(connector)
            .map(|t| (t.key, t.transaction_id))
    }

    /// Transaction-related messages not yet delivered.
    pub fn queued_transaction_messages(&self) -> usize {
        self.ledger.len()
    }

    /// Outgoing calls not answered yet (the one in flight and those queued behind it), of
    /// every kind: an application that closes the connection when this is 0 loses no
    /// message it asked for, e.g. the last StatusNotification.
    pub fn pending_calls(&self) -> usize {
        self.endpoint.pending_calls()
    }

    fn check_connector(&self, connector: u32) -> Result<(), ChargePointError> {
        if connector > self.connector_count() {
            return Err(ChargePointError::UnknownConnector {
                connector,
                connectors: self.connector_count(),
            });
        }
        Ok(())
    }

    /// The payload of `request`, refused if it breaks its schema (when validation is on).
    fn checked_payload<R: OcppRequest<Action = v16::Action>>(
        &self,
        request: &R,
    ) -> Result<Value, ChargePointError> {
        let payload = serde_json::to_value(request).map_err(|e| CallRefused::InvalidPayload {
            action: R::TYPED_ACTION,
            description: e.to_string(),
        })?;
        self.endpoint.check_request(R::TYPED_ACTION, &payload)?;
        Ok(payload)
    }

    fn queue_stop(
        &mut self,
        now: Now,
        key: TransactionKey,
        meter_stop: i32,
        reason: Option<Reason>,
        id_tag: Option<String>,
    ) -> Result<(), ChargePointError> {
        let connector = self.ledger.get(key).map(|t| t.connector);
        let corrected = Now::new(now.monotonic, self.time(now));
        let mut ops = Vec::new();
        // Section 4.10: the StopTxn*Data collected during the transaction.
        let transaction_data = match connector {
            Some(connector) => self.metering.transaction_stopped(
                corrected,
                connector,
                &self.configuration,
                &mut ops,
            ),
            None => None,
        };
        let request = StopTransactionRequest {
            id_tag,
            meter_stop,
            timestamp: corrected.wall,
            // Filled in when sent: the id may not be known yet (see `ledger`).
            transaction_id: 0,
            reason,
            transaction_data,
        };
        let mut payload = self.checked_payload(&request)?;
        if let Value::Object(members) = &mut payload {
            members.remove("transactionId");
        }
        self.ledger.update(key, &mut ops, |t| {
            t.stopped = true;
            t.last_meter = meter_stop;
        });
        if let Some(connector) = connector {
            self.transaction_over(connector);
        }
        self.ledger
            .enqueue(key, StopTransactionRequest::ACTION, payload, &mut ops);
        if let Some(connector) = connector {
            self.smart.transaction_ended(connector, &mut ops);
        }
        self.persist(ops);
        Ok(())
    }

    /// The transaction on `connector` stopped: the driver still has to take a cable away
    /// (Finishing, C6), or nothing is left to do (Available, C1).
    fn transaction_over(&mut self, connector: u32) {
        let Some(slot) = self.connectors.get_mut(connector as usize) else {
            return;
        };
        let mut facts = slot.facts.clone();
        facts.deauthorized = false;
        facts.finishing = facts.cable != Cable::Unplugged;
        facts.disconnected_in_transaction = false;
        facts.ev_suspended = false;
        facts.evse_suspended = false;
        self.set_facts(connector, facts);
    }

    fn persist(&mut self, ops: Vec<StoreOp>) {
        self.outputs.extend(ops.into_iter().map(Output::Persist));
    }

    /// Deals once with the transactions found running at start-up.
    fn settle_restored(&mut self, now: Now) {
        if let Some(records) = self.metering_records.take() {
            let corrected = Now::new(now.monotonic, self.time(now));
            // Checked at construction, so this restores; the fallback only guards the
            // impossible.
            self.metering = Metering::restore(&records, corrected).unwrap_or_default();
            // Metering of transactions the ledger no longer runs is dropped.
            let stale: Vec<u32> = self
                .metering
                .transactions()
                .filter(|(connector, key)| {
                    self.ledger.running_on(*connector).map(|t| t.key) != Some(*key)
                })
                .map(|(connector, _)| connector)
                .collect();
            let mut ops = Vec::new();
            for connector in stale {
                self.metering.forget(connector, &mut ops);
            }
            self.persist(ops);
        }
        // Section 5.14 / errata 3.36: transactions a reset interrupted are reported as such.
        let reason = match self.reset_before_start.take() {
            Some(kind) => {
                self.outputs.push_back(Output::Persist(StoreOp::Delete {
                    collection: STATE_COLLECTION,
                    key: RESET_KEY.to_owned(),
                }));
                match kind {
                    ResetType::Hard => Reason::HardReset,
                    ResetType::Soft => Reason::SoftReset,
                }
            }
            None => Reason::PowerLoss,
        };
        let interrupted = std::mem::take(&mut self.interrupted);
        let settled = !interrupted.is_empty();
        for key in interrupted {
            let Some((connector, last_meter)) = self
                .ledger
                .get(key)
                .filter(|t| !t.stopped)
                .map(|t| (t.connector, t.last_meter))
            else {
                continue;
            };
            let stop =
                self.config.interrupted_transactions == InterruptedTransactions::StopAsPowerLoss;
            let stopped = stop
                && self
                    .queue_stop(now, key, last_meter, Some(reason), None)
                    .is_ok();
            self.outputs
                .push_back(Output::Event(Event::TransactionInterrupted {
                    transaction: key,
                    connector,
                    stopped,
                }));
        }
        if settled {
            // Not every caller pumps (an offline authorize, a refused command): the
            // availability changes waiting for these transactions and the derived statuses
            // follow now, as they do for a stop by the application.
            self.apply_scheduled(now);
            self.refresh_statuses(now);
        }
    }

    /// Sends vendor-specific data to the Central System (section 4.3). The answer comes as
    /// [`Event::DataTransferAnswered`]. Fails fast when the station cannot send.
    pub fn data_transfer(
        &mut self,
        now: Now,
        request: DataTransferRequest,
    ) -> Result<CallHandle, ChargePointError> {
        self.send_for_application(now, &request, Purpose::DataTransfer)
    }

    /// Answers a request of the Central System that the application was asked to decide.
    pub fn reply(
        &mut self,
        now: Now,
        decision: Decision,
        reply: Reply,
    ) -> Result<(), ChargePointError> {
        let Some(request) = self.decisions.get(&decision).copied() else {
            return Err(ChargePointError::UnknownDecision(decision));
        };
        if request != reply.action() {
            return Err(ChargePointError::WrongReply {
                request: request.to_owned(),
                reply: reply.action(),
            });
        }
        self.decisions.remove(&decision);
        let answered = match &reply {
            Reply::DataTransfer(response) => self.endpoint.respond_with(now, &decision.0, response),
            Reply::RemoteStart(status) => {
                let accepted = *status == RemoteStartStopStatus::Accepted;
                self.smart.remote_start_answered(&decision.0, accepted);
                let response = RemoteStartTransactionResponse { status: *status };
                let answered = self.endpoint.respond_with(now, &decision.0, &response);
                // A2: the remote start initiates usage; the driver has ConnectionTimeOut to
                // plug in (OCTT TC_011_1_CS, TC_011_2_CS).
                if let (Some((connector, id_tag)), RemoteStartStopStatus::Accepted, Ok(())) = (
                    self.pending_remote_starts.remove(&decision),
                    status,
                    &answered,
                ) {
                    // Refused only if a transaction started meanwhile: nothing to prepare.
                    let _ = self.prepare(now, connector, id_tag);
                }
                answered
            }
            Reply::Reset(status) => {
                let kind = self.pending_resets.remove(&decision);
                let answered = self.endpoint.respond_with(
                    now,
                    &decision.0,
                    &ResetResponse { status: *status },
                );
                if let (Some(kind), ResetStatus::Accepted, Ok(())) = (kind, status, &answered) {
                    self.reset_accepted(kind);
                }
                answered
            }
            Reply::Unlock(status) => {
                let response = UnlockConnectorResponse { status: *status };
                self.endpoint.respond_with(now, &decision.0, &response)
            }
            Reply::Diagnostics { file_name } => {
                let request = self.pending_diagnostics.remove(&decision);
                let response = GetDiagnosticsResponse {
                    file_name: file_name.clone(),
                };
                let answered = self.endpoint.respond_with(now, &decision.0, &response);
                if let (Some(request), Some(file_name), Ok(())) = (request, file_name, &answered) {
                    let mut ops = Vec::new();
                    self.firmware.upload_accepted(
                        &request,
                        file_name.clone(),
                        &self.config.firmware,
                        &mut ops,
                    );
                    self.persist(ops);
                }
                answered
            }
        };
        self.drain_endpoint(now);
        if matches!(reply, Reply::Diagnostics { .. }) {
            // The upload starts at once.
            self.pump(now);
        }
        match answered {
            Ok(()) => Ok(()),
            Err(RespondError::UnknownCall(_)) => Err(ChargePointError::UnknownDecision(decision)),
            Err(error @ (RespondError::InvalidPayload { .. } | RespondError::TooLarge { .. })) => {
                Err(ChargePointError::InvalidReply {
                    action: request.to_owned(),
                    description: error.to_string(),
                })
            }
        }
    }

    /// The application's report on the firmware download asked for with
    /// [`Event::FirmwareDownloadRequested`]. Success reports Downloaded and installs as soon
    /// as allowed; a failure is retried while retries remain, then reported DownloadFailed.
    pub fn firmware_downloaded(
        &mut self,
        now: Now,
        outcome: TransferOutcome,
    ) -> Result<(), ChargePointError> {
        self.report_transfer(now, |firmware, ops| firmware.downloaded(now, outcome, ops))
    }

    /// The application's report on the installation asked for with
    /// [`Event::FirmwareInstallRequested`]: Installed or InstallationFailed is reported (after
    /// the BootNotification when called after the restart), and the connectors are released.
    pub fn firmware_installed(
        &mut self,
        now: Now,
        outcome: TransferOutcome,
    ) -> Result<(), ChargePointError> {
        self.report_transfer(now, |firmware, ops| firmware.installed(outcome, ops))
    }

    /// The application's report on the upload asked for with
    /// [`Event::DiagnosticsUploadRequested`]: Uploaded, or a retry while retries remain, then
    /// UploadFailed.
    pub fn diagnostics_uploaded(
        &mut self,
        now: Now,
        outcome: TransferOutcome,
    ) -> Result<(), ChargePointError> {
        self.report_transfer(now, |firmware, ops| firmware.uploaded(now, outcome, ops))
    }

    fn report_transfer(
        &mut self,
        now: Now,
        report: impl FnOnce(&mut Firmware, &mut Vec<StoreOp>) -> Result<(), TransferError>,
    ) -> Result<(), ChargePointError> {
        self.settle_restored(now);
        let mut ops = Vec::new();
        let result = report(&mut self.firmware, &mut ops);
        self.persist(ops);
        self.pump(now);
        Ok(result?)
    }

    fn send_for_application<R: OcppRequest<Action = v16::Action>>(
        &mut self,
        now: Now,
        request: &R,
        purpose: Purpose,
    ) -> Result<CallHandle, ChargePointError> {
        self.settle_restored(now);
        if !self.connected {
            return Err(ChargePointError::Offline);
        }
        if self.registration != Registration::Accepted {
            return Err(ChargePointError::NotAccepted(self.registration));
        }
        let handle = self.endpoint.call_request(now, request)?;
        self.calls.insert(handle, purpose);
        self.drain_endpoint(now);
        Ok(handle)
    }

    /// Sends whatever is due: the BootNotification while not accepted; status notifications,
    /// triggered messages and heartbeats when allowed.
    fn pump(&mut self, now: Now) {
        // Meter values are sampled whether or not the station can send: transaction samples
        // are queued, and the sampling deadline must move on either way.
        self.sample(now);
        // Transfers go on offline too; their notifications wait in the queue.
        self.poll_firmware(now);
        self.connection_timeouts(now);
        self.check_reservations(now);
        self.refresh_statuses(now);
        self.update_charging_limits(now);
        if !self.connected {
            return;
        }
        let booting = self.calls.values().any(|p| matches!(p, Purpose::Boot));
        match self.registration {
            Registration::Rejected if now.monotonic < self.next_boot => return,
            Registration::Accepted => {}
            _ if booting => {}
            _ if self.boot_triggered || now.monotonic >= self.next_boot => {
                self.boot_triggered = false;
                let boot = self.config.boot.clone();
                self.send(now, &boot, Purpose::Boot);
                return;
            }
            _ => {}
        }
        // Section 4.2: before Accepted only BootNotification; in Pending only what a
        // TriggerMessage asked for.
        let accepted = self.registration == Registration::Accepted;
        let may_send_triggered = accepted || self.registration == Registration::Pending;
        if !may_send_triggered {
            return;
        }
        for id in 0..self.connectors.len() {
            let effective = self.effective_status(id);
            let connector = &self.connectors[id];
            let stable = now.monotonic.saturating_since(connector.changed_at)
                >= self.configuration.minimum_status_duration();
            let changed = connector.reported.as_ref() != Some(&effective);
            let due = connector.triggered || (accepted && changed && stable);
            if due && !connector.in_flight {
                let status = effective;
                let timestamp = connector.changed_at_wall.unwrap_or_else(|| self.time(now));
                let request = StatusNotificationRequest {
                    connector_id: id as i32,
                    error_code: status.error_code,
                    info: status.info.clone(),
                    status: status.status,
                    timestamp: Some(timestamp),
                    vendor_id: status.vendor_id.clone(),
                    vendor_error_code: status.vendor_error_code.clone(),
                };
                self.connectors[id].triggered = false;
                self.connectors[id].in_flight = true;
                self.send(
                    now,
                    &request,
                    Purpose::Status {
                        connector: id as u32,
                        sent: status,
                    },
                );
            }
        }
        // Sections 4.4 and 4.5: status notifications of transfers, triggered or in order.
        if std::mem::take(&mut self.firmware_triggered) {
            let status = self.firmware.firmware_status();
            self.send(
                now,
                &FirmwareStatusNotificationRequest { status },
                Purpose::Notice,
            );
        }
        if std::mem::take(&mut self.diagnostics_triggered) {
            let status = self.firmware.diagnostics_status();
            self.send(
                now,
                &DiagnosticsStatusNotificationRequest { status },
                Purpose::Notice,
            );
        }
        if accepted && let Some(notice) = self.firmware.next_notice() {
            match notice {
                Notice::Firmware(status) => self.send(
                    now,
                    &FirmwareStatusNotificationRequest { status },
                    Purpose::TransferNotice,
                ),
                Notice::Diagnostics(status) => self.send(
                    now,
                    &DiagnosticsStatusNotificationRequest { status },
                    Purpose::TransferNotice,
                ),
            }
        }
        // Section 3.7: transaction-related messages in order, one at a time, once accepted.
        if accepted
            && !self.queue_busy
            && self
                .ledger
                .head()
                .is_some_and(|head| head.not_before <= now.monotonic)
            && let Some((action, payload)) = self.ledger.head_payload()
        {
            let sent = match v16::Action::from_name(&action) {
                Some(known) => self.endpoint.call(now, known, payload),
                None => Err(CallRefused::UnknownAction {
                    version: Version::V16,
                    action: action.clone(),
                }),
            };
            match sent {
                Ok(handle) => {
                    self.queue_busy = true;
                    self.calls.insert(handle, Purpose::Queued);
                }
                Err(reason) => {
                    // Validated when queued; only a record from an older, laxer version can
                    // get here. It can never be sent, so it must not block the queue.
                    let mut ops = Vec::new();
                    if let Some(entry) = self.ledger.pop_head(&mut ops) {
                        self.persist(ops);
                        self.outputs
                            .push_back(Output::Event(Event::TransactionMessageDiscarded {
                                transaction: entry.transaction,
                                action: entry.action,
                            }));
                    }
                    self.outputs
                        .push_back(Output::Event(Event::CallRefused { action, reason }));
                }
            }
            self.drain_endpoint(now);
        }
        let heartbeat_interval = self.configuration.heartbeat_interval();
        let quiet = now.monotonic.saturating_since(self.last_sent) >= heartbeat_interval;
        let heartbeat_due = accepted
            && !heartbeat_interval.is_zero()
            && quiet
            && self.endpoint.pending_calls() == 0;
        // Section 5.17: triggered meter values, of the readings at hand, sent after the answer.
        for connector in std::mem::take(&mut self.triggered_meter_values) {
            let corrected = Now::new(now.monotonic, self.time(now));
            if let Some(sample) = self
                .metering
                .triggered(corrected, connector, &self.configuration)
            {
                let transaction_id = sample
                    .transaction
                    .and_then(|key| self.ledger.get(key))
                    .map(|t| t.id_for_messages());
                let request = sample.into_request(transaction_id);
                self.send(now, &request, Purpose::Notice);
            }
        }
        if self.heartbeat_triggered || heartbeat_due {
            self.heartbeat_triggered = false;
            self.send(now, &HeartbeatRequest::default(), Purpose::Heartbeat);
        }
    }

    /// Starts the firmware and diagnostics steps that are due.
    fn poll_firmware(&mut self, now: Now) {
        let mut ops = Vec::new();
        let mut events = Vec::new();
        let running = self.ledger.running().next().is_some();
        self.firmware.poll(
            now,
            self.time(now),
            running,
            &self.config.firmware,
            &mut ops,
            &mut events,
        );
        self.persist(ops);
        self.outputs.extend(events.into_iter().map(Output::Event));
    }

    fn send<R: OcppRequest<Action = v16::Action>>(
        &mut self,
        now: Now,
        request: &R,
        purpose: Purpose,
    ) {
        match self.endpoint.call_request(now, request) {
            Ok(handle) => {
                self.calls.insert(handle, purpose);
            }
            Err(reason) => {
                // The machine only sends while connected, so this is a request of its own
                // making that fails validation (say, an over-long `info` from the
                // application): report it rather than lose it silently.
                self.outputs.push_back(Output::Event(Event::CallRefused {
                    action: R::ACTION.to_owned(),
                    reason,
                }));
                self.release(purpose);
            }
        }
        self.drain_endpoint(now);
    }

    /// Moves the endpoint's outputs into the machine's, acting on its events.
    fn drain_endpoint(&mut self, now: Now) {
        while let Some(output) = self.endpoint.poll_output() {
            match output {
                Output::Transmit(text) => {
                    self.last_sent = now.monotonic;
                    self.outputs.push_back(Output::Transmit(text));
                }
                Output::Event(event) => self.on_rpc_event(now, event),
                // The endpoint persists nothing and never closes; forwarded all the same.
                Output::Persist(op) => self.outputs.push_back(Output::Persist(op)),
                Output::Close(close) => self.outputs.push_back(Output::Close(close)),
            }
        }
    }

    fn on_rpc_event(&mut self, now: Now, event: RpcEvent) {
        match event {
            RpcEvent::Call(call) => self.on_call(now, call),
            RpcEvent::Completed {
                handle,
                action,
                outcome,
                ..
            } => {
                let Some(purpose) = self.calls.remove(&handle) else {
                    return;
                };
                match (purpose, outcome) {
                    // The application's own calls: it hears the outcome either way.
                    (Purpose::Authorize { id_tag, handle }, outcome) => {
                        let result = outcome.and_then(|payload| {
                            decode::<AuthorizeResponse>(&payload).map(|r| r.id_tag_info)
                        });
                        if let Ok(info) = &result {
                            self.record_id_tag_info(now, &id_tag, info);
                        }
                        self.authorized(now, handle, id_tag, result, None);
                    }
                    (Purpose::DataTransfer, outcome) => {
                        let result =
                            outcome.and_then(|payload| decode::<DataTransferResponse>(&payload));
                        self.outputs
                            .push_back(Output::Event(Event::DataTransferAnswered {
                                handle,
                                result,
                            }));
                    }
                    (Purpose::Queued, outcome) => self.on_queued_outcome(now, outcome),
                    (purpose, outcome) => {
                        // An answer the types cannot hold fails like any other failed call.
                        let outcome =
                            outcome.and_then(|payload| self.on_result(now, &purpose, &payload));
                        if let Err(failure) = outcome {
                            self.on_failure(now, &purpose, &failure);
                            self.release(purpose);
                            self.outputs.push_back(Output::Event(Event::CallFailed {
                                action: action.to_string(),
                                failure,
                            }));
                        }
                    }
                }
            }
            RpcEvent::PeerError { error, answered } => {
                self.outputs
                    .push_back(Output::Event(Event::PeerError { error, answered }));
            }
        }
    }

    /// Undoes the bookkeeping of a call that will not be answered.
    fn release(&mut self, purpose: Purpose) {
        if let Purpose::Status { connector, .. } = purpose
            && let Some(slot) = self.connectors.get_mut(connector as usize)
        {
            slot.in_flight = false;
        }
        if let Purpose::TransferNotice = purpose {
            self.firmware.notice_retry();
        }
    }

    fn on_failure(&mut self, now: Now, purpose: &Purpose, failure: &CallFailure) {
        // A notification the Central System answered, even with an error, was processed; one
        // cut off goes again (`release`).
        if matches!(purpose, Purpose::TransferNotice)
            && !matches!(failure, CallFailure::Timeout | CallFailure::Disconnected)
        {
            let mut ops = Vec::new();
            self.firmware.notice_done(&mut ops);
            self.persist(ops);
        }
        // A boot cut off by a disconnect goes out again as soon as the next connection is up
        // (its time had come already); one that failed otherwise waits the retry interval.
        if matches!(purpose, Purpose::Boot) && *failure != CallFailure::Disconnected {
            self.next_boot = now.monotonic + self.config.boot_retry;
        }
    }

    fn on_result(
        &mut self,
        now: Now,
        purpose: &Purpose,
        payload: &Value,
    ) -> Result<(), CallFailure> {
        match purpose {
            Purpose::Boot => {
                let response = decode::<BootNotificationResponse>(payload)?;
                self.on_registration(now, response);
            }
            Purpose::Heartbeat => {
                let response = decode::<HeartbeatResponse>(payload)?;
                self.synchronize(now, response.current_time);
            }
            Purpose::Status { connector, sent } => {
                if let Some(slot) = self.connectors.get_mut(*connector as usize) {
                    slot.in_flight = false;
                    slot.reported = Some(sent.clone());
                }
            }
            Purpose::TransferNotice => {
                let mut ops = Vec::new();
                self.firmware.notice_done(&mut ops);
                self.persist(ops);
            }
            // Routed elsewhere before this point, or nothing to do.
            Purpose::Authorize { .. }
            | Purpose::DataTransfer
            | Purpose::Queued
            | Purpose::Notice => {}
        }
        Ok(())
    }

    /// Takes the meter values due now (section 3.16): those of a transaction join the durable
    /// queue; the others (clock-aligned values outside transactions) are sent if the station
    /// may send, and dropped otherwise, as they are not transaction-related (section 3.7).
    fn sample(&mut self, now: Now) {
        if self.metering_records.is_some() {
            return;
        }
        let corrected = Now::new(now.monotonic, self.time(now));
        let mut ops = Vec::new();
        let samples = self.metering.poll(corrected, &self.configuration, &mut ops);
        for sample in samples {
            match sample.transaction {
                Some(key) if self.ledger.get(key).is_some() => {
                    let request = sample.into_request(None);
                    if let Ok(payload) = serde_json::to_value(&request) {
                        self.ledger.enqueue(key, "MeterValues", payload, &mut ops);
                    }
                }
                _ => {
                    if self.connected && self.registration == Registration::Accepted {
                        let request = sample.into_request(None);
                        self.send(now, &request, Purpose::Notice);
                    }
                }
            }
        }
        self.persist(ops);
    }

    /// The Central System's answer (or its absence) to the head of the transaction queue.
    fn on_queued_outcome(&mut self, now: Now, outcome: Result<Value, CallFailure>) {
        self.queue_busy = false;
        let Some(head) = self.ledger.head() else {
            return;
        };
        let (key, action) = (head.transaction, head.action.clone());
        let retry_interval = self.configuration.transaction_message_retry_interval();
        let answer = match outcome {
            Ok(payload) => Ok(payload),
            // No answer is no "failure to process" (OCPP-J: that is a CallError): try again
            // later without counting it, or on the next connection.
            Err(CallFailure::Disconnected) => return,
            Err(CallFailure::Timeout) => {
                self.ledger.head_wait(now.monotonic + retry_interval);
                return;
            }
            Err(failure) => Err(failure),
        };
        let mut ops = Vec::new();
        match answer {
            Ok(payload) => {
                // Taken before the pop, which forgets a transaction with its last message.
                let transaction = self.ledger.get(key).cloned();
                let stop_id_tag = self
                    .ledger
                    .head()
                    .and_then(|head| head.payload.get("idTag"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                self.ledger.pop_head(&mut ops);
                self.persist(std::mem::take(&mut ops));
                if let Some(transaction) = transaction {
                    self.on_transaction_answer(now, transaction, &action, stop_id_tag, &payload);
                }
            }
            Err(failure) => {
                // Section 3.7.1: retry after RetryInterval times the transmissions so far, and
                // give up after TransactionMessageAttempts failures.
                let attempts = self.configuration.transaction_message_attempts().max(1);
                let failures = self
                    .ledger
                    .head_failed(|n| now.monotonic + retry_interval * n);
                if failures >= attempts {
                    self.ledger.pop_head(&mut ops);
                    if action == StartTransactionRequest::ACTION {
                        self.ledger
                            .update(key, &mut ops, |t| t.start_given_up = true);
                    }
                    self.outputs
                        .push_back(Output::Event(Event::TransactionMessageDiscarded {
                            transaction: key,
                            action: action.clone(),
                        }));
                } else {
                    self.ledger.save_head(&mut ops);
                }
                self.persist(ops);
                self.outputs
                    .push_back(Output::Event(Event::CallFailed { action, failure }));
            }
        }
    }

    fn on_transaction_answer(
        &mut self,
        now: Now,
        transaction: super::ledger::Transaction,
        action: &str,
        stop_id_tag: Option<String>,
        payload: &Value,
    ) {
        let key = transaction.key;
        match action {
            "StartTransaction" => {
                let Ok(response) = StartTransactionResponse::deserialize(payload) else {
                    return;
                };
                let mut ops = Vec::new();
                self.ledger.update(key, &mut ops, |t| {
                    t.transaction_id = Some(response.transaction_id)
                });
                self.persist(ops);
                self.record_id_tag_info(now, &transaction.id_tag, &response.id_tag_info);
                self.outputs
                    .push_back(Output::Event(Event::TransactionStarted {
                        transaction: key,
                        connector: transaction.connector,
                        transaction_id: response.transaction_id,
                        id_tag_info: response.id_tag_info.clone(),
                    }));
                if response.id_tag_info.status != AuthorizationStatus::Accepted
                    && !transaction.stopped
                {
                    let stop = self.configuration.stop_transaction_on_invalid_id();
                    let stopped = stop
                        && self
                            .queue_stop(
                                now,
                                key,
                                transaction.last_meter,
                                Some(Reason::DeAuthorized),
                                None,
                            )
                            .is_ok();
                    if !stopped
                        && let Some(slot) = self.connectors.get(transaction.connector as usize)
                    {
                        // C5: the EVSE must not offer energy while the transaction goes on.
                        let mut facts = slot.facts.clone();
                        facts.deauthorized = true;
                        self.set_facts(transaction.connector, facts);
                    }
                    self.outputs
                        .push_back(Output::Event(Event::TransactionDeauthorized {
                            transaction: key,
                            connector: transaction.connector,
                            id_tag_info: response.id_tag_info,
                            stopped,
                        }));
                }
            }
            "StopTransaction" => {
                let response = StopTransactionResponse::deserialize(payload).ok();
                // The verdict is on the id tag that stopped the transaction (section 4.10).
                if let (Some(id_tag), Some(info)) = (
                    stop_id_tag,
                    response.as_ref().and_then(|r| r.id_tag_info.as_ref()),
                ) {
                    self.record_id_tag_info(now, &id_tag, info);
                }
                self.outputs
                    .push_back(Output::Event(Event::TransactionEnded {
                        transaction: key,
                        transaction_id: transaction.id_for_messages(),
                        id_tag_info: response.and_then(|r| r.id_tag_info),
                    }));
            }
            _ => {}
        }
    }

    fn on_registration(&mut self, now: Now, response: BootNotificationResponse) {
        let interval = Duration::from_secs(u64::try_from(response.interval).unwrap_or(0));
        self.synchronize(now, response.current_time);
        self.registration = match response.status {
            RegistrationStatus::Accepted => {
                // Section 4.2: the interval becomes the heartbeat interval (0 keeps the
                // configured one). Errata 3.22: report every connector's current status, at
                // once: it is a report of the state, not a change to let settle.
                if !interval.is_zero() {
                    let seconds = interval.as_secs().to_string();
                    self.set_local(StandardKey::HeartbeatInterval, &seconds);
                }
                for connector in &mut self.connectors {
                    connector.reported = None;
                    connector.triggered = true;
                }
                Registration::Accepted
            }
            RegistrationStatus::Pending => Registration::Pending,
            RegistrationStatus::Rejected => Registration::Rejected,
        };
        if self.registration != Registration::Accepted {
            // Section 4.2: wait the interval, or a wait of the station's choosing if it is 0.
            let wait = if interval.is_zero() {
                self.config.boot_retry
            } else {
                interval
            };
            self.next_boot = now.monotonic + wait;
        }
        self.outputs.push_back(Output::Event(Event::Registered {
            status: response.status,
            interval,
        }));
    }

    fn synchronize(&mut self, now: Now, central_system_time: OffsetDateTime) {
        self.clock_offset = central_system_time - now.wall;
        self.metering
            .clock_changed(Now::new(now.monotonic, central_system_time));
        self.outputs
            .push_back(Output::Event(Event::ClockSynchronized {
                central_system_time,
                offset: self.clock_offset,
            }));
    }

    fn on_call(&mut self, now: Now, call: HeldCall) {
        // Section 4.2: "While Rejected, the Charge Point SHALL NOT respond to any Central
        // System initiated message."
        if self.registration == Registration::Rejected {
            return;
        }
        let action = call.action;
        match v16::Request::from_payload(action, call.payload) {
            Ok(v16::Request::GetConfiguration(request)) => {
                // Section 5.8; more keys than GetConfigurationMaxKeys is refused as a whole.
                // As everywhere in on_call: an answer can only fail if the connection closed.
                let _ = match self.configuration.get(request.key.as_deref()) {
                    Ok(response) => self.endpoint.respond_with(now, &call.id, &response),
                    Err(too_many) => self.endpoint.respond_error(
                        now,
                        &call.id,
                        too_many.error_code(),
                        too_many.to_string(),
                        None,
                    ),
                };
            }
            Ok(v16::Request::ChangeConfiguration(request)) => {
                // Section 5.3. The change is persisted before the answer is sent.
                let outcome = self.configuration.change(&request.key, &request.value);
                if let Some(applied) = outcome.applied() {
                    self.changed(applied);
                }
                let response = ChangeConfigurationResponse {
                    status: outcome.status(),
                };
                let _ = self.endpoint.respond_with(now, &call.id, &response);
            }
            Ok(v16::Request::RemoteStartTransaction(request)) => {
                let connector = request.connector_id.map(|c| c.max(0) as u32);
                // Section 4.2 (not while pending), OCTT TC_027_CS (never connector 0), and what
                // the station can know by itself; the rest is the application's to decide.
                let refused = self.registration != Registration::Accepted
                    || connector.is_some_and(|c| {
                        c == 0
                            || c > self.connector_count()
                            || self.ledger.running_on(c).is_some()
                            || !self.is_operative(c)
                    })
                    || request.connector_id.is_some_and(|c| c < 0)
                    // Section 5.13: a reserved connector refuses other id tags.
                    || connector.is_some_and(|c| {
                        c <= self.connector_count()
                            && self.reservation_for(c, &request.id_tag).is_err()
                    })
                    || self.remote_start_profile_refused(now, request.charging_profile.as_ref());
                if refused {
                    let response = RemoteStartTransactionResponse {
                        status: RemoteStartStopStatus::Rejected,
                    };
                    let _ = self.endpoint.respond_with(now, &call.id, &response);
                } else {
                    if let Some(profile) = &request.charging_profile
                        && self.configuration.supports(Profile::SmartCharging)
                    {
                        self.smart.remote_start_requested(
                            &call.id,
                            connector,
                            &request.id_tag,
                            profile.clone(),
                        );
                    }
                    let decision = Decision(call.id);
                    self.decisions
                        .insert(decision.clone(), "RemoteStartTransaction");
                    if let Some(connector) = connector {
                        self.pending_remote_starts
                            .insert(decision.clone(), (connector, request.id_tag.clone()));
                    }
                    self.outputs
                        .push_back(Output::Event(Event::RemoteStartRequested {
                            decision,
                            connector,
                            id_tag: request.id_tag,
                            charging_profile: request.charging_profile.map(Box::new),
                            authorize_first: self.configuration.authorize_remote_tx_requests(),
                        }));
                }
            }
            Ok(v16::Request::RemoteStopTransaction(request)) => {
                // Section 5.12: Accepted if and only if the transaction is ongoing.
                let running = self
                    .ledger
                    .running()
                    .find(|t| t.transaction_id == Some(request.transaction_id))
                    .map(|t| (t.connector, t.key));
                let status = match running {
                    Some(_) => RemoteStartStopStatus::Accepted,
                    None => RemoteStartStopStatus::Rejected,
                };
                let _ = self.endpoint.respond_with(
                    now,
                    &call.id,
                    &RemoteStopTransactionResponse { status },
                );
                if let Some((connector, transaction)) = running {
                    self.outputs.push_back(Output::Event(Event::StopRequested {
                        connector,
                        transaction,
                        reason: Reason::Remote,
                    }));
                }
            }
            Ok(v16::Request::Reset(request)) => {
                let decision = Decision(call.id);
                self.decisions.insert(decision.clone(), "Reset");
                self.pending_resets.insert(decision.clone(), request.kind);
                self.outputs.push_back(Output::Event(Event::ResetRequested {
                    decision,
                    kind: request.kind,
                }));
            }
            Ok(v16::Request::UnlockConnector(request)) => {
                let connector = request.connector_id;
                // OCTT TC_031_CS: an unknown connector is NotSupported.
                if connector <= 0 || connector as u32 > self.connector_count() {
                    let response = UnlockConnectorResponse {
                        status: UnlockStatus::NotSupported,
                    };
                    let _ = self.endpoint.respond_with(now, &call.id, &response);
                } else {
                    let connector = connector as u32;
                    let decision = Decision(call.id);
                    self.decisions.insert(decision.clone(), "UnlockConnector");
                    self.outputs
                        .push_back(Output::Event(Event::UnlockRequested {
                            decision,
                            connector,
                            transaction: self.ledger.running_on(connector).map(|t| t.key),
                        }));
                }
            }
            Ok(v16::Request::ReserveNow(request)) => {
                let status = self.reserve_now(now, request);
                let _ = self
                    .endpoint
                    .respond_with(now, &call.id, &ReserveNowResponse { status });
            }
            Ok(v16::Request::CancelReservation(request)) => {
                // Section 5.1: Accepted if and only if the station holds the reservation.
                let known = self
                    .reservations
                    .iter()
                    .any(|r| r.reservation_id == request.reservation_id);
                self.end_reservation(request.reservation_id, ReservationEnd::Cancelled);
                let status = if known {
                    CancelReservationStatus::Accepted
                } else {
                    CancelReservationStatus::Rejected
                };
                let _ = self.endpoint.respond_with(
                    now,
                    &call.id,
                    &CancelReservationResponse { status },
                );
            }
            Ok(v16::Request::ChangeAvailability(request)) => {
                let status = self.change_availability(now, request.connector_id, request.kind);
                let _ = self.endpoint.respond_with(
                    now,
                    &call.id,
                    &ChangeAvailabilityResponse { status },
                );
            }
            Ok(v16::Request::ClearCache(_)) => {
                let settings = AuthSettings::from_configuration(&self.configuration);
                let mut ops = Vec::new();
                let response = self.authorization.clear_cache(&settings, &mut ops);
                self.persist(ops);
                let _ = self.endpoint.respond_with(now, &call.id, &response);
            }
            Ok(v16::Request::GetLocalListVersion(_)) => {
                let settings = AuthSettings::from_configuration(&self.configuration);
                let response = self.authorization.get_local_list_version(&settings);
                let _ = self.endpoint.respond_with(now, &call.id, &response);
            }
            Ok(v16::Request::SendLocalList(request)) => {
                let settings = AuthSettings::from_configuration(&self.configuration);
                let mut ops = Vec::new();
                let outcome = self
                    .authorization
                    .send_local_list(&settings, &request, &mut ops);
                self.persist(ops);
                let _ = self
                    .endpoint
                    .respond_with(now, &call.id, &outcome.response());
            }
            Ok(v16::Request::DataTransfer(request)) => {
                let decision = Decision(call.id);
                self.decisions.insert(decision.clone(), "DataTransfer");
                self.outputs
                    .push_back(Output::Event(Event::DataTransferRequested {
                        decision,
                        request,
                    }));
            }
            Ok(v16::Request::UpdateFirmware(request)) => {
                // Section 5.19: the answer has no fields; the update starts at the retrieve date.
                let mut ops = Vec::new();
                let mut events = Vec::new();
                self.firmware.update_requested(
                    &request,
                    &self.config.firmware,
                    &mut ops,
                    &mut events,
                );
                self.persist(ops);
                self.outputs.extend(events.into_iter().map(Output::Event));
                let _ = self
                    .endpoint
                    .respond_with(now, &call.id, &UpdateFirmwareResponse {});
            }
            Ok(v16::Request::GetDiagnostics(request)) => {
                if self.firmware.uploading() {
                    // One upload at a time: no file for a second request (section 5.9).
                    let _ = self.endpoint.respond_with(
                        now,
                        &call.id,
                        &GetDiagnosticsResponse { file_name: None },
                    );
                } else {
                    let decision = Decision(call.id);
                    self.decisions.insert(decision.clone(), "GetDiagnostics");
                    self.outputs
                        .push_back(Output::Event(Event::DiagnosticsRequested {
                            decision: decision.clone(),
                            location: request.location.clone(),
                            start_time: request.start_time,
                            stop_time: request.stop_time,
                        }));
                    self.pending_diagnostics.insert(decision, request);
                }
            }
            Ok(v16::Request::SetChargingProfile(request)) => {
                let settings = self.smart_settings();
                let running = running_transactions(&self.ledger);
                let mut ops = Vec::new();
                let outcome = self.smart.set(
                    &settings,
                    request.connector_id,
                    request.cs_charging_profiles,
                    self.time(now),
                    &running,
                    &mut ops,
                );
                self.persist(ops);
                let status = match outcome {
                    Ok(()) => ChargingProfileStatus::Accepted,
                    Err(error @ Rejection::UnknownConnector(_)) => {
                        // Errata 3.39.
                        let code = ErrorCode::PropertyConstraintViolation;
                        let _ = self.endpoint.respond_error(
                            now,
                            &call.id,
                            code,
                            error.to_string(),
                            None,
                        );
                        return;
                    }
                    Err(_) => ChargingProfileStatus::Rejected,
                };
                let response = SetChargingProfileResponse { status };
                let _ = self.endpoint.respond_with(now, &call.id, &response);
            }
            Ok(v16::Request::ClearChargingProfile(request)) => {
                let mut ops = Vec::new();
                let status = self.smart.clear(&request, &mut ops);
                self.persist(ops);
                let response = ClearChargingProfileResponse { status };
                let _ = self.endpoint.respond_with(now, &call.id, &response);
            }
            Ok(v16::Request::GetCompositeSchedule(request)) => {
                let running = running_transactions(&self.ledger);
                let settings = self.smart_settings();
                let response = self.smart.get_composite_schedule(
                    &settings,
                    &request,
                    self.time(now),
                    &running,
                );
                let _ = self.endpoint.respond_with(now, &call.id, &response);
            }
            Ok(v16::Request::TriggerMessage(request)) => {
                let status = self.on_trigger(&request);
                let response = TriggerMessageResponse { status };
                // The endpoint holds the id until answered; an error here means the connection
                // closed meanwhile, and the answer has nobody to go to.
                let _ = self.endpoint.respond_with(now, &call.id, &response);
            }
            Ok(_) => {
                // The endpoint only hands over accepted actions; anything else is a bug here.
                let _ = self.endpoint.respond_error(
                    now,
                    &call.id,
                    ErrorCode::NotSupported,
                    format!("{} is not supported", call.action),
                    None,
                );
            }
            Err(e) => {
                // Schema-valid (the endpoint checked) yet not decodable: a value beyond what
                // the field holds, e.g. an integer over 32 bits.
                let _ = self.endpoint.respond_error(
                    now,
                    &call.id,
                    ErrorCode::PropertyConstraintViolation,
                    e.to_string(),
                    None,
                );
            }
        }
    }

    /// A reset was accepted: every running transaction must stop, and the restart will know
    /// why they were interrupted.
    fn reset_accepted(&mut self, kind: ResetType) {
        let reason = match kind {
            ResetType::Hard => Reason::HardReset,
            ResetType::Soft => Reason::SoftReset,
        };
        self.outputs.push_back(Output::Persist(StoreOp::Put {
            collection: STATE_COLLECTION,
            key: RESET_KEY.to_owned(),
            value: match kind {
                ResetType::Hard => b"Hard".to_vec(),
                ResetType::Soft => b"Soft".to_vec(),
            },
        }));
        let running: Vec<_> = self
            .ledger
            .running()
            .map(|t| (t.connector, t.key))
            .collect();
        for (connector, transaction) in running {
            self.outputs.push_back(Output::Event(Event::StopRequested {
                connector,
                transaction,
                reason,
            }));
        }
    }

    /// Section 5.2: Accepted, Rejected (no such connector) or Scheduled (a transaction runs).
    fn change_availability(
        &mut self,
        now: Now,
        connector: i32,
        kind: AvailabilityType,
    ) -> AvailabilityStatus {
        if connector < 0 || connector as u32 > self.connector_count() {
            return AvailabilityStatus::Rejected;
        }
        let connector = connector as u32;
        let busy = if connector == 0 {
            self.ledger.running().next().is_some()
        } else {
            self.ledger.running_on(connector).is_some()
        };
        let already =
            self.inoperative.contains(&connector) == (kind == AvailabilityType::Inoperative);
        if already {
            // "In the event that Central System requests Charge Point to change to a status it
            // is already in, Charge Point SHALL respond with availability status 'Accepted'."
            if self.scheduled.remove(&connector).is_some() {
                self.save_availability(connector);
            }
            return AvailabilityStatus::Accepted;
        }
        if busy && kind == AvailabilityType::Inoperative {
            self.scheduled.insert(connector, kind);
            self.save_availability(connector);
            return AvailabilityStatus::Scheduled;
        }
        self.set_availability(now, connector, kind);
        AvailabilityStatus::Accepted
    }

    fn set_availability(&mut self, now: Now, connector: u32, kind: AvailabilityType) {
        self.scheduled.remove(&connector);
        let operative = kind == AvailabilityType::Operative;
        if operative {
            self.inoperative.remove(&connector);
        } else {
            self.inoperative.insert(connector);
        }
        self.save_availability(connector);
        // Every connector whose reported status may change starts its stability clock now.
        let wall = now.wall + self.clock_offset;
        let affected: Vec<usize> = if connector == 0 {
            (0..self.connectors.len()).collect()
        } else {
            vec![connector as usize]
        };
        for id in affected {
            self.connectors[id].changed_at = now.monotonic;
            self.connectors[id].changed_at_wall = Some(wall);
        }
        self.outputs
            .push_back(Output::Event(Event::AvailabilityChanged {
                connector,
                operative,
            }));
        // Section 5.13: an unavailable connector loses its reservation, persisted before the
        // answer goes out.
        self.check_reservations(now);
    }

    fn save_availability(&mut self, connector: u32) {
        let value: Option<&[u8]> = match (
            self.inoperative.contains(&connector),
            self.scheduled.get(&connector),
        ) {
            (_, Some(AvailabilityType::Inoperative)) => Some(b"scheduled-inoperative"),
            (_, Some(AvailabilityType::Operative)) => Some(b"scheduled-operative"),
            (true, None) => Some(b"inoperative"),
            (false, None) => None,
        };
        let key = format!("{connector:04}");
        self.outputs.push_back(Output::Persist(match value {
            Some(value) => StoreOp::Put {
                collection: AVAILABILITY_COLLECTION,
                key,
                value: value.to_vec(),
            },
            None => StoreOp::Delete {
                collection: AVAILABILITY_COLLECTION,
                key,
            },
        }));
    }

    /// Applies availability changes that waited for transactions to end.
    fn apply_scheduled(&mut self, now: Now) {
        let due: Vec<(u32, AvailabilityType)> = self
            .scheduled
            .iter()
            .filter(|(connector, _)| {
                if **connector == 0 {
                    self.ledger.running().next().is_none()
                } else {
                    self.ledger.running_on(**connector).is_none()
                }
            })
            .map(|(c, k)| (*c, *k))
            .collect();
        for (connector, kind) in due {
            self.set_availability(now, connector, kind);
        }
    }

    /// Persists a configuration change and tells the application.
    fn changed(&mut self, applied: &config::Applied) {
        self.outputs.push_back(Output::Persist(applied.record()));
        let write_only = self.configuration.accessibility(applied.key().name())
            == Some(config::Accessibility::WriteOnly);
        self.outputs
            .push_back(Output::Event(Event::ConfigurationChanged {
                key: applied.key().name().to_owned(),
                value: (!write_only).then(|| applied.value().to_owned()),
                after_reboot: applied.takes_effect_after_reboot(),
            }));
    }

    /// The station changes a key on its own initiative (e.g. HeartbeatInterval from a
    /// BootNotification answer).
    fn set_local(&mut self, key: StandardKey, value: &str) {
        // If the integrator left the key out or made it read-only, there is nothing to set.
        if let Ok(applied) = self.configuration.set_local(key.name(), value) {
            self.changed(&applied);
        }
    }

    /// Section 5.17: which messages a TriggerMessage can ask for.
    fn on_trigger(&mut self, request: &TriggerMessageRequest) -> TriggerMessageStatus {
        let connector = request.connector_id;
        let connector_ok = connector.is_none_or(|c| c >= 0 && c as u32 <= self.connector_count());
        if !connector_ok {
            return TriggerMessageStatus::Rejected;
        }
        match request.requested_message {
            MessageTrigger::BootNotification => {
                // Errata 3.35: once accepted, a station is recommended to refuse this until its
                // next reboot or reconnect.
                if self.registration == Registration::Accepted {
                    TriggerMessageStatus::Rejected
                } else {
                    self.boot_triggered = true;
                    TriggerMessageStatus::Accepted
                }
            }
            MessageTrigger::Heartbeat => {
                self.heartbeat_triggered = true;
                TriggerMessageStatus::Accepted
            }
            MessageTrigger::StatusNotification => {
                let targets: BTreeSet<usize> = match connector {
                    Some(c) => BTreeSet::from([c as usize]),
                    None => (0..self.connectors.len()).collect(),
                };
                for id in targets {
                    self.connectors[id].triggered = true;
                }
                TriggerMessageStatus::Accepted
            }
            MessageTrigger::MeterValues => {
                let targets: Vec<u32> = match connector {
                    Some(c) => vec![c as u32],
                    None => (0..=self.connector_count()).collect(),
                };
                self.triggered_meter_values.extend(targets);
                TriggerMessageStatus::Accepted
            }
            MessageTrigger::DiagnosticsStatusNotification
            | MessageTrigger::FirmwareStatusNotification
                if !self.configuration.supports(Profile::FirmwareManagement) =>
            {
                TriggerMessageStatus::NotImplemented
            }
            MessageTrigger::DiagnosticsStatusNotification => {
                self.diagnostics_triggered = true;
                TriggerMessageStatus::Accepted
            }
            MessageTrigger::FirmwareStatusNotification => {
                self.firmware_triggered = true;
                TriggerMessageStatus::Accepted
            }
        }
    }

    fn smart_settings(&self) -> smart_charging::Settings {
        smart_charging::Settings::from_configuration(
            &self.configuration,
            self.config.nominal_voltage,
            self.config.connector_rating,
        )
    }

    /// Section 5.16.2: with Smart Charging, a remote start's profile must be a valid TxProfile
    /// (OCTT TC_060_CS) that the station has room for.
    fn remote_start_profile_refused(&self, now: Now, profile: Option<&ChargingProfile>) -> bool {
        self.configuration.supports(Profile::SmartCharging)
            && profile.is_some_and(|profile| {
                let settings = self.smart_settings();
                self.smart
                    .check_remote_start_profile(&settings, profile, self.time(now))
                    .is_err()
            })
    }

    /// Tells the application of every connector whose limit changed, and notes when the next
    /// change may come.
    fn update_charging_limits(&mut self, now: Now) {
        if self.smart.is_idle() && self.charging_limits.is_empty() {
            // The common case, on every input: nothing limits and nothing was announced.
            self.next_limit_change = None;
            return;
        }
        let at = self.time(now);
        let settings = self.smart_settings();
        let running = running_transactions(&self.ledger);
        for connector in 0..=self.connector_count() {
            let limit = self.smart.limit_at(&settings, connector, at, &running);
            if self.charging_limits.get(&connector) != limit.as_ref() {
                match limit {
                    Some(limit) => self.charging_limits.insert(connector, limit),
                    None => self.charging_limits.remove(&connector),
                };
                self.outputs
                    .push_back(Output::Event(Event::ChargingLimitChanged {
                        connector,
                        limit,
                    }));
            }
        }
        self.next_limit_change = self
            .smart
            .next_change(at, &running)
            .map(|next| now.monotonic + Duration::try_from(next - at).unwrap_or_default());
    }

    /// The next deadline of the machine's own timers.
    fn own_deadline(&self) -> Option<Monotonic> {
        // Meter values are sampled connected or not: transaction samples are queued; firmware
        // and diagnostics steps and connection timeouts go on offline too.
        let timeout = self.configuration.connection_timeout();
        let sampling = (1..self.connectors.len())
            .filter_map(|id| self.connection_deadline(id, timeout))
            .chain(self.metering.next_deadline(&self.configuration))
            .chain(self.firmware.next_deadline())
            .chain(self.reservation_deadline)
            .chain(self.next_limit_change)
            .min();
        if !self.connected {
            return sampling;
        }
        let booting = self.calls.values().any(|p| matches!(p, Purpose::Boot));
        let mut deadlines = Vec::new();
        if self.registration != Registration::Accepted && !booting {
            deadlines.push(self.next_boot);
        }
        if self.registration == Registration::Accepted {
            let heartbeat_interval = self.configuration.heartbeat_interval();
            if !heartbeat_interval.is_zero() {
                deadlines.push(self.last_sent + heartbeat_interval);
            }
            if !self.queue_busy
                && let Some(head) = self.ledger.head()
            {
                deadlines.push(head.not_before);
            }
            let minimum = self.configuration.minimum_status_duration();
            for (id, connector) in self.connectors.iter().enumerate() {
                if connector.reported.as_ref() != Some(&self.effective_status(id))
                    && !connector.in_flight
                {
                    deadlines.push(connector.changed_at + minimum);
                }
            }
        }
        deadlines.extend(sampling);
        deadlines.into_iter().min()
    }
}

/// The running transactions as Smart Charging sees them.
fn running_transactions(ledger: &Ledger) -> smart_charging::Running {
    ledger
        .running()
        .map(|t| {
            let running = RunningTransaction {
                started_at: t.started_at,
                transaction_id: t.transaction_id,
            };
            (t.connector, running)
        })
        .collect()
}

/// Decodes a schema-valid answer; a value the type cannot hold (an integer beyond 32 bits) is a
/// failed call like any other invalid answer.
fn decode<T: serde::de::DeserializeOwned>(payload: &Value) -> Result<T, CallFailure> {
    T::deserialize(payload).map_err(|e| CallFailure::InvalidResponse {
        code: ErrorCode::PropertyConstraintViolation,
        description: e.to_string(),
    })
}

impl Machine for ChargePoint {
    type Event = Event;

    fn handle_connected(&mut self, now: Now) {
        self.settle_restored(now);
        self.connected = true;
        self.endpoint.handle_connected(now);
        self.last_sent = now.monotonic;
        self.pump(now);
    }

    fn handle_disconnected(&mut self, now: Now) {
        self.settle_restored(now);
        self.connected = false;
        // The head in flight failed with the connection; it goes again on the next one.
        self.queue_busy = false;
        // The endpoint forgets the Central System's open requests; so do we.
        self.decisions.clear();
        self.pending_diagnostics.clear();
        self.pending_remote_starts.clear();
        self.smart.remote_starts_abandoned();
        self.endpoint.handle_disconnected(now);
        self.drain_endpoint(now);
    }

    fn handle_message(&mut self, now: Now, text: &str) {
        self.settle_restored(now);
        if let Some(call) = self.endpoint.handle_message(now, text) {
            let call = self.endpoint.hold(call);
            self.on_call(now, call);
        }
        self.drain_endpoint(now);
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Now) {
        self.settle_restored(now);
        self.endpoint.handle_timeout(now);
        self.drain_endpoint(now);
        self.pump(now);
    }

    fn poll_output(&mut self) -> Option<Output<Event>> {
        crate::machine::next_output(&mut self.outputs)
    }

    fn poll_timeout(&self) -> Option<Monotonic> {
        [self.endpoint.poll_timeout(), self.own_deadline()]
            .into_iter()
            .flatten()
            .min()
    }
}
