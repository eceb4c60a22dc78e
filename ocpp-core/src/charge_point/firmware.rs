//! Firmware Management: firmware updates (UpdateFirmware, section 5.19) and diagnostics uploads
//! (GetDiagnostics, section 5.9), with their status notifications (sections 4.4 and 4.5, errata
//! 3.12, 3.31, 3.47 to 3.49).
//!
//! The work is split the usual way. The application moves the bytes: it downloads and installs
//! the firmware and uploads the diagnostics file, because transfer protocols, storage and image
//! checks are the hardware's business. The stack decides when each step starts (not before the
//! retrieve date; installation only once no transaction runs, unless the station can install
//! while charging), how often a failed transfer is tried again (`retries`, `retryInterval`, or
//! the station's defaults when the Central System gives none), which connectors are held
//! Unavailable meanwhile, and what the Central System is told. Each step is persisted, so a
//! power loss in the middle neither loses an update nor reports it twice: a download or upload
//! cut short counts as a failed attempt and is retried, an installation is still waiting for
//! its outcome after the restart (the errata recommend reporting `Installed` only once the new
//! firmware has booted).
//!
//! Status notifications are queued durably and sent in order once the station is accepted; a
//! notification cut off by a disconnect or a timeout goes again, one the Central System
//! answers with a CallError is not repeated.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::role::{Event, RestoreError};
use crate::persist::{Snapshot, StoreOp};
use crate::time::{Monotonic, Now};
use crate::v16::{DiagnosticsStatus, FirmwareStatus, GetDiagnosticsRequest, UpdateFirmwareRequest};

/// The collection firmware and diagnostics state is persisted in (keys `update`,
/// `diagnostics` and `notices`).
pub const COLLECTION: &str = "cp16.firmware";
const UPDATE_KEY: &str = "update";
const DIAGNOSTICS_KEY: &str = "diagnostics";
const NOTICES_KEY: &str = "notices";
const RECORD_VERSION: u32 = 1;

/// How the station handles firmware updates and diagnostics uploads where the protocol leaves
/// the choice to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmwareSettings {
    /// How many times a failed download or upload is tried again when the request gives no
    /// `retries` (sections 6.25 and 6.55 leave it to the station). Default 2.
    pub default_retries: u32,
    /// The wait before trying again when the request gives no `retryInterval`. Default 60 s.
    pub default_retry_interval: Duration,
    /// Whether the station can install firmware while transactions run. Default `false`: the
    /// installation waits until no transaction runs, and meanwhile connectors without one are
    /// Unavailable, so that no new session delays it (errata 3.49).
    pub install_during_transactions: bool,
}

impl Default for FirmwareSettings {
    fn default() -> FirmwareSettings {
        FirmwareSettings {
            default_retries: 2,
            default_retry_interval: Duration::from_secs(60),
            install_during_transactions: false,
        }
    }
}

/// How a transfer the application performed ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferOutcome {
    /// The download, installation or upload succeeded.
    Succeeded,
    /// It failed.
    Failed,
}

