//! What a run records once: the machine, the toolchains, the SDK versions.

use std::path::PathBuf;

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
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".into());
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
    facts.insert("cpu".into(), model);
    facts.insert("cores".into(), cores.to_string());
    facts.insert("memory".into(), memory);
    facts.insert("kernel".into(), version_of("uname", &["-sr"]));
    facts.insert("rustc".into(), version_of("rustc", &["--version"]));
    facts.insert("python".into(), version_of("python3", &["--version"]));
    facts.insert("node".into(), version_of("node", &["--version"]));
    facts.insert("prism".into(), version_of("prism", &["--version"]));
    facts.insert(
        "git".into(),
        version_of(
            "git",
            &[
                "-C",
                &paths.root.to_string_lossy(),
                "rev-parse",
                "--short",
                "HEAD",
            ],
        ),
    );
    let lock = std::fs::read_to_string(paths.root.join("Cargo.lock")).unwrap_or_default();
    for name in [
        "reqwest",
        "hyper",
        "hyper-util",
        "axum",
        "tokio",
        "serde_json",
    ] {
        let version = lock
            .split("[[package]]")
            .find(|p| p.contains(&format!("name = \"{name}\"\n")))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
            .map_or_else(|| "?".into(), |v| v.trim_matches('"').to_owned());
        facts.insert(format!("crate:{name}"), version);
    }
}

/// Records the installed SDK versions.
pub fn sdk_versions(results: &mut Results, python: &Option<PathBuf>, node: &Option<PathBuf>) {
    if let Some(dir) = python {
        let version = std::fs::read_dir(dir)
            .ok()
            .and_then(|entries| {
                entries.filter_map(Result::ok).find_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_prefix("openai-")
                        .and_then(|r| r.strip_suffix(".dist-info"))
                        .map(str::to_owned)
                })
            })
            .unwrap_or_else(|| "?".into());
        results.facts.insert("openai_python".into(), version);
    }
    if let Some(dir) = node {
        let version = std::fs::read_to_string(dir.join("node_modules/openai/package.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("version")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| "?".into());
        results.facts.insert("openai_node".into(), version);
    }
}
