//! The replayer: a trace's inputs into a fresh machine, its outputs checked line by line.

use std::fmt;
use std::time::Duration;

use super::Traced;
use super::compare::Ids;
use super::format::{Header, Input, Line, OutputLine, Role, TraceError, parse_line};
use super::recorder::{MemorySink, Recorder};
use crate::central_system::CentralSystem;
use crate::charge_point::ChargePoint;
use crate::machine::Machine;
use crate::rpc::CounterIds;
use crate::time::{Monotonic, Now};

/// How many trace lines before a mismatch its report shows.
const CONTEXT_LINES: usize = 3;

/// A trace that replayed without a difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// The role of the trace.
    pub role: Role,
    /// Inputs fed.
    pub inputs: usize,
    /// Outputs checked.
    pub outputs: usize,
}

/// What kind of difference a replay found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MismatchKind {
    /// The machine's output differs from the recorded one.
    Changed,
    /// The trace records an output the machine did not produce.
    Missing,
    /// The machine produced an output the trace does not record (before `line`).
    Extra,
}

/// The first difference between a trace and its replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The trace line it is at, from 1 (for [`MismatchKind::Extra`]: the line before which
    /// the output came, one past the last line at the end of the trace).
    pub line: usize,
    /// What kind of difference.
    pub kind: MismatchKind,
    /// The trace's line, if there is one.
    pub expected: Option<String>,
    /// The replay's line, written as the recorder writes it, if there is one.
    pub actual: Option<String>,
    /// The trace lines just before, with their numbers.
    pub context: Vec<(usize, String)>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            MismatchKind::Changed => "the replay's output differs",
            MismatchKind::Missing => "the replay did not produce this output",
            MismatchKind::Extra => "the replay produced an output the trace does not have here",
        };
        writeln!(f, "line {}: {what}", self.line)?;
        if let Some(expected) = &self.expected {
            writeln!(f, "  expected: {expected}")?;
        }
        if let Some(actual) = &self.actual {
            writeln!(f, "  actual:   {actual}")?;
        }
        if !self.context.is_empty() {
            writeln!(f, "  after:")?;
            for (number, line) in &self.context {
                writeln!(f, "  {number:>5} | {}", shorten(line))?;
            }
        }
        Ok(())
    }
}

fn shorten(line: &str) -> String {
    const MAX: usize = 160;
    if line.chars().count() <= MAX {
        return line.to_owned();
    }
    let mut short: String = line.chars().take(MAX).collect();
    short.push_str(" ...");
    short
}

/// Why a replay failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The trace cannot be read: not a trace, a version this build does not read, a line
    /// that is not a trace line, a setup the role refuses.
    #[error("invalid trace: {0}")]
    Invalid(#[from] TraceError),
    /// The replay differs from the trace.
    #[error("{0}")]
    Mismatch(Box<Mismatch>),
}

fn invalid(line: usize, reason: impl Into<String>) -> ReplayError {
    ReplayError::Invalid(TraceError {
        line,
        reason: reason.into(),
    })
}

/// Replays a trace of either role (the header says which); see the [module docs](super).
pub fn replay(text: &str) -> Result<Replayed, ReplayError> {
    let first = text.lines().next().unwrap_or_default();
    let header = Header::parse(first).map_err(|reason| invalid(1, reason))?;
    match header.role {
        Role::ChargePoint => replay_as::<ChargePoint>(text),
        Role::CentralSystem => replay_as::<CentralSystem>(text),
    }
}

/// One input and the outputs recorded after it.
struct Step<'a> {
    line: usize,
    t: u64,
    input: &'a Input,
    outputs: Vec<(usize, &'a OutputLine)>,
}

