//! `ocpp replay TRACE...`: replays recorded traces (`ocpp_core::trace`) on fresh machines.
//!
//! Each trace is reported on its own line: `PATH: ok (...)`, or `PATH: mismatch` followed by
//! the first difference with its line number and the lines before it. Exit status 0 when
//! every trace matches, 1 when one differs, 2 when one cannot be read or is not a valid trace
//! (which wins over 1: the run proved nothing about that trace).

use std::path::PathBuf;
use std::process::ExitCode;

use ocpp_core::trace::{ReplayError, Role, replay};

use crate::output::Out;

/// The arguments of `ocpp replay`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The trace files (JSON lines, as `ocpp cp --trace` and `ocpp csms --trace` write them);
    /// a directory stands for its `*.jsonl` files, in name order.
    #[arg(value_name = "TRACE", required = true)]
    traces: Vec<PathBuf>,
}

/// What became of one trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    Matched,
    Differs,
    Invalid,
}

/// Runs `ocpp replay`.
pub(crate) fn run(args: &Args, out: &mut Out) -> ExitCode {
    let mut worst = Verdict::Matched;
    let mut traces = Vec::new();
    for path in &args.traces {
        if !path.is_dir() {
            traces.push(path.clone());
            continue;
        }
        match std::fs::read_dir(path) {
            Ok(entries) => {
                let mut found: Vec<PathBuf> = entries
                    .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                    .filter(|file| file.extension().is_some_and(|ext| ext == "jsonl"))
                    .collect();
                found.sort();
                traces.extend(found);
            }
            Err(error) => {
                eprintln!("error: cannot read {}: {error}", path.display());
                worst = Verdict::Invalid;
            }
        }
    }
    if traces.is_empty() {
        eprintln!("error: no trace files (*.jsonl) found");
        worst = Verdict::Invalid;
    }
    for path in &traces {
        let shown = path.display();
        let verdict = match std::fs::read_to_string(path) {
            Err(error) => {
                eprintln!("error: cannot read {shown}: {error}");
                Verdict::Invalid
            }
            Ok(text) => match replay(&text) {
                Ok(replayed) => {
                    let role = match replayed.role {
                        Role::ChargePoint => "charge point",
                        Role::CentralSystem => "central system",
                    };
                    out.line(&format!(
                        "{shown}: ok ({role}, {} inputs, {} outputs checked)",
                        replayed.inputs, replayed.outputs
                    ));
                    Verdict::Matched
                }
                Err(ReplayError::Mismatch(mismatch)) => {
                    out.line(&format!("{shown}: mismatch"));
                    for line in mismatch.to_string().lines() {
                        out.line(&format!("  {line}"));
                    }
                    Verdict::Differs
                }
                Err(ReplayError::Invalid(error)) => {
                    eprintln!("error: {shown}: invalid trace: {error}");
                    Verdict::Invalid
                }
            },
        };
        worst = worst.max(verdict);
    }
    out.flush();
    match worst {
        Verdict::Matched => ExitCode::SUCCESS,
        Verdict::Differs => ExitCode::from(1),
        Verdict::Invalid => ExitCode::from(2),
    }
}
