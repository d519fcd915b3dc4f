//! `bench-suite`: the benchmarks of `cargo xtask bench`, side by side in one run.
//!
//! ```text
//! bench-suite [--quick] [--rounds N] [--out FILE] [--skip-build-cost] [--skip-sdks]
//! ```
//!
//! Starts every server itself on 127.0.0.1 (ports it picks), runs each measurement as
//! its own process, several rounds interleaved (the order of the contenders reversed
//! every other round), and writes `BENCHMARKS.md` (medians and ratios) plus the raw
//! samples as `target/bench/results.json`. Every process it started is stopped when
//! it finishes or fails. The programs it runs (`client-bench`, `page-server`,
//! `load-gen`, `permissions-emulator`) are looked up next to its own executable, so
//! build them in the same profile first (`cargo xtask bench` does).

mod build_cost;
mod procs;
mod report;
mod throttle;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use permissions_bench::{CHECKPOINT, arg, median};
use procs::{Error, Server, run_json};
use serde_json::{Value, json};

/// Every sample of the run, by measurement key, and what the report needs besides.
#[derive(Default)]
pub struct Results {
    /// The samples of each measurement (one JSON object per round).
    pub samples: BTreeMap<String, Vec<Value>>,
    /// Things measured once: versions, machine, settings.
    pub facts: BTreeMap<String, String>,
    /// Measurements that could not be taken, and why.
    pub missing: Vec<String>,
}

impl Results {
    fn add(&mut self, key: &str, value: Value) {
        self.samples.entry(key.to_owned()).or_default().push(value);
    }

    /// The median of `field` over the samples of `key`.
    pub fn med(&self, key: &str, field: &str) -> Option<f64> {
        let values: Vec<f64> = self
            .samples
            .get(key)?
            .iter()
            .filter_map(|v| v.get(field)?.as_f64())
            .collect();
        median(&values)
    }

    /// The smallest and largest `field` over the samples of `key`.
    pub fn range(&self, key: &str, field: &str) -> Option<(f64, f64)> {
        let values: Vec<f64> = self
            .samples
            .get(key)?
            .iter()
            .filter_map(|v| v.get(field)?.as_f64())
            .collect();
        let min = values.iter().copied().reduce(f64::min)?;
        let max = values.iter().copied().reduce(f64::max)?;
        Some((min, max))
    }
}

/// What the run does, from the command line.
pub struct Settings {
    /// Smaller counts, fewer rounds, no build cost.
    pub quick: bool,
    /// Rounds of every interleaved comparison.
    pub rounds: usize,
    /// Permissions listed by the "list everything" comparison.
    pub list_total: usize,
    /// Requests of each request-overhead measurement.
    pub calls: usize,
    /// Projects granted by the bulk grant.
    pub projects: usize,
    /// Seconds of each server throughput measurement.
    pub load_seconds: f64,
    /// Whether the official SDKs are measured.
    pub sdks: bool,
    /// Whether the build cost is measured.
    pub build_cost: bool,
}

/// Where things are.
pub struct Paths {
    /// The workspace root.
    pub root: PathBuf,
    /// The directory of this executable and of the programs it runs.
    pub bins: PathBuf,
    /// Scratch space: `target/bench/`.
    pub work: PathBuf,
}

impl Paths {
    fn bin(&self, name: &str) -> PathBuf {
        self.bins.join(name)
    }

