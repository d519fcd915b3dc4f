//! Conformance of the emulator, judged by others: the official OpenAI Python SDK
//! (`tests/python/sdk_conformance.py`) and schemathesis on the OpenAPI fragment.
//!
//! Both need Python packages (`pip install -r tests/python/requirements.txt`). When
//! they are missing the tests print `SKIPPED: ...` and pass, unless
//! `REQUIRE_CONFORMANCE=1` is set, in which case they fail. `PYTHON` and
//! `SCHEMATHESIS` override the interpreter and the schemathesis executable.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use permissions_emulator::{Emulator, Fault};

const ADMIN_KEY: &str = "sk-admin-conformance-0123456789";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn schemathesis() -> String {
    std::env::var("SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".to_owned())
}

/// Whether the tool is usable; when it is not, prints why and says whether to skip
/// (panics instead when `REQUIRE_CONFORMANCE=1`).
fn available(what: &str, command: &mut Command) -> bool {
    let ok = command.output().is_ok_and(|o| o.status.success());
    if !ok {
        let message = format!(
            "{what} is not available; install it with \
             `python3 -m pip install -r tests/python/requirements.txt`"
        );
        if std::env::var("REQUIRE_CONFORMANCE").is_ok_and(|v| v == "1") {
            panic!("REQUIRE_CONFORMANCE=1 but {message}");
        }
        println!("SKIPPED: {message}");
    }
    ok
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
async fn official_python_sdk() {
    if !available(
        "the OpenAI Python SDK",
        local_command(&python()).args(["-c", "import openai"]),
    ) {
        return;
    }
    let emulator = Emulator::builder().start().await.expect("emulator starts");
    // The script's first call must survive two 429s through the SDK's own retries.
    emulator.inject(
        Fault::Status {
            status: 429,
            retry_after_ms: Some(10),
            retry_after: Some(1),
        },
        2,
    );
    let mut command = local_command(&python());
    command
        .arg(workspace_root().join("tests/python/sdk_conformance.py"))
        .args([emulator.base_url().as_str(), ADMIN_KEY, "2"]);
    let output = run(command).await;
    let requests_reached = emulator.request_count();
    emulator.shutdown().await;
    assert!(output.status.success(), "{}", show(&output));

    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no summary line: {}", show(&output)));
    let sent = summary["requests"].as_u64().expect("request count");
    assert!(
        summary["checks"].as_u64().expect("check count") >= 50,
        "{summary}"
    );
    assert_eq!(
        sent, requests_reached,
        "every request the SDK sent reached the emulator"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_spec_violation() {
    if !available(
        "schemathesis",
        local_command(&schemathesis()).arg("--version"),
    ) {
        return;
    }
    let emulator = Emulator::builder().start().await.expect("emulator starts");
    let workdir = tempfile::tempdir().expect("tempdir");
    let junit = workdir.path().join("junit.xml");
    let mut command = local_command(&schemathesis());
    command
        .current_dir(workdir.path())
        .arg("run")
        .arg(workspace_root().join("openapi/permissions.yaml"))
        .args(["--url", emulator.base_url().as_str()])
        .args(["--header", &format!("Authorization: Bearer {ADMIN_KEY}")])
        // Every check but positive_data_acceptance: the emulator refuses some values
        // the fragment does not constrain (an empty project_ids, limit 0 or 1000).
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", "40", "--seed", "20261126"])
        .args(["--generation-database", "none", "--workers", "1"])
        .args(["--request-timeout", "10"])
        .args(["--no-color", "--warnings", "off"])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&junit);
    let output = run(command).await;
    let requests = emulator.request_count();
    emulator.shutdown().await;
    assert!(output.status.success(), "{}", show(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("No issues found"), "{}", show(&output));
    assert!(
        requests >= 100,
        "schemathesis sent only {requests} requests"
    );
    let report = std::fs::read_to_string(&junit).expect("junit report");
    assert!(!report.contains("<failure"), "{report}");
}
