//! `export`, `plan` and `apply` of a sharing file, the official command form,
//! `--transform` and request bodies on standard input, against an in-process
//! emulator on 127.0.0.1.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{CKPT, KEY, Server, jsonl, seeds, stderr, stdout, tempfile_dir};
use permissions_emulator::{
    ApiKey, Emulator, FaultConfig, Scope, SeedCheckpoint, SeedPermission, SeedProject,
};
use serde_json::Value;

const OTHER: &str = "ft:gpt-4o-mini-2024-07-18:org:support:Q2x8LmPa";

fn project(i: usize) -> String {
    format!("proj_{i:024}")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A sharing file of `checkpoints`, each with its projects.
fn sharing(checkpoints: &[(&str, Vec<String>)]) -> String {
    let mut text = String::from("version: 1\ncheckpoints:\n");
    for (checkpoint, projects) in checkpoints {
        if projects.is_empty() {
            text.push_str(&format!("  {checkpoint}: []\n"));
        } else {
            text.push_str(&format!("  {checkpoint}:\n"));
            for p in projects {
                text.push_str(&format!("    - {p}\n"));
            }
        }
    }
    text
}

fn run(server: &Server, args: &[&str]) -> std::process::Output {
    let mut cmd = server.cmd();
    cmd.args(args).timeout(Duration::from_secs(120));
    cmd.output().unwrap()
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn plan_apply_plan_again_then_prune() {
    let server = Server::seeded(3);
    let dir = tempfile_dir();
    let file = write(
        &dir,
        "sharing.yaml",
        &sharing(&[
            (CKPT, vec![project(0), "proj_newA".into()]),
            (OTHER, vec!["proj_newB".into()]),
        ]),
    );
    // A pending change is no error: plain `plan` exits 0, `--detailed-exitcode` 2.
    assert_eq!(run(&server, &["plan", arg(&file)]).status.code(), Some(0));
    let plan = run(&server, &["plan", arg(&file), "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", stderr(&plan));
    let text = stdout(&plan);
    assert!(
        text.contains(&format!("{CKPT}\n  + proj_newA\n    1 unchanged\n")),
        "{text}"
    );
    assert!(
        text.contains("2 not in the file, kept (--prune revokes them)"),
        "{text}"
    );
    assert!(
        text.ends_with(
            "Plan: 2 to grant, 0 to revoke, 1 unchanged; apply will send 2 request(s).\n"
        ),
        "{text}"
    );

    let apply = run(&server, &["apply", arg(&file), "--yes"]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    assert!(stdout(&apply).contains("Applied 2 request(s): granted 2 project(s)"));
    let again = run(&server, &["plan", arg(&file), "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert!(stdout(&again).contains("No changes: 2 checkpoint(s) match the file"));
    // A second apply finds nothing to do and sends nothing but the reads: the
    // organization's projects (this emulator lists none), one list per checkpoint.
    let before = server.requests();
    let idle = run(&server, &["apply", arg(&file), "--yes"]);
    assert!(idle.status.success());
    assert_eq!(
        server.requests() - before,
        3,
        "the projects and one list per checkpoint"
    );

    // The file changes: one project dropped, one added.
    std::fs::write(
        &file,
        sharing(&[(CKPT, vec!["proj_newA".into(), "proj_newC".into()])]),
    )
    .unwrap();
    let apply = run(&server, &["apply", arg(&file), "--yes"]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    let kept = jsonl(&stdout(&run(&server, &["list", CKPT])));
    assert_eq!(kept.len(), 5, "nothing revoked without --prune");

    let plan = run(
        &server,
        &[
            "plan",
            arg(&file),
            "--prune",
            "--format",
            "json",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(plan.status.code(), Some(2));
    let document: Value = serde_json::from_str(&stdout(&plan)).unwrap();
    assert_eq!(document["prune"], true);
    assert_eq!(document["totals"]["revoke"], 3);
    assert_eq!(document["totals"]["requests"], 3);
    let revoked: Vec<&str> = document["checkpoints"][0]["revoke"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["project_id"].as_str().unwrap())
        .collect();
    assert_eq!(revoked, [project(0), project(1), project(2)]);

    let apply = run(&server, &["apply", arg(&file), "--prune", "--yes"]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    assert!(stdout(&apply).contains("revoked 3 permission(s)"));
    let left = jsonl(&stdout(&run(&server, &["list", CKPT])));
    let mut projects: Vec<&str> = left
        .iter()
        .map(|p| p["project_id"].as_str().unwrap())
        .collect();
    projects.sort();
    assert_eq!(projects, ["proj_newA", "proj_newC"]);
    assert_eq!(
        run(
            &server,
            &["plan", arg(&file), "--prune", "--detailed-exitcode"]
        )
        .status
        .code(),
        Some(0)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `ckpt-perms ARGS` with standard output closed from the start (a pipe
/// whose reader is gone, as after `| head`).
fn with_stdout_closed(server: &Server, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write as _;
    use std::process::Stdio;
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = server
        .std_cmd()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A closed output pipe ends a read quietly, keeps `plan`'s exit code, and is
/// a failure that says what was done for the verbs that change something.
#[test]
fn a_closed_output_never_passes_for_success() {
    let server = Server::seeded(3);
    let dir = tempfile_dir();
    let file = write(
        &dir,
        "sharing.yaml",
        &sharing(&[(CKPT, vec![project(0), "proj_newA".into()])]),
    );
    let plan = with_stdout_closed(
        &server,
        &["plan", arg(&file), "--prune", "--detailed-exitcode"],
        "",
    );
    assert_eq!(plan.status.code(), Some(2), "{}", stderr(&plan));
    let list = with_stdout_closed(&server, &["list", CKPT], "");
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));

    let before = writes(&server);
    let apply = with_stdout_closed(&server, &["apply", arg(&file), "--prune", "--yes"], "");
    assert_eq!(apply.status.code(), Some(1), "{}", stderr(&apply));
    assert!(
        stderr(&apply).contains("nothing was changed"),
        "{}",
        stderr(&apply)
    );
    assert_eq!(writes(&server), before, "apply sent nothing");

    let projects = "proj_newB\nproj_newC\nproj_newD\n";
    let create = with_stdout_closed(
        &server,
        &["create", CKPT, "--batch-size", "1", "--concurrency", "1"],
        projects,
    );
    assert_eq!(create.status.code(), Some(1), "{}", stderr(&create));
    let said = stderr(&create);
    assert!(said.contains("granted 1 of 3 project(s)"), "{said}");
    assert!(said.contains("standard output was closed"), "{said}");
    assert_eq!(
        writes(&server),
        before + 1,
        "create stopped at its first answer"
    );

    let delete = with_stdout_closed(
        &server,
        &["delete", CKPT, "cp_000000000000000000000001"],
        "",
    );
    assert_eq!(delete.status.code(), Some(1), "{}", stderr(&delete));
    assert!(
        stderr(&delete).contains("revoked 1 of 1"),
        "{}",
        stderr(&delete)
    );
    // A permission revoked is said so, though its line could not be written.
    let two = [
        CKPT,
        "cp_000000000000000000000000",
        "cp_000000000000000000000002",
    ];
    let mut args = vec!["delete", "--concurrency", "1"];
    args.extend(two);
    let delete = with_stdout_closed(&server, &args, "");
    assert_eq!(delete.status.code(), Some(1), "{}", stderr(&delete));
    let said = stderr(&delete);
    assert!(
        said.contains("revoked 1 of 2 permission(s); not revoked: cp_000000000000000000000002\n"),
        "{said}"
    );

    // Nothing to change: the checkpoints match the file, shown or not.
    let matching = write(
        &dir,
        "matching.yaml",
        &sharing(&[(CKPT, vec![project(2), "proj_newB".into()])]),
    );
    let apply = with_stdout_closed(&server, &["apply", arg(&matching), "--prune", "--yes"], "");
    assert_eq!(apply.status.code(), Some(0), "{}", stderr(&apply));
}

#[test]
fn apply_refuses_without_a_terminal_or_yes() {
    let server = Server::seeded(0);
    let dir = tempfile_dir();
    let file = write(&dir, "s.yaml", &sharing(&[(CKPT, vec!["proj_a".into()])]));
    let output = run(&server, &["apply", arg(&file)]);
    // Not applied is not "matches the file": 1, as every error of apply.
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("pass --yes"),
        "{}",
        stderr(&output)
    );
    assert_eq!(server.requests(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn export_round_trips_and_is_stable() {
    let server = Server::seeded(250);
    let dir = tempfile_dir();
    let exported = dir.join("exported.yaml");
    let output = run(&server, &["export", OTHER, CKPT, "-o", arg(&exported)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("exported 2 checkpoint(s), 250 project(s)"));
    let text = std::fs::read_to_string(&exported).unwrap();
    assert!(text.starts_with("version: 1\ncheckpoints:\n"), "{text}");
    assert!(text.contains(&format!("{OTHER}: []")), "{text}");
    // The same sharing, exported again to standard output, is the same text.
    assert_eq!(stdout(&run(&server, &["export", CKPT, OTHER])), text);
    let plan = run(
        &server,
        &["plan", arg(&exported), "--prune", "--detailed-exitcode"],
    );
    assert_eq!(plan.status.code(), Some(0), "{}", stdout(&plan));
    // The projects: 1; 250 permissions are 3 pages of 100; the empty checkpoint 1.
    let before = server.requests();
    run(&server, &["plan", arg(&exported)]);
    assert_eq!(server.requests() - before, 5);
    let bad = run(&server, &["export", "gpt-4o"]);
    assert_eq!(bad.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_bad_file_is_refused_with_exit_1_and_nothing_sent() {
    let server = Server::seeded(1);
    let dir = tempfile_dir();
    let cases = [
        (
            "version",
            "version: 2\ncheckpoints: {}\n",
            "version 2 is not supported",
        ),
        (
            "twice",
            &format!("version: 1\ncheckpoints:\n  {CKPT}: []\n  {CKPT}: []\n"),
            "named twice",
        ),
        (
            "duplicate",
            &format!("version: 1\ncheckpoints:\n  {CKPT}:\n    - proj_a\n    - proj_a\n"),
            "listed twice",
        ),
        (
            "empty-id",
            &format!("version: 1\ncheckpoints:\n  {CKPT}:\n    - ''\n"),
            "invalid project id",
        ),
        (
            "bad-checkpoint",
            "version: 1\ncheckpoints:\n  nope: []\n",
            "invalid checkpoint id",
        ),
        (
            "unknown-key",
            "version: 1\ncheckpoints: {}\nowner: me\n",
            "owner (line 3): unknown key",
        ),
        (
            "no-list",
            &format!("version: 1\ncheckpoints:\n  {CKPT}:\n"),
            "list of projects",
        ),
        ("not-yaml", "version: [1\n", "line 2: not valid YAML"),
        ("empty", "", "empty"),
    ];
    for (name, text, needle) in cases {
        let file = write(&dir, &format!("{name}.yaml"), text);
        for verb in [
            &["plan"][..],
            &["plan", "--detailed-exitcode"],
            &["apply", "--yes", "--prune"],
        ] {
            let mut args = verb.to_vec();
            args.insert(1, arg(&file));
            let output = run(&server, &args);
            assert_eq!(output.status.code(), Some(1), "{name} {verb:?}");
            let err = stderr(&output);
            assert!(err.contains(needle), "{name}: {err}");
            assert!(
                err.contains(&format!("{name}.yaml")),
                "{name}: the file is named: {err}"
            );
        }
    }
    let missing = run(&server, &["plan", "/nonexistent/sharing.yaml"]);
    assert_eq!(missing.status.code(), Some(1));
    // A bad flag of plan is an error like any other: 1, never "changes pending".
    for args in [
        &["plan", "--detailed-exitcode", "--no-such-flag", "x.yaml"][..],
        &["--format", "json", "plan"],
        &["apply", "x.yaml", "--concurrency", "0"],
    ] {
        let output = run(&server, args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    assert_eq!(
        run(&server, &["list", "--no-such-flag"]).status.code(),
        Some(2),
        "other verbs keep their codes"
    );
    assert_eq!(server.requests(), 0, "nothing was sent");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An emulator with `faults`, served by its own runtime.
fn faulty(faults: FaultConfig) -> Server {
    Server::with(Emulator::builder().faults(faults))
}

fn five_by(projects: usize) -> String {
    let checkpoints: Vec<(String, Vec<String>)> = (0..5)
        .map(|c| {
            (
                format!("ft:gpt-4o-mini-2024-07-18:org:team:c{c}"),
                (0..projects).map(|p| format!("proj_c{c}p{p:04}")).collect(),
            )
        })
        .collect();
    let borrowed: Vec<(&str, Vec<String>)> = checkpoints
        .iter()
        .map(|(c, p)| (c.as_str(), p.clone()))
        .collect();
    sharing(&borrowed)
}

/// Applies until it exits 0 (at most `tries` times); returns how many it took.
fn apply_until_done(server: &Server, file: &Path, tries: usize) -> usize {
    for attempt in 1..=tries {
        let output = run(server, &["apply", arg(file), "--prune", "--yes"]);
        if output.status.success() {
            return attempt;
        }
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{err}");
        assert!(err.contains("not applied:") || err.contains("503"), "{err}");
    }
    panic!("apply did not converge in {tries} tries");
}

#[test]
fn apply_converges_through_503s() {
    let server = faulty(FaultConfig {
        unavailable: 0.2,
        rng_seed: Some(5),
        ..FaultConfig::default()
    });
    let dir = tempfile_dir();
    let file = write(&dir, "five.yaml", &five_by(150));
    apply_until_done(&server, &file, 8);
    let mut plan = None;
    for _ in 0..5 {
        let output = run(&server, &["plan", arg(&file), "--prune"]);
        if output.status.code() != Some(1) {
            plan = output.status.code();
            break;
        }
    }
    assert_eq!(plan, Some(0), "the checkpoints match the file");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn apply_converges_under_the_throttle() {
    let server = Server::throttled(0, "8/2s");
    let dir = tempfile_dir();
    let file = write(&dir, "five.yaml", &five_by(150));
    let output = run(&server, &["apply", arg(&file), "--yes"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("Applied 10 request(s): granted 750 project(s)"));
    assert_eq!(run(&server, &["plan", arg(&file)]).status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_apply_killed_part_way_is_finished_by_the_next() {
    let server = Server::throttled(0, "3/2s");
    let dir = tempfile_dir();
    let file = write(&dir, "five.yaml", &five_by(200));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ckpt-perms"))
        .args(["apply", arg(&file), "--yes", "--concurrency", "1"])
        .env("OPENAI_ADMIN_KEY", KEY)
        .env("XDG_CACHE_HOME", common::cache_dir())
        .env("OPENAI_BASE_URL", &server.url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while server.counted("POST").0 < 2 {
        assert!(std::time::Instant::now() < deadline, "no grant was sent");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let granted_before = server.emulator().state().permission_count();
    assert!(granted_before < 1000, "{granted_before}");
    let output = run(&server, &["apply", arg(&file), "--yes"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(server.emulator().state().permission_count(), 1000);
    assert_eq!(run(&server, &["plan", arg(&file)]).status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_official_command_form_works_too() {
    let server = Server::seeded(3);
    let official = run(
        &server,
        &["fine-tuning:checkpoints:permissions", "list", CKPT],
    );
    assert!(official.status.success(), "{}", stderr(&official));
    assert_eq!(stdout(&official), stdout(&run(&server, &["list", CKPT])));
    let created = run(
        &server,
        &[
            "fine-tuning:checkpoints:permissions",
            "create",
            "--fine-tuned-model-checkpoint",
            CKPT,
            "--project-id",
            "proj_official",
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    assert_eq!(jsonl(&stdout(&created))[0]["project_id"], "proj_official");
}

#[test]
fn transform_selects_from_each_json_value() {
    let server = Server::seeded(3);
    let output = run(&server, &["list", CKPT, "--transform", "project_id"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let values = jsonl(&stdout(&output));
    assert_eq!(values.len(), 3);
    assert!(
        values
            .iter()
            .all(|v| v.as_str().is_some_and(|p| p.starts_with("proj_")))
    );
    let page = run(
        &server,
        &[
            "--format",
            "json",
            "retrieve",
            CKPT,
            "--transform",
            "data.#.id",
        ],
    );
    let ids: Value = serde_json::from_str(&stdout(&page)).unwrap();
    assert_eq!(ids.as_array().unwrap().len(), 3);
    let table = run(
        &server,
        &["--format", "table", "list", CKPT, "--transform", "id"],
    );
    assert_eq!(table.status.code(), Some(2));
}

#[test]
fn create_takes_the_request_body_as_yaml_or_json() {
    let server = Server::start(seeds(0));
    for (body, project) in [
        (
            "project_ids:\n  - proj_yaml_a\n  - proj_yaml_b\n",
            "proj_yaml_b",
        ),
        (
            r#"{"project_ids": ["proj_json_a", "proj_json_b"]}"#,
            "proj_json_b",
        ),
    ] {
        let output = server
            .cmd()
            .args(["create", CKPT])
            .write_stdin(body)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let granted = jsonl(&stdout(&output));
        assert_eq!(granted.len(), 2);
        assert_eq!(granted[1]["project_id"], project);
    }
    let bad = server
        .cmd()
        .args(["create", CKPT])
        .write_stdin("project_ids: proj_a\n")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// On a terminal (a pseudo-terminal from `script`), `apply` asks, and only `yes`
/// goes on.
#[test]
fn apply_asks_on_a_terminal() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let server = Server::seeded(0);
    let dir = tempfile_dir();
    let file = write(
        &dir,
        "s.yaml",
        &sharing(&[(CKPT, vec!["proj_asked".into()])]),
    );
    let ask = |answer: &str| {
        use std::io::Write as _;
        let command = format!(
            "'{}' apply '{}'",
            env!("CARGO_BIN_EXE_ckpt-perms"),
            arg(&file)
        );
        let mut child = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("OPENAI_ADMIN_KEY", KEY)
            .env("XDG_CACHE_HOME", common::cache_dir())
            .env("OPENAI_BASE_URL", &server.url)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The answer arrives once the prompt waits for it.
        std::thread::sleep(Duration::from_millis(1500));
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    let refused = ask("no");
    let screen = String::from_utf8_lossy(&refused.stdout).into_owned();
    assert!(screen.contains("Only 'yes' goes on"), "{screen}");
    assert!(
        screen.contains("apply cancelled: nothing was changed"),
        "{screen}"
    );
    assert_eq!(server.emulator().state().permission_count(), 0);
    let accepted = ask("yes");
    let screen = String::from_utf8_lossy(&accepted.stdout).into_owned();
    assert!(accepted.status.success(), "{screen}");
    assert!(
        screen.contains("Applied 1 request(s): granted 1 project(s)"),
        "{screen}"
    );
    assert_eq!(server.emulator().state().permission_count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An emulator that knows the organization: Research, Support, two projects named
/// Twin, an archived Old, an unnamed one, and the owner of both checkpoints;
/// Support holds access to [`OTHER`].
fn organization(keys: Option<Vec<ApiKey>>) -> Server {
    organization_holding(keys, [])
}

/// [`organization`], with the permissions of `seed` too.
fn organization_holding(
    keys: Option<Vec<ApiKey>>,
    seed: impl IntoIterator<Item = SeedPermission>,
) -> Server {
    let projects = [
        SeedProject::new("proj_research", Some("Research")),
        SeedProject::new("proj_support", Some("Support")),
        SeedProject::new("proj_twin_a", Some("Twin")),
        SeedProject::new("proj_twin_b", Some("Twin")),
        SeedProject::new("proj_old", Some("Old")).archived(),
        SeedProject::new("proj_unnamed", None),
        SeedProject::new("proj_owner", Some("Owner")),
    ];
    let mut builder = Emulator::builder()
        .projects(projects)
        .checkpoints([CKPT, OTHER].map(|c| SeedCheckpoint::new(c, "proj_owner")))
        .seed(
            [SeedPermission::new(OTHER, "proj_support")]
                .into_iter()
                .chain(seed),
        );
    if let Some(keys) = keys {
        builder = builder.keys(keys);
    }
    Server::with(builder)
}

/// Writes requests the emulator counted (creates and deletes).
fn writes(server: &Server) -> u64 {
    server.counted("POST").0 + server.counted("DELETE").0
}

#[test]
fn names_resolve_to_their_projects_and_the_plan_shows_them() {
    let server = organization(None);
    let dir = tempfile_dir();
    let file = write(
        &dir,
        "named.yaml",
        &format!(
            "version: 1\ncheckpoints:\n  {CKPT}:\n    - name: Research\n    - proj_unnamed\n  \
             {OTHER}:\n    - {{id: proj_research, name: Research}}\n"
        ),
    );
    let plan = run(
        &server,
        &["plan", arg(&file), "--prune", "--detailed-exitcode"],
    );
    assert_eq!(plan.status.code(), Some(2), "{}", stderr(&plan));
    let text = stdout(&plan);
    assert!(
        text.contains(&format!(
            "{CKPT}\n  + proj_research (Research)\n  + proj_unnamed\n"
        )),
        "{text}"
    );
    assert!(text.contains("  - proj_support (Support) (cp_"), "{text}");
    let json = run(
        &server,
        &["plan", arg(&file), "--prune", "--format", "json"],
    );
    let document: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(document["ids_checked"], true);
    assert_eq!(
        document["checkpoints"][1]["grant"][0],
        serde_json::json!({"project_id": "proj_research", "name": "Research"})
    );
    assert_eq!(document["checkpoints"][0]["revoke"][0]["name"], "Support");
    let apply = run(&server, &["apply", arg(&file), "--prune", "--yes"]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    let granted = jsonl(&stdout(&run(&server, &["list", CKPT])));
    let mut projects: Vec<&str> = granted
        .iter()
        .map(|p| p["project_id"].as_str().unwrap())
        .collect();
    projects.sort();
    assert_eq!(projects, ["proj_research", "proj_unnamed"]);
    let again = run(
        &server,
        &["plan", arg(&file), "--prune", "--detailed-exitcode"],
    );
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_entry_the_api_would_refuse_exits_1_with_its_line_and_writes_nothing() {
    let server = organization(None);
    let dir = tempfile_dir();
    let cases = [
        (
            "    - name: Nobody\n",
            "(line 4): no project of the organization is named \"Nobody\"",
        ),
        ("    - name: research\n", "did you mean \"Research\"?"),
        (
            "    - name: Twin\n",
            "(line 4): 2 projects are named \"Twin\" (proj_twin_a, proj_twin_b)",
        ),
        (
            "    - name: Old\n",
            "(line 4): project proj_old (\"Old\") is archived",
        ),
        (
            "    - proj_old\n",
            "(line 4): project proj_old (\"Old\") is archived",
        ),
        (
            "    - proj_research\n    - proj_missing\n",
            "(line 5): the organization has no project proj_missing",
        ),
        (
            "    - proj_research\n    - name: Research\n",
            "(line 5): proj_research is listed twice (first at",
        ),
    ];
    for (entries, message) in cases {
        let file = write(
            &dir,
            "refused.yaml",
            &format!("version: 1\ncheckpoints:\n  {CKPT}:\n{entries}"),
        );
        for verb in [&["plan", "--detailed-exitcode"][..], &["apply", "--yes"]] {
            let mut args = verb.to_vec();
            args.insert(1, arg(&file));
            let output = run(&server, &args);
            let err = stderr(&output);
            assert_eq!(output.status.code(), Some(1), "{entries:?} {verb:?}: {err}");
            assert!(err.contains(&format!("checkpoints.{CKPT}[")), "{err}");
            assert!(err.contains(message), "{entries:?}: {err}");
            assert!(err.contains("nothing was sent"), "{err}");
            assert_eq!(stdout(&output), "", "{entries:?}");
        }
    }
    assert_eq!(writes(&server), 0, "a refused file wrote something");
    // Only an archived project needs the checkpoints read to be judged.
    let (reads, _) = server.counted_on("GET", "/permissions");
    assert_eq!(
        reads, 4,
        "the checkpoint read twice for each of the two archived cases"
    );
    // A name beside an id that no longer matches is a warning, not an error.
    let stale = write(
        &dir,
        "stale.yaml",
        &format!(
            "version: 1\ncheckpoints:\n  {CKPT}:\n    - {{id: proj_support, name: Helpdesk}}\n"
        ),
    );
    let output = run(&server, &["plan", arg(&stale)]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stderr(&output).contains("warning: checkpoints."),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output)
            .contains("proj_support is named \"Support\" in the organization, not \"Helpdesk\"")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn export_with_names_round_trips_a_file_of_ids_and_names() {
    let server = organization(None);
    let dir = tempfile_dir();
    let file = write(
        &dir,
        "mixed.yaml",
        &format!(
            "version: 1\ncheckpoints:\n  {CKPT}:\n    - name: Research\n    - proj_unnamed\n    \
             - {{id: proj_twin_b, name: Twin}}\n  {OTHER}: []\n"
        ),
    );
    let apply = run(&server, &["apply", arg(&file), "--prune", "--yes"]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    let exported = dir.join("exported.yaml");
    let output = run(
        &server,
        &["export", CKPT, OTHER, "--names", "-o", arg(&exported)],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(&exported).unwrap();
    assert_eq!(
        text,
        format!(
            "version: 1\ncheckpoints:\n  {OTHER}: []\n  {CKPT}:\n  - id: proj_research\n    \
             name: Research\n  - id: proj_twin_b\n    name: Twin\n  - proj_unnamed\n"
        )
    );
    let plan = run(
        &server,
        &["plan", arg(&exported), "--prune", "--detailed-exitcode"],
    );
    assert_eq!(plan.status.code(), Some(0), "{}", stdout(&plan));
    // Without --names, ids alone, as before.
    let plain = stdout(&run(&server, &["export", CKPT]));
    assert!(
        plain.contains("  - proj_research\n  - proj_twin_b\n  - proj_unnamed\n"),
        "{plain}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A project archived after it was granted access keeps it: the file `export`
/// wrote plans without changes, with the name too; it cannot be granted
/// anywhere else.
#[test]
fn an_archived_project_keeps_the_access_it_holds() {
    let server = organization_holding(None, [SeedPermission::new(CKPT, "proj_old")]);
    let dir = tempfile_dir();
    for names in [false, true] {
        let exported = dir.join("exported.yaml");
        let mut args = vec!["export", CKPT, "-o", arg(&exported)];
        if names {
            args.push("--names");
        }
        let output = run(&server, &args);
        assert!(output.status.success(), "{}", stderr(&output));
        let plan = run(
            &server,
            &["plan", arg(&exported), "--prune", "--detailed-exitcode"],
        );
        assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    }
    let elsewhere = write(
        &dir,
        "elsewhere.yaml",
        &sharing(&[(OTHER, vec!["proj_support".into(), "proj_old".into()])]),
    );
    let output = run(&server, &["plan", arg(&elsewhere)]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("project proj_old (\"Old\") is archived"),
        "{}",
        stderr(&output)
    );
    assert_eq!(writes(&server), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_key_that_cannot_list_projects_plans_ids_unchecked_and_refuses_names() {
    // The key may read and write permissions, but not list the projects.
    let server = organization(Some(vec![ApiKey::new(KEY, [Scope::Read, Scope::Write])]));
    let dir = tempfile_dir();
    let ids = write(
        &dir,
        "ids.yaml",
        &format!("version: 1\ncheckpoints:\n  {CKPT}:\n    - proj_research\n"),
    );
    let output = run(&server, &["plan", arg(&ids), "--detailed-exitcode"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("note: the organization's projects could not be listed (401"),
        "{err}"
    );
    assert!(err.contains("api.organization.projects.read"), "{err}");
    assert!(
        err.contains("the project ids were not checked against the organization"),
        "{err}"
    );
    let json = run(&server, &["plan", arg(&ids), "--format", "json"]);
    let document: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(document["ids_checked"], false);
    let names = write(
        &dir,
        "names.yaml",
        &format!("version: 1\ncheckpoints:\n  {CKPT}:\n    - name: Research\n"),
    );
    let output = run(&server, &["apply", arg(&names), "--yes"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("(line 4): cannot resolve the name \"Research\""),
        "{err}"
    );
    assert!(
        err.contains("Missing scopes: api.organization.projects.read"),
        "{err}"
    );
    assert_eq!(writes(&server), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn projects_are_listed_in_every_format() {
    let server = organization(None);
    let table = run(&server, &["--format", "table", "projects"]);
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["ID", "NAME", "STATUS"]
    );
    assert_eq!(lines.len(), 1 + 6, "archived projects are left out: {text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("proj_unnamed") && l.contains(" - ")),
        "{text}"
    );
    let all = jsonl(&stdout(&run(&server, &["projects", "--include-archived"])));
    assert_eq!(all.len(), 7);
    let old = all.iter().find(|p| p["id"] == "proj_old").unwrap();
    assert_eq!(
        (old["status"].as_str(), old["name"].as_str()),
        (Some("archived"), Some("Old"))
    );
    // Small pages, a cap, and a transform.
    let listed = || server.counted_on("GET", "/organization/projects").0;
    let before = listed();
    let names = run(
        &server,
        &[
            "projects",
            "--limit",
            "2",
            "--max-items",
            "5",
            "--format",
            "jsonl",
            "--transform",
            "name",
        ],
    );
    assert_eq!(stdout(&names).lines().count(), 5, "{}", stdout(&names));
    assert!(
        stdout(&names).starts_with("\"Research\"\n"),
        "{}",
        stdout(&names)
    );
    assert_eq!(listed() - before, 3, "pages of 2 until 5 projects");
    for format in ["json", "pretty", "yaml", "raw"] {
        let output = run(&server, &["--format", format, "projects"]);
        assert!(output.status.success(), "{format}");
        assert!(stdout(&output).contains("proj_research"), "{format}");
    }
}
