//! `cargo xtask <task>`: see the crate docs of the library for the tasks.
#![forbid(unsafe_code)]

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask codegen [--check]\n\n\
    codegen          regenerate ocpp-core's message types and schema tables from ocpp-core/schemas\n\
    codegen --check  exit 1 and list the files that regenerating would change";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let check = match args.as_slice() {
        ["codegen"] => false,
        ["codegen", "--check"] => true,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let root = xtask::repo_root();
    let generated = match xtask::generate(&root) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("codegen failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = if check {
        xtask::stale_files(&root, &generated)
    } else {
        xtask::write(&root, &generated)
    };
    match result {
        Ok(files) if check && !files.is_empty() => {
            eprintln!("stale generated files (run `cargo xtask codegen`):");
            for f in files {
                eprintln!("  {}", f.display());
            }
            ExitCode::FAILURE
        }
        Ok(files) => {
            if !check {
                for f in &files {
                    eprintln!("wrote {}", f.display());
                }
                eprintln!(
                    "{} generated files, {} changed",
                    generated.len(),
                    files.len()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("codegen: {e}");
            ExitCode::FAILURE
        }
    }
}
