//! `BENCHMARKS.md`: the tables, the machine, the versions and the commands.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;

use crate::procs::version_of;
use crate::throttle::{self, CONTENDERS, MAX_RPM};
use crate::{Paths, Results, Settings};

/// Records the machine and the toolchain versions.
pub fn machine_facts(results: &mut Results, paths: &Paths) {
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

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

fn num(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "n/a".into(), |v| format!("{v:.digits$}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn mib(kib: Option<f64>) -> Option<f64> {
    kib.map(|k| k / 1024.0)
}

/// A goal line: `ratio` against `goal`, met when `ok(ratio)`.
fn goal_cell(value: Option<f64>, text: &str, ok: impl Fn(f64) -> bool) -> String {
    match value {
        Some(v) => format!("{text}: {}", verdict(ok(v))),
        None => format!("{text}: not measured"),
    }
}

/// Renders the whole document.
pub fn render(r: &Results, s: &Settings, args: &[String]) -> String {
    let f = |k: &str| r.facts.get(k).cloned().unwrap_or_else(|| "?".into());
    let mut md = String::new();
    // `--root DIR` is how xtask tells the suite where the checkout is, not a choice
    // of the person who ran it.
    let mut shown = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--root" {
            rest.next();
        } else {
            shown.push(arg.as_str());
        }
    }
    let command = if shown.is_empty() {
        "cargo xtask bench".to_owned()
    } else {
        format!("cargo xtask bench {}", shown.join(" "))
    };
    let _ = writeln!(
        md,
        "# Benchmarks\n\n\
         <!-- Generated by `{command}` (crates/permissions-bench, bench-suite): do not edit by \
         hand; run it again. -->\n\n\
         Generated by `{command}` in {} s{} at commit {}. Every figure is the median of {} \
         rounds, each measurement its own process, the contenders interleaved (order \
         reversed every other round); every comparison is a ratio of two figures from the \
         same run, so a noisy shared machine cancels out as far as possible. Raw samples: \
         `target/bench/results.json`. Load average (1, 5, 15 min) before: {}; after: {}.\n",
        f("duration_s"),
        if s.quick {
            " (**--quick**: smaller counts, fewer rounds; not the published figures)"
        } else {
            ""
        },
        f("git"),
        s.rounds,
        f("load_before")
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        f("load_after")
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    );
    let _ = writeln!(
        md,
        "**Machine**: {} cores, {}, {} RAM, {}. Shared with other builds while measured.\n\n\
         **Versions**: {}; Python {} with `openai` {} (PyPI); Node {} with `openai` {} (npm); \
         Prism {}; reqwest {}, hyper {}, hyper-util {}, axum {}, tokio {}; async-openai {}.\n",
        f("cores"),
        f("cpu"),
        f("memory"),
        f("kernel"),
        f("rustc"),
        f("python").trim_start_matches("Python "),
        f("openai_python"),
        f("node"),
        f("openai_node"),
        f("prism"),
        f("crate:reqwest"),
        f("crate:hyper"),
        f("crate:hyper-util"),
        f("crate:axum"),
        f("crate:tokio"),
        f("async_openai"),
    );

    summary(&mut md, r, s);
    overhead(&mut md, r, s);
    listing(&mut md, r, s);
    grant(&mut md, r);
    servers(&mut md, r, s);
    build(&mut md, r);
    throttled(&mut md, r);

    if !r.missing.is_empty() {
        let _ = writeln!(md, "## Not measured in this run\n");
        for m in &r.missing {
            let _ = writeln!(md, "- {}", m.replace('\n', " "));
        }
        md.push('\n');
    }
    commands(&mut md, r);
    md
}

