//! Item 6: the jobs of `permissions_bench::job` against the admin API's throttle,
//! time-compressed: the emulator at 8 requests per budget every 3 s
//! (`--rate-limit 8/3s`, 429 without headers, as the real API: `permissions-api`'s `pacing` module docs),
//! with one budget per route or one per key. Every contender runs against a fresh
//! emulator in each scope, whose counters (`--counters-out`) give the requests sent
//! and the 429s; every run of `ckpt-perms` has a fresh cache directory, which its
//! processes share. Then the throttled job against an emulator without a limit,
//! with and without random 429s.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use permissions_bench::job::{
    self, APPLY_ADDED, APPLY_HELD, APPLY_PRUNED, CONCURRENT_GRANTS, CONCURRENT_PROCESSES,
    CONTENDERS, Contender, FAULT_RETRY_AFTER_MS, FAULT_SHARE, FAULTS, GRANTS, Job, LOOP_PROCESSES,
    MAX_RPM, REVOKES, Runner, Scope, THROTTLED, rate_limit,
};
use permissions_bench::run::{Results, Settings};
use permissions_bench::{CHECKPOINT, permission};
use serde_json::{Value, json};

use crate::harness::{Paths, Sdks, emulator_command, order, record, seed_file};
use crate::procs::{Error, Server, run_json};

/// Runs every contender in both scopes, each run against a fresh throttled
/// emulator; then the random-429 job.
pub fn measure(
    paths: &Paths,
    s: &Settings,
    sdks: &Sdks,
    results: &mut Results,
) -> Result<(), Error> {
    let sharing = sharing_file(paths)?;
    let rounds = if s.quick { 1 } else { 2 };
    for round in 0..rounds {
        for scope in order(&Scope::ALL, round) {
            for contender in order(&CONTENDERS, round) {
                if !sdks.has(contender.id) {
                    continue;
                }
                let run = format!("{}-{}", scope.name(), contender.id);
                let counters = paths.work.join(format!("counters-{run}.json"));
                let _ = std::fs::remove_file(&counters);
                let mut command = emulator_command(paths, seed(paths, contender.job())?.as_deref());
                command
                    .args(["--rate-limit", &rate_limit()])
                    .args(["--rate-limit-scope", scope.name()])
                    .arg("--counters-out")
                    .arg(&counters);
                let name = format!("emulator-throttle-{run}");
                let server = Server::start(&name, command, &paths.log(&name))?;
                let cli = Cli {
                    paths,
                    url: &server.url,
                    cache: fresh_dir(&paths.work.join("cache").join(&run))?,
                    configured: contender.configured,
                };
                let mut value = run_contender(&cli, sdks, &contender, &sharing)?;
                // Stopping the emulator writes its counters.
                drop(server);
                let (requests, throttled) = read_counters(&counters)?;
                value["requests"] = requests.into();
                value["throttled"] = throttled.into();
                record(results, job::key(scope, contender.id), value);
            }
        }
    }
    results
        .facts
        .insert("throttle_rounds".into(), rounds.to_string());
    faults(paths, s, results)
}

/// The throttled job through our library against an emulator without a limit,
/// without faults and with random 429s that say when to retry, `s.rounds` times
/// (the fault draws seeded by the round). The counters count only the requests
/// that pass the fault injection; the injected 429s are counted in the
/// emulator's request log.
fn faults(paths: &Paths, s: &Settings, results: &mut Results) -> Result<(), Error> {
    let seed = seed(paths, &THROTTLED)?;
    for round in 0..s.rounds {
        for (key, _) in order(&FAULTS, round) {
            let name = format!("emulator-{}", key.replace('/', "-"));
            let counters = paths.work.join(format!("counters-{name}.json"));
            let _ = std::fs::remove_file(&counters);
            let mut command = emulator_command(paths, seed.as_deref());
            command
                .env("RUST_LOG", "info")
                .arg("--counters-out")
                .arg(&counters);
            if key != FAULTS[0].0 {
                command
                    .args(["--fault-429", &FAULT_SHARE.to_string()])
                    .args(["--fault-retry-after-ms", &FAULT_RETRY_AFTER_MS.to_string()])
                    .args(["--fault-seed", &(round + 1).to_string()]);
            }
            let log = paths.log(&name);
            let server = Server::start(&name, command, &log)?;
            let mut value = run_json(library(paths, &server.url, false))?;
            drop(server);
            let (requests, throttled) = read_counters(&counters)?;
            let text = std::fs::read_to_string(&log)?;
            let injected = text.lines().filter(|l| l.contains(" fault=true")).count() as u64;
            value["requests"] = (requests + injected).into();
            value["throttled"] = (throttled + injected).into();
            value["injected"] = injected.into();
            record(results, key.into(), value);
        }
    }
    results
        .facts
        .insert("fault_rounds".into(), s.rounds.to_string());
    Ok(())
}

