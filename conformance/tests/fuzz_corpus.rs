//! Runs every fuzz target's body over its committed corpus (`fuzz/corpus/<target>/`), so that
//! `cargo test` on stable exercises the targets and a corpus entry that once crashed stays
//! fixed. The bodies are compiled from the fuzz crate's own source file, not copied.

// The file is the fuzz crate's root, whose items are `pub` for its `fuzz_target!` shims.
#[allow(unreachable_pub)]
#[path = "../../fuzz/src/lib.rs"]
mod bodies;

use std::fs;
use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
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