fn summary(md: &mut String, r: &Results, s: &Settings) {
    let n = s.list_total;
    let ours_list = r.med("list/page/ours", "wall_ms");
    let ideal_list = r.med("list/page/reqwest", "wall_ms");
    let rows: Vec<(String, Option<f64>, String)> = vec![
        (
            "Per call, ours / reqwest + serde (sequential wall, limit 1, emulator)".into(),
            ratio(
                r.med("overhead/seq/ours", "us_per_request"),
                r.med("overhead/seq/reqwest", "us_per_request"),
            ),
            "<= 1.05".into(),
        ),
        (
            "Per call, ours / reqwest + serde (client CPU, sequential)".into(),
            ratio(
                r.med("overhead/seq/ours", "cpu_us_per_request"),
                r.med("overhead/seq/reqwest", "cpu_us_per_request"),
            ),
            "<= 1.05".into(),
        ),
        (
            format!("List {n}: `list` / ideal loop (wall, page server)"),
            ratio(ours_list, ideal_list),
            "<= 1.1".into(),
        ),
        (
            format!("List {n}: `list` / ideal loop (wall, emulator)"),
            ratio(
                r.med("list/emulator/ours", "wall_ms"),
                r.med("list/emulator/reqwest", "wall_ms"),
            ),
            "<= 1.1".into(),
        ),
        (
            format!("List {n}: Python SDK / ours (wall, page server)"),
            ratio(r.med("list/page/python", "wall_ms"), ours_list),
            ">= 30".into(),
        ),
        (
            format!("List {n}: Node SDK / ours (wall, page server)"),
            ratio(r.med("list/page/node", "wall_ms"), ours_list),
            ">= 10".into(),
        ),
        (
            format!("List {n}: our client's CPU per page (us, page server)"),
            r.med("list/page/ours", "cpu_us_per_request"),
            "< 20".into(),
        ),
        (
            format!("List {n}: peak RSS of our client process (MiB)"),
            mib(r.med("list/page/ours", "peak_rss_kib")),
            "< 10".into(),
        ),
        (
            "Emulator list req/s / Prism".into(),
            ratio(
                r.med("server/list/memory", "rps"),
                r.med("server/list/prism", "rps"),
            ),
            ">= 20".into(),
        ),
        (
            "Emulator list req/s / ceiling (page server)".into(),
            ratio(
                r.med("server/list/memory", "rps"),
                r.med("server/list/ceiling", "rps"),
            ),
            ">= 0.5".into(),
        ),
    ];
    let mut rows = rows;
    let over_minimum = |key: &str| ratio(r.med(key, "wall_ms"), Some(throttle::minimum_ms()));
    let share_429 = |key: &str| ratio(r.med(key, "throttled"), r.med(key, "requests"));
    let ours: Vec<&Value> = CONTENDERS
        .iter()
        .filter(|c| c.starts_with("ours"))
        .filter_map(|c| r.samples.get(&format!("throttle/{c}")))
        .flatten()
        .collect();
    let whole = ours.iter().filter(|v| job_completed(v)).count();
    rows.extend([
        (
            "Throttled job: share of our runs (library and CLI, both modes) that did all of it"
                .into(),
            (!ours.is_empty()).then(|| whole as f64 / ours.len() as f64),
            ">= 1".into(),
        ),
        (
            "Throttled job, our library, no configuration: wall / minimum".into(),
            over_minimum("throttle/ours-lib"),
            "<= 1.5".into(),
        ),
        (
            "Throttled job, ckpt-perms, no configuration: wall / minimum".into(),
            over_minimum("throttle/ours-cli"),
            "<= 1.5".into(),
        ),
        (
            format!("Throttled job, our library, OPENAI_ADMIN_MAX_RPM={MAX_RPM}: wall / minimum"),
            over_minimum("throttle/ours-lib-rpm"),
            "<= 1.15".into(),
        ),
        (
            format!("Throttled job, ckpt-perms, OPENAI_ADMIN_MAX_RPM={MAX_RPM}: wall / minimum"),
            over_minimum("throttle/ours-cli-rpm"),
            "<= 1.15".into(),
        ),
        (
            format!("Throttled job, our library, OPENAI_ADMIN_MAX_RPM={MAX_RPM}: share of requests answered 429"),
            share_429("throttle/ours-lib-rpm"),
            "< 0.05".into(),
        ),
        (
            format!("Throttled job, ckpt-perms, OPENAI_ADMIN_MAX_RPM={MAX_RPM}: share of requests answered 429"),
            share_429("throttle/ours-cli-rpm"),
            "< 0.05".into(),
        ),
    ]);
    let _ = writeln!(
        md,
        "## Summary: goals\n\n| comparison | measured | goal | |\n|---|---:|---|---|"
    );
    for (what, value, goal) in rows {
        let (op, target) = goal.split_at(goal.find(|c: char| c.is_ascii_digit()).unwrap_or(0));
        let target: f64 = target.parse().unwrap_or(f64::NAN);
        let ok = |v: f64| match op.trim() {
            "<=" => v <= target,
            "<" => v < target,
            ">=" => v >= target,
            _ => false,
        };
        let status = value.map_or("not measured", |v| verdict(ok(v)));
        let _ = writeln!(md, "| {what} | {} | {goal} | {status} |", num(value, 2));
    }
    md.push('\n');
}

