//! The application's commands to a [`CentralSystem`] as data, and the setup it is built
//! from: what a trace records ([`crate::trace`]) so that a replay can do it again.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::policy::{BootAnswer, CentralSystemPolicy};
use super::role::{CentralSystem, CentralSystemConfig, CentralSystemError, Decision, Registration};
use crate::message::OcppRequest;
use crate::rpc::{CallHandle, IdGenerator};
use crate::time::Now;
use crate::trace::{Recorder, Role, Traced};
use crate::v16::{Action, RegistrationStatus, Request, Response};
use crate::{ErrorCode, Version};

/// A command of the application to the Central System.
///
/// A trace writes it as `{"call":{"action":..,"payload":..}}`,
/// `{"reply":{"decision":..,"payload":..}}` or
/// `{"reply_error":{"decision":..,"code":..,"description":..}}`, the code as 1.6 spells it;
/// reading one decodes the payload into the action's type (a payload that does not decode
/// is an error of the trace, not a command).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "CommandRecord", try_from = "CommandRecord")]
pub enum Command {
    /// [`CentralSystem::call`] of this request.
    Call(Request),
    /// [`CentralSystem::reply`] with this response.
    Reply {
        /// The decision answered.
        decision: Decision,
        /// The response, of the decision's action.
        response: Response,
    },
    /// [`CentralSystem::reply_error`].
    ReplyError {
        /// The decision answered.
        decision: Decision,
        /// The CallError code.
        code: ErrorCode,
        /// The description.
        description: String,
    },
}

/// A [`Command`] as a trace writes it: actions by name, payloads as JSON.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CommandRecord {
    Call {
        action: String,
        payload: Value,
    },
    Reply {
        decision: Decision,
        payload: Value,
    },
    ReplyError {
        decision: Decision,
        code: String,
        description: String,
    },
}

impl From<Command> for CommandRecord {
    fn from(command: Command) -> CommandRecord {
        match command {
            Command::Call(request) => CommandRecord::Call {
                action: request.action().as_str().to_owned(),
                payload: request.to_payload(),
            },
            Command::Reply { decision, response } => CommandRecord::Reply {
                decision,
                payload: response.to_payload(),
            },
            Command::ReplyError {
                decision,
                code,
                description,
            } => CommandRecord::ReplyError {
                decision,
                code: code.wire_name(Version::V16).to_owned(),
                description,
            },
        }
    }
}

impl TryFrom<CommandRecord> for Command {
    type Error = String;

    fn try_from(record: CommandRecord) -> Result<Command, String> {
        Ok(match record {
            CommandRecord::Call { action, payload } => {
                let known = Action::from_name(&action)
                    .ok_or_else(|| format!("unknown action {action:?}"))?;
                let request = Request::from_payload(known, payload)
                    .map_err(|e| format!("invalid {action} request: {e}"))?;
                Command::Call(request)
            }
            CommandRecord::Reply { decision, payload } => {
                let action = decision.action();
                let response = Response::from_payload(action, payload)
                    .map_err(|e| format!("invalid {action} reply: {e}"))?;
                Command::Reply { decision, response }
            }
            CommandRecord::ReplyError {
                decision,
                code,
                description,
            } => Command::ReplyError {
                code: ErrorCode::parse(&code)
                    .ok_or_else(|| format!("{code} is not a CallError code"))?,
                decision,
                description,
            },
        })
    }
}

/// A [`Decision`] as a trace writes it.
#[derive(Serialize, Deserialize)]
struct DecisionRecord {
    connection: u64,
    id: String,
    action: String,
}

impl Serialize for Decision {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        DecisionRecord {
            connection: self.connection,
            id: self.id.clone(),
            action: self.action.as_str().to_owned(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Decision {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Decision, D::Error> {
        let record = DecisionRecord::deserialize(deserializer)?;
        let action = Action::from_name(&record.action).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown action {:?}", record.action))
        })?;
        Ok(Decision {
            connection: record.connection,
            id: record.id,
            action,
        })
    }
}

impl CentralSystem {
    /// Runs `command`: the same as calling the method it names. Returns the call's handle
    /// for [`Command::Call`].
    pub fn apply(
        &mut self,
        now: Now,
        command: Command,
    ) -> Result<Option<CallHandle>, CentralSystemError> {
        match command {
            Command::Call(request) => self.call_request(now, &request).map(Some),
            Command::Reply { decision, response } => {
                self.reply(now, decision, response).map(|()| None)
            }
            Command::ReplyError {
                decision,
                code,
                description,
            } => self
                .reply_error(now, decision, code, description)
                .map(|()| None),
        }
    }
}

/// Everything a [`CentralSystem`] is built from, in a form a trace header carries: the
/// configuration of [`CentralSystemConfig`] and its policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CentralSystemSetup {
    /// The Charge Point's identity.
    pub charge_point_id: String,
    /// The automatic BootNotification answer's status.
    pub boot_status: RegistrationStatus,
    /// The automatic BootNotification answer's interval, seconds.
    pub boot_interval_s: u64,
    /// [`CentralSystemPolicy::first_transaction_id`].
    pub first_transaction_id: i32,
    /// The actions answered automatically, by name.
    pub automatic: BTreeSet<String>,
    /// The registration the connection starts with: `Unknown`, `Accepted`, `Pending` or
    /// `Rejected`.
    pub registration: String,
    /// The RPC call timeout, ms.
    pub call_timeout_ms: u64,
    /// [`CentralSystemPolicy::keep_reports`]; absent (yes) in the traces written before it
    /// existed, and written only when it is off.
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub keep_reports: bool,
}

