//! `bench-suite`: the benchmarks of `cargo xtask bench`, side by side in one run.
//!
//! ```text
//! bench-suite [--quick] [--rounds N] [--out FILE] [--skip-build-cost] [--skip-sdks]
//! bench-suite --from BENCHMARKS.json [--out FILE]
//! ```
//!
//! Starts every server itself on 127.0.0.1 (ports it picks), runs each measurement as
//! its own process, several rounds interleaved (the order of the contenders reversed
//! every other round), and writes the run's data as `BENCHMARKS.json` (every
//! sample, the settings, the machine, each goal's verdict) and `BENCHMARKS.md`
//! (medians and ratios), rendered from that data alone: `--from BENCHMARKS.json`
//! renders it again without measuring. Every process it started is stopped when
//! it finishes or fails. The programs it runs (`client-bench`, `page-server`,
//! `load-gen`, `permissions-emulator`) are looked up next to its own executable, so
//! build them in the same profile first (`cargo xtask bench` does).

mod build_cost;
mod facts;
mod harness;
mod procs;
mod throttle;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clap::Parser;
use harness::{Paths, Sdks, emulator_command, order, record, seed_file};
use permissions_bench::CHECKPOINT;
use permissions_bench::report;
use permissions_bench::run::{Results, Run, Settings};
use procs::{Error, Server, run_json};
use serde_json::Value;

/// The benchmarks of `cargo xtask bench`, side by side in one run.
#[derive(Debug, Parser)]
struct Args {
    /// Smaller counts, 2 rounds, no build cost (not the published figures).
    #[arg(long)]
    quick: bool,
    /// Rounds of every interleaved comparison [default: 5, or 2 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    rounds: Option<u32>,
    /// Where to write the report; the run's data goes beside it, as `.json`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Do not measure the build cost.
    #[arg(long)]
    skip_build_cost: bool,
    /// Do not measure the official SDKs.
    #[arg(long)]
    skip_sdks: bool,
    /// The workspace checkout (xtask passes it).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Measure nothing: render the report from a saved run (a `BENCHMARKS.json`).
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
}

impl Args {
    /// The flags as the report quotes them (`--root` is xtask's, not a choice).
    fn shown(&self) -> Vec<String> {
        let mut shown = Vec::new();
        if self.quick {
            shown.push("--quick".to_owned());
        }
        if let Some(rounds) = self.rounds {
            shown.extend(["--rounds".to_owned(), rounds.to_string()]);
        }
        if self.skip_build_cost {
            shown.push("--skip-build-cost".to_owned());
        }
        if self.skip_sdks {
            shown.push("--skip-sdks".to_owned());
        }
        if let Some(out) = &self.out {
            shown.extend(["--out".to_owned(), out.display().to_string()]);
        }
        shown
    }
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Error> {
    let args = Args::parse();
    let default_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = args.root.clone().unwrap_or(default_root).canonicalize()?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("BENCHMARKS.md"));
    if let Some(saved) = &args.from {
        let run = Run::from_json(&std::fs::read_to_string(saved)?)?;
        std::fs::write(&out, report::render(&run))?;
        // The data beside the report, in this version's form (goal verdicts too).
        let data = out.with_extension("json");
        std::fs::write(&data, report::data(&run)?)?;
        println!(
            "wrote {} and {} from {}",
            out.display(),
            data.display(),
            saved.display()
        );
        return Ok(());
    }
    let mut settings = Settings::new(args.quick);
    if let Some(rounds) = args.rounds {
        settings.rounds = rounds as usize;
    }
    settings.sdks = !args.skip_sdks;
    settings.build_cost &= !args.skip_build_cost;
    let bins = std::env::current_exe()?
        .parent()
        .ok_or("executable without a directory")?
        .to_path_buf();
    let paths = Paths {
        work: root.join("target/bench"),
        root,
        bins,
    };
    std::fs::create_dir_all(paths.work.join("logs"))?;
    for program in [
        "client-bench",
        "page-server",
        "load-gen",
        "throttle-job",
        "permissions-emulator",
        "ckpt-perms",
    ] {
        if !paths.bin(program).exists() {
            return Err(format!(
                "{} is missing: build it first (`cargo build --release -p permissions-bench \
                 -p permissions-emulator -p permissions-cli --bins`, or run `cargo xtask bench`)",
                paths.bin(program).display()
            )
            .into());
        }
    }

    let started = Instant::now();
    let mut results = Results::default();
    facts::machine(&mut results, &paths);
    results.facts.insert(
        "load_before".into(),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default(),
    );
    let sdks = if settings.sdks {
        install_sdks(&paths, &mut results)
    } else {
        results
            .missing
            .push("official SDKs: skipped (--skip-sdks)".into());
        Sdks::default()
    };

