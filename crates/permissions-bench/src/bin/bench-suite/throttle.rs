//! Item 6: the admin job against the admin API's throttle, time-compressed: the
//! emulator at 8 requests per endpoint every 3 s (`--rate-limit 8/3s`, 429 without
//! headers, as the real API at about 8 a minute). Every contender runs the same job
//! (list 3,000 permissions, grant 2,000 projects, revoke 30) against a fresh
//! emulator, whose counters (`--counters-out`) give the requests sent and the 429s.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use permissions_bench::CHECKPOINT;
use serde_json::{Value, json};

use crate::procs::{Error, Server, run_json};
use permissions_bench::job::{
    CONTENDERS, GRANTS, LISTED, MAX_RPM, REQUESTS, REVOKES, WINDOW_S, minimum_ms,
};
use permissions_bench::run::{Results, Settings};

use crate::harness::{Paths, Sdks, emulator_command, order, record, seed_file};

/// Runs every contender `rounds` times, each against a fresh throttled emulator.
pub fn measure(
    paths: &Paths,
    s: &Settings,
    sdks: &Sdks,
    results: &mut Results,
) -> Result<(), Error> {
    let seed = seed_file(paths, LISTED)?;
    let rounds = if s.quick { 1 } else { 2 };
    for round in 0..rounds {
        for contender in order(&CONTENDERS, round) {
            let installed = match contender {
                "python" => sdks.python.is_some(),
                "node" => sdks.node.is_some(),
                _ => true,
            };
            if !installed {
                continue;
            }
            let counters = paths.work.join(format!("counters-{contender}.json"));
            let _ = std::fs::remove_file(&counters);
            let mut command = emulator_command(paths, Some(&seed));
            command
                .args(["--rate-limit", &format!("{REQUESTS}/{WINDOW_S}s")])
                .arg("--counters-out")
                .arg(&counters);
            let name = format!("emulator-throttle-{contender}");
            let server = Server::start(&name, command, &paths.log(&name))?;
            let mut value = run_contender(paths, sdks, contender, &server.url)?;
            // Stopping the emulator writes its counters.
            drop(server);
            let (requests, throttled) = read_counters(&counters)?;
            value["requests"] = requests.into();
            value["throttled"] = throttled.into();
            value["minimum_ms"] = minimum_ms().into();
            record(results, format!("throttle/{contender}"), value);
        }
    }
    results
        .facts
        .insert("throttle_rounds".into(), rounds.to_string());
    Ok(())
}

/// Runs one contender's job; its JSON has `completed`, `listed`, `granted`,
/// `revoked`, `wall_ms` and `error`.
fn run_contender(paths: &Paths, sdks: &Sdks, contender: &str, url: &str) -> Result<Value, Error> {
    let counts = [GRANTS.to_string(), REVOKES.to_string()];
    match contender {
        "python" => {
            let dir = sdks
                .python
                .as_ref()
                .ok_or("the Python SDK is not installed")?;
            let mut command = Command::new("python3");
            command
                .arg(dir.join("throttle_job.py"))
                .args([url, CHECKPOINT])
                .args(&counts)
                .env("PYTHONPATH", dir);
            run_json(command)
        }
        "node" => {
            let dir = sdks.node.as_ref().ok_or("the Node SDK is not installed")?;
            let mut command = Command::new("node");
            command
                .arg(dir.join("throttle_job.mjs"))
                .args([url, CHECKPOINT])
                .args(&counts);
            run_json(command)
        }
        "ours-lib" | "ours-lib-rpm" => {
            let mut command = Command::new(paths.bin("throttle-job"));
            command
                .args([
                    "--base-url",
                    url,
                    "--grants",
                    &counts[0],
                    "--revokes",
                    &counts[1],
                ])
                .env_remove("OPENAI_ADMIN_MAX_RPM")
                .env_remove("OPENAI_ADMIN_BURST");
            if contender.ends_with("-rpm") {
                command.env("OPENAI_ADMIN_MAX_RPM", MAX_RPM);
            }
            run_json(command)
        }
        _ => cli_job(paths, url, contender.ends_with("-rpm")),
    }
}

/// The job through `ckpt-perms`, as a person would type it: `list` into a file,
/// `create` with the new project ids on standard input, `delete -` with the first
/// listed ids on standard input.
fn cli_job(paths: &Paths, url: &str, configured: bool) -> Result<Value, Error> {
    let dir = paths.work.join("throttle-cli");
    std::fs::create_dir_all(&dir)?;
    let projects: String = (0..GRANTS)
        .map(|i| format!("proj_bench_{i:06}\n"))
        .collect();
    let started = Instant::now();
    let mut done = json!({"client": "ckpt-perms", "listed": 0, "granted": 0, "revoked": 0});
    let outcome = (|| -> Result<(), String> {
        let listed = ckpt_perms(
            paths,
            url,
            configured,
            &["--format", "jsonl", "list", CHECKPOINT],
            "",
        )?;
        let ids: Vec<String> = listed
            .lines()
            .filter_map(|l| {
                serde_json::from_str::<Value>(l).ok()?["id"]
                    .as_str()
                    .map(String::from)
            })
            .collect();
        done["listed"] = ids.len().into();
        let granted = ckpt_perms(
            paths,
            url,
            configured,
            &["--format", "jsonl", "create", CHECKPOINT],
            &projects,
        )?;
        done["granted"] = granted.lines().count().into();
        let revoke: String = ids
            .iter()
            .take(REVOKES)
            .map(|id| format!("{id}\n"))
            .collect();
        let revoked = ckpt_perms(
            paths,
            url,
            configured,
            &["--format", "jsonl", "delete", CHECKPOINT, "-"],
            &revoke,
        )?;
        done["revoked"] = revoked.lines().count().into();
        Ok(())
    })();
    done["wall_ms"] = (started.elapsed().as_secs_f64() * 1e3).into();
    done["completed"] = outcome.is_ok().into();
    done["error"] = outcome.err().into();
    Ok(done)
}

/// Runs `ckpt-perms args` with `stdin`; its standard output, or the last line of
/// its standard error when it fails.
fn ckpt_perms(
    paths: &Paths,
    url: &str,
    configured: bool,
    args: &[&str],
    stdin: &str,
) -> Result<String, String> {
    use std::io::Write as _;
    let mut command = Command::new(paths.bin("ckpt-perms"));
    command
        .args(args)
        .env("OPENAI_ADMIN_KEY", "sk-admin-bench")
        .env("OPENAI_BASE_URL", url)
        .env_remove("OPENAI_ADMIN_MAX_RPM")
        .env_remove("OPENAI_ADMIN_BURST")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if configured {
        command.env("OPENAI_ADMIN_MAX_RPM", MAX_RPM);
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run ckpt-perms: {e}"))?;
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .map_err(|e| format!("cannot write to ckpt-perms: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("ckpt-perms did not finish: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(stderr.lines().last().unwrap_or("failed").to_owned())
    }
}

/// Requests and 429s over all endpoints, from the emulator's `--counters-out` file.
fn read_counters(path: &Path) -> Result<(u64, u64), Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("no counters in {}: {e}", path.display()))?;
    let value: Value = serde_json::from_str(&text)?;
    let endpoints = value["endpoints"]
        .as_array()
        .ok_or("counters without endpoints")?;
    let sum = |field: &str| endpoints.iter().filter_map(|e| e[field].as_u64()).sum();
    Ok((sum("requests"), sum("throttled")))
}
