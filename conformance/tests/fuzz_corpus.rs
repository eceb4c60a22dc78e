//! Runs every fuzz target's body over its committed inputs (`fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/`), so that
//! `cargo test` on stable exercises the targets and a corpus entry that once crashed stays
//! fixed. The bodies are compiled from the fuzz crate's own source file, not copied.

// The file is the fuzz crate's root, whose items are `pub` for its `fuzz_target!` shims.
#[allow(unreachable_pub)]
#[path = "../../fuzz/src/lib.rs"]
mod bodies;

use std::fs;
use std::path::{Path, PathBuf};

/// The committed inputs of `target`: its corpus (minimised by `cargo fuzz cmin`) and the
/// named regression inputs of crashes fixed so far, which cmin may not drop.
fn corpus(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    for dir in [
        fuzz.join("corpus").join(target),
        fuzz.join("regressions").join(target),
    ] {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        files.extend(
            entries
                .map(|entry| entry.expect("a readable corpus entry").path())
                .filter(|path| path.is_file()),
        );
    }
    files.sort();
    assert!(!files.is_empty(), "the {target} corpus is empty");
    files
}

fn run(target: &str, body: fn(&[u8])) {
    for path in corpus(target) {
        let data = fs::read(&path).expect("a readable corpus file");
        let outcome = std::panic::catch_unwind(|| body(&data));
        assert!(outcome.is_ok(), "{target} failed on {}", path.display());
    }
}

#[test]
fn frame_target_holds_on_its_corpus() {
    run("frame", bodies::frame);
}

#[test]
fn payload_target_holds_on_its_corpus() {
    run("payload", bodies::payload);
}

#[test]
fn charge_point_target_holds_on_its_corpus() {
    run("charge_point", bodies::charge_point);
}

/// Every fourth input of the corpus again, its traces replayed (`ocpp_core::trace`): a
/// determinism check over restarts, timeouts and garbage input. A sample because recording
/// and replaying triples the cost.
#[test]
fn charge_point_traces_replay_on_a_sample_of_its_corpus() {
    for path in corpus("charge_point").into_iter().step_by(4) {
        let data = fs::read(&path).expect("a readable corpus file");
        let outcome = std::panic::catch_unwind(|| bodies::charge_point_traced(&data));
        assert!(
            outcome.is_ok(),
            "traces of {} do not replay",
            path.display()
        );
    }
}

#[test]
fn central_system_target_holds_on_its_corpus() {
    run("central_system", bodies::central_system);
}

#[test]
fn ws_target_holds_on_its_corpus() {
    run("ws", bodies::ws);
}
