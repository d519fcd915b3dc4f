//! Conformance of the emulator, judged by others: the official OpenAI Python SDK
//! (`tests/python/sdk_conformance.py`), the official Node SDK
//! (`tests/node/sdk_conformance.mjs`) and schemathesis on the OpenAPI fragment
//! (with the hooks of `tests/python/schemathesis_hooks.py`). The SDKs and
//! schemathesis meet an emulator seeded with an organization of projects.
//!
//! They need tools outside cargo, so they are `#[ignore]`d with the command that
//! installs them as the reason: a plain `cargo test` lists them as ignored. Run them
//! with
//!
//! ```sh
//! python3 -m pip install -r tests/python/requirements.txt   # Python SDK, schemathesis
//! npm ci --prefix tests/node                                 # Node SDK
//! cargo test -p permissions-emulator --test conformance -- --ignored
//! ```
//!
//! (CI does). Run so, a missing tool fails the test. `PYTHON`, `SCHEMATHESIS` and
//! `NODE` override the interpreters and the schemathesis executable.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use permissions_emulator::{ApiKey, Emulator, Fault, Scope};
use serde_json::{Value, json};

const ADMIN_KEY: &str = "sk-admin-conformance-0123456789";
const READ_ONLY_KEY: &str = "sk-admin-conformance-reader-0123456789";
/// The checkpoints the scripts use, as they name them.
const CHECKPOINT: &str = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd";
const OTHER_CHECKPOINT: &str = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd:ckpt-step-88";
const OWNED_CHECKPOINT: &str = "ft:gpt-4o-mini-2024-07-18:org:owned:C8S0WkRe";
const OWNER_PROJECT: &str = "proj_owner0123456789";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tool(variable: &str, default: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| default.to_owned())
}

/// Fails the test, with the install command, unless `command` runs and succeeds.
fn require(what: &str, install: &str, command: &mut Command) {
    let ok = command.output().is_ok_and(|o| o.status.success());
    assert!(ok, "{what} is not available; install it with `{install}`");
}

const PIP_INSTALL: &str = "python3 -m pip install -r tests/python/requirements.txt";
const NPM_INSTALL: &str = "npm ci --prefix tests/node";

/// The organization of the SDK scripts' emulator, as a seed file: the projects the
/// scripts grant (`proj_00`..`proj_24`, `proj_guest`) and the owners, all active;
/// two archived projects (one created in the same second as `proj_04`, after it in
/// seed order) and one without a name; the checkpoints the scripts use, with their
/// owners. Every project has a `created_at`, so that the Python script can tell
/// the order the emulator lists them in.
fn organization() -> Value {
    const CREATED: i64 = 1_711_471_533;
    let mut projects: Vec<Value> = (0..25)
        .map(|i| {
            json!({"id": format!("proj_{i:02}"), "name": format!("Team {i:02}"),
                   "created_at": CREATED + i})
        })
        .collect();
    projects.extend([
        json!({"id": "proj_archived_a", "name": "Old A", "status": "archived",
               "created_at": CREATED + 4, "archived_at": CREATED + 100}),
        json!({"id": "proj_archived_b", "name": null, "status": "archived",
               "created_at": CREATED + 12, "archived_at": CREATED + 200}),
        json!({"id": "proj_unnamed", "created_at": CREATED + 30}),
        json!({"id": "proj_guest", "name": "Guest", "created_at": CREATED + 31}),
        json!({"id": "proj_weather", "name": "Weather", "created_at": CREATED - 10}),
        json!({"id": OWNER_PROJECT, "name": "Owner", "created_at": CREATED - 5}),
    ]);
    json!({
        "projects": projects,
        "checkpoints": [
            {"id": CHECKPOINT, "owner_project_id": "proj_weather"},
            {"id": OTHER_CHECKPOINT, "owner_project_id": "proj_weather"},
            {"id": OWNED_CHECKPOINT, "owner_project_id": OWNER_PROJECT},
        ],
    })
}