/// Why the application's report on a transfer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// The stack did not ask for this step, or it was already reported.
    #[error("no {0} is under way")]
    NotUnderWay(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum UpdateStep {
    /// Before the retrieve date.
    Waiting,
    /// The application was asked to download.
    Downloading,
    /// A download failed; the next attempt waits for the retry interval.
    RetryWait,
    /// Downloaded; the installation waits for the transactions to end.
    Downloaded,
    /// The application was asked to install.
    Installing,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Update {
    v: u32,
    location: String,
    #[serde(with = "crate::primitives::datetime")]
    retrieve_at: OffsetDateTime,
    #[serde(flatten)]
    attempts: Attempts,
    step: UpdateStep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum UploadStep {
    /// The application was asked to upload.
    Uploading,
    /// Before the first attempt, or after a failed one: waits for the retry interval.
    RetryWait,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Upload {
    v: u32,
    location: String,
    file_name: String,
    #[serde(default, with = "crate::primitives::datetime::option")]
    start_time: Option<OffsetDateTime>,
    #[serde(default, with = "crate::primitives::datetime::option")]
    stop_time: Option<OffsetDateTime>,
    #[serde(flatten)]
    attempts: Attempts,
    step: UploadStep,
}

/// A status notification waiting to be acknowledged by the Central System.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Notice {
    /// A FirmwareStatusNotification.
    Firmware(FirmwareStatus),
    /// A DiagnosticsStatusNotification.
    Diagnostics(DiagnosticsStatus),
}

#[derive(Debug, Serialize, Deserialize)]
struct NoticesRecord {
    v: u32,
    notices: Vec<Notice>,
}

/// The firmware update and the diagnostics upload under way, and the notifications owed.
#[derive(Debug, Default)]
pub(crate) struct Firmware {
    update: Option<Update>,
    /// When the update's next step is due: the retrieve date or the end of a retry wait.
    update_due: Option<Monotonic>,
    upload: Option<Upload>,
    upload_due: Option<Monotonic>,
    notices: VecDeque<Notice>,
    notice_in_flight: bool,
    /// Attempts cut short by the restart are still to be dealt with (at the first input).
    restored: bool,
}

fn decode<T: serde::de::DeserializeOwned>(
    snapshot: &Snapshot,
    key: &'static str,
    version: impl Fn(&T) -> u32,
) -> Result<Option<T>, RestoreError> {
    let Some(bytes) = snapshot.get(COLLECTION, key) else {
        return Ok(None);
    };
    let bad = |reason: String| RestoreError::BadRecord {
        collection: COLLECTION,
        key: key.to_owned(),
        reason,
    };
    let record: T = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if version(&record) != RECORD_VERSION {
        return Err(bad(format!(
            "record version {} is unknown",
            version(&record)
        )));
    }
    Ok(Some(record))
}

fn put<T: Serialize>(key: &'static str, value: &T, ops: &mut Vec<StoreOp>) {
    ops.push(StoreOp::Put {
        collection: COLLECTION,
        key: key.to_owned(),
        // Plain data of strings, numbers and dates: serialising it cannot fail.
        value: serde_json::to_vec(value).unwrap_or_default(),
    });
}

fn delete(key: &'static str, ops: &mut Vec<StoreOp>) {
    ops.push(StoreOp::Delete {
        collection: COLLECTION,
        key: key.to_owned(),
    });
}

/// How often a transfer has been tried, and how often and how far apart it may be again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Attempts {
    retries_left: u32,
    retry_interval_secs: u64,
    attempt: u32,
}

impl Attempts {
    /// The request's `retries` and `retryInterval`, or the station's defaults when absent; a
    /// negative value counts as none.
    fn new(retries: Option<i32>, interval: Option<i32>, settings: &FirmwareSettings) -> Attempts {
        Attempts {
            retries_left: retries.map_or(settings.default_retries, |n| n.max(0) as u32),
            retry_interval_secs: interval.map_or(settings.default_retry_interval.as_secs(), |n| {
                n.max(0) as u64
            }),
            attempt: 0,
        }
    }

    /// After a failed attempt: the wait before the next one, or `None` when none remains.
    fn retry(&mut self) -> Option<Duration> {
        self.retries_left = self.retries_left.checked_sub(1)?;
        Some(Duration::from_secs(self.retry_interval_secs))
    }
}

impl Firmware {
    /// The state persisted before the restart.
    pub(crate) fn restore(snapshot: &Snapshot) -> Result<Firmware, RestoreError> {
        let update = decode::<Update>(snapshot, UPDATE_KEY, |r| r.v)?;
        let upload = decode::<Upload>(snapshot, DIAGNOSTICS_KEY, |r| r.v)?;
        let notices = decode::<NoticesRecord>(snapshot, NOTICES_KEY, |r| r.v)?
            .map(|r| r.notices.into())
            .unwrap_or_default();
        Ok(Firmware {
            restored: update.is_some() || upload.is_some(),
            update,
            upload,
            notices,
            ..Firmware::default()
        })
    }

    /// Whether connectors without a transaction must be Unavailable: the firmware is
    /// downloaded and waits to be installed, or is being installed.
    pub(crate) fn holds_connectors(&self) -> bool {
        self.update
            .as_ref()
            .is_some_and(|u| matches!(u.step, UpdateStep::Downloaded | UpdateStep::Installing))
    }

    /// Whether a diagnostics upload is under way (a second GetDiagnostics gets no file name).
    pub(crate) fn uploading(&self) -> bool {
        self.upload.is_some()
    }

    /// An UpdateFirmware request: it replaces an update not yet installing (the application is
    /// told to drop the old one); during an installation it is ignored, as 1.6 gives no way to
    /// refuse it and the station cannot take another image before it restarts.
    pub(crate) fn update_requested(
        &mut self,
        request: &UpdateFirmwareRequest,
        settings: &FirmwareSettings,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        if let Some(current) = &self.update {
            match current.step {
                UpdateStep::Installing => return,
                UpdateStep::Waiting => {}
                UpdateStep::Downloading | UpdateStep::RetryWait | UpdateStep::Downloaded => {
                    events.push(Event::FirmwareUpdateCancelled {
                        location: current.location.clone(),
                    });
                }
            }
        }
        let update = Update {
            v: RECORD_VERSION,
            location: request.location.clone(),
            retrieve_at: request.retrieve_date,
            attempts: Attempts::new(request.retries, request.retry_interval, settings),
            step: UpdateStep::Waiting,
        };
        put(UPDATE_KEY, &update, ops);
        self.update = Some(update);
        self.update_due = None;
    }

    /// The application accepted a GetDiagnostics with the file it will upload: the first
    /// attempt starts at the next [`Firmware::poll`].
    pub(crate) fn upload_accepted(
        &mut self,
        request: &GetDiagnosticsRequest,
        file_name: String,
        settings: &FirmwareSettings,
        ops: &mut Vec<StoreOp>,
    ) {
        let upload = Upload {
            v: RECORD_VERSION,
            location: request.location.clone(),
            file_name,
            start_time: request.start_time,
            stop_time: request.stop_time,
            attempts: Attempts::new(request.retries, request.retry_interval, settings),
            step: UploadStep::RetryWait,
        };
        put(DIAGNOSTICS_KEY, &upload, ops);
        self.upload = Some(upload);
        self.upload_due = None;
    }

    /// Starts what is due at `now` (`time`: the station's corrected wall clock).
    pub(crate) fn poll(
        &mut self,
        now: Now,
        time: OffsetDateTime,
        transactions_running: bool,
        settings: &FirmwareSettings,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        if std::mem::take(&mut self.restored) {
            // An attempt the restart cut short failed, and the next one starts at once (the
            // transfer was not at fault); an installation goes on (its outcome comes from the
            // application once the station is up again).
            if self
                .update
                .as_ref()
                .is_some_and(|u| u.step == UpdateStep::Downloading)
            {
                self.download_failed(now, ops);
                self.update_due = None;
            }
            if self
                .upload
                .as_ref()
                .is_some_and(|u| u.step == UploadStep::Uploading)
            {
                self.upload_failed(now, ops);
                self.upload_due = None;
            }
        }
        if let Some(update) = &mut self.update {
            match update.step {
                UpdateStep::Waiting if time >= update.retrieve_at => {
                    self.start_download(ops, events);
                }
                UpdateStep::Waiting => {
                    let wait = (update.retrieve_at - time).unsigned_abs();
                    self.update_due = Some(now.monotonic + wait);
                }
                UpdateStep::RetryWait if self.update_due.is_none_or(|d| now.monotonic >= d) => {
                    self.start_download(ops, events);
                }
                _ => {}
            }
        }
        if let Some(update) = &mut self.update
            && update.step == UpdateStep::Downloaded
            && (settings.install_during_transactions || !transactions_running)
        {
            update.step = UpdateStep::Installing;
            put(UPDATE_KEY, update, ops);
            events.push(Event::FirmwareInstallRequested {
                location: update.location.clone(),
            });
            self.notify(Notice::Firmware(FirmwareStatus::Installing), ops);
        }
        if let Some(upload) = &mut self.upload
            && upload.step == UploadStep::RetryWait
            && self.upload_due.is_none_or(|d| now.monotonic >= d)
        {
            upload.step = UploadStep::Uploading;
            upload.attempts.attempt += 1;
            put(DIAGNOSTICS_KEY, upload, ops);
            events.push(Event::DiagnosticsUploadRequested {
                location: upload.location.clone(),
                file_name: upload.file_name.clone(),
                start_time: upload.start_time,
                stop_time: upload.stop_time,
                attempt: upload.attempts.attempt,
            });
            if upload.attempts.attempt == 1 {
                self.notify(Notice::Diagnostics(DiagnosticsStatus::Uploading), ops);
            }
            self.upload_due = None;
        }
    }

    fn start_download(&mut self, ops: &mut Vec<StoreOp>, events: &mut Vec<Event>) {
        let Some(update) = &mut self.update else {
            return;
        };
        update.step = UpdateStep::Downloading;
        update.attempts.attempt += 1;
        put(UPDATE_KEY, update, ops);
        events.push(Event::FirmwareDownloadRequested {
            location: update.location.clone(),
            attempt: update.attempts.attempt,
        });
        let first = update.attempts.attempt == 1;
        self.update_due = None;
        if first {
            self.notify(Notice::Firmware(FirmwareStatus::Downloading), ops);
        }
    }

    fn download_failed(&mut self, now: Now, ops: &mut Vec<StoreOp>) {
        let Some(update) = &mut self.update else {
            return;
        };
        if let Some(wait) = update.attempts.retry() {
            update.step = UpdateStep::RetryWait;
            self.update_due = Some(now.monotonic + wait);
            put(UPDATE_KEY, update, ops);
        } else {
            self.update = None;
            self.update_due = None;
            delete(UPDATE_KEY, ops);
            self.notify(Notice::Firmware(FirmwareStatus::DownloadFailed), ops);
        }
    }

    fn upload_failed(&mut self, now: Now, ops: &mut Vec<StoreOp>) {
        let Some(upload) = &mut self.upload else {
            return;
        };
        if let Some(wait) = upload.attempts.retry() {
            upload.step = UploadStep::RetryWait;
            self.upload_due = Some(now.monotonic + wait);
            put(DIAGNOSTICS_KEY, upload, ops);
        } else {
            self.upload = None;
            self.upload_due = None;
            delete(DIAGNOSTICS_KEY, ops);
            self.notify(Notice::Diagnostics(DiagnosticsStatus::UploadFailed), ops);
        }
    }

    /// The application's report on the download it was asked for.
    pub(crate) fn downloaded(
        &mut self,
        now: Now,
        outcome: TransferOutcome,
        ops: &mut Vec<StoreOp>,
    ) -> Result<(), TransferError> {
        let Some(update) = self
            .update
            .as_mut()
            .filter(|u| u.step == UpdateStep::Downloading)
        else {
            return Err(TransferError::NotUnderWay("firmware download"));
        };
        match outcome {
            TransferOutcome::Succeeded => {
                update.step = UpdateStep::Downloaded;
                put(UPDATE_KEY, update, ops);
                self.notify(Notice::Firmware(FirmwareStatus::Downloaded), ops);
            }
            TransferOutcome::Failed => self.download_failed(now, ops),
        }
        Ok(())
    }

    /// The application's report on the installation it was asked for (before or after the
    /// restart into the new firmware).
    pub(crate) fn installed(
        &mut self,
        outcome: TransferOutcome,
        ops: &mut Vec<StoreOp>,
    ) -> Result<(), TransferError> {
        if !self
            .update
            .as_ref()
            .is_some_and(|u| u.step == UpdateStep::Installing)
        {
            return Err(TransferError::NotUnderWay("firmware installation"));
        }
        self.update = None;
        self.update_due = None;
        delete(UPDATE_KEY, ops);
        let status = match outcome {
            TransferOutcome::Succeeded => FirmwareStatus::Installed,
            TransferOutcome::Failed => FirmwareStatus::InstallationFailed,
        };
        self.notify(Notice::Firmware(status), ops);
        Ok(())
    }

    /// The application's report on the upload it was asked for.
    pub(crate) fn uploaded(
        &mut self,
        now: Now,
        outcome: TransferOutcome,
        ops: &mut Vec<StoreOp>,
    ) -> Result<(), TransferError> {
        if !self
            .upload
            .as_ref()
            .is_some_and(|u| u.step == UploadStep::Uploading)
        {
            return Err(TransferError::NotUnderWay("diagnostics upload"));
        }
        match outcome {
            TransferOutcome::Succeeded => {
                self.upload = None;
                self.upload_due = None;
                delete(DIAGNOSTICS_KEY, ops);
                self.notify(Notice::Diagnostics(DiagnosticsStatus::Uploaded), ops);
            }
            TransferOutcome::Failed => self.upload_failed(now, ops),
        }
        Ok(())
    }

    /// The status a triggered FirmwareStatusNotification reports (section 4.5: Idle only when
    /// not busy with an update; waiting for the retrieve date is not busy yet).
    pub(crate) fn firmware_status(&self) -> FirmwareStatus {
        match self.update.as_ref().map(|u| u.step) {
            None | Some(UpdateStep::Waiting) => FirmwareStatus::Idle,
            Some(UpdateStep::Downloading | UpdateStep::RetryWait) => FirmwareStatus::Downloading,
            Some(UpdateStep::Downloaded) => FirmwareStatus::Downloaded,
            Some(UpdateStep::Installing) => FirmwareStatus::Installing,
        }
    }

    /// The status a triggered DiagnosticsStatusNotification reports (section 4.4).
    pub(crate) fn diagnostics_status(&self) -> DiagnosticsStatus {
        if self.upload.is_some() {
            DiagnosticsStatus::Uploading
        } else {
            DiagnosticsStatus::Idle
        }
    }

    fn notify(&mut self, notice: Notice, ops: &mut Vec<StoreOp>) {
        self.notices.push_back(notice);
        self.save_notices(ops);
    }

    fn save_notices(&self, ops: &mut Vec<StoreOp>) {
        if self.notices.is_empty() {
            delete(NOTICES_KEY, ops);
        } else {
            let record = NoticesRecord {
                v: RECORD_VERSION,
                notices: self.notices.iter().copied().collect(),
            };
            put(NOTICES_KEY, &record, ops);
        }
    }

    /// The next notification to send, if none is in flight; it is then in flight.
    pub(crate) fn next_notice(&mut self) -> Option<Notice> {
        if self.notice_in_flight {
            return None;
        }
        let notice = self.notices.front().copied()?;
        self.notice_in_flight = true;
        Some(notice)
    }

    /// The notification in flight was answered (`delivered`), or will never be (refused by
    /// the Central System or by the RPC layer): it leaves the queue either way.
    pub(crate) fn notice_done(&mut self, ops: &mut Vec<StoreOp>) {
        self.notice_in_flight = false;
        if self.notices.pop_front().is_some() {
            self.save_notices(ops);
        }
    }

    /// The notification in flight was cut off (timeout, disconnect): it goes again.
    pub(crate) fn notice_retry(&mut self) {
        self.notice_in_flight = false;
    }

    /// When [`Firmware::poll`] must run next.
    pub(crate) fn next_deadline(&self) -> Option<Monotonic> {
        let update = self
            .update
            .as_ref()
            .filter(|u| matches!(u.step, UpdateStep::Waiting | UpdateStep::RetryWait))
            .and(self.update_due);
        let upload = self
            .upload
            .as_ref()
            .filter(|u| u.step == UploadStep::RetryWait)
            .and(self.upload_due);
        [update, upload].into_iter().flatten().min()
    }
}
