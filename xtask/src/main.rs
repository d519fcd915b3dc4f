//! `cargo xtask`: project chores.
//!
//! - `cargo xtask codegen`: check the spec, regenerate, and rewrite the insta
//!   snapshots of everything generated, so the change shows up in `git diff`.
//! - `cargo xtask check`: fail, with a diff, when the spec is invalid or a snapshot
//!   no longer matches what the generator produces (the CI gate).

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::Instant,
};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  codegen   check the spec, regenerate the client and update the snapshots
  check     fail with a diff if the spec is invalid or a snapshot is stale";

/// Tests that hold the snapshots of generated output and the spec checks.
const SNAPSHOT_TESTS: &[&str] = &["codegen", "spec", "schema_agreement"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["codegen"] => codegen(),
        ["check"] => check(),
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("{USAGE}\n\nunknown arguments: {args:?}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent")
        .to_path_buf()
}

/// Parses the spec and runs the generator once, reporting its size and speed.
fn generate_once() -> Result<(), String> {
    let path = workspace_root().join("openapi/permissions.yaml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let started = Instant::now();
    let spec = permissions_codegen::Spec::parse(&text)
        .map_err(|e| format!("{} is not a valid fragment: {e}", path.display()))?;
    let source = permissions_codegen::generate(&spec).map_err(|e| e.to_string())?;
    println!(
        "spec ok: {} operations; generated {} lines ({} bytes) in {:.1} ms",
        spec.operations().len(),
        source.lines().count(),
        source.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

/// Runs the snapshot tests with the given insta update mode.
fn snapshot_tests(update: &str) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root())
        .args(["test", "--quiet", "--package", "workspace-tests"])
        .args(SNAPSHOT_TESTS.iter().flat_map(|t| ["--test", t]))
        .env("INSTA_UPDATE", update);
    if update == "always" {
        // Write every snapshot, then let `check` judge them.
        command.env("INSTA_FORCE_PASS", "1");
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("snapshot or spec tests failed (see above)".into())
    }
}

/// Removes pending snapshots (`*.snap.new`) left by earlier interactive test runs.
fn remove_pending_snapshots() -> Result<(), String> {
    let dir = workspace_root().join("tests/snapshots");
    let entries =
        std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "new") {
            std::fs::remove_file(&path)
                .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

fn codegen() -> Result<(), String> {
    generate_once()?;
    remove_pending_snapshots()?;
    snapshot_tests("always")?;
    snapshot_tests("no")?;
    println!("snapshots updated: review them with `git diff` or `cargo insta review`");
    Ok(())
}

fn check() -> Result<(), String> {
    generate_once()?;
    snapshot_tests("no").map_err(|e| {
        format!(
            "{e}\nIf the spec or the generator changed on purpose, run `cargo xtask codegen` \
             and commit the updated snapshots."
        )
    })?;
    println!("generated code and snapshots are up to date");
    Ok(())
}
