//! The recorder: a machine wrapper that writes what crosses the machine's boundary.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use super::Traced;
use super::format::{FORMAT, Header, Input, Line, Origin, OutputLine, VERSION};
use crate::machine::{Machine, Output};
use crate::rpc::IdGenerator;
use crate::time::{Monotonic, Now};

/// Where a [`Recorder`] writes its lines. `ocpp-io` has one that appends to a file; tests use
/// [`MemorySink`].
pub trait TraceSink: Send {
    /// Writes one line (without its line break). A sink that cannot write (a full disk) keeps
    /// the machine running; it is the sink's business to report it.
    fn write_line(&mut self, line: &str);
}

/// A sink that keeps the lines in memory; clones share them.
#[derive(Debug, Clone, Default)]
pub struct MemorySink(Arc<Mutex<Vec<String>>>);

impl MemorySink {
    /// An empty sink.
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// The lines written so far.
    pub fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many lines were written.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The lines written after the first `skip`.
    pub fn lines_after(&self, skip: usize) -> Vec<String> {
        let lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        lines
            .get(skip..)
            .map(<[String]>::to_vec)
            .unwrap_or_default()
    }

    /// The trace written so far, one line per line.
    pub fn text(&self) -> String {
        let mut text = self.lines().join("\n");
        text.push('\n');
        text
    }
}

impl TraceSink for MemorySink {
    fn write_line(&mut self, line: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line.to_owned());
    }
}

/// A role machine that writes its trace while it runs; see the [module docs](super).
///
/// Inputs come through [`Machine`] as for any machine; application commands through
/// [`Recorder::apply`] (or the role's typed helpers). Reading the machine is free
/// ([`std::ops::Deref`]); changing it other than through the recorder would put a change in
/// the machine that the trace does not hold, so there is no mutable access.
pub struct Recorder<M: Traced> {
    machine: M,
    sink: Option<Box<dyn TraceSink>>,
    /// The setup for the header, written at the first input; kept only with a sink.
    setup: Value,
    origin: Option<Origin>,
    outputs: VecDeque<Output<M::Event>>,
}

impl<M: Traced> std::fmt::Debug for Recorder<M>
where
    M: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("machine", &self.machine)
            .field("recording", &self.sink.is_some())
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl<M: Traced> std::ops::Deref for Recorder<M> {
    type Target = M;

    fn deref(&self) -> &M {
        &self.machine
    }
}

/// `now` rounded up to the millisecond: the instant the machine is given while recording.
fn ceil_ms(monotonic: Monotonic) -> u64 {
    let elapsed = monotonic.elapsed();
    let ms = elapsed.as_millis();
    let ms = if elapsed.subsec_nanos().is_multiple_of(1_000_000) {
        ms
    } else {
        ms + 1
    };
    u64::try_from(ms).unwrap_or(u64::MAX)
}

fn truncate_ms(wall: OffsetDateTime) -> OffsetDateTime {
    let whole_ms = wall.nanosecond() / 1_000_000 * 1_000_000;
    wall.replace_nanosecond(whole_ms).unwrap_or(wall)
}

impl<M: Traced> Recorder<M> {
    /// Builds the machine from `setup` and records it into `sink`; `None` records nothing
    /// and passes every instant through unchanged.
    pub fn new(
        setup: &M::Setup,
        ids: Box<dyn IdGenerator>,
        sink: Option<Box<dyn TraceSink>>,
    ) -> Result<Recorder<M>, String> {
        let machine = M::from_setup(setup, ids)?;
        let setup = match sink {
            Some(_) => serde_json::to_value(setup).map_err(|e| format!("setup: {e}"))?,
            None => Value::Null,
        };
        Ok(Recorder {
            machine,
            sink,
            setup,
            origin: None,
            outputs: VecDeque::new(),
        })
    }

    /// A recorder whose origin is known (a replay), so that it writes no header.
    pub(super) fn replaying(machine: M, origin: Origin, sink: Box<dyn TraceSink>) -> Recorder<M> {
        Recorder {
            machine,
            sink: Some(sink),
            setup: Value::Null,
            origin: Some(origin),
            outputs: VecDeque::new(),
        }
    }

    /// Whether a trace is being written.
    pub fn is_recording(&self) -> bool {
        self.sink.is_some()
    }

    /// The machine recorded.
    pub fn machine(&self) -> &M {
        &self.machine
    }