fn yes() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_yes(value: &bool) -> bool {
    *value
}

fn registration_name(registration: Registration) -> &'static str {
    match registration {
        Registration::Unknown => "Unknown",
        Registration::Accepted => "Accepted",
        Registration::Pending => "Pending",
        Registration::Rejected => "Rejected",
    }
}

impl CentralSystemSetup {
    /// The setup of `config`. Its RPC settings other than the call timeout are the defaults
    /// in a replay.
    pub fn of(config: &CentralSystemConfig) -> CentralSystemSetup {
        CentralSystemSetup {
            charge_point_id: config.charge_point_id.clone(),
            boot_status: config.policy.boot.status,
            boot_interval_s: config.policy.boot.interval.as_secs(),
            first_transaction_id: config.policy.first_transaction_id,
            automatic: config
                .policy
                .automatic
                .iter()
                .map(|action| action.as_str().to_owned())
                .collect(),
            registration: registration_name(config.registration).to_owned(),
            call_timeout_ms: u64::try_from(config.rpc.call_timeout.as_millis()).unwrap_or(u64::MAX),
            keep_reports: config.policy.keep_reports,
        }
    }

    /// The configuration this setup stands for.
    pub fn config(&self) -> Result<CentralSystemConfig, String> {
        let mut automatic = BTreeSet::new();
        for name in &self.automatic {
            automatic
                .insert(Action::from_name(name).ok_or_else(|| format!("unknown action {name:?}"))?);
        }
        let registration = [
            Registration::Unknown,
            Registration::Accepted,
            Registration::Pending,
            Registration::Rejected,
        ]
        .into_iter()
        .find(|r| registration_name(*r) == self.registration)
        .ok_or_else(|| format!("unknown registration {:?}", self.registration))?;
        let mut config = CentralSystemConfig::new(self.charge_point_id.clone());
        config.policy = CentralSystemPolicy {
            boot: BootAnswer {
                status: self.boot_status,
                interval: Duration::from_secs(self.boot_interval_s),
            },
            first_transaction_id: self.first_transaction_id,
            automatic,
            keep_reports: self.keep_reports,
        };
        config.registration = registration;
        config.rpc.call_timeout = Duration::from_millis(self.call_timeout_ms);
        Ok(config)
    }
}

impl Traced for CentralSystem {
    const ROLE: Role = Role::CentralSystem;
    type Setup = CentralSystemSetup;
    type Command = Command;
    type Outcome = Result<Option<CallHandle>, CentralSystemError>;

    fn from_setup(setup: &CentralSystemSetup, ids: Box<dyn IdGenerator>) -> Result<Self, String> {
        Ok(CentralSystem::new(setup.config()?, ids))
    }

    fn apply_command(&mut self, now: Now, command: Command) -> Self::Outcome {
        self.apply(now, command)
    }
}

/// The Central System's commands, recorded.
impl Recorder<CentralSystem> {
    /// [`CentralSystem::call`], recorded.
    pub fn call<R: OcppRequest<Action = Action>>(
        &mut self,
        now: Now,
        request: &R,
    ) -> Result<CallHandle, CentralSystemError> {
        let command = Command::Call(request.clone().into_request());
        match self.apply(now, command)? {
            Some(handle) => Ok(handle),
            None => unreachable!("CentralSystem::apply returns a handle for every call"),
        }
    }

    /// [`CentralSystem::reply`], recorded.
    pub fn reply(
        &mut self,
        now: Now,
        decision: Decision,
        response: impl Into<Response>,
    ) -> Result<(), CentralSystemError> {
        let response = response.into();
        self.apply(now, Command::Reply { decision, response })
            .map(drop)
    }

