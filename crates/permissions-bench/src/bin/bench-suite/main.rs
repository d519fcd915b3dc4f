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
//! it finishes or fails. The programs it runs (`PROGRAMS`: this crate's, the emulator
//! and `ckpt-perms`) are looked up next to its own executable, so build them in the
//! same profile first (`cargo xtask bench` does).

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

/// The programs the suite runs, looked up next to its own executable.
const PROGRAMS: [&str; 6] = [
    "client-bench",
    "page-server",
    "load-gen",
    "throttle-job",
    "permissions-emulator",
    "ckpt-perms",
];

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
        let run = serde_json::from_str::<Run>(&std::fs::read_to_string(saved)?)?;
        // The data is written again beside the report, in this version's form (with
        // each goal's verdict).
        let data = save(&run, &out)?;
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
    if let Some(missing) = PROGRAMS
        .map(|p| paths.bin(p))
        .into_iter()
        .find(|p| !p.exists())
    {
        return Err(format!(
            "{} is missing: build it first (`cargo build --release -p permissions-bench \
             -p permissions-emulator -p permissions-cli --bins`, or run `cargo xtask bench`)",
            missing.display()
        )
        .into());
    }

    let started = Instant::now();
    let mut results = Results::default();
    facts::machine(&mut results, &paths);
    let loadavg = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    results.facts.insert("load_before".into(), loadavg());
    let sdks = if settings.sdks {
        install_sdks(&paths, &mut results)
    } else {
        results
            .missing
            .push("official SDKs: skipped (--skip-sdks)".into());
        Sdks::default()
    };

    println!("== 1. request overhead");
    request_overhead(&paths, &settings, &mut results)?;
    println!("== 2. list everything");
    list_everything(&paths, &settings, &sdks, &mut results)?;
    println!("== 3. bulk grant");
    bulk_grant(&paths, &settings, &mut results)?;
    println!("== 4. servers");
    servers(&paths, &settings, &mut results)?;
    println!("== 6. the admin jobs against the throttle");
    throttle::measure(&paths, &settings, &sdks, &mut results)?;
    if settings.build_cost {
        println!("== 5. build cost");
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

    results.facts.insert("load_after".into(), loadavg());
    let elapsed = started.elapsed().as_secs_f64();
    results
        .facts
        .insert("duration_s".into(), format!("{elapsed:.0}"));
    let run = Run {
        settings,
        args: shown_args(),
        results,
    };
    let data = save(&run, &out)?;
    println!(
        "wrote {} (the run's data: {}) in {elapsed:.0} s",
        out.display(),
        data.display()
    );
    Ok(())
}

/// The flags as the report quotes them: without `--root DIR`, which is how xtask
/// tells the suite where the checkout is, not a choice of the person who ran it.
fn shown_args() -> Vec<String> {
    let mut shown = Vec::new();
    let mut args = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        if arg == "--root" {
            args.next();
        } else if !arg.starts_with("--root=") {
            shown.push(arg);
        }
    }
    shown
}

/// Writes the report to `out` and the run's data beside it; returns the data's path.
fn save(run: &Run, out: &Path) -> Result<PathBuf, Error> {
    let data = out.with_extension("json");
    std::fs::write(&data, report::data(run)?)?;
    std::fs::write(out, report::render(run))?;
    Ok(data)
}

/// Installs the pinned SDKs into `target/bench/sdk/` (pip `--target`, `npm ci
/// --prefix`), unless the same pins are installed already.
fn install_sdks(paths: &Paths, results: &mut Results) -> Sdks {
    let (python, node) = (paths.work.join("sdk/python"), paths.work.join("sdk/node"));
    let mut pip = Command::new("python3");
    pip.args(["-m", "pip", "install", "--quiet", "--no-deps"])
        .args(["--disable-pip-version-check", "--target"])
        .arg(&python)
        .arg("-r")
        .arg(paths.sdk_scripts().join("requirements.txt"));
    let mut npm = Command::new("npm");
    npm.args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
        .arg("--prefix")
        .arg(&node);
    let mut keep = |name: &str, installed: Result<PathBuf, Error>| match installed {
        Ok(dir) => Some(dir),
        Err(error) => {
            results
                .missing
                .push(format!("{name} SDK: install failed ({error})"));
            None
        }
    };
    let scripts = ["list.py", "throttle_job.py"];
    let python = install(paths, "Python", python, "requirements.txt", &scripts, pip);
    let files = [
        "package.json",
        "package-lock.json",
        "list.mjs",
        "throttle_job.mjs",
    ];
    let node = install(paths, "Node", node, "package-lock.json", &files, npm);
    Sdks {
        python: keep("Python", python),
        node: keep("Node", node),
    }
}

