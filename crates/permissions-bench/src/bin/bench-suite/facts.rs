//! What a run records once: the machine and the toolchains (the SDK scripts
//! report their own versions).

use permissions_bench::run::Results;

use crate::harness::Paths;
use crate::procs::version_of;

/// Records the machine and the toolchain versions.
pub fn machine(results: &mut Results, paths: &Paths) {
    let facts = &mut results.facts;
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("unknown", |l| l.trim_start_matches([' ', '\t', ':']));
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or_else(
            || "unknown".into(),
            |kib| format!("{:.1} GiB", kib / 1048576.0),
        );
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    facts.insert("cpu".into(), model.to_owned());
    facts.insert("cores".into(), cores.to_string());
    facts.insert("memory".into(), memory);
    let root = paths.root.to_string_lossy();
    for (fact, program, args) in [
        ("kernel", "uname", &["-sr"][..]),
        ("rustc", "rustc", &["--version"]),
        ("python", "python3", &["--version"]),
        ("node", "node", &["--version"]),
        ("prism", "prism", &["--version"]),
        ("git", "git", &["-C", &root, "rev-parse", "--short", "HEAD"]),
    ] {
        facts.insert(fact.into(), version_of(program, args));
    }
    let lock = std::fs::read_to_string(paths.root.join("Cargo.lock")).unwrap_or_default();
    for name in [
        "reqwest",
        "hyper",
        "hyper-util",
        "axum",
        "tokio",
        "serde_json",
    ] {
        let version = lock_version(&lock, name).unwrap_or_else(|| "?".into());
        facts.insert(format!("crate:{name}"), version);
    }
}

/// The version of package `name` in the text of a `Cargo.lock`.
pub fn lock_version(lock: &str, name: &str) -> Option<String> {
    let package = lock
        .split("[[package]]")
        .find(|p| p.contains(&format!("name = \"{name}\"\n")))?;
    let version = package.lines().find_map(|l| l.strip_prefix("version = "))?;
    Some(version.trim_matches('"').to_owned())
}
