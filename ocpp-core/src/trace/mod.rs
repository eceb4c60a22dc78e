//! Conformance traces: what crossed a role machine's boundary, as JSON lines, and the
//! replayer that proves a fresh machine does the same again.
//!
//! A trace is the record of one machine's life: a header line (the format version, the role
//! and the setup the machine was built from, store snapshot included), then one line per
//! input (connected, disconnected, a WebSocket message, a timeout, an application command)
//! followed by one line per output of that input (a frame sent, a store op, an event, a
//! close, the command's result). Every line carries its time offset `t` in milliseconds. The
//! format is specified in `conformance/README.md`; [`VERSION`] is its version.
//!
//! - [`Recorder`] wraps a machine built from its setup ([`Traced::Setup`]) and writes the
//!   trace to a [`TraceSink`] while it is driven; without a sink it is a plain pass-through.
//!   It is a [`Machine`] itself, so any driver runs it. Application commands go through
//!   [`Recorder::apply`] (or the typed helpers of each role), as data ([`Traced::Command`]),
//!   because a closure cannot be written to a file.
//! - [`replay`] reads a trace, builds a fresh machine from its header with counter message
//!   ids, feeds it the recorded inputs at the recorded instants (virtual time: the clock is
//!   the trace's) and compares its outputs with the recorded ones, message ids and date-times
//!   normalised ([`Ids`], [`json_eq`]). The first difference is reported with its line number and
//!   context ([`Mismatch`]).
//!
//! Why the recorder quantises time: it hands the machine the caller's instant rounded *up*
//! to the millisecond (never earlier, so a deadline is never missed) and a wall clock derived
//! from the first input's, so that what is written (`t` in ms) is exactly what the machine
//! saw and a replay reproduces every timestamp and deadline. An application that does not
//! record (no sink) gets its instants unchanged.

mod compare;
mod format;
mod recorder;
mod replay;

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::machine::Machine;
use crate::rpc::IdGenerator;
use crate::time::Now;

pub use compare::{Ids, json_eq};
pub use format::{
    Bytes, FORMAT, Header, Input, Line, Origin, OutputLine, Role, StoredSnapshot, TraceError,
    VERSION, parse_line,
};
pub use recorder::{MemorySink, Recorder, TraceSink};
pub use replay::{Mismatch, MismatchKind, ReplayError, Replayed, replay, replay_as};

/// A role machine that can be recorded and replayed: built from serialisable settings, and
/// commanded by serialisable commands.
pub trait Traced: Machine<Event: Debug> + Sized {
    /// The role named in the trace header.
    const ROLE: Role;
    /// Everything needed to build the machine as it was at the start of the trace,
    /// including the store snapshot it was restored from.
    type Setup: Serialize + DeserializeOwned;
    /// An application command.
    type Command: Serialize + DeserializeOwned;
    /// What a command returns; its `Debug` form is recorded and compared.
    type Outcome: Debug;

    /// Builds the machine from `setup`, taking message ids from `ids`.
    fn from_setup(setup: &Self::Setup, ids: Box<dyn IdGenerator>) -> Result<Self, String>;

    /// Runs `command` on the machine.
    fn apply_command(&mut self, now: Now, command: Self::Command) -> Self::Outcome;
}