    fn log(&self, name: &str) -> PathBuf {
        self.work.join("logs").join(format!("{name}.log"))
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
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let default_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root =
        PathBuf::from(arg(&args, "--root", &default_root.to_string_lossy())).canonicalize()?;
    let settings = Settings {
        quick,
        rounds: arg(&args, "--rounds", if quick { "2" } else { "5" }).parse()?,
        list_total: if quick { 20_000 } else { 100_000 },
        calls: if quick { 2_000 } else { 20_000 },
        projects: if quick { 2_000 } else { 10_000 },
        load_seconds: if quick { 2.0 } else { 5.0 },
        sdks: !args.iter().any(|a| a == "--skip-sdks"),
        build_cost: !quick && !args.iter().any(|a| a == "--skip-build-cost"),
    };
    let out = PathBuf::from(arg(
        &args,
        "--out",
        &root.join("BENCHMARKS.md").to_string_lossy(),
    ));
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
    report::machine_facts(&mut results, &paths);
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
    let raw = json!({
        "facts": results.facts,
        "missing": results.missing,
        "samples": results.samples,
    });
    std::fs::write(
        paths.work.join("results.json"),
        serde_json::to_string_pretty(&raw)?,
    )?;
    let markdown = report::render(&results, &settings, &args[1..]);
    std::fs::write(&out, markdown)?;
    println!(
        "wrote {} (raw samples: {}) in {elapsed:.0} s",
        out.display(),
        paths.work.join("results.json").display()
    );
    Ok(())
}

fn section(name: &str) {
    println!("== {name}");
}

/// Prints one sample as it comes, so a long run shows progress.
fn show(key: &str, value: &Value) {
    let pick = |f: &str| value.get(f).and_then(Value::as_f64);
    let mut parts = Vec::new();
    for (field, unit) in [
        ("wall_ms", "ms"),
        ("us_per_request", "us/req"),
        ("cpu_us_per_request", "cpu us/req"),
        ("rps", "req/s"),
        ("p99_ms", "ms p99"),
        ("seconds", "s"),
    ] {
        if let Some(v) = pick(field) {
            parts.push(format!("{v:.1} {unit}"));
        }
    }
    if let Some(kib) = pick("peak_rss_kib") {
        parts.push(format!("{:.1} MiB", kib / 1024.0));
    }
    println!("  {key:<40} {}", parts.join(", "));
}

/// The official SDKs, installed under `target/bench/sdk/`.
#[derive(Default)]
pub struct Sdks {
    /// `PYTHONPATH` holding the pinned `openai` package, when installed.
    python: Option<PathBuf>,
    /// The folder holding `node_modules/openai` and `list.mjs`, when installed.
    node: Option<PathBuf>,
}

/// Installs the pinned SDKs into `target/bench/sdk/` (pip `--target`, `npm ci
/// --prefix`), unless the same pins are installed already.
fn install_sdks(paths: &Paths, results: &mut Results) -> Sdks {
    let sdk = paths.root.join("crates/permissions-bench/sdk");
    let dest = paths.work.join("sdk");
    let mut sdks = Sdks::default();

    let python_dir = dest.join("python");
    let requirements = std::fs::read_to_string(sdk.join("requirements.txt")).unwrap_or_default();
    let stamp = python_dir.join(".requirements.txt");
    let python_ok = std::fs::read_to_string(&stamp).is_ok_and(|s| s == requirements) || {
        println!("installing the Python SDK into {}", python_dir.display());
        let _ = std::fs::remove_dir_all(&python_dir);
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
        match procs::run_timed(pip, &paths.log("pip")) {
            Ok(_) => std::fs::write(&stamp, &requirements).is_ok(),
            Err(error) => {
                results
                    .missing
                    .push(format!("Python SDK: install failed ({error})"));
                false
            }
        }
    };
    if python_ok {
        for script in ["list.py", "throttle_job.py"] {
            std::fs::copy(sdk.join(script), python_dir.join(script)).ok();
        }
        sdks.python = Some(python_dir);
    }

    let node_dir = dest.join("node");
    let lock = std::fs::read_to_string(sdk.join("package-lock.json")).unwrap_or_default();
    let stamp = node_dir.join(".package-lock.json.installed");
    let node_ok = std::fs::read_to_string(&stamp).is_ok_and(|s| s == lock) || {
        println!("installing the Node SDK into {}", node_dir.display());
        let _ = std::fs::remove_dir_all(&node_dir);
        let copied = std::fs::create_dir_all(&node_dir).is_ok()
            && std::fs::copy(sdk.join("package.json"), node_dir.join("package.json")).is_ok()
            && std::fs::copy(
                sdk.join("package-lock.json"),
                node_dir.join("package-lock.json"),
            )
            .is_ok();
        let mut npm = Command::new("npm");
        npm.args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--prefix",
        ])
        .arg(&node_dir);
        let installed = if copied {
            procs::run_timed(npm, &paths.log("npm"))
        } else {
            Err("cannot copy package.json".into())
        };
        match installed {
            Ok(_) => std::fs::write(&stamp, &lock).is_ok(),
            Err(error) => {
                results
                    .missing
                    .push(format!("Node SDK: install failed ({error})"));
                false
            }
        }
    };
    if node_ok {
        for script in ["list.mjs", "throttle_job.mjs"] {
            std::fs::copy(sdk.join(script), node_dir.join(script)).ok();
        }
        sdks.node = Some(node_dir);
    }
    report::sdk_versions(results, &sdks.python, &sdks.node);
    sdks
}

/// Writes a seed file of `total` permissions of [`CHECKPOINT`] (if not there yet),
/// streaming, so that this process stays small.
fn seed_file(paths: &Paths, total: usize) -> Result<PathBuf, Error> {
    use std::io::Write as _;
    let path = paths.work.join(format!("seed-{total}.json"));
    if !path.exists() {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        out.write_all(b"{\"permissions\":[")?;
        for i in 0..total {
            let separator = if i == 0 { "" } else { "," };
            write!(
                out,
                "{separator}{{\"checkpoint\":\"{CHECKPOINT}\",\"project_id\":\"proj_{i:024}\",\
                 \"id\":\"cp_{i:024}\",\"created_at\":{}}}",
                1_700_000_000 + i as i64
            )?;
        }
        out.write_all(b"]}")?;
        out.flush()?;
    }
    Ok(path)
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

/// The emulator's command line: on 127.0.0.1, a free port, logs at `warn`, with
/// the permissions of `seed`; in memory unless the caller adds `--db`.
fn emulator_command(paths: &Paths, seed: Option<&Path>) -> Command {
    let mut command = Command::new(paths.bin("permissions-emulator"));
    command
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn");
    if let Some(seed) = seed {
        command.arg("--seed").arg(seed);
    }
    command
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

/// The contenders of round `round`: in order on even rounds, reversed on odd ones.
fn order<T: Clone>(items: &[T], round: usize) -> Vec<T> {
    let mut items = items.to_vec();
    if !round.is_multiple_of(2) {
        items.reverse();
    }
    items
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
                let key = format!("overhead/{label}/{client}");
                show(&key, &value);
                results.add(&key, value);
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
                let key = format!("list/{which}/{client}");
                show(&key, &value);
                results.add(&key, value);
            }
        }
        for &n in &scales {
            for client in order(&["ours", "reqwest"], round) {
                let extra = ["--max-items".to_owned(), n.to_string()];
                let value = run_json(client_bench(paths, &page.url, client, "list", &extra))?;
                check_items(&value, n)?;
                let key = format!("scale/{n}/{client}");
                show(&key, &value);
                results.add(&key, value);
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
                    let key = format!("grant/{store}/{config}/{client}");
                    show(&key, &value);
                    results.add(&key, value);
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
            let key = format!("server/list/{name}");
            show(&key, &value);
            results.add(&key, value);
            if name != "ceiling" {
                let value = load(format!("{}{create_path}", server.url), true, None, &seconds)?;
                let key = format!("server/create/{name}");
                show(&key, &value);
                results.add(&key, value);
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
            let key = format!("paced/{op}/{name}");
            show(&key, &value);
            results.add(&key, value);
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
