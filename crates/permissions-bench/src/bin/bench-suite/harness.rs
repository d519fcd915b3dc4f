//! What every measurement uses: where things are, the SDKs' locations, seed files,
//! the emulator's command line, the order of a round, and recording a sample.

use std::path::{Path, PathBuf};
use std::process::Command;

use permissions_bench::run::Results;
use permissions_bench::{CHECKPOINT, permission};
use serde_json::{Value, json};

use crate::procs::Error;

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
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bins.join(name)
    }

    pub fn log(&self, name: &str) -> PathBuf {
        self.work.join("logs").join(format!("{name}.log"))
    }

    /// The SDK scripts and their pins: `crates/permissions-bench/sdk/`.
    pub fn sdk_scripts(&self) -> PathBuf {
        self.root.join("crates/permissions-bench/sdk")
    }
}

/// The official SDKs, installed under `target/bench/sdk/`.
#[derive(Default)]
pub struct Sdks {
    /// `PYTHONPATH` holding the pinned `openai` package, when installed.
    pub python: Option<PathBuf>,
    /// The folder holding `node_modules/openai` and `list.mjs`, when installed.
    pub node: Option<PathBuf>,
}

impl Sdks {
    /// Whether `contender` can run: an SDK (`python`, `node`) only when installed.
    pub fn has(&self, contender: &str) -> bool {
        match contender {
            "python" => self.python.is_some(),
            "node" => self.node.is_some(),
            _ => true,
        }
    }

    /// `python3 DIR/SCRIPT.py ARGS` (`sdk`: `python`) or `node DIR/SCRIPT.mjs ARGS`.
    pub fn script(&self, sdk: &str, script: &str, args: &[&str]) -> Result<Command, Error> {
        let (dir, program, extension) = match sdk {
            "python" => (&self.python, "python3", "py"),
            "node" => (&self.node, "node", "mjs"),
            other => return Err(format!("no SDK named {other:?}").into()),
        };
        let dir = dir
            .as_ref()
            .ok_or_else(|| format!("the {sdk} SDK is not installed"))?;
        let mut command = Command::new(program);
        command
            .arg(dir.join(format!("{script}.{extension}")))
            .args(args);
        if sdk == "python" {
            command.env("PYTHONPATH", dir);
        }
        Ok(command)
    }
}

/// Writes a seed file of the first `total` benchmark permissions
/// ([`permission`]) of [`CHECKPOINT`] (if not there yet), streaming, so that this
/// process stays small.
pub fn seed_file(paths: &Paths, total: usize) -> Result<PathBuf, Error> {
    use std::io::Write as _;
    let path = paths.work.join(format!("seed-{total}.json"));
    if !path.exists() {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        out.write_all(b"{\"permissions\":[")?;
        for i in 0..total {
            if i > 0 {
                out.write_all(b",")?;
            }
            let p = permission(i);
            let seed = json!({"checkpoint": CHECKPOINT, "project_id": p.project_id,
                              "id": p.id, "created_at": p.created_at});
            serde_json::to_writer(&mut out, &seed)?;
        }
        out.write_all(b"]}")?;
        out.flush()?;
    }
    Ok(path)
}

/// The emulator's command line: on 127.0.0.1, a free port, logs at `warn`, with
/// the permissions of `seed`; in memory unless the caller adds `--db`.
pub fn emulator_command(paths: &Paths, seed: Option<&Path>) -> Command {
    let mut command = Command::new(paths.bin("permissions-emulator"));
    command
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn");
    if let Some(seed) = seed {
        command.arg("--seed").arg(seed);
    }
    command
}

/// The contenders of round `round`: in order on even rounds, reversed on odd ones.
pub fn order<T: Clone>(items: &[T], round: usize) -> Vec<T> {
    let mut items = items.to_vec();
    if !round.is_multiple_of(2) {
        items.reverse();
    }
    items
}

/// Adds a sample of `key`, and prints it.
pub fn record(results: &mut Results, key: String, value: Value) {
    show(&key, &value);
    results.add(&key, value);
}

/// Prints one sample as it comes, so a long run shows progress.
pub fn show(key: &str, value: &Value) {
    let units = [
        ("wall_ms", "ms", 1.0),
        ("us_per_request", "us/req", 1.0),
        ("cpu_us_per_request", "cpu us/req", 1.0),
        ("rps", "req/s", 1.0),
        ("p99_ms", "ms p99", 1.0),
        ("seconds", "s", 1.0),
        ("peak_rss_kib", "MiB", 1024.0),
        ("requests", "requests", 1.0),
        ("throttled", "429s", 1.0),
    ];
    let parts: Vec<String> = units
        .iter()
        .filter_map(|&(field, unit, per)| {
            let v = value.get(field)?.as_f64()? / per;
            Some(format!("{v:.1} {unit}"))
        })
        .collect();
    println!("  {key:<40} {}", parts.join(", "));
}
