//! Helpers of the binary's tests: an emulator on 127.0.0.1 served by its own
//! runtime, the binary with a clean environment, and output parsing.

use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use permissions_emulator::{Emulator, SeedPermission};
use serde_json::Value;

pub const CKPT: &str = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd";
pub const KEY: &str = "sk-admin-test-0123456789abcdefSECRET";

/// An emulator served by its own runtime while the test thread runs the binary.
pub struct Server {
    pub runtime: tokio::runtime::Runtime,
    pub emulator: Option<Emulator>,
    pub url: String,
}

impl Server {
    pub fn start(seeds: Vec<SeedPermission>) -> Self {
        Self::with(Emulator::builder().seed(seeds))
    }

    /// An emulator throttled like the real admin API, time-compressed.
    pub fn throttled(count: usize, limit: &str) -> Self {
        Self::with(
            Emulator::builder()
                .seed(seeds(count))
                .rate_limit(limit.parse().unwrap()),
        )
    }

    pub fn with(builder: permissions_emulator::EmulatorBuilder) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let emulator = runtime.block_on(builder.start()).unwrap();
        let url = emulator.base_url();
        Self {
            runtime,
            emulator: Some(emulator),
            url,
        }
    }

    /// `count` permissions on CKPT, created one second apart, oldest first.
    pub fn seeded(count: usize) -> Self {
        Self::start(seeds(count))
    }

    pub fn emulator(&self) -> &Emulator {
        self.emulator.as_ref().unwrap()
    }

    pub fn requests(&self) -> u64 {
        self.emulator().request_count()
    }

    /// (requests, 429s) the emulator counted for `method` on the permission
    /// routes.
    pub fn counted(&self, method: &str) -> (u64, u64) {
        self.counted_on(method, "/permissions")
    }

    /// (requests, 429s) the emulator counted for `method` on the routes whose
    /// path template contains `path`.
    pub fn counted_on(&self, method: &str, path: &str) -> (u64, u64) {
        self.emulator()
            .endpoint_counters()
            .into_iter()
            .find(|c| c.method == method && c.path.contains(path))
            .map_or((0, 0), |c| (c.requests, c.throttled))
    }

    /// The binary with a clean environment pointing at this emulator.
    pub fn cmd(&self) -> Command {
        with_timeout(Command::from_std(self.std_cmd()))
    }

    /// [`Server::cmd`] as a `std` command, whose standard streams the test sets.
    pub fn std_cmd(&self) -> std::process::Command {
        let mut cmd = bare_std();
        cmd.env("OPENAI_ADMIN_KEY", KEY)
            .env("OPENAI_BASE_URL", &self.url);
        cmd
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(emulator) = self.emulator.take() {
            self.runtime.block_on(emulator.shutdown());
        }
    }
}

pub fn seeds(count: usize) -> Vec<SeedPermission> {
    (0..count)
        .map(|i| {
            let mut seed = SeedPermission::new(CKPT, format!("proj_{i:024}"));
            seed.id = Some(format!("cp_{i:024}"));
            seed.created_at = Some(1_721_764_800 + i as i64);
            seed
        })
        .collect()
}

/// The binary without any OPENAI_ variable.
pub fn bare() -> Command {
    with_timeout(Command::from_std(bare_std()))
}

fn with_timeout(mut cmd: Command) -> Command {
    cmd.timeout(Duration::from_secs(30));
    cmd
}

/// [`bare`] as a `std` command.
fn bare_std() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ckpt-perms"));
    for name in [
        "OPENAI_ADMIN_KEY",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "OPENAI_ADMIN_MAX_RPM",
        "OPENAI_ADMIN_BURST",
        "RUST_LOG",
        "CKPT_PERMS_NO_PACING_STATE",
    ] {
        cmd.env_remove(name);
    }
    // The pacing state goes to this test run's own cache directory.
    cmd.env("XDG_CACHE_HOME", cache_dir());
    cmd
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

pub fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

pub fn ids(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The cache directory of this test process's runs of the binary.
pub fn cache_dir() -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(tempfile_dir).clone()
}

/// A fresh directory under the system's temporary directory, for one test.
pub fn tempfile_dir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ckpt-perms-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
