//! The committed generated code must be exactly what the generator produces from the vendored
//! schemas (DESIGN.md: "a test fails when regenerating would change it").

#[test]
fn committed_generated_files_match_a_fresh_generation() {
    let root = xtask::repo_root();
    let generated = xtask::generate(&root).unwrap_or_else(|e| panic!("codegen failed: {e}"));
    let stale = xtask::stale_files(&root, &generated).expect("read the generated files");
    assert!(
        stale.is_empty(),
        "stale generated files, run `cargo xtask codegen`: {stale:?}"
    );
}