    /// Gives the machine back; the trace ends here.
    pub fn into_machine(self) -> M {
        self.machine
    }

    /// Runs an application command on the machine and records it with its result.
    pub fn apply(&mut self, now: Now, command: M::Command) -> M::Outcome {
        if self.sink.is_none() {
            return self.machine.apply_command(now, command);
        }
        let (now, t) = self.stamp(now);
        let input = Input::Command {
            command: serde_json::to_value(&command).unwrap_or(Value::Null),
        };
        self.write(&Line::In { t, input });
        let outcome = self.machine.apply_command(now, command);
        let result = OutputLine::Result {
            result: format!("{outcome:?}"),
        };
        self.write(&Line::Out { t, output: result });
        self.drain(t);
        outcome
    }

    /// The instant the machine is given, and its offset from the origin; the header is
    /// written at the first.
    fn stamp(&mut self, now: Now) -> (Now, u64) {
        let ms = ceil_ms(now.monotonic);
        let origin = match self.origin {
            Some(origin) => origin,
            None => {
                let origin = Origin {
                    monotonic_ms: ms,
                    wall: truncate_ms(now.wall),
                };
                self.origin = Some(origin);
                let header = Header {
                    format: FORMAT.to_owned(),
                    version: VERSION,
                    role: M::ROLE,
                    ocpp: "1.6".to_owned(),
                    origin,
                    setup: std::mem::take(&mut self.setup),
                };
                if let Some(sink) = self.sink.as_mut() {
                    sink.write_line(&header.to_json());
                }
                origin
            }
        };
        let t = ms.saturating_sub(origin.monotonic_ms);
        let now = Now::new(
            Monotonic::from_millis(origin.monotonic_ms + t),
            origin.wall + Duration::from_millis(t),
        );
        (now, t)
    }

    fn write(&mut self, line: &Line) {
        if let Some(sink) = self.sink.as_mut() {
            sink.write_line(&line.to_json());
        }
    }

    /// Takes the machine's outputs of the last input, recording each.
    fn drain(&mut self, t: u64) {
        while let Some(output) = self.machine.poll_output() {
            let line = Line::Out {
                t,
                output: OutputLine::of(&output),
            };
            self.write(&line);
            self.outputs.push_back(output);
        }
    }

    fn input(&mut self, now: Now, input: impl FnOnce() -> Input, feed: impl FnOnce(&mut M, Now)) {
        if self.sink.is_none() {
            feed(&mut self.machine, now);
            return;
        }
        let (now, t) = self.stamp(now);
        self.write(&Line::In { t, input: input() });
        feed(&mut self.machine, now);
        self.drain(t);
    }
}

impl<M: Traced> Machine for Recorder<M> {
    type Event = M::Event;

    fn handle_connected(&mut self, now: Now) {
        self.input(now, || Input::Connected, |m, now| m.handle_connected(now));
    }

    fn handle_disconnected(&mut self, now: Now) {
        self.input(
            now,
            || Input::Disconnected,
            |m, now| m.handle_disconnected(now),
        );
    }

    fn handle_message(&mut self, now: Now, text: &str) {
        let input = || Input::message(text);
        self.input(now, input, |m, now| m.handle_message(now, text));
    }

    fn handle_timeout(&mut self, now: Now) {
        self.input(now, || Input::Timeout, |m, now| m.handle_timeout(now));
    }

    fn poll_output(&mut self) -> Option<Output<M::Event>> {
        if self.sink.is_none() {
            return self.machine.poll_output();
        }
        crate::machine::next_output(&mut self.outputs)
    }

    fn poll_timeout(&self) -> Option<Monotonic> {
        self.machine.poll_timeout()
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn instants_are_rounded_up_to_the_millisecond_and_walls_down() {
        let at = |nanos: u64| Monotonic::from_elapsed(Duration::from_nanos(nanos));
        assert_eq!(ceil_ms(at(0)), 0);
        assert_eq!(ceil_ms(at(1)), 1);
        assert_eq!(ceil_ms(at(5_000_000)), 5);
        assert_eq!(ceil_ms(at(5_000_001)), 6);
        assert_eq!(
            truncate_ms(datetime!(2026-01-01 00:00:00.123999 UTC)),
            datetime!(2026-01-01 00:00:00.123 UTC)
        );
    }
}