/// Installs one SDK into `dir` with `command`, unless `dir` holds the pins of
/// `pins` already, and copies `files` of `sdk/` (its scripts) there.
fn install(
    paths: &Paths,
    name: &str,
    dir: PathBuf,
    pins: &str,
    files: &[&str],
    command: Command,
) -> Result<PathBuf, Error> {
    let sdk = paths.sdk_scripts();
    let copy = || -> Result<(), Error> {
        for file in files {
            std::fs::copy(sdk.join(file), dir.join(file))?;
        }
        Ok(())
    };
    let pinned = std::fs::read_to_string(sdk.join(pins))?;
    let stamp = dir.join(".installed-pins");
    if std::fs::read_to_string(&stamp).ok().as_ref() != Some(&pinned) {
        println!("installing the {name} SDK into {}", dir.display());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        copy()?;
        procs::run_timed(command, &paths.log(name))?;
        std::fs::write(&stamp, &pinned)?;
    }
    copy()?;
    Ok(dir)
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

/// `client-bench` on `url`, with `extra` flags (separated by spaces).
fn client_bench(paths: &Paths, url: &str, client: &str, task: &str, extra: &str) -> Command {
    let mut command = Command::new(paths.bin("client-bench"));
    command.args(["--base-url", url, "--client", client, "--task", task]);
    command.args(extra.split_whitespace());
    command
}

/// Item 1: Our client, reqwest + serde, raw hyper: one small page (limit 1) from the
/// emulator, sequential and 32 at a time.
fn request_overhead(paths: &Paths, s: &Settings, results: &mut Results) -> Result<(), Error> {
    let seed = seed_file(paths, 1_000)?;
    let server = emulator(paths, "emulator-overhead", false, Some(&seed))?;
    for round in 0..s.rounds {
        for (label, concurrency) in order(&[("seq", 1), ("c32", 32)], round) {
            for client in order(&["ours", "reqwest", "hyper"], round) {
                let extra = format!("--count {} --concurrency {concurrency} --limit 1", s.calls);
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
    clients.extend(["python", "node"].into_iter().filter(|c| sdks.has(c)));
    let scales: Vec<usize> = [total / 10, total / 2]
        .into_iter()
        .filter(|&n| n > 0)
        .collect();
    for round in 0..s.rounds {
        for (which, server) in order(&[("page", &page), ("emulator", &emu)], round) {
            for client in order(&clients, round) {
                let command = match client {
                    "python" | "node" => sdks.script(client, "list", &[&server.url, CHECKPOINT])?,
                    rust => client_bench(paths, &server.url, rust, "list", ""),
                };
                let value = run_json(command)?;
                check_count(&value, "items", total, "permissions listed")?;
                // The SDK scripts say which version they imported.
                if let Some(version) = value.get("sdk_version").and_then(Value::as_str) {
                    results
                        .facts
                        .insert(format!("openai_{client}"), version.into());
                }
                record(results, format!("list/{which}/{client}"), value);
            }
        }
        for &n in &scales {
            for client in order(&["ours", "reqwest"], round) {
                let extra = format!("--max-items {n}");
                let value = run_json(client_bench(paths, &page.url, client, "list", &extra))?;
                check_count(&value, "items", n, "permissions listed")?;
                record(results, format!("scale/{n}/{client}"), value);
            }
        }
    }
    let scales: Vec<String> = scales.iter().map(usize::to_string).collect();
    results.facts.insert("list_total".into(), total.to_string());
    results.facts.insert("scales".into(), scales.join(","));
    Ok(())
}

/// Fails unless the count `field` (`what`) of a sample is `expected`: a measurement
/// that did not do all its work measured nothing.
fn check_count(value: &Value, field: &str, expected: usize, what: &str) -> Result<(), Error> {
    let count = value.get(field).and_then(Value::as_u64).unwrap_or(0);
    if count as usize != expected {
        return Err(format!("{count} {what}, expected {expected}: {value}").into());
    }
    Ok(())
}

/// Item 3: Permissions for many projects with bounded concurrency, in memory and on
/// SQLite; every project must be listed afterwards.
fn bulk_grant(paths: &Paths, s: &Settings, results: &mut Results) -> Result<(), Error> {
    let memory = emulator(paths, "emulator-grant-memory", false, None)?;
    let sqlite = emulator(paths, "emulator-grant-sqlite", true, None)?;
    let configs = [("b100c4", 100, 4), ("b1c32", 1, 32)];
    for round in 0..s.rounds {
        for (store, server) in order(&[("memory", &memory), ("sqlite", &sqlite)], round) {
            for (config, batch, concurrency) in order(&configs, round) {
                for client in order(&["ours", "reqwest"], round) {
                    let extra = format!(
                        "--projects {} --batch {batch} --concurrency {concurrency} \
                         --checkpoint ft:bench-grant:{config}:{client}:{round}",
                        s.projects
                    );
                    let value =
                        run_json(client_bench(paths, &server.url, client, "grant", &extra))?;
                    // Every granted project is listed afterwards.
                    check_count(&value, "verified", s.projects, "granted projects listed")?;
                    record(results, format!("grant/{store}/{config}/{client}"), value);
                }
            }
        }
    }
    results
        .facts
        .insert("projects".into(), s.projects.to_string());
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
    let mut targets = vec![
        ("ceiling", &ceiling),
        ("memory", &memory),
        ("sqlite", &sqlite),
    ];
    let prism = start_prism(paths);
    match &prism {
        Ok(prism) => targets.push(("prism", prism)),
        Err(error) => results
            .missing
            .push(format!("Prism: not measured ({error})")),
    }
    let path = format!("/fine_tuning/checkpoints/{CHECKPOINT}/permissions");
    let ops = [
        ("list", format!("{path}?limit=100"), ""),
        ("create", path, "--method POST"),
    ];
    // `load-gen` on `url` for `seconds`, with `extra` flags.
    let load = |url: String, seconds: f64, extra: &str| {
        let mut command = Command::new(paths.bin("load-gen"));
        command.args(["--url", &url, "--connections", "32"]);
        command.args(["--duration-s", &seconds.to_string()]);
        command.args(extra.split_whitespace());
        run_json(command)
    };
    for round in 0..s.rounds {
        for (name, server) in order(&targets, round) {
            for (op, path, extra) in &ops {
                if name == "ceiling" && *op == "create" {
                    continue;
                }
                let value = load(format!("{}{path}", server.url), s.load_seconds, extra)?;
                record(results, format!("server/{op}/{name}"), value);
            }
        }
    }
    // Latency at half the measured rate, open loop.
    for (name, server) in [("memory", &memory), ("sqlite", &sqlite)] {
        for (op, path, extra) in &ops {
            let Some(rps) = results.med(&format!("server/{op}/{name}"), "rps") else {
                continue;
            };
            let extra = format!("{extra} --rate {:.0}", rps / 2.0);
            let value = load(
                format!("{}{path}", server.url),
                s.load_seconds * 2.0,
                &extra,
            )?;
            record(results, format!("paced/{op}/{name}"), value);
        }
    }
    Ok(())
}

/// `prism mock` on the same fragment, on a free port (Prism serves the paths without
/// the `/v1` of the base URL, and says `listening on` its address as well). Should
/// it answer the measured requests with errors, they show in the `errors` column.
fn start_prism(paths: &Paths) -> Result<Server, Error> {
    let port = procs::free_port()?.to_string();
    let mut command = Command::new("prism");
    command.args(["mock", "-h", "127.0.0.1", "-p", &port]);
    command.arg(paths.root.join("openapi/permissions.yaml"));
    Server::start("prism", command, &paths.log("prism"))
}
