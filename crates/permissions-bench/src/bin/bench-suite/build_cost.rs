//! Item 5: Build cost: a clean build of a crate depending on `permissions-api` against one
//! depending on `async-openai` (fine-tuning feature only, rustls like ours), both
//! built the same way (`cargo build`, the dev profile, a fresh target directory, the
//! dependencies fetched beforehand so that only compiling is timed); then the rebuild
//! after a one-character edit of a description in the spec.
//!
//! The spec edit happens in a copy of the workspace under `target/bench-build/`:
//! the real `openapi/permissions.yaml` is never touched.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use permissions_bench::run::Results;

use crate::facts::lock_version;
use crate::harness::{Paths, record};
use crate::procs::{Error, run_timed};

/// The consumer of `permissions-api`: what a user's crate compiles.
const OURS_MAIN: &str = r#"fn main() {
    let client = permissions_api::Client::builder()
        .api_key("sk-admin-bench")
        .build()
        .expect("client");
    let _permissions = client.fine_tuning().checkpoints().permissions();
    println!("{}", client.base_url());
}
"#;

/// The consumer of `async-openai`.
const THEIRS_MAIN: &str = r#"use async_openai::config::Config;

fn main() {
    let client = async_openai::Client::new();
    let _jobs = client.fine_tuning();
    println!("{:?}", client.config().api_base());
}
"#;

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // A clean, independent build: nothing inherited from the cargo that runs us.
    for var in [
        "CARGO_TARGET_DIR",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_ENCODED_RUSTFLAGS",
    ] {
        command.env_remove(var);
    }
    command
}

fn write_crate(dir: &Path, name: &str, dependency: &str, main: &str) -> Result<(), Error> {
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
             publish = false\n\n[dependencies]\n{dependency}\n\n\
             # Not part of any enclosing workspace.\n[workspace]\n"
        ),
    )?;
    std::fs::write(dir.join("src/main.rs"), main)?;
    Ok(())
}

/// Copies the workspace's sources (everything but `target/`, `.git/` and
/// `node_modules/`), keeping symbolic links as links.
fn copy_tree(from: &Path, to: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if ["target", ".git", "node_modules"]
            .iter()
            .any(|n| name == *n)
        {
            continue;
        }
        let kind = entry.file_type()?;
        let dest = to.join(&name);
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &dest)?;
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// Appends one character to the first plain one-line `description:` of an operation
/// (after `paths:`), which the generated code carries as a doc comment.
fn edit_spec(spec: &Path) -> Result<(), Error> {
    let text = std::fs::read_to_string(spec)?;
    let plain = |line: &&str| {
        let value = line.trim_start().strip_prefix("description: ");
        value.is_some_and(|v| !v.is_empty() && !v.starts_with(['\'', '"', '|', '>']))
    };
    let mut lines: Vec<&str> = text.lines().collect();
    let paths = lines
        .iter()
        .position(|l| *l == "paths:")
        .unwrap_or(lines.len());
    let Some(at) = lines.iter().skip(paths).position(plain) else {
        return Err(format!("no plain description line in {}", spec.display()).into());
    };
    let edited = format!("{}x", lines[paths + at]);
    lines[paths + at] = &edited;
    std::fs::write(spec, lines.join("\n") + "\n")?;
    Ok(())
}

/// Runs the measurement; one build each (a clean build takes minutes).
pub fn measure(paths: &Paths, results: &mut Results) -> Result<(), Error> {
    let base = paths.root.join("target/bench-build");
    let _ = std::fs::remove_dir_all(&base);
    let workspace = base.join("workspace");
    copy_tree(&paths.root, &workspace)?;

    let ours = base.join("uses-permissions-api");
    write_crate(
        &ours,
        "uses-permissions-api",
        &format!(
            "permissions-api = {{ path = {:?} }}",
            workspace.join("crates/permissions-api")
        ),
        OURS_MAIN,
    )?;
    // The versions the workspace is tested with.
    std::fs::copy(workspace.join("Cargo.lock"), ours.join("Cargo.lock"))?;
    let theirs = base.join("uses-async-openai");
    write_crate(
        &theirs,
        "uses-async-openai",
        "async-openai = { version = \"0.43\", default-features = false, \
         features = [\"finetuning\", \"rustls\"] }",
        THEIRS_MAIN,
    )?;

    for (dir, name) in [(&ours, "ours"), (&theirs, "async-openai")] {
        let mut fetch = cargo();
        fetch.arg("fetch").current_dir(dir);
        run_timed(fetch, &paths.log(&format!("fetch-{name}")))?;
    }
    let lock = std::fs::read_to_string(theirs.join("Cargo.lock")).unwrap_or_default();
    if let Some(version) = lock_version(&lock, "async-openai") {
        results.facts.insert("async_openai".into(), version);
    }

    let build = |dir: &Path, target: &Path, log: &str| {
        let mut command = cargo();
        command
            .args(["build", "--locked"])
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", target);
        run_timed(command, &paths.log(log))
    };
    // Interleaved as well: ours, theirs (one round: each takes minutes).
    for (dir, key) in [(&ours, "build/ours"), (&theirs, "build/async-openai")] {
        let target = dir.join("target");
        let seconds = build(dir, &target, key.replace('/', "-").as_str())?;
        let units = std::fs::read_dir(target.join("debug/deps"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "rlib"))
                    .count()
            })
            .unwrap_or(0);
        record(
            results,
            key.to_owned(),
            json!({ "seconds": seconds, "rlibs": units }),
        );
    }

    // The rebuild after a spec edit (and, for reference, with nothing changed).
    let target = ours.join("target");
    let seconds = build(&ours, &target, "build-noop")?;
    record(results, "build/noop".into(), json!({ "seconds": seconds }));
    edit_spec(&workspace.join("openapi/permissions.yaml"))?;
    let seconds = build(&ours, &target, "build-rebuild")?;
    record(
        results,
        "build/rebuild".into(),
        json!({ "seconds": seconds }),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_edit_changes_one_plain_operation_description() {
        let spec = std::env::temp_dir().join(format!("edit-spec-{}.yaml", std::process::id()));
        let before = "info:\n  description: not an operation\npaths:\n  /a:\n    get:\n      \
                      description: >\n        folded\n      summary: x\n    post:\n      \
                      description: Creates.\n      description: Again.\n";
        std::fs::write(&spec, before).unwrap();
        edit_spec(&spec).unwrap();
        let after = std::fs::read_to_string(&spec).unwrap();
        assert_eq!(after, before.replace("Creates.", "Creates.x"));
        std::fs::write(&spec, "paths:\n  /a:\n    get:\n      summary: x\n").unwrap();
        assert!(edit_spec(&spec).is_err(), "nothing to edit is an error");
        std::fs::remove_file(&spec).unwrap();
    }
}