    section("1. request overhead");
    request_overhead(&paths, &settings, &mut results)?;
    section("2. list everything");
    list_everything(&paths, &settings, &sdks, &mut results)?;
    section("3. bulk grant");
    bulk_grant(&paths, &settings, &mut results)?;
    section("4. servers");
    servers(&paths, &settings, &mut results)?;
    section("6. throttled admin job");
    throttle::measure(&paths, &settings, &sdks, &mut results)?;
    if settings.build_cost {
        section("5. build cost");
        if let Err(error) = build_cost::measure(&paths, &mut results) {
            eprintln!("build cost failed: {error}");
            results
                .missing
                .push(format!("build cost: failed ({error})"));
        }
    } else {
        results
            .missing
            .push("build cost: skipped (--quick or --skip-build-cost)".into());
    }

    results.facts.insert(
        "load_after".into(),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default(),
    );
    let elapsed = started.elapsed().as_secs_f64();
    results
        .facts
        .insert("duration_s".into(), format!("{elapsed:.0}"));
    let run = Run {
        settings,
        args: args.shown(),
        results,
    };
    let data = out.with_extension("json");
    std::fs::write(&data, report::data(&run)?)?;
    std::fs::write(&out, report::render(&run))?;
    println!(
        "wrote {} (the run's data: {}) in {elapsed:.0} s",
        out.display(),
        data.display()
    );
    Ok(())
}

fn section(name: &str) {
    println!("== {name}");
}

/// Installs the pinned SDKs into `target/bench/sdk/` (pip `--target`, `npm ci
/// --prefix`), unless the same pins are installed already.
fn install_sdks(paths: &Paths, results: &mut Results) -> Sdks {
    let sdk = paths.root.join("crates/permissions-bench/sdk");
    let dest = paths.work.join("sdk");
    let python_dir = dest.join("python");
    let mut pip = Command::new("python3");
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .args(["--no-deps", "--target"])
    .arg(&python_dir)
    .arg("-r")
    .arg(sdk.join("requirements.txt"));
    let node_dir = dest.join("node");
    let mut npm = Command::new("npm");
    npm.args([
        "ci",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        "--prefix",
    ])
    .arg(&node_dir);
    let install = |name: &str, dir: &Path, pins: &str, copied: &[&str], command: Command| {
        let pinned = std::fs::read_to_string(sdk.join(pins)).unwrap_or_default();
        let stamp = dir.join(".installed-pins");
        let ready = std::fs::read_to_string(&stamp).is_ok_and(|s| s == pinned) || {
            println!("installing the {name} SDK into {}", dir.display());
            let _ = std::fs::remove_dir_all(dir);
            let installed = std::fs::create_dir_all(dir)
                .map_err(Error::from)
                .and_then(|()| copy_all(&sdk, dir, copied))
                .and_then(|()| procs::run_timed(command, &paths.log(name)));
            match installed {
                Ok(_) => std::fs::write(&stamp, &pinned).is_ok(),
                Err(error) => return Err(format!("{name} SDK: install failed ({error})")),
            }
        };
        copy_all(&sdk, dir, copied).map_err(|e| format!("{name} SDK: {e}"))?;
        Ok(ready.then(|| dir.to_path_buf()))
    };
    let mut installed = |outcome: Result<Option<PathBuf>, String>| {
        outcome.unwrap_or_else(|missing| {
            results.missing.push(missing);
            None
        })
    };
    let sdks = Sdks {
        python: installed(install(
            "Python",
            &python_dir,
            "requirements.txt",
            &["list.py", "throttle_job.py"],
            pip,
        )),
        node: installed(install(
            "Node",
            &node_dir,
            "package-lock.json",
            &[
                "package.json",
                "package-lock.json",
                "list.mjs",
                "throttle_job.mjs",
            ],
            npm,
        )),
    };
    facts::sdk_versions(results, &sdks.python, &sdks.node);
    sdks
}

/// Copies `files` of `from` into `to`.
fn copy_all(from: &Path, to: &Path, files: &[&str]) -> Result<(), Error> {
    for file in files {
        std::fs::copy(from.join(file), to.join(file))?;
    }
    Ok(())
}

