//! `ocpp validate`: read a payload or frame, validate it with `ocpp_core::validate`, report.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ocpp_core::validate::{ValidationError, validate};
use ocpp_core::{PayloadKind, Version};
use serde_json::Value;

use ocpp_core::rpc::Frame;

use crate::output::Out;

/// The arguments of `ocpp validate`.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) version: Version,
    pub(crate) action: Option<String>,
    pub(crate) response: bool,
    pub(crate) file: Option<PathBuf>,
}

/// A validation that ran to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Valid,
    Invalid,
}

impl Outcome {
    pub(crate) fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Valid => ExitCode::SUCCESS,
            Outcome::Invalid => ExitCode::from(1),
        }
    }
}

/// Runs the command, writing the verdict to `out`.
///
/// # Errors
///
/// A message for stderr when the command could not judge the input: unreadable input,
/// invalid JSON, a malformed frame, a missing, conflicting or unknown action.
pub(crate) fn run(request: &Request, out: &mut Out) -> Result<Outcome, String> {
    let (source, text) = read_input(request.file.as_deref())?;
    let value: Value = serde_json::from_str(&text).map_err(|e| json_error(&source, &e))?;
    let (action, kind, payload) = target(request, value).map_err(|e| format!("{source}: {e}"))?;
    let action = action.as_str();

    match validate(request.version, action, kind, &payload) {
        Ok(()) => {
            out.line("valid");
            Ok(Outcome::Valid)
        }
        Err(ValidationError::UnknownAction { version, action }) => {
            Err(unknown_action(version, &action))
        }
        Err(error @ ValidationError::Invalid { .. }) => {
            let count = error.violations().len();
            out.line(&format!(
                "invalid OCPP {} {action} {}: {count} violation{}",
                request.version,
                kind.as_str(),
                if count == 1 { "" } else { "s" }
            ));
            for violation in error.violations() {
                out.line(&format!("  {violation} ({})", violation.kind()));
            }
            out.line(&format!(
                "errorCode: {}",
                error.error_code().wire_name(request.version)
            ));
            Ok(Outcome::Invalid)
        }
        Err(error @ ValidationError::Schema(_)) => Err(error.to_string()),
    }
}

/// Reads the whole input as UTF-8 (OCPP-J requires it); returns a name for messages too.
fn read_input(file: Option<&Path>) -> Result<(String, String), String> {
    let (source, bytes) = match file {
        None => read_stdin()?,
        Some(path) if path.as_os_str() == "-" => read_stdin()?,
        Some(path) => {
            let source = path.display().to_string();
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read {source}: {e}"))?;
            (source, bytes)
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok((source, text)),
        Err(e) => Err(format!(
            "{source}: not UTF-8 (invalid byte at offset {}); OCPP-J messages are UTF-8 JSON",
            e.utf8_error().valid_up_to()
        )),
    }
}

fn read_stdin() -> Result<(String, Vec<u8>), String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    Ok(("<stdin>".to_owned(), bytes))
}

fn json_error(source: &str, error: &serde_json::Error) -> String {
    // serde_json's message ends in " at line L column C"; say it once, in our own words.
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = message.strip_suffix(&suffix).unwrap_or(&message);
    format!(
        "{source}: invalid JSON at line {}, column {}: {message}",
        error.line(),
        error.column()
    )
}

/// Which schema applies and to which part of the input: an array that starts with a number is
/// read as an OCPP-J frame by the stack's own parser (so a frame is judged exactly as the
/// endpoint would judge it, `null` payload included), anything else as a bare payload.
fn target(request: &Request, value: Value) -> Result<(String, PayloadKind, Value), String> {
    let looks_like_frame = value
        .as_array()
        .and_then(|items| items.first())
        .is_some_and(Value::is_number);
    if !looks_like_frame {
        let action = request
            .action
            .clone()
            .ok_or("--action NAME is required for a bare payload".to_owned())?;
        let kind = if request.response {
            PayloadKind::Response
        } else {
            PayloadKind::Request
        };
        return Ok((action, kind, value));
    }
    match Frame::from_value(value).map_err(|e| format!("not a valid OCPP-J frame: {e}"))? {
        Frame::Call(call) => {
            if request.response {
                return Err(
                    "--response conflicts with a CALL frame, which carries a request".to_owned(),
                );
            }
            match request.action.as_deref() {
                Some(given) if given != call.action => Err(format!(
                    "the CALL frame's action is {:?} but --action says {given:?}",
                    call.action
                )),
                _ => Ok((call.action, PayloadKind::Request, call.payload)),
            }
        }
        Frame::CallResult(result) => {
            let action = request.action.clone().ok_or(
                "a CALLRESULT frame does not name its action: give it with --action".to_owned(),
            )?;
            Ok((action, PayloadKind::Response, result.payload))
        }
        Frame::CallError(_) => {
            Err("a CALLERROR frame carries no payload with a schema to validate".to_owned())
        }
    }
}

fn unknown_action(version: Version, action: &str) -> String {
    let mut message = format!("OCPP {version} has no action {action:?}");
    // Action names are case-sensitive; the commonest slip is the case.
    if let Some(known) =
        ocpp_core::schemas::actions(version).find(|known| known.eq_ignore_ascii_case(action))
    {
        message.push_str(&format!(" (did you mean {known}?)"));
    }
    message.push_str(&format!("; `ocpp actions --ocpp {version}` lists them"));
    message
}