/// An emulator as the SDK scripts expect it: [`ADMIN_KEY`] with every scope,
/// [`READ_ONLY_KEY`] with the read scope, the [`organization`] seeded from the
/// file `organization.json` in `dir` (which the Python script reads too), and two
/// 429s scripted for the first requests (the scripts' first call must survive
/// them through the SDK's own retries).
async fn sdk_emulator(dir: &Path) -> (Emulator, PathBuf) {
    let seed = dir.join("organization.json");
    std::fs::write(&seed, organization().to_string()).expect("write the seed file");
    let emulator = Emulator::builder()
        .keys([
            ApiKey::new(ADMIN_KEY, [Scope::Read, Scope::Write, Scope::ProjectsRead]),
            ApiKey::new(READ_ONLY_KEY, [Scope::Read]),
        ])
        .seed_file(&seed)
        .start()
        .await
        .expect("emulator starts");
    emulator.inject(
        Fault::Status {
            status: 429,
            retry_after_ms: Some(10),
            retry_after: Some(1),
        },
        2,
    );
    (emulator, seed)
}

/// Checks a script's last line, `{"requests": N, "checks": M}`: at least
/// `min_checks` checks, and every request it sent reached the emulator.
fn check_summary(output: &Output, min_checks: u64, requests_reached: u64) {
    assert!(output.status.success(), "{}", show(output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no summary line: {}", show(output)));
    let checks = summary["checks"].as_u64().expect("check count");
    assert!(checks >= min_checks, "{summary}");
    assert_eq!(
        summary["requests"].as_u64().expect("request count"),
        requests_reached,
        "every request the SDK sent reached the emulator"
    );
}

/// A command that reaches only the loopback address: proxies are switched off.
fn local_command(program: &str) -> Command {
    let mut command = Command::new(program);
    for variable in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        "OPENAI_ADMIN_KEY",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
    ] {
        command.env_remove(variable);
    }
    command.env("NO_PROXY", "127.0.0.1,localhost");
    command
}

async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the runner thread")
        .expect("the command starts")
}

