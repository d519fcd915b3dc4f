//! The `permissions-emulator` binary: persistence across restarts, `kill -9`, graceful
//! shutdown on SIGINT/SIGTERM, and logs that never show a key.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{ADMIN_KEY, Api, CHECKPOINT};
use reqwest::StatusCode;

/// A running emulator process, killed when dropped.
struct Process {
    child: Child,
    base_url: String,
    log: PathBuf,
}

impl Process {
    fn start(dir: &Path, name: &str, args: &[&str]) -> Self {
        let log = dir.join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_permissions-emulator"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let base_url = match (read, line.trim().strip_prefix("listening on ")) {
            (Ok(_), Some(url)) => url.to_owned(),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "no listening line: {line:?}; log: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        Self {
            child,
            base_url,
            log,
        }
    }

    fn api(&self) -> Api {
        Api::new(self.base_url.clone())
    }

    fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// Sends `signal` and waits (bounded) for a clean exit; returns the log.
    fn stop_with(mut self, signal: &str) -> String {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill runs");
        assert!(status.success());
        for _ in 0..500 {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                assert!(status.success(), "exit status {status} after {signal}");
                return std::fs::read_to_string(&self.log).expect("log");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the emulator did not stop within 5 s of {signal}");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("perms.db");
    let db_arg = db.to_str().expect("utf-8 path");
    let process = Process::start(dir.path(), "first", &["--db", db_arg]);
    let api = process.api();

    // Four writers create permissions one by one; the process is killed while they
    // are still writing. Every acknowledged grant must survive.
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let api = api.clone();
            let acknowledged = Arc::clone(&acknowledged);
            tokio::spawn(async move {
                for i in 0..10_000 {
                    let project = format!("proj_w{w}_{i}");
                    let url = api.permissions_url(CHECKPOINT);
                    let Ok(response) = api
                        .http
                        .post(url)
                        .bearer_auth(ADMIN_KEY)
                        .json(&serde_json::json!({ "project_ids": [project] }))
                        .send()
                        .await
                    else {
                        return;
                    };
                    if response.status() != StatusCode::OK {
                        return;
                    }
                    let Ok(body) = response.json::<serde_json::Value>().await else {
                        return;
                    };
                    let id = body["data"][0]["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    acknowledged.lock().expect("lock").push((id, project));
                }
            })
        })
        .collect();
    // Also a delete that is acknowledged before the kill.
    let doomed = api.create(CHECKPOINT, &["proj_doomed"]).await.page_ids();
    assert_eq!(
        api.delete(CHECKPOINT, &doomed[0]).await.status,
        StatusCode::OK
    );
    while acknowledged.lock().expect("lock").len() < 200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    process.kill_9();
    for writer in writers {
        writer.await.expect("writer task");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged.len() >= 200);

    let process = Process::start(dir.path(), "second", &["--db", db_arg]);
    let api = process.api();
    let mut found = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let mut query = vec![("limit", "100"), ("order", "ascending")];
        if let Some(after) = &after {
            query.push(("after", after.as_str()));
        }
        let page = api.list(CHECKPOINT, &query).await;
        let ids = page.page_ids();
        for permission in page.body["data"].as_array().expect("array") {
            found.insert((
                permission["id"].as_str().expect("id").to_owned(),
                permission["project_id"]
                    .as_str()
                    .expect("project")
                    .to_owned(),
            ));
        }
        if !page.has_more() {
            break;
        }
        after = ids.last().cloned();
    }
    for grant in &acknowledged {
        assert!(
            found.contains(grant),
            "acknowledged {grant:?} lost by kill -9"
        );
    }
    assert!(
        !found.iter().any(|(id, _)| id == &doomed[0]),
        "an acknowledged delete was lost"
    );
    // At most the requests in flight at the kill were written without an answer.
    assert!(
        found.len() <= acknowledged.len() + 4,
        "{} found, {} acknowledged",
        found.len(),
        acknowledged.len()
    );
    drop(process);
}

#[tokio::test]
async fn sigterm_and_sigint_stop_gracefully_and_keep_data_and_never_log_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("perms.db");
    let db_arg = db.to_str().expect("utf-8 path");
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        serde_json::json!([{"checkpoint": CHECKPOINT, "project_id": "proj_seed", "id": "cp_zc4Q7MP6XxulcVzj4MZdwsAB"}]).to_string(),
    )
    .expect("seed file");
    let seed_arg = seed.to_str().expect("utf-8 path");
    let mut expected = vec!["cp_zc4Q7MP6XxulcVzj4MZdwsAB".to_owned()];
    for (round, signal) in ["-TERM", "-INT"].into_iter().enumerate() {
        let process = Process::start(
            dir.path(),
            &format!("round{round}"),
            &["--db", db_arg, "--seed", seed_arg],
        );
        let api = process.api();
        let page = api
            .list(CHECKPOINT, &[("order", "ascending"), ("limit", "100")])
            .await;
        assert_eq!(
            page.page_ids(),
            expected,
            "round {round}: the data survived, the seed was not added twice"
        );
        let project = format!("proj_round{round}");
        expected.extend(api.create(CHECKPOINT, &[&project]).await.page_ids());
        // Refused keys must not be logged either.
        let secret = "sk-proj-SECRET-must-not-be-logged";
        assert_eq!(
            api.with_key(Some(secret))
                .list(CHECKPOINT, &[])
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        let log = process.stop_with(signal);
        assert!(log.contains("request"), "request logs expected: {log}");
        assert!(log.contains("shutting down"), "{log}");
        for key in [ADMIN_KEY, secret, "sk-admin-test", "SECRET"] {
            assert!(!log.contains(key), "a key appears in the log: {key}");
        }
    }
}

#[test]
fn bad_arguments_and_seed_files_fail_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad_seed = dir.path().join("bad.json");
    std::fs::write(&bad_seed, "{").expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_permissions-emulator"))
        .args(["--listen", "127.0.0.1:0", "--seed"])
        .arg(&bad_seed)
        .output()
        .expect("runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid seed"));
    let output = Command::new(env!("CARGO_BIN_EXE_permissions-emulator"))
        .args(["--listen", "127.0.0.1:0", "--fault-429", "1.5"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let output = Command::new(env!("CARGO_BIN_EXE_permissions-emulator"))
        .args(["--listen", "not-an-address"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_flags_and_the_counters_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let counters = dir.path().join("counters.json");
    let counters_arg = counters.to_str().expect("utf-8 path");
    let process = Process::start(
        dir.path(),
        "throttled",
        &["--rate-limit", "2/60s", "--counters-out", counters_arg],
    );
    let api = process.api();
    let statuses = [
        api.list(CHECKPOINT, &[]).await.status,
        api.list(CHECKPOINT, &[]).await.status,
        api.list(CHECKPOINT, &[]).await.status,
    ];
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    process.stop_with("-TERM");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&counters).expect("counters written")).expect("JSON");
    let endpoints = written["endpoints"].as_array().expect("a list");
    assert_eq!(endpoints.len(), 1, "{written}");
    assert_eq!(endpoints[0]["method"], "GET");
    assert_eq!(endpoints[0]["requests"], 3);
    assert_eq!(endpoints[0]["throttled"], 1);

    for bad in [
        &["--rate-limit", "8"][..],
        &["--rate-limit", "0/60s"],
        &["--rate-limit", "8/forever"],
        &["--rate-limit-headers"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_permissions-emulator"))
            .args(["--listen", "127.0.0.1:0"])
            .args(bad)
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(2), "{bad:?} accepted");
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.contains("rate"), "{bad:?}: {err}");
    }
}