/// The seed file of `job`'s permissions, if it starts with any.
fn seed(paths: &Paths, job: &Job) -> Result<Option<PathBuf>, Error> {
    (job.seeded > 0)
        .then(|| seed_file(paths, job.seeded))
        .transpose()
}

/// The sharing file of the `apply` contenders: the first `APPLY_HELD -
/// APPLY_PRUNED` projects of the seed kept, `APPLY_ADDED` new ones.
fn sharing_file(paths: &Paths) -> Result<PathBuf, Error> {
    let path = paths.work.join("sharing.yaml");
    let mut text = format!("version: 1\ncheckpoints:\n  {CHECKPOINT}:\n");
    let kept = (0..APPLY_HELD - APPLY_PRUNED).map(|i| permission(i).project_id);
    for project in kept.chain(new_projects("", APPLY_ADDED)) {
        text += &format!("    - {project}\n");
    }
    std::fs::write(&path, text)?;
    Ok(path)
}

/// `count` new project ids, `proj_bench_{tag}000000` on (the job's own, without a
/// tag, are the ones `throttle-job` and the SDK scripts grant).
fn new_projects(tag: &str, count: usize) -> impl Iterator<Item = String> + '_ {
    (0..count).map(move |i| format!("proj_bench_{tag}{i:06}"))
}

/// `dir`, emptied (created if absent).
fn fresh_dir(dir: &Path) -> Result<PathBuf, Error> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    Ok(dir.to_path_buf())
}

/// Runs one contender's job; its JSON has `completed`, `listed`, `granted`,
/// `revoked`, `wall_ms` and `error`.
fn run_contender(
    cli: &Cli<'_>,
    sdks: &Sdks,
    contender: &Contender,
    sharing: &Path,
) -> Result<Value, Error> {
    Ok(match contender.runner {
        Runner::Python | Runner::Node => {
            let (grants, revokes) = (GRANTS.to_string(), REVOKES.to_string());
            let args = [cli.url, CHECKPOINT, &grants, &revokes];
            run_json(sdks.script(contender.id, "throttle_job", &args)?)?
        }
        Runner::Library => run_json(library(cli.paths, cli.url, cli.configured))?,
        Runner::Cli => cli.job(),
        Runner::Apply => cli.apply(sharing),
        Runner::DeleteLoop => cli.delete_loop(),
        Runner::ConcurrentCreate => cli.concurrent_create(),
    })
}

/// `throttle-job` on `url`: the throttled job through our library.
fn library(paths: &Paths, url: &str, configured: bool) -> Command {
    let mut command = Command::new(paths.bin("throttle-job"));
    command.args(["--base-url", url]);
    command.args(["--grants", &GRANTS.to_string()]);
    command.args(["--revokes", &REVOKES.to_string()]);
    pacing(command, configured)
}

/// `command` with the pacing of a configured run (`OPENAI_ADMIN_MAX_RPM`) or of
/// none, whatever the environment of the suite says, and its state shared as the
/// CLI shares it by default.
fn pacing(mut command: Command, configured: bool) -> Command {
    command
        .env_remove("OPENAI_ADMIN_MAX_RPM")
        .env_remove("OPENAI_ADMIN_BURST")
        .env_remove("CKPT_PERMS_NO_PACING_STATE");
    if configured {
        command.env("OPENAI_ADMIN_MAX_RPM", MAX_RPM);
    }
    command
}

/// One run of `ckpt-perms` contender: its emulator, its cache directory (the
/// pacing state its processes share) and its configuration.
struct Cli<'a> {
    paths: &'a Paths,
    url: &'a str,
    cache: PathBuf,
    configured: bool,
}