fn show(output: &Output) -> String {
    format!(
        "status {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official Python SDK: python3 -m pip install -r tests/python/requirements.txt, then cargo test -p permissions-emulator --test conformance -- --ignored"]
async fn official_python_sdk() {
    let python = tool("PYTHON", "python3");
    require(
        "the OpenAI Python SDK",
        PIP_INSTALL,
        local_command(&python).args(["-c", "import openai"]),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (emulator, seed) = sdk_emulator(dir.path()).await;
    let mut command = local_command(&python);
    command
        .arg(workspace_root().join("tests/python/sdk_conformance.py"))
        .args([emulator.base_url().as_str(), ADMIN_KEY])
        .arg(&seed)
        .arg("2");
    let output = run(command).await;
    let requests_reached = emulator.request_count();
    emulator.shutdown().await;
    check_summary(&output, 450, requests_reached);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official Node SDK: npm ci --prefix tests/node, then cargo test -p permissions-emulator --test conformance -- --ignored"]
async fn official_node_sdk() {
    let node = tool("NODE", "node");
    let sdk_dir = workspace_root().join("tests/node");
    require(
        "the OpenAI Node SDK",
        NPM_INSTALL,
        local_command(&node).current_dir(&sdk_dir).args([
            "--input-type=module",
            "-e",
            "import 'openai';",
        ]),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (emulator, _) = sdk_emulator(dir.path()).await;
    let mut command = local_command(&node);
    command
        .current_dir(&sdk_dir)
        .arg(sdk_dir.join("sdk_conformance.mjs"))
        .args([
            emulator.base_url().as_str(),
            ADMIN_KEY,
            READ_ONLY_KEY,
            OWNED_CHECKPOINT,
            OWNER_PROJECT,
            "2",
        ]);
    let output = run(command).await;
    let requests_reached = emulator.request_count();
    emulator.shutdown().await;
    check_summary(&output, 70, requests_reached);
}

/// The organization schemathesis runs against: the fragment's two example
/// checkpoints, owned by `proj_owner`; four active projects and an archived one.
fn schemathesis_organization() -> Value {
    json!({
        "projects": [
            {"id": "proj_owner", "name": "Owner"},
            {"id": "proj_alpha", "name": "Alpha"},
            {"id": "proj_beta", "name": null},
            {"id": "proj_gamma", "name": "Gamma"},
            {"id": "proj_delta"},
            {"id": "proj_retired", "name": "Retired", "status": "archived"},
        ],
        "checkpoints": [
            {"id": "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd", "owner_project_id": "proj_owner"},
            {"id": "ft-AF1WoRqd3aJAHsqc9NY7iL8F", "owner_project_id": "proj_owner"},
        ],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs schemathesis: python3 -m pip install -r tests/python/requirements.txt, then cargo test -p permissions-emulator --test conformance -- --ignored"]
async fn schemathesis_finds_no_server_error_and_no_spec_violation() {
    let schemathesis = tool("SCHEMATHESIS", "schemathesis");
    require(
        "schemathesis",
        PIP_INSTALL,
        local_command(&schemathesis).arg("--version"),
    );
    let workdir = tempfile::tempdir().expect("tempdir");
    let seed = workdir.path().join("organization.json");
    std::fs::write(&seed, schemathesis_organization().to_string()).expect("write the seed");
    let emulator = Emulator::builder()
        .seed_file(&seed)
        .start()
        .await
        .expect("emulator starts");
    let junit = workdir.path().join("junit.xml");
    let mut command = local_command(&schemathesis);
    command
        .current_dir(workdir.path())
        // Three generated ids in four are moved onto the organization (see the
        // hooks file), so that grants succeed and the stateful phase follows links.
        .env(
            "SCHEMATHESIS_HOOKS",
            workspace_root().join("tests/python/schemathesis_hooks.py"),
        )
        .env("EMULATOR_ORGANIZATION", &seed)
        .arg("run")
        .arg(workspace_root().join("openapi/permissions.yaml"))
        .args(["--url", emulator.base_url().as_str()])
        .args(["--header", &format!("Authorization: Bearer {ADMIN_KEY}")])
        // Every check but positive_data_acceptance: the emulator refuses some values
        // the fragment does not constrain (an empty project_ids, limit 0 or 1000,
        // ids of the wrong shape, projects and checkpoints the organization lacks).
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        // 300 examples per operation, repeatable; the stateful phase follows the
        // overlay's links (create -> list, create -> delete) and those schemathesis
        // infers (list-projects -> list and create, list -> delete, ...).
        .args(["--max-examples", "300", "--seed", "20261126"])
        .args(["--generation-database", "none", "--workers", "1"])
        .args(["--request-timeout", "10"])
        .args(["--no-color", "--warnings", "off"])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&junit);
    let output = run(command).await;
    let counters = emulator.endpoint_counters();
    emulator.shutdown().await;
    assert!(output.status.success(), "{}", show(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("No issues found"), "{}", show(&output));
    // The stateful phase ran and followed every link: the overlay's two, and any
    // schemathesis infers ("API Links: N covered / N selected / ...").
    let links = stdout
        .lines()
        .find_map(|line| {
            line.split_once("API Links:")
                .map(|(_, rest)| rest.to_owned())
        })
        .unwrap_or_else(|| panic!("no stateful phase: {}", show(&output)));
    let counts: Vec<u32> = links
        .split('/')
        .take(2)
        .filter_map(|part| part.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(
        counts.len() == 2 && counts[0] == counts[1] && counts[0] >= 2,
        "{links}"
    );
    // At least 300 examples of list, create and list-projects reached the emulator
    // with the admin key. Fewer deletes do: once grants succeed, schemathesis draws
    // a delete's ids from those it saw created, a small set it soon exhausts.
    let reached = |method: &str, path: &str| {
        counters
            .iter()
            .find(|c| c.method == method && c.path == path)
            .map_or(0, |c| c.requests)
    };
    let permissions = "/v1/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions";
    for (method, path) in [
        ("GET", permissions),
        ("POST", permissions),
        ("GET", "/v1/organization/projects"),
    ] {
        let requests = reached(method, path);
        assert!(requests >= 300, "{method} {path}: only {requests} requests");
    }
    let deletes = reached("DELETE", &format!("{permissions}/{{permission_id}}"));
    assert!(deletes >= 10, "only {deletes} deletes");
    let report = std::fs::read_to_string(&junit).expect("junit report");
    assert!(!report.contains("<failure"), "{report}");
}
