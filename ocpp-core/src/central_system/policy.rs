//! Which Charge Point requests the machine answers on its own, and how.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::v16::{Action, RegistrationStatus, Sender};

/// The answer the machine gives a BootNotification when it answers it on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootAnswer {
    /// Accepted, Pending or Rejected.
    pub status: RegistrationStatus,
    /// Accepted: the heartbeat interval the Charge Point adopts. Pending or Rejected: the
    /// minimum wait before its next BootNotification (1.6 section 4.2; 0 lets the Charge Point
    /// choose). Sent in whole seconds, capped at `i32::MAX`.
    pub interval: Duration,
}

impl BootAnswer {
    /// Accept the Charge Point; it sends heartbeats every `heartbeat_interval`.
    pub const fn accepted(heartbeat_interval: Duration) -> BootAnswer {
        BootAnswer {
            status: RegistrationStatus::Accepted,
            interval: heartbeat_interval,
        }
    }

    /// Keep the Charge Point pending: the Central System may configure it, then it boots
    /// again after `retry`.
    pub const fn pending(retry: Duration) -> BootAnswer {
        BootAnswer {
            status: RegistrationStatus::Pending,
            interval: retry,
        }
    }

    /// Reject the Charge Point: it sends nothing until `retry` has passed.
    pub const fn rejected(retry: Duration) -> BootAnswer {
        BootAnswer {
            status: RegistrationStatus::Rejected,
            interval: retry,
        }
    }
}

/// Which requests of the Charge Point the machine answers on its own ("automatic"), and
/// which it hands to the application to decide.
///
/// Every request is reported to the application either way, as
/// [`Event::Request`](super::Event::Request); what differs is whether the event carries the
/// answer already sent ([`Answer::Sent`](super::Answer::Sent)) or a
/// [`Decision`](super::Decision) the application must answer with
/// [`CentralSystem::reply`](super::CentralSystem::reply).
///
/// The built-in answers, used for the actions in [`CentralSystemPolicy::automatic`]:
///
/// | action | automatic answer | automatic by default |
/// |---|---|---|
/// | BootNotification | [`CentralSystemPolicy::boot`], `currentTime` = `now.wall` | yes (Accepted, 300 s) |
/// | Heartbeat | `currentTime` = `now.wall` (section 4.6) | yes |
/// | StatusNotification, MeterValues, DiagnosticsStatusNotification, FirmwareStatusNotification, LogStatusNotification, SecurityEventNotification, SignedFirmwareStatusNotification | the empty `.conf` | yes |
/// | Authorize | `idTagInfo.status` Accepted | only in [`CentralSystemPolicy::accept_all`] |
/// | StartTransaction | Accepted, `transactionId` from a counter starting at [`CentralSystemPolicy::first_transaction_id`] | only in `accept_all` |
/// | StopTransaction | `idTagInfo` Accepted when the request has an `idTag`, else none | only in `accept_all` |
/// | DataTransfer | `UnknownVendorId` (section 4.3: the answer of a recipient that implements no vendor extension) | no |
/// | SignCertificate | `Rejected` (a Central System without a certificate authority) | no |
///
/// Why this split: the notifications carry facts the Central System cannot refuse (sections
/// 4.4-4.7, 4.9 and the security white paper say only that it SHALL answer), so answering
/// them is pure protocol and the application merely listens. Whether an id tag may charge,
/// which transaction id a transaction gets, what a vendor extension means and whether a
/// certificate is signed are business decisions that only the application can make; a
/// Central System that accepted every id tag by accident would give away energy, so those
/// are asked by default and the accept-all answers are opt-in, for demos and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CentralSystemPolicy {
    /// The automatic answer to BootNotification.
    pub boot: BootAnswer,
    /// The first `transactionId` the automatic StartTransaction answer assigns; each later
    /// one is one more. Default 1.
    pub first_transaction_id: i32,
    /// The Charge Point actions answered automatically; the others are asked of the
    /// application. Actions the Charge Point does not send have no effect here.
    pub automatic: BTreeSet<Action>,
    /// Whether the machine keeps the last BootNotification and the last StatusNotification
    /// of each connector for [`CentralSystem::boot_notification`] and
    /// [`CentralSystem::connector_statuses`]. Default yes; an application that records them
    /// itself turns it off ([`CentralSystemPolicy::without_reports`]) and saves their
    /// memory on every connection (a few hundred bytes per connected station).
    ///
    /// [`CentralSystem::boot_notification`]: super::CentralSystem::boot_notification
    /// [`CentralSystem::connector_statuses`]: super::CentralSystem::connector_statuses
    pub keep_reports: bool,
}

impl Default for CentralSystemPolicy {
    /// BootNotification accepted with a 300 s heartbeat interval; Heartbeat and the seven
    /// notifications automatic; Authorize, StartTransaction, StopTransaction, DataTransfer and
    /// SignCertificate asked of the application.
    fn default() -> CentralSystemPolicy {
        CentralSystemPolicy {
            boot: BootAnswer::accepted(Duration::from_secs(300)),
            first_transaction_id: 1,
            automatic: BTreeSet::from([
                Action::BootNotification,
                Action::Heartbeat,
                Action::StatusNotification,
                Action::MeterValues,
                Action::DiagnosticsStatusNotification,
                Action::FirmwareStatusNotification,
                Action::LogStatusNotification,
                Action::SecurityEventNotification,
                Action::SignedFirmwareStatusNotification,
            ]),
            keep_reports: true,
        }
    }
}

impl CentralSystemPolicy {
    /// The default policy plus Authorize, StartTransaction and StopTransaction answered
    /// automatically: every id tag is accepted and transaction ids come from a counter. For
    /// demos and tests; a real Central System decides these itself.
    pub fn accept_all() -> CentralSystemPolicy {
        CentralSystemPolicy::default()
            .automatic(Action::Authorize)
            .automatic(Action::StartTransaction)
            .automatic(Action::StopTransaction)
    }

    /// The application answers `action` itself (see [`CentralSystem::reply`]).
    ///
    /// [`CentralSystem::reply`]: super::CentralSystem::reply
    pub fn ask(mut self, action: Action) -> CentralSystemPolicy {
        self.automatic.remove(&action);
        self
    }

    /// The machine answers `action` with its built-in answer.
    pub fn automatic(mut self, action: Action) -> CentralSystemPolicy {
        if action.sender() != Sender::CentralSystem {
            self.automatic.insert(action);
        }
        self
    }

    /// The automatic BootNotification answer is `boot`.
    pub fn with_boot(mut self, boot: BootAnswer) -> CentralSystemPolicy {
        self.boot = boot;
        self
    }

    /// The machine keeps no copy of the BootNotification and StatusNotifications (see
    /// [`CentralSystemPolicy::keep_reports`]); the application gets them as events all the
    /// same.
    pub fn without_reports(mut self) -> CentralSystemPolicy {
        self.keep_reports = false;
        self
    }

    /// Whether the machine answers `action` on its own.
    pub fn is_automatic(&self, action: Action) -> bool {
        self.automatic.contains(&action)
    }
}