impl Cli<'_> {
    /// `ckpt-perms --format jsonl ARGS` against the emulator.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.paths.bin("ckpt-perms"));
        command
            .args(["--format", "jsonl"])
            .args(args)
            .env("OPENAI_ADMIN_KEY", "sk-admin-bench")
            .env("OPENAI_BASE_URL", self.url)
            .env("XDG_CACHE_HOME", &self.cache);
        pacing(command, self.configured)
    }

    /// Runs `ckpt-perms ARGS` with `stdin`; its standard output.
    fn run(&self, args: &[&str], stdin: &str) -> Result<String, String> {
        finish(spawn(self.command(args), stdin)?)
    }

    /// The throttled job as a person would type it: `list` (its output read back),
    /// `create` with the new project ids on standard input, `delete -` with the
    /// first listed ids on standard input.
    fn job(&self) -> Value {
        timed(|done| {
            let listed = self.run(&["list", CHECKPOINT], "")?;
            let id = |line: &str| {
                let value = serde_json::from_str::<Value>(line).ok()?;
                Some(value["id"].as_str()?.to_owned())
            };
            let ids: Vec<String> = listed.lines().filter_map(id).collect();
            done["listed"] = ids.len().into();
            let projects = lines(new_projects("", GRANTS));
            done["granted"] = self
                .run(&["create", CHECKPOINT], &projects)?
                .lines()
                .count()
                .into();
            let revoke = lines(ids.into_iter().take(REVOKES));
            done["revoked"] = self
                .run(&["delete", CHECKPOINT, "-"], &revoke)?
                .lines()
                .count()
                .into();
            Ok(())
        })
    }

    /// `apply FILE --prune --yes`; what it read and did, from its plan and its
    /// last line.
    fn apply(&self, file: &Path) -> Value {
        timed(|done| {
            let out = self.run(&["apply", &file.to_string_lossy(), "--prune", "--yes"], "")?;
            let numbers = |prefix: &str| {
                let line = out.lines().find(|l| l.starts_with(prefix)).unwrap_or("");
                let digits = line.split(|c: char| !c.is_ascii_digit());
                digits
                    .filter_map(|n| n.parse().ok())
                    .collect::<Vec<usize>>()
            };
            // `Plan: G to grant, R to revoke, U unchanged; ...`: held, R + U.
            if let [_, revoke, unchanged, ..] = numbers("Plan: ")[..] {
                done["listed"] = (revoke + unchanged).into();
            }
            // `Applied N request(s): granted G project(s), revoked R permission(s). ...`
            if let [_, granted, revoked, ..] = numbers("Applied ")[..] {
                done["granted"] = granted.into();
                done["revoked"] = revoked.into();
            }
            if out.contains("The checkpoints match the file") {
                Ok(())
            } else {
                Err(format!(
                    "apply did not say the checkpoints match: {}",
                    clip_lines(&out)
                ))
            }
        })
    }

    /// One `delete CHECKPOINT ID` process per permission, one after another, until
    /// the first that fails.
    fn delete_loop(&self) -> Value {
        timed(|done| {
            let mut revoked = 0;
            for i in 0..LOOP_PROCESSES {
                revoked += self
                    .run(&["delete", CHECKPOINT, &permission(i).id], "")?
                    .lines()
                    .count();
                done["revoked"] = revoked.into();
            }
            Ok(())
        })
    }

    /// `create CHECKPOINT` processes started at once, each with its own projects
    /// on standard input; all are waited for, whatever one of them does.
    fn concurrent_create(&self) -> Value {
        timed(|done| {
            let children: Vec<_> = (0..CONCURRENT_PROCESSES)
                .map(|p| {
                    let projects = lines(new_projects(&format!("p{p}_"), CONCURRENT_GRANTS));
                    spawn(self.command(&["create", CHECKPOINT]), &projects)
                })
                .collect();
            let outputs: Vec<Result<String, String>> =
                children.into_iter().map(|child| finish(child?)).collect();
            let granted: usize = outputs.iter().flatten().map(|o| o.lines().count()).sum();
            done["granted"] = granted.into();
            outputs.into_iter().try_for_each(|o| o.map(drop))
        })
    }
}

/// Times `job`, which counts what it did into the sample; `completed` and `error`
/// say how it ended.
fn timed(job: impl FnOnce(&mut Value) -> Result<(), String>) -> Value {
    let mut done = json!({"client": "ckpt-perms", "listed": 0, "granted": 0, "revoked": 0});
    let started = Instant::now();
    let outcome = job(&mut done);
    done["wall_ms"] = (started.elapsed().as_secs_f64() * 1e3).into();
    done["completed"] = outcome.is_ok().into();
    done["error"] = outcome.err().into();
    done
}

/// One item a line.
fn lines(items: impl Iterator<Item = String>) -> String {
    items.map(|item| item + "\n").collect()
}

/// The last line of `text`, for an error message.
fn clip_lines(text: &str) -> &str {
    text.lines().last().unwrap_or("(no output)")
}

/// A running program: its name, for messages, and the process.
type Running = (String, Child);

/// Starts `command` and writes `stdin` to it (then closes it).
fn spawn(mut command: Command, stdin: &str) -> Result<Running, String> {
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
    Ok((program, child))
}

/// Waits for a program started by [`spawn`]: its standard output, or the last line
/// of its standard error when it fails.
fn finish((program, child): Running) -> Result<String, String> {
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{program} did not finish: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(clip_lines(&stderr).to_owned())
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
