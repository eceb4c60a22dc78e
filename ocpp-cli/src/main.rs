//! `ocpp`: command-line tools for OCPP 1.6J and 2.0.1.
//!
//! - `ocpp demo` runs a central system and simulated charge points in one process, over real
//!   WebSockets and redb stores, and prints what they did.
//! - `ocpp csms` is a 1.6 central system that keeps its stations and transactions in redb.
//! - `ocpp cp` is a simulated 1.6 charge point with a redb store: it boots and does charging
//!   sessions.
//! - `ocpp load` drives any 1.6 central system with N lightweight simulated stations (round
//!   trips, a boot storm, or idle connections) and reports throughput, latency and errors.
//! - `ocpp replay TRACE...` replays recorded traces on fresh machines and reports the first
//!   difference of each.
//! - `ocpp actions --ocpp 1.6|2.0.1` lists the actions a version defines.
//! - `ocpp validate --ocpp 1.6|2.0.1 --action NAME [--response] [FILE|-]` checks a payload, or
//!   a whole OCPP-J CALL / CALLRESULT frame, against the vendored schemas and tells which
//!   CallError code the stack would answer an invalid one with.
//!
//! Exit status: 0 success (valid, every session completed), 1 failure of what was checked or
//! run (invalid payload, a session that did not complete), 2 usage or input error (bad
//! arguments, unreadable file, invalid JSON, unknown action, unreachable central system,
//! refused credentials, a locked or damaged database). Results go to stdout, errors, progress
//! and logs to stderr.
//!
//! Output is written through [`output::Out`] rather than `println!`, so a closed pipe
//! (`ocpp actions --ocpp 1.6 | head -1`) ends the command quietly instead of panicking; that is
//! also why the workspace's `clippy::print_stdout` lint needs no exception here.
#![forbid(unsafe_code)]