fn overhead(md: &mut String, r: &Results, s: &Settings) {
    let _ = writeln!(
        md,
        "## 1. Request overhead\n\n\
         {} requests for one permission (`GET ...permissions?limit=1`) from the emulator (in \
         memory, release build, logs off) on 127.0.0.1, through our client (`retrieve`), a \
         hand-written reqwest + serde call and raw hyper 1 (hyper-util's pooled legacy \
         client, HTTP/1); sequential and 32 in flight. Wall time per request includes the \
         server; CPU per request is the client process's own (getrusage).\n\n\
         | mode | metric | ours | reqwest + serde | raw hyper | ours / reqwest | ours / hyper |\n\
         |---|---|---:|---:|---:|---:|---:|",
        s.calls
    );
    for (mode, label) in [("seq", "sequential"), ("c32", "concurrency 32")] {
        for (field, metric) in [
            ("us_per_request", "wall us/request"),
            ("cpu_us_per_request", "client CPU us/request"),
        ] {
            let v = |c: &str| r.med(&format!("overhead/{mode}/{c}"), field);
            let _ = writeln!(
                md,
                "| {label} | {metric} | {} | {} | {} | {} | {} |",
                num(v("ours"), 1),
                num(v("reqwest"), 1),
                num(v("hyper"), 1),
                num(ratio(v("ours"), v("reqwest")), 2),
                num(ratio(v("ours"), v("hyper")), 2),
            );
        }
    }
    let _ = writeln!(
        md,
        "\nGoal (per-call overhead, ours / reqwest + serde <= 1.05): {}; {}.\n",
        goal_cell(
            ratio(
                r.med("overhead/seq/ours", "us_per_request"),
                r.med("overhead/seq/reqwest", "us_per_request")
            ),
            "wall, sequential",
            |v| v <= 1.05
        ),
        goal_cell(
            ratio(
                r.med("overhead/seq/ours", "cpu_us_per_request"),
                r.med("overhead/seq/reqwest", "cpu_us_per_request")
            ),
            "client CPU, sequential",
            |v| v <= 1.05
        ),
    );
}