/// The emulator binary, in memory or on a fresh SQLite file, with request logs off
/// (`RUST_LOG=warn`: it logs every request at `info`).
fn emulator(paths: &Paths, name: &str, sqlite: bool, seed: Option<&Path>) -> Result<Server, Error> {
    let mut command = emulator_command(paths, seed);
    if sqlite {
        let db = paths.work.join(format!("{name}.db"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        command.arg("--db").arg(db);
    }
    Server::start(name, command, &paths.log(name))
}

/// The pre-serialized page server on `workers` threads.
fn page_server(paths: &Paths, total: usize, workers: usize) -> Result<Server, Error> {
    let mut command = Command::new(paths.bin("page-server"));
    command.args(["--listen", "127.0.0.1:0", "--total", &total.to_string()]);
    command.args(["--workers", &workers.to_string()]);
    Server::start("page-server", command, &paths.log("page-server"))
}

fn client_bench(paths: &Paths, url: &str, client: &str, task: &str, extra: &[String]) -> Command {
    let mut command = Command::new(paths.bin("client-bench"));
    command.args(["--base-url", url, "--client", client, "--task", task]);
    command.args(extra);
    command
}

/// Item 1: Our client, reqwest + serde, raw hyper: one small page (limit 1) from the
/// emulator, sequential and 32 at a time.
fn request_overhead(paths: &Paths, s: &Settings, results: &mut Results) -> Result<(), Error> {
    let seed = seed_file(paths, 1_000)?;
    let server = emulator(paths, "emulator-overhead", false, Some(&seed))?;
    let count = s.calls.to_string();
    for round in 0..s.rounds {
        for (label, concurrency) in order(&[("seq", "1"), ("c32", "32")], round) {
            for client in order(&["ours", "reqwest", "hyper"], round) {
                let extra = [
                    "--count",
                    &count,
                    "--concurrency",
                    concurrency,
                    "--limit",
                    "1",
                ]
                .map(String::from);
                let value = run_json(client_bench(paths, &server.url, client, "call", &extra))?;
                record(results, format!("overhead/{label}/{client}"), value);
            }
        }
    }
    Ok(())
}

/// Item 2: Everything at limit 100 through each client, against the page server and the
/// emulator; and our client and the ideal at growing counts (peak memory).
fn list_everything(
    paths: &Paths,
    s: &Settings,
    sdks: &Sdks,
    results: &mut Results,
) -> Result<(), Error> {
    let total = s.list_total;
    let seed = seed_file(paths, total)?;
    let page = page_server(paths, total, 1)?;
    let emu = emulator(paths, "emulator-list", false, Some(&seed))?;
    let mut clients = vec!["ours", "ours-pages", "reqwest", "hyper"];
    if sdks.python.is_some() {
        clients.push("python");
    }
    if sdks.node.is_some() {
        clients.push("node");
    }
    let scales: Vec<usize> = [total / 10, total / 2]
        .into_iter()
        .filter(|&n| n > 0)
        .collect();
    for round in 0..s.rounds {
        for server in order(&[&page, &emu], round) {
            let which = if server.name == "page-server" {
                "page"
            } else {
                "emulator"
            };
            for client in order(&clients, round) {
                let command = match client {
                    "python" => {
                        let dir = sdks.python.as_ref().expect("installed");
                        let mut c = Command::new("python3");
                        c.arg(dir.join("list.py"))
                            .args([&server.url, CHECKPOINT])
                            .env("PYTHONPATH", dir);
                        c
                    }
                    "node" => {
                        let dir = sdks.node.as_ref().expect("installed");
                        let mut c = Command::new("node");
                        c.arg(dir.join("list.mjs")).args([&server.url, CHECKPOINT]);
                        c
                    }
                    rust => client_bench(paths, &server.url, rust, "list", &[]),
                };
                let value = run_json(command)?;
                check_items(&value, total)?;
                record(results, format!("list/{which}/{client}"), value);
            }
        }
        for &n in &scales {
            for client in order(&["ours", "reqwest"], round) {
                let extra = ["--max-items".to_owned(), n.to_string()];
                let value = run_json(client_bench(paths, &page.url, client, "list", &extra))?;
                check_items(&value, n)?;
                record(results, format!("scale/{n}/{client}"), value);
            }
        }
    }
    results.facts.insert("list_total".into(), total.to_string());
    results.facts.insert(
        "scales".into(),
        scales
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(","),
    );
    Ok(())
}

fn check_items(value: &Value, expected: usize) -> Result<(), Error> {
    let items = value.get("items").and_then(Value::as_u64).unwrap_or(0);
    if items as usize != expected {
        return Err(format!("listed {items} permissions, expected {expected}: {value}").into());
    }
    Ok(())
}

/// Item 3: Permissions for many projects with bounded concurrency, in memory and on
/// SQLite; every project must be listed afterwards.
fn bulk_grant(paths: &Paths, s: &Settings, results: &mut Results) -> Result<(), Error> {
    let memory = emulator(paths, "emulator-grant-memory", false, None)?;
    let sqlite = emulator(paths, "emulator-grant-sqlite", true, None)?;
    let projects = s.projects.to_string();
    let configs = [("b100c4", "100", "4"), ("b1c32", "1", "32")];
    for round in 0..s.rounds {
        for server in order(&[&memory, &sqlite], round) {
            let store = if server.name.ends_with("memory") {
                "memory"
            } else {
                "sqlite"
            };
            for (config, batch, concurrency) in order(&configs, round) {
                for client in order(&["ours", "reqwest"], round) {
                    let checkpoint = format!("ft:bench-grant:{config}:{client}:{round}");
                    let extra = [
                        "--projects",
                        &projects,
                        "--batch",
                        batch,
                        "--concurrency",
                        concurrency,
                        "--checkpoint",
                        &checkpoint,
                    ]
                    .map(String::from);
                    let value =
                        run_json(client_bench(paths, &server.url, client, "grant", &extra))?;
                    let verified = value.get("verified").and_then(Value::as_u64).unwrap_or(0);
                    if verified as usize != s.projects {
                        return Err(format!(
                            "after the grant, {verified} of {} projects are listed: {value}",
                            s.projects
                        )
                        .into());
                    }
                    record(results, format!("grant/{store}/{config}/{client}"), value);
                }
            }
        }
    }
    results.facts.insert("projects".into(), projects);
    Ok(())
}

/// Item 4: Requests per second of the same list request (and create) on the emulator,
/// the page server (the ceiling) and Prism; then latency at half the emulator's rate.
fn servers(paths: &Paths, s: &Settings, results: &mut Results) -> Result<(), Error> {
    let seed = seed_file(paths, 1_000)?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let ceiling = page_server(paths, 1_000, workers)?;
    let memory = emulator(paths, "emulator-load-memory", false, Some(&seed))?;
    let sqlite = emulator(paths, "emulator-load-sqlite", true, Some(&seed))?;
    let prism = match start_prism(paths) {
        Ok(server) => Some(server),
        Err(error) => {
            results
                .missing
                .push(format!("Prism: not measured ({error})"));
            None
        }
    };
    let list_path = format!("/fine_tuning/checkpoints/{CHECKPOINT}/permissions?limit=100");
    let create_path = format!("/fine_tuning/checkpoints/{CHECKPOINT}/permissions");
    let mut targets = vec![
        ("ceiling", &ceiling),
        ("memory", &memory),
        ("sqlite", &sqlite),
    ];
    if let Some(prism) = &prism {
        targets.push(("prism", prism));
    }
    let seconds = s.load_seconds.to_string();
    let load = |url: String, post: bool, rate: Option<f64>, seconds: &str| {
        let mut command = Command::new(paths.bin("load-gen"));
        command.args([
            "--url",
            &url,
            "--connections",
            "32",
            "--duration-s",
            seconds,
        ]);
        if post {
            command.args(["--method", "POST"]);
        }
        if let Some(rate) = rate {
            command.args(["--rate", &format!("{rate:.0}")]);
        }
        run_json(command)
    };
    for round in 0..s.rounds {
        for (name, server) in order(&targets, round) {
            let value = load(format!("{}{list_path}", server.url), false, None, &seconds)?;
            record(results, format!("server/list/{name}"), value);
            if name != "ceiling" {
                let value = load(format!("{}{create_path}", server.url), true, None, &seconds)?;
                record(results, format!("server/create/{name}"), value);
            }
        }
    }
    // Latency at half the measured rate, open loop.
    let paced_seconds = (s.load_seconds * 2.0).to_string();
    for (name, server) in [("memory", &memory), ("sqlite", &sqlite)] {
        for (op, path, post) in [("list", &list_path, false), ("create", &create_path, true)] {
            let Some(rps) = results.med(&format!("server/{op}/{name}"), "rps") else {
                continue;
            };
            let value = load(
                format!("{}{path}", server.url),
                post,
                Some(rps / 2.0),
                &paced_seconds,
            )?;
            record(results, format!("paced/{op}/{name}"), value);
        }
    }
    Ok(())
}

/// `prism mock` on the same fragment, on a free port (Prism serves the paths without
/// the `/v1` of the base URL).
fn start_prism(paths: &Paths) -> Result<Server, Error> {
    let port = procs::free_port()?;
    let mut command = Command::new("prism");
    command
        .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string()])
        .arg(paths.root.join("openapi/permissions.yaml"));
    let url = format!("http://127.0.0.1:{port}");
    Server::start_polled(
        "prism",
        command,
        &url,
        &format!("/fine_tuning/checkpoints/{CHECKPOINT}/permissions?limit=100"),
        &paths.log("prism"),
    )
}