mod api;
mod control;
mod cp;
mod csms;
mod demo;
mod http;
mod load;
mod output;
mod replay;
mod server;
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
    /// Run a central system and simulated charge points in one process and report.
    ///
    /// An embedded 1.6 central system (accepting every station and id tag, persisting in
    /// redb) listens on 127.0.0.1; N simulated charge points, each the real Charge Point
    /// state machine with its own redb store, connect to it over WebSockets and do M charging
    /// sessions each (Authorize, StartTransaction, meter readings, StopTransaction). Progress
    /// goes to stderr, the summary to stdout. Exits 0 when every session completed, 1
    /// otherwise.
    #[command(
        after_help = "Examples:\n  ocpp demo\n  ocpp demo --stations 50 --sessions 10\n  \
                            ocpp demo --db demo.redb   # keep the central system's records"
    )]
    Demo(demo::Args),
    /// Run an OCPP 1.6 central system.
    ///
    /// Accepts charge points at ws://ADDR/ID, ID being the charge point id (security profile 0 or 1),
    /// accepts every BootNotification, authorizes id tags from a file (or every tag), assigns
    /// transaction ids, and keeps stations and transactions in a redb file, restored at the
    /// next start. The first line on stdout is `listening on ws://HOST:PORT`, the second what
    /// was restored; logs go to stderr. With --http ADDR it also serves a JSON REST API
    /// (third stdout line `http api on http://HOST:PORT`; OpenAPI document at
    /// /openapi.json): GET /stations, /stations/ID, /transactions[?station=ID&active=true],
    /// /transactions/N, and POST /stations/ID/calls/ACTION with the request payload, which
    /// sends that Central System call to the connected station and answers with its
    /// response. Runs until SIGINT or SIGTERM, then closes every connection and prints a
    /// summary.
    #[command(
        after_help = "Examples:\n  ocpp csms --listen 127.0.0.1:9000 --db csms.redb --accept-all\n  \
                            ocpp csms --listen 0.0.0.0:9000 --db csms.redb --id-tags tags.json \\\n      \
                            --security-profile 1 --auth-keys keys.json --log full\n  \
                            ocpp csms --listen 127.0.0.1:9000 --db csms.redb --accept-all \
                            --http 127.0.0.1:8080\n  \
                            curl -X POST localhost:8080/stations/CP-1/calls/Reset -d '{\"type\": \"Soft\"}'\n\n\
                            tags.json: [{\"idTag\": \"04A2B3\", \"status\": \"Accepted\", \
                            \"expiryDate\": \"2030-01-01T00:00:00Z\"}, {\"idTag\": \"BAD1\", \
                            \"status\": \"Blocked\"}]\n\
                            keys.json: {\"CP-1\": \"00112233445566778899AABBCCDDEEFF\"}"
    )]
    Csms(server::Args),
    /// Run a simulated OCPP 1.6 charge point.
    ///
    /// The real Charge Point state machine with a redb store: it connects to URL/ID, boots,
    /// does M charging sessions (plug in, Authorize, StartTransaction, meter readings,
    /// StopTransaction, unplug, with StatusNotifications), waits until every transaction
    /// message is delivered and exits; with --sessions 0 it stays connected until SIGINT or
    /// SIGTERM. Killed and started again on the same --db, it loses nothing: unacknowledged
    /// messages are resent and the transaction that was running is stopped as PowerLoss.
    /// With --control ADDR it runs no sessions: the station (or --stations N of them, ID-1 to
    /// ID-N) is driven by hand over a local HTTP API (first stdout line `control api on
    /// http://HOST:PORT`, OpenAPI document at /openapi.json) until SIGINT or SIGTERM.
    /// Exits 0 when every session completed, 1 otherwise, 2 when it could not connect.
    #[command(
        after_help = "Examples:\n  ocpp cp --url ws://127.0.0.1:9000 --id CP-1\n  \
                            ocpp cp --url ws://127.0.0.1:9000 --id CP-2 --connectors 2 --sessions 10\n  \
                            ocpp cp --url ws://127.0.0.1:9000 --id CP-1 --security-profile 1 \
                            --auth-key 00112233445566778899AABBCCDDEEFF\n  \
                            ocpp cp --url wss://csms.example:443/ocpp --id CP-3 --security-profile 3 \
                            --ca ca.pem --cert cp3.pem --key cp3.key\n  \
                            ocpp cp --url ws://127.0.0.1:9000 --id CP --stations 2 --control 127.0.0.1:8181\n  \
                            curl -X POST localhost:8181/stations/CP-1/connectors/1/plug-in\n  \
                            curl -X POST localhost:8181/stations/CP-1/connectors/1/id-tag -d '{\"idTag\": \"04A2B3\"}'"
    )]
    Cp(cp::Args),
    /// Drive a central system (ours or any other) with N simulated 1.6 stations and report.
    ///
    /// Every station connects to URL/ID (all at once, or ramped at --rate connects per second)
    /// and sends a BootNotification; once all are answered, each accepted station does round
    /// trips back to back for --duration seconds (--mode round-trips: Heartbeat, or the
    /// --calls given), stays connected and silent (--mode idle), or nothing (--mode
    /// boot-storm: the figure is the time until the last boot is answered). Reports connects/s,
    /// round trips/s, latency p50/p99/max and every error (connect failures, boots not
    /// accepted, CallErrors, timeouts, invalid answers, disconnects); with --server-pid also
    /// the central system's CPU time per round trip and resident memory per station. Exits 0
    /// without errors, 1 with some, 2 on usage errors or when no station could connect.
    #[command(
        after_help = "Examples:\n  ocpp load --url ws://127.0.0.1:9000 --stations 100 --duration 10\n  \
                            ocpp load --url ws://127.0.0.1:9000 --stations 1 --calls heartbeat,authorize,status-notification,meter-values\n  \
                            ocpp load --url ws://127.0.0.1:9000 --stations 10000 --mode boot-storm --json\n  \
                            ocpp load --url ws://127.0.0.1:9000 --stations 1000 --rate 500 --mode idle --duration 5 --server-pid 4242"
    )]
    Load(load::Args),
    /// Replay recorded traces on fresh machines and check their outputs.
    ///
    /// Each trace (JSON lines, as `ocpp cp --trace` and `ocpp csms --trace` write them; the
    /// format is in conformance/README.md) is fed to a fresh Charge Point or Central System
    /// in virtual time; its frames, store ops, events and command results must match the
    /// recorded ones, message ids and date-times normalised. Prints `PATH: ok` or the first
    /// difference (line number, expected, actual, the lines before). Exits 0 when every
    /// trace matches, 1 when one differs, 2 when one is unreadable or not a valid trace.
    #[command(after_help = "Examples:\n  ocpp replay conformance/traces/*.jsonl\n  \
                            ocpp csms --listen 127.0.0.1:9000 --db csms.redb --accept-all --trace traces/ &\n  \
                            ocpp cp --url ws://127.0.0.1:9000 --id CP-1 --db cp.redb --trace cp.jsonl\n  \
                            ocpp replay cp.jsonl traces/*.jsonl")]
    Replay(replay::Args),
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

/// The runtime of the networked tools: two workers are plenty for a loopback demo, a
/// simulator or a load run, and leave the machine's other cores alone.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// SIGINT or SIGTERM: what ends the long-running tools.
async fn wait_for_signal() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn parse_version(text: &str) -> Result<Version, String> {
    text.parse::<Version>().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = Out::stdout();
    let code = match cli.command {
        Command::Demo(args) => demo::run(&args, &mut out),
        Command::Csms(args) => server::run(&args, &mut out),
        Command::Cp(args) => cp::run(&args, &mut out),
        Command::Load(args) => load::run(&args, &mut out),
        Command::Replay(args) => replay::run(&args, &mut out),
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