fn listing(md: &mut String, r: &Results, s: &Settings) {
    let n = s.list_total;
    let _ = writeln!(
        md,
        "## 2. List everything\n\n\
         {n} permissions at limit 100 ({} requests), each client in its own process: our \
         client's `list` (the item stream) and `list_pages`, the hand-written reqwest + serde \
         loop (the ideal), raw hyper, the official Python SDK and the official Node SDK \
         (auto-pagination of `fine_tuning.checkpoints.permissions.list`). Two servers with \
         the same data: the pre-serialized page server (one thread; the ceiling, so that the \
         server's cost does not hide the client's) and the emulator (in memory). *List wall* \
         is the listing itself (after start-up and imports); *process* is spawn to exit. \
         Peak RSS is each process's own high-water mark (`VmHWM` of `/proc/self/status`), read \
         by the process itself after the work: no polling, no race with reaping. (Not \
         `getrusage` `ru_maxrss`: Linux carries it over from the pre-exec copy of the parent, \
         so a child of a large parent reports the parent's size.)\n",
        n.div_ceil(100)
    );
    for (server, title) in [("page", "page server"), ("emulator", "emulator")] {
        let ours = r.med(&format!("list/{server}/ours"), "wall_ms");
        let ideal = r.med(&format!("list/{server}/reqwest"), "wall_ms");
        let _ = writeln!(
            md,
            "### {title}\n\n\
             | client | list wall ms (min-max) | process ms | CPU us/page | peak RSS MiB | / ideal | / ours |\n\
             |---|---:|---:|---:|---:|---:|---:|"
        );
        for (client, label) in [
            ("ours", "ours, `list`"),
            ("ours-pages", "ours, `list_pages`"),
            ("reqwest", "reqwest + serde (ideal)"),
            ("hyper", "raw hyper"),
            ("python", "Python SDK"),
            ("node", "Node SDK"),
        ] {
            let key = format!("list/{server}/{client}");
            if !r.samples.contains_key(&key) {
                continue;
            }
            let wall = r.med(&key, "wall_ms");
            let range = r
                .range(&key, "wall_ms")
                .map_or_else(String::new, |(a, b)| format!(" ({a:.0}-{b:.0})"));
            let _ = writeln!(
                md,
                "| {label} | {}{range} | {} | {} | {} | {} | {} |",
                num(wall, 0),
                num(r.med(&key, "process_ms"), 0),
                num(r.med(&key, "cpu_us_per_request"), 1),
                num(mib(r.med(&key, "peak_rss_kib")), 1),
                num(ratio(wall, ideal), 2),
                num(ratio(wall, ours), 2),
            );
        }
        let python = ratio(r.med(&format!("list/{server}/python"), "wall_ms"), ours);
        let node = ratio(r.med(&format!("list/{server}/node"), "wall_ms"), ours);
        let _ = writeln!(
            md,
            "\nGoals ({title}): {}; {}; {}; {}; {}.\n",
            goal_cell(
                ratio(ours, ideal),
                "`list` within 1.1x of the ideal loop",
                |v| v <= 1.1
            ),
            goal_cell(python, "at least 30x faster than Python", |v| v >= 30.0),
            goal_cell(node, "at least 10x faster than Node", |v| v >= 10.0),
            goal_cell(
                mib(r.med(&format!("list/{server}/ours"), "peak_rss_kib")),
                "peak RSS under 10 MiB",
                |v| v < 10.0
            ),
            goal_cell(
                r.med(&format!("list/{server}/ours"), "cpu_us_per_request"),
                "under 20 us of client CPU per page",
                |v| v < 20.0
            ),
        );
    }
    let mut counts: Vec<usize> = r
        .facts
        .get("scales")
        .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default();
    counts.push(n);
    let _ = writeln!(
        md,
        "### Peak memory as the count grows (page server)\n\n\
         | permissions | ours: wall ms | ours: peak RSS MiB | ideal: wall ms | ideal: peak RSS MiB | wall ours / ideal |\n\
         |---:|---:|---:|---:|---:|---:|"
    );
    let mut peaks = Vec::new();
    for count in &counts {
        let key = |c: &str| {
            if *count == n {
                format!("list/page/{c}")
            } else {
                format!("scale/{count}/{c}")
            }
        };
        let peak = mib(r.med(&key("ours"), "peak_rss_kib"));
        peaks.extend(peak);
        let _ = writeln!(
            md,
            "| {count} | {} | {} | {} | {} | {} |",
            num(r.med(&key("ours"), "wall_ms"), 0),
            num(peak, 2),
            num(r.med(&key("reqwest"), "wall_ms"), 0),
            num(mib(r.med(&key("reqwest"), "peak_rss_kib")), 2),
            num(
                ratio(
                    r.med(&key("ours"), "wall_ms"),
                    r.med(&key("reqwest"), "wall_ms")
                ),
                2
            ),
        );
    }
    let spread = peaks
        .iter()
        .copied()
        .reduce(f64::max)
        .zip(peaks.iter().copied().reduce(f64::min));
    let _ = writeln!(
        md,
        "\nGoal (peak RSS flat as the count grows): {}.\n",
        match spread {
            Some((max, min)) => format!(
                "largest minus smallest {:.2} MiB ({}, taking flat as within 0.5 MiB)",
                max - min,
                verdict(max - min <= 0.5)
            ),
            None => "not measured".into(),
        }
    );
}

