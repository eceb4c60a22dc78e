//! How a simulated station is built: [`StationConfig`] and the choices in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ocpp_io_tokio::{Backoff, ClientSecurity};

/// Everything a [`Station`](crate::Station) is built from. Made by [`StationConfig::new`],
/// then adjusted field by field (new settings come with defaults, so the struct is
/// `#[non_exhaustive]`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StationConfig {
    /// The charge point id (appended to `url`, sent in the BootNotification).
    pub id: String,
    /// The central system's OCPP-J endpoint: `ws://` for security profiles 0 and 1,
    /// `wss://` for 2 and 3.
    pub url: String,
    /// The station's redb store: the role's records and the simulated meters. Created when
    /// missing; a station started again on it resends what was not acknowledged.
    pub store: PathBuf,
    /// Number of connectors (1 and up).
    pub connectors: u32,
    /// The security profile and its credentials.
    pub security: ClientSecurity,
    /// How long the first connection may take (TCP, TLS and WebSocket handshakes).
    pub connect_timeout: Duration,
    /// How long the station waits for any answer of the central system.
    pub call_timeout: Duration,
    /// Reconnect after a lost connection (or keep trying to connect); `None`: one attempt.
    pub reconnect: Option<Backoff>,
    /// Initial values of standard configuration keys by name, read-only ones included, over
    /// the simulator's own (`TransactionMessageRetryInterval` 1). `NumberOfConnectors` and
    /// `SecurityProfile` follow `connectors` and `security` and cannot be preset.
    pub configuration: BTreeMap<String, String>,
    /// Who acts at the station.
    pub operator: Operator,
    /// Whether a Reset the central system asks for is accepted: the station then stops its
    /// transactions, delivers what is queued and starts again on its store (1.6 section
    /// 5.14). Without it a Reset is `Rejected`, as a station that cannot restart must answer.
    pub restart_on_reset: bool,
    /// Connect through a TCP relay in this process, so that
    /// [`Station::set_online`](crate::Station::set_online) can cut the network while the
    /// station keeps running.
    /// Only for `ws://` URLs: against a relay the TLS name check of `wss://` would fail.
    pub network_switch: bool,
    /// How fast a connector's meter runs while its EV draws power.
    pub metering: Metering,
    /// Record the machine's traces.
    pub trace: Option<TracePath>,
    /// Print what happens on stderr, each line after the station's id.
    pub verbose: bool,
}

impl StationConfig {
    /// A one-connector station `id` at `url` on the store `store`, security profile 0,
    /// automatic, rejecting resets, not relayed, reconnecting 4 times within a few seconds.
    pub fn new(id: impl Into<String>, url: impl Into<String>, store: impl Into<PathBuf>) -> Self {
        StationConfig {
            id: id.into(),
            url: url.into(),
            store: store.into(),
            connectors: 1,
            security: ClientSecurity::unsecured(),
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(10),
            reconnect: Some(Backoff {
                wait_minimum: Duration::from_millis(500),
                random_range: Duration::from_millis(500),
                repeat_times: 4,
            }),
            configuration: BTreeMap::new(),
            operator: Operator::Automatic,
            restart_on_reset: false,
            network_switch: false,
            metering: Metering::default(),
            trace: None,
            verbose: false,
        }
    }
}

/// Who acts at the station: what happens to the cable and the EV when the central system
/// starts or stops a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// Nobody stands at the station: an EV is plugged in and draws power as soon as the
    /// central system starts a transaction remotely, and its cable comes out when a
    /// transaction is stopped on request (RemoteStop, Unlock, Reset). What `ocpp cp` and
    /// `ocpp demo` run.
    Automatic,
    /// Someone at the station reports every fact (`plug_in`, `present_id_tag`,
    /// `set_ev_drawing`, ...): a remote start waits for the cable, a stop leaves it in. What
    /// `ocpp cp --control` and the OCTT manual actions need.
    Manual,
}

/// How a connector's energy register advances while its EV draws power in a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metering {
    /// Time between two steps.
    pub tick: Duration,
    /// Energy per step, Wh.
    pub step_wh: i32,
}

impl Default for Metering {
    /// 250 Wh a second.
    fn default() -> Metering {
        Metering {
            tick: Duration::from_secs(1),
            step_wh: 250,
        }
    }
}

/// Where a station records its traces. A trace is one machine's life, and every start of
/// the station (the first, and each restart after a Reset or a power cycle) builds a new
/// machine from the store: the first start writes `path`, the next ones number it
/// (`cp.jsonl`, `cp.2.jsonl`, `cp.3.jsonl`, ...). Clones share the count.
#[derive(Clone, Debug)]
pub struct TracePath {
    path: PathBuf,
    starts: Arc<AtomicU32>,
}

impl TracePath {
    /// Traces written at `path`, then numbered.
    pub fn new(path: PathBuf) -> TracePath {
        TracePath {
            path,
            starts: Arc::new(AtomicU32::new(0)),
        }
    }

    /// The file of the next start.
    pub(crate) fn next(&self) -> PathBuf {
        let start = self.starts.fetch_add(1, Ordering::Relaxed) + 1;
        if start == 1 {
            return self.path.clone();
        }
        let stem = self.path.file_stem().unwrap_or_default().to_string_lossy();
        let name = match self.path.extension() {
            Some(extension) => format!("{stem}.{start}.{}", extension.to_string_lossy()),
            None => format!("{stem}.{start}"),
        };
        self.path.with_file_name(name)
    }
}

/// A path in `dir` for station `id`'s store.
pub fn station_store(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.redb"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_start_after_the_first_numbers_the_trace() {
        let paths = TracePath::new(PathBuf::from("/t/cp.jsonl"));
        let shared = paths.clone();
        assert_eq!(paths.next(), PathBuf::from("/t/cp.jsonl"));
        assert_eq!(shared.next(), PathBuf::from("/t/cp.2.jsonl"));
        assert_eq!(paths.next(), PathBuf::from("/t/cp.3.jsonl"));
        let bare = TracePath::new(PathBuf::from("trace"));
        bare.next();
        assert_eq!(bare.next(), PathBuf::from("trace.2"));
    }
}
