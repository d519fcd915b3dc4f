//! The library behind `cargo xtask`: the chores that deserve tests.
//!
//! - [`sync`]: `cargo xtask sync-spec <official document>` regenerates
//!   `openapi/permissions.yaml` from the official OpenAPI document and
//!   `openapi/overlay.yaml`, and summarizes what changed.
//!
//! - [`semver`]: `cargo xtask semver [--baseline REV]` runs cargo-semver-checks
//!   on the published library crates against a baseline revision.
//!
//! The command line is in `main.rs`; `codegen` and `check` live there, as they only
//! run other tools.

pub mod semver;
pub mod sync;

use std::path::{Path, PathBuf};

/// The workspace checkout: the folder above `xtask/`.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent")
        .to_path_buf()
}