fn grant(md: &mut String, r: &Results) {
    let projects = r.facts.get("projects").cloned().unwrap_or_default();
    let _ = writeln!(
        md,
        "## 3. Bulk grant\n\n\
         Permissions for {projects} new projects on one checkpoint, with bounded concurrency: \
         batches of 100 project ids per request with 4 in flight (the CLI's defaults), and \
         one id per request with 32 in flight; our client's `create` against hand-written \
         reqwest + serde. After each run (outside the timing) the checkpoint is listed and \
         every one of the {projects} projects must be present; the run fails otherwise.\n\n\
         | store | batching | client | wall ms | permissions/s | requests/s | present afterwards | ours / reqwest (wall) |\n\
         |---|---|---|---:|---:|---:|---:|---:|"
    );
    let n: f64 = projects.parse().unwrap_or(0.0);
    for store in ["memory", "sqlite"] {
        for (config, label) in [
            ("b100c4", "100 per request, 4 in flight"),
            ("b1c32", "1 per request, 32 in flight"),
        ] {
            for client in ["ours", "reqwest"] {
                let key = format!("grant/{store}/{config}/{client}");
                if !r.samples.contains_key(&key) {
                    continue;
                }
                let wall = r.med(&key, "wall_ms");
                let requests = r.med(&key, "requests");
                let verified = r.med(&key, "verified");
                let vs = if client == "ours" {
                    num(
                        ratio(
                            wall,
                            r.med(&format!("grant/{store}/{config}/reqwest"), "wall_ms"),
                        ),
                        2,
                    )
                } else {
                    String::new()
                };
                let _ = writeln!(
                    md,
                    "| {store} | {label} | {client} | {} | {} | {} | {}/{projects} | {vs} |",
                    num(wall, 0),
                    num(wall.map(|w| n / (w / 1e3)), 0),
                    num(wall.zip(requests).map(|(w, q)| q / (w / 1e3)), 0),
                    num(verified, 0),
                );
            }
        }
    }
    md.push('\n');
}

