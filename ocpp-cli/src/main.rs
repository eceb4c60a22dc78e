//! `ocpp`: command-line tools for OCPP 1.6J and 2.0.1.
//!
//! - `ocpp actions --ocpp 1.6|2.0.1` lists the actions a version defines.
//! - `ocpp validate --ocpp 1.6|2.0.1 --action NAME [--response] [FILE|-]` checks a payload, or
//!   a whole OCPP-J CALL / CALLRESULT frame, against the vendored schemas and tells which
//!   CallError code the stack would answer an invalid one with.
//!
//! Exit status: 0 success (valid), 1 invalid payload, 2 usage or input error (bad arguments,
//! unreadable file, invalid JSON, unknown action). Results go to stdout, errors to stderr.
//!
//! Output is written through [`output::Out`] rather than `println!`, so a closed pipe
//! (`ocpp actions --ocpp 1.6 | head -1`) ends the command quietly instead of panicking; that is
//! also why the workspace's `clippy::print_stdout` lint needs no exception here.
#![forbid(unsafe_code)]

mod output;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ocpp_core::Version;

use crate::output::Out;

/// Tools for OCPP 1.6J and 2.0.1 (Open Charge Point Protocol over JSON).
#[derive(Debug, Parser)]
#[command(name = "ocpp", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the actions an OCPP version defines, one per line, sorted.
    ///
    /// OCPP 1.6 has 39 (28 core actions and the 11 of the security white paper); OCPP 2.0.1
    /// has 64.
    Actions {
        /// The OCPP version: 1.6 or 2.0.1.
        #[arg(long, value_name = "VERSION", value_parser = parse_version)]
        ocpp: Version,
    },
    /// Validate a payload or an OCPP-J frame against the version's JSON schema.
    ///
    /// The input is either a bare payload (a JSON object) or a whole frame: a CALL
    /// `[2, "id", "Action", {...}]` is validated as a request of its action, a CALLRESULT
    /// `[3, "id", {...}]` as a response of --action. Prints `valid` and exits 0, or prints
    /// every violation (JSON pointer and what is wrong) and the CallError code the stack would
    /// answer with, spelled as the version spells it on the wire, and exits 1. Exits 2 on
    /// usage errors, unreadable input, invalid JSON or an unknown action.
    Validate {
        /// The OCPP version: 1.6 or 2.0.1.
        #[arg(long, value_name = "VERSION", value_parser = parse_version)]
        ocpp: Version,
        /// The action, e.g. BootNotification (case-sensitive). Required unless the input is a
        /// CALL frame, which names its own action.
        #[arg(long, value_name = "NAME")]
        action: Option<String>,
        /// Validate against the action's response schema instead of its request schema.
        /// Implied by a CALLRESULT frame.
        #[arg(long)]
        response: bool,
        /// The file to read; `-` or nothing reads standard input.
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

fn parse_version(text: &str) -> Result<Version, String> {
    text.parse::<Version>().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = Out::stdout();
    let code = match cli.command {
        Command::Actions { ocpp } => {
            for action in ocpp_core::schemas::actions(ocpp) {
                out.line(action);
            }
            ExitCode::SUCCESS
        }
        Command::Validate {
            ocpp,
            action,
            response,
            file,
        } => {
            let request = validate::Request {
                version: ocpp,
                action,
                response,
                file,
            };
            match validate::run(&request, &mut out) {
                Ok(outcome) => outcome.exit_code(),
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::from(2)
                }
            }
        }
    };
    out.flush();
    code
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// clap checks the derived definition (unique names, valid defaults) only when asked.
    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