    /// [`CentralSystem::reply_error`], recorded.
    pub fn reply_error(
        &mut self,
        now: Now,
        decision: Decision,
        code: ErrorCode,
        description: impl Into<String>,
    ) -> Result<(), CentralSystemError> {
        let command = Command::ReplyError {
            decision,
            code,
            description: description.into(),
        };
        self.apply(now, command).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ocpp csms` relies on it: the setup of any configuration builds that configuration.
    #[test]
    fn the_setup_of_a_configuration_builds_it_again() {
        let mut config = CentralSystemConfig::new("CP-9");
        config.policy = CentralSystemPolicy::accept_all()
            .ask(Action::Authorize)
            .with_boot(BootAnswer::pending(Duration::from_secs(20)));
        config.policy.first_transaction_id = 77;
        config.registration = Registration::Accepted;
        config.rpc.call_timeout = Duration::from_millis(2_500);
        let setup = CentralSystemSetup::of(&config);
        let json = serde_json::to_string(&setup).unwrap();
        let rebuilt = serde_json::from_str::<CentralSystemSetup>(&json)
            .unwrap()
            .config()
            .unwrap();
        assert_eq!(rebuilt.charge_point_id, config.charge_point_id);
        assert_eq!(rebuilt.policy, config.policy);
        assert_eq!(rebuilt.registration, config.registration);
        assert_eq!(rebuilt.rpc.call_timeout, config.rpc.call_timeout);
    }

    /// `keep_reports` is written only when off, so the headers of the traces written before it
    /// existed (and of every default setup) stay as they were, and read back as on.
    #[test]
    fn keep_reports_is_written_only_when_off() {
        let mut config = CentralSystemConfig::new("CP-9");
        let json = serde_json::to_string(&CentralSystemSetup::of(&config)).unwrap();
        assert!(!json.contains("keep_reports"), "{json}");
        let read = serde_json::from_str::<CentralSystemSetup>(&json).unwrap();
        assert!(read.config().unwrap().policy.keep_reports);
        config.policy = config.policy.without_reports();
        let json = serde_json::to_string(&CentralSystemSetup::of(&config)).unwrap();
        assert!(json.contains(r#""keep_reports":false"#), "{json}");
        let read = serde_json::from_str::<CentralSystemSetup>(&json).unwrap();
        assert!(!read.config().unwrap().policy.keep_reports);
    }

    #[test]
    fn decisions_are_written_with_their_action_by_name() {
        let decision = Decision {
            connection: 2,
            id: "a7".into(),
            action: Action::StartTransaction,
        };
        let json = serde_json::to_string(&decision).unwrap();
        assert_eq!(
            json,
            r#"{"connection":2,"id":"a7","action":"StartTransaction"}"#
        );
        assert_eq!(serde_json::from_str::<Decision>(&json).unwrap(), decision);
        assert!(serde_json::from_str::<Decision>(&json.replace("Start", "Begin")).is_err());
    }

    /// Typing the commands keeps their trace form (the committed traces replay unchanged):
    /// actions by name, payloads as JSON, CallError codes as 1.6 spells them (OCPP-J 1.6
    /// errata 5.1). Reading one decodes it, and refuses what names no action, does not
    /// decode or is no CallError code.
    #[test]
    fn commands_keep_their_trace_form_and_are_typed_when_read() {
        let call = r#"{"call":{"action":"TriggerMessage","payload":{"connectorId":1,"requestedMessage":"MeterValues"}}}"#;
        let command: Command = serde_json::from_str(call).unwrap();
        assert!(
            matches!(&command, Command::Call(Request::TriggerMessage(r)) if r.connector_id == Some(1)),
            "{command:?}"
        );
        assert_eq!(serde_json::to_string(&command).unwrap(), call);
        let reply = r#"{"reply":{"decision":{"connection":1,"id":"a","action":"Authorize"},"payload":{"idTagInfo":{"status":"Accepted"}}}}"#;
        let command: Command = serde_json::from_str(reply).unwrap();
        assert!(matches!(
            &command,
            Command::Reply {
                response: Response::Authorize(_),
                ..
            }
        ));
        assert_eq!(serde_json::to_string(&command).unwrap(), reply);
        let error = Command::ReplyError {
            decision: Decision {
                connection: 1,
                id: "a".into(),
                action: Action::Authorize,
            },
            code: ErrorCode::FormatViolation,
            description: "bad".into(),
        };
        let text = serde_json::to_string(&error).unwrap();
        assert!(text.contains(r#""code":"FormationViolation""#), "{text}");
        assert_eq!(serde_json::from_str::<Command>(&text).unwrap(), error);
        for bad in [
            call.replace("TriggerMessage", "TransactionEvent"),
            call.replace("MeterValues", "Nothing"),
            text.replace("FormationViolation", "NoSuchCode"),
        ] {
            assert!(serde_json::from_str::<Command>(&bad).is_err(), "{bad}");
        }
    }
}