fn servers(md: &mut String, r: &Results, s: &Settings) {
    let _ = writeln!(
        md,
        "## 4. Servers: emulator, Prism, ceiling\n\n\
         Requests per second, closed loop: `load-gen` (this crate; hyper, one thread, 32 \
         connections, {} s after 1 s of warm-up) against the same list request \
         (`GET .../permissions?limit=100`, a 100-permission page) and against create (`POST`, \
         one new project per request). Servers: the emulator binary in memory and on SQLite \
         (release build, logs off; 1,000 permissions seeded), the pre-serialized page server \
         on as many threads as the emulator (the ceiling: no server answers this request \
         faster), and `prism mock openapi/permissions.yaml` (Prism answers the list with its \
         one-item example, 170 bytes against the emulator's 14 KB, and logs each request). \
         The load generator shares the 2 cores with the server, as wrk would.\n\n\
         | request | server | req/s | p50 ms | p99 ms | errors | / Prism | / ceiling |\n\
         |---|---|---:|---:|---:|---:|---:|---:|",
        s.load_seconds
    );
    for op in ["list", "create"] {
        let prism = r.med(&format!("server/{op}/prism"), "rps");
        let ceiling = r.med("server/list/ceiling", "rps");
        for (name, label) in [
            ("ceiling", "page server (ceiling)"),
            ("memory", "emulator, in memory"),
            ("sqlite", "emulator, SQLite"),
            ("prism", "Prism"),
        ] {
            let key = format!("server/{op}/{name}");
            if !r.samples.contains_key(&key) {
                continue;
            }
            let rps = r.med(&key, "rps");
            let _ = writeln!(
                md,
                "| {op} | {label} | {} | {} | {} | {} | {} | {} |",
                num(rps, 0),
                num(r.med(&key, "p50_ms"), 2),
                num(r.med(&key, "p99_ms"), 2),
                num(r.med(&key, "errors"), 0),
                if name == "prism" {
                    String::new()
                } else {
                    num(ratio(rps, prism), 1)
                },
                if op == "list" && name != "ceiling" {
                    num(ratio(rps, ceiling), 2)
                } else {
                    String::new()
                },
            );
        }
    }
    let _ = writeln!(
        md,
        "\nGoals: {}; {}.\n\n\
         ### Latency at half the measured rate\n\n\
         `load-gen --rate R`: an open loop at a constant rate R (half the median closed-loop \
         req/s above), 32 connections, {} s. wrk2 (constant rate) is not available and wrk \
         only measures a closed loop, whose latencies hide a stalled server; here request k \
         is due at start + k/R, and a request sent late because every connection was \
         waiting for the server counts its latency from when it was due (no coordinated \
         omission). A connection that slept until its request was due counts from its \
         wake-up (the timer's 1 ms granularity is the load generator's, not the server's).\n\n\
         | request | store | target req/s | achieved req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|",
        goal_cell(
            ratio(
                r.med("server/list/memory", "rps"),
                r.med("server/list/prism", "rps")
            ),
            "emulator list at least 20x Prism",
            |v| v >= 20.0
        ),
        goal_cell(
            ratio(
                r.med("server/list/memory", "rps"),
                r.med("server/list/ceiling", "rps")
            ),
            "at least half the ceiling",
            |v| v >= 0.5
        ),
        s.load_seconds * 2.0,
    );
    for op in ["list", "create"] {
        for store in ["memory", "sqlite"] {
            let key = format!("paced/{op}/{store}");
            if !r.samples.contains_key(&key) {
                continue;
            }
            let _ = writeln!(
                md,
                "| {op} | {store} | {} | {} | {} | {} | {} | {} | {} |",
                num(r.med(&key, "target_rps"), 0),
                num(r.med(&key, "rps"), 0),
                num(r.med(&key, "p50_ms"), 2),
                num(r.med(&key, "p90_ms"), 2),
                num(r.med(&key, "p99_ms"), 2),
                num(r.med(&key, "p999_ms"), 2),
                num(r.med(&key, "max_ms"), 2),
            );
        }
    }
    md.push('\n');
}

fn build(md: &mut String, r: &Results) {
    let _ = writeln!(md, "## 5. Build cost\n");
    if !r.samples.contains_key("build/ours") {
        let _ = writeln!(md, "Not measured in this run (see below).\n");
        return;
    }
    let ours = r.med("build/ours", "seconds");
    let theirs = r.med("build/async-openai", "seconds");
    let _ = writeln!(
        md,
        "Two throwaway binary crates under `target/bench-build/`, each its own workspace, \
         built once each with `cargo build --locked` (the dev profile, what a developer waits \
         for), a fresh `CARGO_TARGET_DIR`, dependencies fetched beforehand (only compiling \
         is timed), on all cores: one depends on `permissions-api` by path (default \
         features: rustls; the workspace's `Cargo.lock`), the other on `async-openai` {} \
         with `default-features = false, features = [\"finetuning\", \"rustls\"]`. Then the \
         rebuild of the first after appending one character to a description in the spec of \
         a copy of the workspace (the build script regenerates the client; the real \
         `openapi/permissions.yaml` is never touched), and a no-op rebuild for reference. One \
         build each: these take minutes, and the machine was shared, so read the ratio \
         rather than the seconds.\n\n\
         | build | seconds | rlibs built | / async-openai |\n|---|---:|---:|---:|\n\
         | clean, `permissions-api` | {} | {} | {} |\n\
         | clean, `async-openai` (finetuning, rustls) | {} | {} | 1.00 |\n\
         | rebuild after a spec edit (`permissions-api` + the binary) | {} | | |\n\
         | no-op rebuild | {} | | |\n",
        r.facts.get("async_openai").cloned().unwrap_or_default(),
        num(ours, 1),
        num(r.med("build/ours", "rlibs"), 0),
        num(ratio(ours, theirs), 2),
        num(theirs, 1),
        num(r.med("build/async-openai", "rlibs"), 0),
        num(r.med("build/rebuild", "seconds"), 1),
        num(r.med("build/noop", "seconds"), 1),
    );
}

