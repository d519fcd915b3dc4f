//! `cargo xtask`: project chores.
//!
//! - `cargo xtask codegen`: check the spec, regenerate, and rewrite the insta
//!   snapshots of everything generated, so the change shows up in `git diff`.
//! - `cargo xtask check`: fail, with a diff, when the spec is invalid or a snapshot
//!   no longer matches what the generator produces (the CI gate).
//! - `cargo xtask sync-spec <file> [--check]`: regenerate `openapi/permissions.yaml`
//!   from the official OpenAPI document and `openapi/overlay.yaml`, and print what
//!   changed, breaking changes first (see [`xtask::sync`]).
//! - `cargo xtask semver [--baseline REV]`: cargo-semver-checks' verdict on the
//!   Rust API of `permissions-types` and `permissions-api` against REV (default:
//!   the last commit before HEAD that changed the workspace version); installs the
//!   tool when missing (see [`xtask::semver`]).
//! - `cargo xtask bench [--quick] [...]`: build the benchmark programs in release
//!   mode and run `bench-suite` (crates/permissions-bench), which writes
//!   `BENCHMARKS.md`. Not part of the tests; the full run takes about 15-25 minutes.

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::Instant,
};
use xtask::workspace_root;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  codegen   check the spec, regenerate the client and update the snapshots
  check     fail with a diff if the spec is invalid or a snapshot is stale
  sync-spec <official document> [--check]
            regenerate openapi/permissions.yaml from the official OpenAPI
            document (3.0 or 3.1) and openapi/overlay.yaml, and summarize what
            changed; with --check, write nothing and fail if it would change
  semver [--baseline REV]
            cargo-semver-checks on permissions-types and permissions-api against
            REV (default: the last commit before HEAD that changed the workspace
            version): fails when a breaking change comes without a version bump
  bench [--quick] [--rounds N] [--skip-build-cost] [--skip-sdks] [--out FILE]
            run the benchmarks against the alternatives (release builds, servers
            on 127.0.0.1) and write BENCHMARKS.md; --quick: smaller counts, fewer
            rounds, no build cost";

/// Tests that hold the snapshots of generated output and the spec checks.
const SNAPSHOT_TESTS: &[&str] = &["codegen", "spec", "schema_agreement"];

/// Left to `cargo test`: whether the fragment still says what the official document
/// says is the business of `sync-spec`, not of regenerating code from the fragment,
/// so that any edit of the fragment can be regenerated and reviewed.
const NOT_SNAPSHOT_CHECKS: &[&str] = &["fragment_matches_the_official_document"];

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
        ["sync-spec", upstream] => sync_spec(Path::new(upstream), false),
        ["sync-spec", upstream, "--check"] | ["sync-spec", "--check", upstream] => {
            sync_spec(Path::new(upstream), true)
        }
        ["semver"] => semver(None),
        ["semver", "--baseline", rev] => semver(Some(rev)),
        ["bench", rest @ ..] => bench(rest),
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

/// `cargo xtask semver`: prints cargo-semver-checks' report and fails when it does.
fn semver(baseline: Option<&str>) -> Result<(), String> {
    use xtask::semver;
    let root = workspace_root();
    let rev = match baseline {
        Some(rev) => rev.to_owned(),
        None => semver::default_baseline(&root)?,
    };
    semver::ensure_installed()?;
    println!(
        "checking the Rust API of {} against {rev}",
        semver::CRATES.join(" and ")
    );
    let started = Instant::now();
    let verdict = semver::check(
        &root.join("Cargo.toml"),
        semver::CRATES,
        &semver::Baseline::Rev(rev),
    )?;
    print!("{}", verdict.report);
    println!("(in {:.0} s)", started.elapsed().as_secs_f64());
    if verdict.passed {
        Ok(())
    } else {
        Err("a breaking change of the Rust API needs a version bump (see above)".into())
    }
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
        .arg("--")
        .args(NOT_SNAPSHOT_CHECKS.iter().flat_map(|t| ["--skip", t]))
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

/// `cargo xtask bench`: builds the benchmark programs and the emulator in release
/// mode, then runs `bench-suite` with `args` (the logic lives in
/// `crates/permissions-bench`, so xtask stays light).
fn bench(args: &[&str]) -> Result<(), String> {
    let root = workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args(["build", "--release", "-p", "permissions-bench", "-p"])
        .args(["permissions-emulator", "-p", "permissions-cli", "--bins"])
        .status()
        .map_err(|e| format!("cannot run cargo build: {e}"))?;
    if !status.success() {
        return Err("building the benchmark programs failed (see above)".into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        })
        .unwrap_or_else(|| root.join("target"));
    let suite = target.join("release/bench-suite");
    let status = Command::new(&suite)
        .current_dir(&root)
        .arg("--root")
        .arg(&root)
        .args(args)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", suite.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed (see above)", suite.display()))
    }
}

/// `cargo xtask sync-spec`: regenerates the fragment from `upstream` and the overlay,
/// prints the conversion notes and the summary of changes, and writes the fragment
/// (or, with `check_only`, fails if it would change).
fn sync_spec(upstream: &Path, check_only: bool) -> Result<(), String> {
    use xtask::sync;

    let root = workspace_root();
    let overlay_path = root.join("openapi/overlay.yaml");
    let fragment_path = root.join("openapi/permissions.yaml");
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let upstream_text = read(upstream)?;
    let overlay_text = read(&overlay_path)?;
    let name = upstream.file_name().map_or_else(
        || upstream.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );

    let started = Instant::now();
    let synced = sync::sync(&upstream_text, &name, &overlay_text)
        .map_err(|e| format!("sync of {} failed: {e}", upstream.display()))?;
    let elapsed = started.elapsed();
    println!(
        "sync-spec: took {} operation(s) and {} component(s) from {} in {:.0} ms",
        synced.operations,
        synced.components,
        upstream.display(),
        elapsed.as_secs_f64() * 1e3
    );
    if !synced.notes.is_empty() {
        println!(
            "\nconversions and overlay overrides ({}):",
            synced.notes.len()
        );
        for note in &synced.notes {
            println!("  - {}: {}", note.at, note.what);
        }
    }

    let previous = match std::fs::read_to_string(&fragment_path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read {}: {e}", fragment_path.display())),
    };
    let shown = "openapi/permissions.yaml";
    match &previous {
        Some(text) if *text == synced.text => {
            println!("\n{shown} is up to date: nothing to do");
            return Ok(());
        }
        Some(text) => match permissions_codegen::yaml::parse(text) {
            Ok(old) => {
                let summary = sync::summary::compare(&old, &synced.document);
                if summary.changes.is_empty() {
                    println!(
                        "\nchanges to {shown}: none to the API (only its text changed: \
                         layout, key order or header)"
                    );
                } else {
                    print!("\nchanges to {shown}:\n{summary}");
                }
                if summary.is_breaking() {
                    println!(
                        "breaking changes: the next release of permissions-api needs a new \
                         major version (0.x: a new minor), and the change note must list them"
                    );
                }
            }
            Err(e) => println!("\nthe previous {shown} is not YAML ({e}); no summary"),
        },
        None => println!("\nno previous {shown}: it is created"),
    }

    if check_only {
        return Err(format!(
            "{shown} is not what `cargo xtask sync-spec {}` produces",
            upstream.display()
        ));
    }
    std::fs::write(&fragment_path, &synced.text)
        .map_err(|e| format!("cannot write {}: {e}", fragment_path.display()))?;
    println!(
        "wrote {shown}. Next: `cargo xtask codegen` to update the snapshots, then review \
         `git diff` and commit the fragment and the snapshots together."
    );
    Ok(())
}