/// Replays a trace of the role `M`.
pub fn replay_as<M: Traced>(text: &str) -> Result<Replayed, ReplayError> {
    let raw: Vec<&str> = text.lines().collect();
    let header = Header::parse(raw.first().copied().unwrap_or_default())
        .map_err(|reason| invalid(1, reason))?;
    if header.role != M::ROLE {
        return Err(invalid(
            1,
            format!("a {:?} trace, not a {:?} one", header.role, M::ROLE),
        ));
    }
    let setup: M::Setup = serde_json::from_value(header.setup.clone())
        .map_err(|e| invalid(1, format!("setup: {e}")))?;
    let machine = M::from_setup(&setup, Box::new(CounterIds::default()))
        .map_err(|e| invalid(1, format!("setup: {e}")))?;

    let mut lines = Vec::new();
    for (index, text) in raw.iter().enumerate().skip(1) {
        if text.trim().is_empty() {
            continue;
        }
        let line = parse_line(text).map_err(|reason| invalid(index + 1, reason))?;
        lines.push((index + 1, line));
    }
    let mut steps: Vec<Step<'_>> = Vec::new();
    for (number, line) in &lines {
        match line {
            Line::In { t, input } => {
                if steps.last().is_some_and(|step| step.t > *t) {
                    return Err(invalid(*number, "time goes backwards"));
                }
                steps.push(Step {
                    line: *number,
                    t: *t,
                    input,
                    outputs: Vec::new(),
                });
            }
            Line::Out { output, .. } => match steps.last_mut() {
                Some(step) => step.outputs.push((*number, output)),
                None => return Err(invalid(*number, "an output before any input")),
            },
        }
    }

    let origin = header.origin;
    let sink = MemorySink::new();
    let mut recorder = Recorder::replaying(machine, origin, Box::new(sink.clone()));
    let mut ids = Ids::default();
    let mut checked = 0;
    let context = |line: usize| -> Vec<(usize, String)> {
        let first = line.saturating_sub(CONTEXT_LINES).max(1);
        (first..line)
            .filter_map(|n| raw.get(n - 1).map(|text| (n, (*text).to_owned())))
            .collect()
    };
    for (index, step) in steps.iter().enumerate() {
        let now = Now::new(
            Monotonic::from_millis(origin.monotonic_ms + step.t),
            origin.wall + Duration::from_millis(step.t),
        );
        let written = sink.len();
        match step.input {
            Input::Connected => recorder.handle_connected(now),
            Input::Disconnected => recorder.handle_disconnected(now),
            Input::Timeout => recorder.handle_timeout(now),
            Input::Message { .. } => {
                let Some(text) = step.input.message_text() else {
                    return Err(invalid(step.line, "a message without frame or text"));
                };
                recorder.handle_message(now, &ids.map_received(&text));
            }
            Input::Command { command } => {
                let command: M::Command = serde_json::from_value(command.clone())
                    .map_err(|e| invalid(step.line, format!("command: {e}")))?;
                recorder.apply(now, command);
            }
        }
        while recorder.poll_output().is_some() {}
        let actual: Vec<(String, OutputLine)> = sink
            .lines_after(written)
            .into_iter()
            .filter_map(|text| match parse_line(&text) {
                Ok(Line::Out { output, .. }) => Some((text, output)),
                _ => None,
            })
            .collect();
        let next_input = steps.get(index + 1).map_or(raw.len() + 1, |next| next.line);
        for position in 0..step.outputs.len().max(actual.len()) {
            let mismatch = match (step.outputs.get(position), actual.get(position)) {
                (Some((line, expected)), Some((actual_text, actual))) => {
                    if ids.same_output(expected, actual) {
                        checked += 1;
                        continue;
                    }
                    Mismatch {
                        line: *line,
                        kind: MismatchKind::Changed,
                        expected: raw.get(line - 1).map(|text| (*text).to_owned()),
                        actual: Some(actual_text.clone()),
                        context: context(*line),
                    }
                }
                (Some((line, _)), None) => Mismatch {
                    line: *line,
                    kind: MismatchKind::Missing,
                    expected: raw.get(line - 1).map(|text| (*text).to_owned()),
                    actual: None,
                    context: context(*line),
                },
                (None, Some((actual_text, _))) => Mismatch {
                    line: next_input,
                    kind: MismatchKind::Extra,
                    expected: raw.get(next_input - 1).map(|text| (*text).to_owned()),
                    actual: Some(actual_text.clone()),
                    context: context(next_input),
                },
                (None, None) => continue,
            };
            return Err(ReplayError::Mismatch(Box::new(mismatch)));
        }
    }
    Ok(Replayed {
        role: M::ROLE,
        inputs: steps.len(),
        outputs: checked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"format":"ocpp-trace","version":1,"role":"central_system","ocpp":"1.6","origin":{"monotonic_ms":0,"wall":"2026-01-01T00:00:00Z"},"setup":{"charge_point_id":"CP","boot_status":"Accepted","boot_interval_s":300,"first_transaction_id":1,"automatic":["BootNotification"],"registration":"Unknown","call_timeout_ms":30000}}"#;

    fn trace(lines: &[&str]) -> String {
        let mut text = String::from(HEADER);
        for line in lines {
            text.push('\n');
            text.push_str(line);
        }
        text
    }

    fn invalid_at(text: &str) -> (usize, String) {
        match replay(text) {
            Err(ReplayError::Invalid(TraceError { line, reason })) => (line, reason),
            other => panic!("expected an invalid trace, got {other:?}"),
        }
    }

    #[test]
    fn a_hand_written_trace_replays() {
        let text = trace(&[
            r#"{"t":0,"in":"connected"}"#,
            r#"{"t":0,"out":"event","event":"Connected","debug":"written by hand"}"#,
            r#"{"t":1500,"in":"disconnected"}"#,
            r#"{"t":1500,"out":"event","event":"Disconnected","debug":""}"#,
        ]);
        let replayed = replay(&text).unwrap();
        assert_eq!((replayed.inputs, replayed.outputs), (2, 2));
    }

    #[test]
    fn malformed_traces_are_refused_with_their_line() {
        let backwards = trace(&[r#"{"t":5,"in":"connected"}"#, r#"{"t":4,"in":"timeout"}"#]);
        assert_eq!(invalid_at(&backwards), (3, "time goes backwards".into()));
        let output_first = trace(&[r#"{"t":0,"out":"close","code":1000,"reason":""}"#]);
        assert_eq!(invalid_at(&output_first).0, 2);
        let command = trace(&[r#"{"t":0,"in":"command","command":{"fly":{}}}"#]);
        let (line, reason) = invalid_at(&command);
        assert_eq!(line, 2);
        assert!(reason.starts_with("command:"), "{reason}");
        let (line, reason) = invalid_at(&trace(&["not json"]));
        assert_eq!(line, 2);
        assert!(reason.starts_with("not JSON"), "{reason}");
        let (line, reason) = invalid_at("");
        assert_eq!(line, 1);
        assert!(reason.contains("empty"), "{reason}");
    }

    #[test]
    fn a_trace_of_the_other_role_is_refused() {
        let err = replay_as::<ChargePoint>(&trace(&[])).unwrap_err();
        assert!(err.to_string().contains("not a ChargePoint one"), "{err}");
    }
}