/// Whether a sample of the throttled job did all of it.
fn job_completed(value: &Value) -> bool {
    let count = |f: &str| value.get(f).and_then(Value::as_u64).unwrap_or(0) as usize;
    value.get("completed").and_then(Value::as_bool) == Some(true)
        && count("listed") == throttle::LISTED
        && count("granted") == throttle::GRANTS
        && count("revoked") == throttle::REVOKES
}

fn throttled(md: &mut String, r: &Results) {
    let rounds = r.facts.get("throttle_rounds").cloned().unwrap_or_default();
    let _ = writeln!(
        md,
        "## 6. The admin job against the throttle\n\n\
         The real admin endpoints allow about 8 requests per endpoint a minute and answer \
         429 without `Retry-After` or `x-ratelimit-*` headers. Here the emulator does the \
         same, time-compressed: `--rate-limit {}/{}s`, no headers, a fresh emulator per run \
         (its `--counters-out` file gives the requests and the 429s). The job: list {} \
         permissions (pages of 100), grant {} new projects (batches of 100), revoke the \
         first {} listed, in that order, stopping at the first error. It needs {} \
         requests; the throttle allows them in no less than **{:.1} s** (requests needed / \
         allowed rate): the minimum below. The CLI runs are three invocations (`list`, \
         `create` with ids on standard input, `delete -`), timed together. Medians of {rounds} \
         round(s); `completed` counts the runs that did the whole job.\n\n\
         | contender | completed | listed | granted | revoked | wall s | requests | 429s | 429 share | wall / minimum | goal |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        throttle::REQUESTS,
        throttle::WINDOW_S,
        throttle::LISTED,
        throttle::GRANTS,
        throttle::REVOKES,
        throttle::requests_needed(),
        throttle::minimum_ms() / 1e3,
    );
    let minimum = Some(throttle::minimum_ms());
    for contender in CONTENDERS {
        let key = format!("throttle/{contender}");
        let Some(samples) = r.samples.get(&key) else {
            continue;
        };
        let label = match contender {
            "ours-lib" => "our library, no configuration".to_owned(),
            "ours-lib-rpm" => format!("our library, `OPENAI_ADMIN_MAX_RPM={MAX_RPM}`"),
            "ours-cli" => "`ckpt-perms`, no configuration".to_owned(),
            "ours-cli-rpm" => format!("`ckpt-perms`, `OPENAI_ADMIN_MAX_RPM={MAX_RPM}`"),
            "python" => "official Python SDK, defaults".to_owned(),
            _ => "official Node SDK, defaults".to_owned(),
        };
        let whole = samples.iter().filter(|v| job_completed(v)).count();
        let wall = r.med(&key, "wall_ms");
        let over = ratio(wall, minimum);
        let share = ratio(r.med(&key, "throttled"), r.med(&key, "requests"));
        let goal = if contender.ends_with("-rpm") {
            let ok = whole == samples.len()
                && over.is_some_and(|v| v <= 1.15)
                && share.is_some_and(|v| v < 0.05);
            format!("all done, <= 1.15, < 5 % 429: {}", verdict(ok))
        } else if contender.starts_with("ours") {
            let ok = whole == samples.len() && over.is_some_and(|v| v <= 1.5);
            format!("all done, <= 1.5: {}", verdict(ok))
        } else {
            "as measured".to_owned()
        };
        let errors: Vec<&str> = samples
            .iter()
            .filter_map(|v| v.get("error").and_then(Value::as_str))
            .collect();
        let completed = match errors.first() {
            Some(error) if whole < samples.len() => {
                format!("{whole}/{} (`{}`)", samples.len(), clip(error))
            }
            _ => format!("{whole}/{}", samples.len()),
        };
        let _ = writeln!(
            md,
            "| {label} | {completed} | {} | {} | {} | {} | {} | {} | {} | {} | {goal} |",
            num(r.med(&key, "listed"), 0),
            num(r.med(&key, "granted"), 0),
            num(r.med(&key, "revoked"), 0),
            num(wall.map(|w| w / 1e3), 1),
            num(r.med(&key, "requests"), 0),
            num(r.med(&key, "throttled"), 0),
            num(share.map(|v| v * 100.0), 1) + " %",
            num(over, 2),
        );
    }
    md.push('\n');
}

