//! `cargo xtask semver`: cargo-semver-checks' verdict on the Rust API of the
//! published library crates, against a baseline revision.
//!
//! The sync summary says what changed in the HTTP API and the snapshot diff what
//! changed in the generated code; this says what changed in the Rust API users
//! compile against, and whether the workspace version must be bumped for it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The crates whose Rust API users depend on.
pub const CRATES: &[&str] = &["permissions-types", "permissions-api"];

/// The cargo-semver-checks release installed when it is missing (it needs Rust
/// 1.93 or newer, and takes several minutes to build).
pub const TOOL_VERSION: &str = "^0.51";

/// What to compare with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    /// A git revision of the repository, checked out by cargo-semver-checks.
    Rev(String),
    /// A directory holding the baseline's sources (a workspace or a crate).
    Root(PathBuf),
}

/// cargo-semver-checks' answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the checks passed: no breaking change, or one the version bump
    /// allows.
    pub passed: bool,
    /// Its report, standard error and output together, as it printed them.
    pub report: String,
}

impl Verdict {
    /// Whether the report names a change that needs a new major version (for 0.y
    /// versions, a new minor one).
    pub fn is_breaking(&self) -> bool {
        self.report.contains("requires new major version")
    }
}

/// The default baseline: the last commit before `HEAD` that changed the workspace
/// version in `Cargo.toml` (a release), so that a commit that bumps the version is
/// judged against the release before it, and any later commit against the bump.
pub fn default_baseline(root: &Path) -> Result<String, String> {
    let output = Command::new("git")
        .current_dir(root)
        .args([
            "log",
            "-1",
            "--format=%H",
            "-G^version *= *\"",
            "HEAD~1",
            "--",
            "Cargo.toml",
        ])
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let rev = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || rev.is_empty() {
        return Err(format!(
            "no commit before HEAD changed the workspace version; give --baseline REV ({})",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(rev)
}

/// Whether `cargo semver-checks` runs.
pub fn is_installed() -> bool {
    Command::new("cargo")
        .args(["semver-checks", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs cargo-semver-checks ([`TOOL_VERSION`]) unless it is there.
pub fn ensure_installed() -> Result<(), String> {
    if is_installed() {
        return Ok(());
    }
    eprintln!("installing cargo-semver-checks {TOOL_VERSION} (several minutes)...");
    let status = Command::new("cargo")
        .args([
            "install",
            "--locked",
            "cargo-semver-checks",
            "--version",
            TOOL_VERSION,
        ])
        .status()
        .map_err(|e| format!("cannot run cargo install: {e}"))?;
    if status.success() && is_installed() {
        Ok(())
    } else {
        Err("cargo install cargo-semver-checks failed".into())
    }
}

/// Runs `cargo semver-checks check-release` on `packages` of the workspace at
/// `manifest` against `baseline`.
pub fn check(manifest: &Path, packages: &[&str], baseline: &Baseline) -> Result<Verdict, String> {
    let mut command = Command::new("cargo");
    command
        .args(["semver-checks", "check-release", "--manifest-path"])
        .arg(manifest)
        .args(["--color", "never"])
        // Default features only add a TLS backend (no API), and building it (C
        // code) would double the time.
        .arg("--only-explicit-features");
    for package in packages {
        command.args(["--package", package]);
    }
    match baseline {
        Baseline::Rev(rev) => command.args(["--baseline-rev", rev]),
        Baseline::Root(root) => command.arg("--baseline-root").arg(root),
    };
    let output = command
        .output()
        .map_err(|e| format!("cannot run cargo semver-checks: {e}"))?;
    let mut report = String::from_utf8_lossy(&output.stderr).into_owned();
    report.push_str(&String::from_utf8_lossy(&output.stdout));
    Ok(Verdict {
        passed: output.status.success(),
        report,
    })
}
