//! Repository tasks. `cargo xtask codegen` regenerates the OCPP message types and schema
//! tables of `ocpp-core` from the vendored JSON schemas; `--check` reports stale files instead
//! of writing them.
//!
//! The generated code is committed so that readers and reviewers see it; the test in this
//! crate and `--check` in CI keep it equal to what the schemas produce.
#![forbid(unsafe_code)]

pub mod emit;
pub mod json;
pub mod model;
pub mod tables;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::{fs, io};

use model::{Error, Version};

/// The repository root (the parent of this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Folders whose `.rs` files are all generated: a file there that the generator no longer
/// produces is stale.
fn generated_dirs() -> Vec<PathBuf> {
    [Version::V16, Version::V201]
        .iter()
        .map(|v| PathBuf::from(format!("ocpp-core/src/{}/generated", v.key())))
        .collect()
}

/// Every generated file, path relative to the repository root -> formatted source.
pub fn generate(root: &Path) -> Result<BTreeMap<PathBuf, String>, Error> {
    let mut out = BTreeMap::new();
    for version in [Version::V16, Version::V201] {
        let key = version.key();
        let model = model::read_version(version, &root.join("ocpp-core/schemas").join(key))?;
        out.insert(
            PathBuf::from(format!("ocpp-core/src/schemas/{key}.rs")),
            rustfmt(&emit::schema_table(&model))?,
        );
        for (name, source) in emit::version_files(&model)? {
            out.insert(
                PathBuf::from(format!("ocpp-core/src/{key}/generated/{name}")),
                rustfmt(&source)?,
            );
        }
    }
    Ok(out)
}

/// Formats `source` exactly as `cargo fmt` would (the workspace is edition 2024 and has no
/// rustfmt.toml).
pub fn rustfmt(source: &str) -> Result<String, Error> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run rustfmt: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("rustfmt has no stdin")?;
    let text = source.to_owned();
    // Write from another thread so that a large output cannot deadlock against our write.
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt failed: {e}"))?;
    writer
        .join()
        .map_err(|_| "rustfmt writer panicked".to_owned())?
        .map_err(|e| format!("cannot write to rustfmt: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "rustfmt rejected generated code: {}\n--- source ---\n{source}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("rustfmt output is not UTF-8: {e}"))
}

/// The generated files whose committed content differs from `generated`, plus files in the
/// generated folders that the generator no longer produces.
pub fn stale_files(root: &Path, generated: &BTreeMap<PathBuf, String>) -> io::Result<Vec<PathBuf>> {
    let mut stale = Vec::new();
    for (path, text) in generated {
        match fs::read_to_string(root.join(path)) {
            Ok(current) if current == *text => {}
            Ok(_) => stale.push(path.clone()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => stale.push(path.clone()),
            Err(e) => return Err(e),
        }
    }
    stale.extend(orphans(root, generated)?);
    Ok(stale)
}

fn orphans(root: &Path, generated: &BTreeMap<PathBuf, String>) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for dir in generated_dirs() {
        let entries = match fs::read_dir(root.join(&dir)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let path = dir.join(entry?.file_name());
            if !generated.contains_key(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes every generated file that changed and removes orphans; returns what it touched.
pub fn write(root: &Path, generated: &BTreeMap<PathBuf, String>) -> io::Result<Vec<PathBuf>> {
    let stale = stale_files(root, generated)?;
    for path in &stale {
        let full = root.join(path);
        match generated.get(path) {
            Some(text) => {
                if let Some(parent) = full.parent() {
                    fs::create_dir_all(parent)?;
                }
                fs::write(&full, text)?;
            }
            None => fs::remove_file(&full)?,
        }
    }
    Ok(stale)
}