/// At most 80 characters of an error message, without table separators.
fn clip(text: &str) -> String {
    let text = text.replace('|', "/");
    match text.char_indices().nth(80) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}

fn commands(md: &mut String, r: &Results) {
    let minutes = r
        .facts
        .get("duration_s")
        .and_then(|d| d.parse::<f64>().ok())
        .map_or_else(|| "?".into(), |d| format!("{:.0}", d / 60.0));
    let _ = writeln!(
        md,
        "## Commands\n\n\
         ```sh\n\
         cargo xtask bench            # everything, writes BENCHMARKS.md (this run: {minutes} min)\n\
         cargo xtask bench --quick    # smaller counts, 2 rounds, no build cost (a few minutes)\n\
         cargo xtask bench --skip-build-cost --skip-sdks --rounds 3 --out /tmp/b.md\n\
         ```\n\n\
         `cargo xtask bench` builds `permissions-bench`, `permissions-emulator` and \
         `permissions-cli` in release mode and runs `target/release/bench-suite`, which installs the pinned SDKs \
         (`crates/permissions-bench/sdk/requirements.txt` with `pip install --no-deps \
         --target target/bench/sdk/python`, `package.json` + `package-lock.json` with `npm ci \
         --prefix target/bench/sdk/node`), starts every server on 127.0.0.1 at ports it picks, \
         and stops every process it started. Needs `python3`, `node`/`npm` and `prism` \
         (`npm install -g @stoplight/prism-cli@5.16.0`) for those columns; without them the \
         rest runs and this file says what is missing. Not part of `cargo test`.\n\n\
         The single measurements, by hand (release builds in `target/release/`):\n\n\
         ```sh\n\
         page-server --listen 127.0.0.1:8090 --total 100000 [--workers 1]\n\
         permissions-emulator --listen 127.0.0.1:8089 --seed target/bench/seed-100000.json\n\
         client-bench --base-url http://127.0.0.1:8090/v1 --client ours|ours-pages|reqwest|hyper --task list [--max-items N]\n\
         client-bench --base-url URL --client ours|reqwest|hyper --task call --count 20000 --concurrency 32 --limit 1\n\
         client-bench --base-url URL --client ours|reqwest|hyper --task grant --projects 10000 --batch 100 --concurrency 4 --checkpoint ft:x\n\
         PYTHONPATH=target/bench/sdk/python python3 crates/permissions-bench/sdk/list.py http://127.0.0.1:8090/v1 CHECKPOINT\n\
         node target/bench/sdk/node/list.mjs http://127.0.0.1:8090/v1 CHECKPOINT\n\
         permissions-emulator --listen 127.0.0.1:8089 --seed target/bench/seed-3000.json --rate-limit 8/3s --counters-out /tmp/counters.json\n\
         [OPENAI_ADMIN_MAX_RPM=160] throttle-job --base-url http://127.0.0.1:8089/v1 --grants 2000 --revokes 30\n\
         PYTHONPATH=target/bench/sdk/python python3 crates/permissions-bench/sdk/throttle_job.py http://127.0.0.1:8089/v1 CHECKPOINT 2000 30\n\
         load-gen --url 'http://127.0.0.1:8089/v1/fine_tuning/checkpoints/CHECKPOINT/permissions?limit=100' [--method POST] [--rate R]\n\
         ```\n"
    );
}
