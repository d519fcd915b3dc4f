//! Item 6: the admin job against the admin API's throttle, time-compressed: the
//! emulator at 8 requests per endpoint every 3 s (`--rate-limit 8/3s`, 429 without
//! headers, as the real API at about 8 a minute). Every contender runs the same job
//! (list 3,000 permissions, grant 2,000 projects, revoke 30) against a fresh
//! emulator, whose counters (`--counters-out`) give the requests sent and the 429s.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use permissions_bench::CHECKPOINT;
use permissions_bench::job::{
    CONTENDERS, GRANTS, LISTED, MAX_RPM, REVOKES, minimum_ms, rate_limit,
};
use permissions_bench::run::{Results, Settings};
use serde_json::{Value, json};

use crate::harness::{Paths, Sdks, emulator_command, order, record, seed_file};
use crate::procs::{Error, Server, run_json};

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
            if !sdks.has(contender) {
                continue;
            }
            let counters = paths.work.join(format!("counters-{contender}.json"));
            let _ = std::fs::remove_file(&counters);
            let mut command = emulator_command(paths, Some(&seed));
            command
                .args(["--rate-limit", &rate_limit()])
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
    let (grants, revokes) = (GRANTS.to_string(), REVOKES.to_string());
    let configured = contender.ends_with("-rpm");
    match contender {
        "python" | "node" => {
            let args = [url, CHECKPOINT, &grants, &revokes];
            run_json(sdks.script(contender, "throttle_job", &args)?)
        }
        "ours-lib" | "ours-lib-rpm" => {
            let mut command = Command::new(paths.bin("throttle-job"));
            command.args([
                "--base-url",
                url,
                "--grants",
                &grants,
                "--revokes",
                &revokes,
            ]);
            run_json(pacing(command, configured))
        }
        _ => cli_job(paths, url, configured),
    }
}

/// `command` with the pacing of a configured run (`OPENAI_ADMIN_MAX_RPM`) or of
/// none, whatever the environment of the suite says.
fn pacing(mut command: Command, configured: bool) -> Command {
    command
        .env_remove("OPENAI_ADMIN_MAX_RPM")
        .env_remove("OPENAI_ADMIN_BURST");
    if configured {
        command.env("OPENAI_ADMIN_MAX_RPM", MAX_RPM);
    }
    command
}

/// The job through `ckpt-perms`, as a person would type it: `list` (its output
/// read back), `create` with the new project ids on standard input, `delete -` with
/// the first listed ids on standard input.
fn cli_job(paths: &Paths, url: &str, configured: bool) -> Result<Value, Error> {
    let projects: String = (0..GRANTS)
        .map(|i| format!("proj_bench_{i:06}\n"))
        .collect();
    let run = |args: &[&str], stdin: &str| {
        let mut command = Command::new(paths.bin("ckpt-perms"));
        command
            .args(["--format", "jsonl"])
            .args(args)
            .env("OPENAI_ADMIN_KEY", "sk-admin-bench")
            .env("OPENAI_BASE_URL", url);
        with_stdin(pacing(command, configured), stdin)
    };
    let started = Instant::now();
    let mut done = json!({"client": "ckpt-perms", "listed": 0, "granted": 0, "revoked": 0});
    let outcome = (|| -> Result<(), String> {
        let listed = run(&["list", CHECKPOINT], "")?;
        let id = |line: &str| {
            Some(
                serde_json::from_str::<Value>(line).ok()?["id"]
                    .as_str()?
                    .to_owned(),
            )
        };
        let ids: Vec<String> = listed.lines().filter_map(id).collect();
        done["listed"] = ids.len().into();
        done["granted"] = run(&["create", CHECKPOINT], &projects)?
            .lines()
            .count()
            .into();
        let revoke: String = ids
            .iter()
            .take(REVOKES)
            .map(|id| format!("{id}\n"))
            .collect();
        done["revoked"] = run(&["delete", CHECKPOINT, "-"], &revoke)?
            .lines()
            .count()
            .into();
        Ok(())
    })();
    done["wall_ms"] = (started.elapsed().as_secs_f64() * 1e3).into();
    done["completed"] = outcome.is_ok().into();
    done["error"] = outcome.err().into();
    Ok(done)
}

/// Runs `command` with `stdin`; its standard output, or the last line of its
/// standard error when it fails.
fn with_stdin(mut command: Command, stdin: &str) -> Result<String, String> {
    use std::io::Write as _;
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = Path::new(command.get_program())
        .file_name()
        .unwrap_or_default();
    let program = program.to_string_lossy().into_owned();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .map_err(|e| format!("cannot write to {program}: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{program} did not finish: {e}"))?;
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
