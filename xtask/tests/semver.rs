//! The Rust-level verdict agrees with the sync summary: on copies of the
//! published crates built from edited fragments, a removed query parameter is
//! breaking for both, and an added optional response field (once the wire type
//! has gained it) is breaking for neither.
//!
//! cargo-semver-checks builds each copy, so these tests take minutes and need the
//! tool: they are ignored by a plain `cargo test`; CI runs them with `--ignored`.

use std::path::{Path, PathBuf};
use xtask::workspace_root;

use permissions_codegen::yaml::{self, Map, Node};
use xtask::semver::{self, Baseline};
use xtask::sync::{Impact, summary};

/// The crates a copy holds: the published library and what it builds from.
const COPIED: &[&str] = &[
    "permissions-types",
    "permissions-codegen",
    "permissions-api",
];

/// Copies `from` into `to`, leaving out what a library build does not read.
fn copy_crate(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if matches!(name.as_ref(), "target" | "tests" | "examples" | "benches") {
            continue;
        }
        let (source, target) = (entry.path(), to.join(name.as_ref()));
        if source.is_dir() {
            copy_crate(&source, &target);
        } else if name == "Cargo.toml" {
            // Dev-dependencies name crates the copy does not hold.
            let manifest = std::fs::read_to_string(&source).expect("manifest");
            let manifest = match manifest.find("[dev-dependencies]") {
                Some(start) => {
                    let rest = &manifest[start + 1..];
                    let end = rest
                        .find("\n[")
                        .map_or(manifest.len(), |i| start + 1 + i + 1);
                    format!("{}{}", &manifest[..start], &manifest[end..])
                }
                None => manifest,
            };
            std::fs::write(&target, manifest).expect("write manifest");
        } else {
            // `openapi.yaml` is a link: its content is what is copied.
            std::fs::copy(&source, &target).expect("copy");
        }
    }
}

/// A workspace of [`COPIED`] in `dir`, whose `permissions-api` is generated from
/// `fragment`, and whose `permissions-types` source is `edit`ed.
fn workspace(dir: &Path, fragment: &Node, edit: impl Fn(String) -> String) -> PathBuf {
    let root = workspace_root();
    for name in COPIED {
        copy_crate(
            &root.join("crates").join(name),
            &dir.join("crates").join(name),
        );
    }
    let text = yaml::to_yaml(fragment).expect("YAML");
    std::fs::write(dir.join("crates/permissions-api/openapi.yaml"), text).expect("fragment");
    let types = dir.join("crates/permissions-types/src/lib.rs");
    let source = std::fs::read_to_string(&types).expect("types");
    std::fs::write(&types, edit(source)).expect("types");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("root manifest");
    let start = manifest.find("members = [").expect("members");
    let end = start + manifest[start..].find(']').expect("end of members") + 1;
    let members: Vec<String> = COPIED.iter().map(|c| format!("\"crates/{c}\"")).collect();
    let manifest = format!(
        "{}members = [{}]{}",
        &manifest[..start],
        members.join(", "),
        &manifest[end..]
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("manifest");
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).expect("lock");
    dir.join("Cargo.toml")
}

fn fragment() -> Node {
    let text = std::fs::read_to_string(workspace_root().join("openapi/permissions.yaml"))
        .expect("the fragment");
    yaml::parse(&text).expect("the fragment parses")
}

fn map_at<'a>(node: &'a mut Node, path: &[&str]) -> &'a mut Map {
    path.iter()
        .fold(node, |node, key| {
            node.as_map_mut()
                .and_then(|m| m.get_mut(*key))
                .unwrap_or_else(|| panic!("no {key} in the fragment"))
        })
        .as_map_mut()
        .expect("a mapping")
}

const LIST_PATH: &str = "/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions";

/// Runs cargo-semver-checks on the published crates of `current` against `baseline`.
fn verdict(current: &Path, baseline: &Path) -> semver::Verdict {
    assert!(
        semver::is_installed(),
        "cargo-semver-checks is not installed: cargo install --locked cargo-semver-checks --version {}",
        semver::TOOL_VERSION
    );
    semver::check(
        current,
        semver::CRATES,
        &Baseline::Root(baseline.to_path_buf()),
    )
    .expect("cargo semver-checks runs")
}

#[test]
#[ignore = "needs cargo-semver-checks (cargo install --locked cargo-semver-checks --version ^0.51) and minutes: cargo test -p xtask --test semver -- --ignored"]
fn verdicts_agree_with_the_sync_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = fragment();
    let baseline = workspace(&dir.path().join("baseline"), &before, |s| s);
    let baseline_root = baseline.parent().expect("root").to_path_buf();

    // A removed query parameter: the builder loses its method.
    let mut removed = before.clone();
    let list = map_at(&mut removed, &["paths", LIST_PATH, "get"]);
    if let Some(Node::Seq(parameters)) = list.get_mut("parameters") {
        parameters.retain(|p| p.get_str("name") != Some("project_id"));
    }
    let changes = summary::compare(&before, &removed);
    assert!(changes.is_breaking(), "{changes}");
    let current = workspace(&dir.path().join("removed"), &removed, |s| s);
    let found = verdict(&current, &baseline_root);
    assert!(
        !found.passed && found.is_breaking(),
        "semver-checks did not call the removed parameter breaking:\n{}",
        found.report
    );
    assert!(found.report.contains("project_id"), "{}", found.report);

    // An added optional response field, which the wire type gains too.
    let mut added = before.clone();
    let properties = map_at(
        &mut added,
        &[
            "components",
            "schemas",
            "ListFineTuningCheckpointPermissionResponse",
            "properties",
        ],
    );
    properties.insert(
        "total".into(),
        yaml::parse("type: integer\ndescription: How many permissions the checkpoint has.")
            .expect("YAML"),
    );
    let changes = summary::compare(&before, &added);
    assert!(!changes.is_breaking(), "{changes}");
    assert!(
        changes.of(Impact::NonBreaking).next().is_some(),
        "{changes}"
    );
    let current = workspace(&dir.path().join("added"), &added, |source| {
        let anchor =
            "    /// Whether more permissions follow this page.\n    pub has_more: bool,\n";
        assert!(
            source.contains(anchor),
            "PermissionList changed: update this test"
        );
        source.replacen(
            anchor,
            &format!(
                "{anchor}    /// How many permissions the checkpoint has.\n    \
                 #[serde(default)]\n    pub total: Option<i64>,\n"
            ),
            1,
        )
        // PermissionList::new, the first constructor of a list (ProjectList's follows).
        .replacen(
            "            object: ListObject::List,\n            has_more,\n",
            "            object: ListObject::List,\n            has_more,\n            total: None,\n",
            1,
        )
    });
    let found = verdict(&current, &baseline_root);
    assert!(
        found.passed && !found.is_breaking(),
        "semver-checks called an added field of a non-exhaustive type breaking:\n{}",
        found.report
    );
}
