//! The two renderings of a [`Run`]: `BENCHMARKS.md`, from the run alone, and
//! `BENCHMARKS.json` (the run and each goal's verdict).
//!
//! The document's words are Markdown templates (`report/benchmarks.md`, and
//! `report/build-cost.md` for a run that measured it); this module computes what
//! fills their placeholders:
//!
//! - `{name}`: a value computed here (a table's rows, a setting);
//! - `{fact:NAME}`: a fact of the run (`?` when absent);
//! - `{med:KEY:FIELD:DIGITS}`: the median of `FIELD` over the samples of `KEY`;
//! - `{goal:ID}`: a goal's threshold; `{section:ID}`: its words in its section;
//!   `{goals:ID,ID...}`: those goals' verdicts, as the sections' goal lines say them.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::goals::{self, GOALS, Goal, Measure, mib, ratio, share_429};
use crate::job::{self, CONTENDERS, FAULTS, JOBS, MAX_RPM, Scope};
use crate::run::{Results, Run, Settings};

const DOCUMENT: &str = include_str!("report/benchmarks.md");
const BUILD_COST: &str = include_str!("report/build-cost.md");

/// The run as `BENCHMARKS.json`: [`Run`] with each goal's verdict beside the
/// samples (derived from them, for readers of the file; reading the file back as
/// a [`Run`] ignores them).
pub fn data(run: &Run) -> serde_json::Result<String> {
    let mut value = serde_json::to_value(run)?;
    if let Value::Object(map) = &mut value {
        map.insert(
            "goals".into(),
            serde_json::to_value(goals::evaluate(&run.results, &run.settings))?,
        );
    }
    serde_json::to_string_pretty(&value)
}

/// Renders the whole document.
pub fn render(run: &Run) -> String {
    let (r, s) = (&run.results, &run.settings);
    let load = |fact: &str| {
        let text = r.fact(fact);
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut values = BTreeMap::from([
        ("command", command(&run.args)),
        ("quick", quick_note(s.quick).into()),
        ("rounds", s.rounds.to_string()),
        ("load_before", load("load_before")),
        ("load_after", load("load_after")),
        (
            "python",
            r.fact("python").trim_start_matches("Python ").into(),
        ),
        ("summary", summary(r, s)),
        ("calls", s.calls.to_string()),
        ("overhead", overhead(r)),
        ("list_total", s.list_total.to_string()),
        ("list_requests", s.list_total.div_ceil(100).to_string()),
        ("list_page", listing(r, "page")),
        ("list_emulator", listing(r, "emulator")),
        ("scales", scales(r, s)),
        ("grant", grant(r)),
        ("load_seconds", s.load_seconds.to_string()),
        ("servers", servers(r)),
        ("paced_seconds", (s.load_seconds * 2.0).to_string()),
        ("paced", paced(r)),
        ("build_ratio", build_ratio(r)),
        ("rpm", MAX_RPM.into()),
        ("job_limit", job::rate_limit()),
        ("job_requests", job::REQUESTS.to_string()),
        ("job_window", job::WINDOW_S.to_string()),
        ("job_listed", job::LISTED.to_string()),
        ("job_grants", job::GRANTS.to_string()),
        ("job_revokes", job::REVOKES.to_string()),
        ("apply_held", job::APPLY_HELD.to_string()),
        (
            "apply_kept",
            (job::APPLY_HELD - job::APPLY_PRUNED).to_string(),
        ),
        ("apply_added", job::APPLY_ADDED.to_string()),
        ("apply_pruned", job::APPLY_PRUNED.to_string()),
        (
            "apply_pages",
            job::APPLY_HELD.div_ceil(job::PAGE).to_string(),
        ),
        (
            "apply_batches",
            job::APPLY_ADDED.div_ceil(job::PAGE).to_string(),
        ),
        ("loop_processes", job::LOOP_PROCESSES.to_string()),
        (
            "concurrent_processes",
            job::CONCURRENT_PROCESSES.to_string(),
        ),
        ("concurrent_grants", job::CONCURRENT_GRANTS.to_string()),
        ("fault_percent", (job::FAULT_SHARE * 100.0).to_string()),
        ("fault_share", job::FAULT_SHARE.to_string()),
        ("fault_retry_ms", job::FAULT_RETRY_AFTER_MS.to_string()),
        ("minima", minima()),
        ("throttle", throttled(r, s)),
        ("faults", faults(r, s)),
        ("missing", missing(r)),
        ("minutes", minutes(r)),
    ]);
    values.extend(rss_flat(r, s).map(|text| ("rss_flat", text)));
    let build = if r.samples.contains_key("build/ours") {
        fill(BUILD_COST, |name| lookup(r, s, &values, name))
    } else {
        "Not measured in this run (see below).\n".into()
    };
    values.insert("build", build);
    fill(DOCUMENT, |name| lookup(r, s, &values, name))
}

/// Replaces each `{placeholder}` of `template` with its value; one without a value
/// stays as written (the tests look for any that remain).
fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let filled = tail
            .find('}')
            .and_then(|end| Some((end, value(&tail[1..end])?)));
        if let Some((end, text)) = filled {
            out.push_str(&text);
            rest = &tail[end + 1..];
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out + rest
}

/// The value of one placeholder (see the module's documentation).
fn lookup(
    r: &Results,
    s: &Settings,
    values: &BTreeMap<&str, String>,
    name: &str,
) -> Option<String> {
    if let Some(value) = values.get(name) {
        return Some(value.clone());
    }
    let (kind, arg) = name.split_once(':')?;
    Some(match kind {
        "fact" => r.fact(arg),
        "med" => {
            let mut parts = arg.rsplitn(3, ':');
            let digits = parts.next()?.parse().ok()?;
            let field = parts.next()?;
            cell(r, parts.next()?, field, digits)
        }
        "goal" => goals::find(arg)?.threshold(),
        "section" => goals::find(arg)?.section.into(),
        "goals" => {
            let cells: Option<Vec<String>> = arg.split(',').map(|id| goal_cell(r, s, id)).collect();
            cells?.join("; ")
        }
        _ => return None,
    })
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

/// A goal's status in this run: met, missed, not measured, or retired.
fn status(goal: &Goal, r: &Results, s: &Settings) -> &'static str {
    match (goal.retired, goal.check(r, s).1) {
        (Some(_), _) => "retired",
        (None, met) => met.map_or("not measured", verdict),
    }
}

fn num(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "n/a".into(), |v| format!("{v:.digits$}"))
}

/// The median of `field` over the samples of `key`, to `digits` decimals.
fn cell(r: &Results, key: &str, field: &str, digits: usize) -> String {
    num(r.med(key, field), digits)
}

/// A table row: `| a | b |` and its newline.
fn row(cells: &[String]) -> String {
    format!("| {} |\n", cells.join(" | "))
}

/// `words: met` for goal `id` in this run, as the sections' goal lines say it.
fn goal_cell(r: &Results, s: &Settings, id: &str) -> Option<String> {
    let goal = goals::find(id)?;
    Some(format!("{}: {}", goal.section, status(goal, r, s)))
}

/// The command that made the run.
fn command(args: &[String]) -> String {
    let words: Vec<&str> = std::iter::once("cargo xtask bench")
        .chain(args.iter().map(String::as_str))
        .collect();
    words.join(" ")
}

fn quick_note(quick: bool) -> &'static str {
    if quick {
        " (**--quick**: smaller counts, fewer rounds; not the published figures)"
    } else {
        ""
    }
}

fn summary(r: &Results, s: &Settings) -> String {
    let rows = GOALS.iter().filter_map(|goal| {
        let label = goal.summary_label(s)?;
        let status = match goal.retired {
            Some(reason) => format!("retired: {reason}"),
            None => status(goal, r, s).into(),
        };
        Some(row(&[
            label,
            num(goal.measure.value(r, s), 2),
            goal.threshold(),
            status,
        ]))
    });
    rows.collect()
}

fn overhead(r: &Results) -> String {
    let mut rows = String::new();
    for (mode, label) in [("seq", "sequential"), ("c32", "concurrency 32")] {
        for (field, metric) in [
            ("us_per_request", "wall us/request"),
            ("cpu_us_per_request", "client CPU us/request"),
        ] {
            let v = |c: &str| r.med(&format!("overhead/{mode}/{c}"), field);
            let (ours, reqwest, hyper) = (v("ours"), v("reqwest"), v("hyper"));
            rows += &row(&[
                label.into(),
                metric.into(),
                num(ours, 1),
                num(reqwest, 1),
                num(hyper, 1),
                num(ratio(ours, reqwest), 2),
                num(ratio(ours, hyper), 2),
            ]);
        }
    }
    rows
}

/// The table of listing everything from `server` (`page` or `emulator`).
fn listing(r: &Results, server: &str) -> String {
    let key = |client: &str| format!("list/{server}/{client}");
    let wall = |client: &str| r.med(&key(client), "wall_ms");
    let clients = [
        ("ours", "ours, `list`"),
        ("ours-pages", "ours, `list_pages`"),
        ("reqwest", "reqwest + serde (ideal)"),
        ("hyper", "raw hyper"),
        ("python", "Python SDK"),
        ("node", "Node SDK"),
    ];
    let rows = clients
        .iter()
        .filter(|(c, _)| r.samples.contains_key(&key(c)));
    rows.map(|&(client, label)| {
        let range = r.range(&key(client), "wall_ms");
        let range = range.map_or_else(String::new, |(a, b)| format!(" ({a:.0}-{b:.0})"));
        row(&[
            label.into(),
            num(wall(client), 0) + &range,
            cell(r, &key(client), "process_ms", 0),
            cell(r, &key(client), "cpu_us_per_request", 1),
            num(mib(r.med(&key(client), "peak_rss_kib")), 1),
            num(ratio(wall(client), wall("reqwest")), 2),
            num(ratio(wall(client), wall("ours")), 2),
        ])
    })
    .collect()
}

/// Peak memory as the count grows.
fn scales(r: &Results, s: &Settings) -> String {
    let rows = goals::list_counts(r, s).into_iter().map(|(count, prefix)| {
        let med = |c: &str, field: &str| r.med(&format!("{prefix}/{c}"), field);
        row(&[
            count.to_string(),
            num(med("ours", "wall_ms"), 0),
            num(mib(med("ours", "peak_rss_kib")), 2),
            num(med("reqwest", "wall_ms"), 0),
            num(mib(med("reqwest", "peak_rss_kib")), 2),
            num(ratio(med("ours", "wall_ms"), med("reqwest", "wall_ms")), 2),
        ])
    });
    rows.collect()
}

/// The verdict of the flat-memory goal (`None`: no such goal, which leaves its
/// placeholder in the text for the tests to find).
fn rss_flat(r: &Results, s: &Settings) -> Option<String> {
    let flat = goals::find("rss-flat")?;
    Some(match flat.check(r, s) {
        (Some(spread), Some(met)) => format!(
            "largest minus smallest {spread:.2} MiB ({}, taking flat as within {} MiB)",
            verdict(met),
            flat.target
        ),
        _ => "not measured".into(),
    })
}

fn grant(r: &Results) -> String {
    let projects = r.fact("projects");
    let n: f64 = projects.parse().unwrap_or(0.0);
    let mut rows = String::new();
    for store in ["memory", "sqlite"] {
        for (config, label) in [
            ("b100c4", "100 per request, 4 in flight"),
            ("b1c32", "1 per request, 32 in flight"),
        ] {
            let wall = |client: &str| r.med(&format!("grant/{store}/{config}/{client}"), "wall_ms");
            for client in ["ours", "reqwest"] {
                let key = format!("grant/{store}/{config}/{client}");
                if !r.samples.contains_key(&key) {
                    continue;
                }
                let requests = r.med(&key, "requests");
                let vs = if client == "ours" {
                    num(ratio(wall("ours"), wall("reqwest")), 2)
                } else {
                    String::new()
                };
                rows += &row(&[
                    store.into(),
                    label.into(),
                    client.into(),
                    num(wall(client), 0),
                    num(wall(client).map(|w| n / (w / 1e3)), 0),
                    num(wall(client).zip(requests).map(|(w, q)| q / (w / 1e3)), 0),
                    format!("{}/{projects}", cell(r, &key, "verified", 0)),
                    vs,
                ]);
            }
        }
    }
    rows
}

fn servers(r: &Results) -> String {
    let mut rows = String::new();
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
            let vs_prism = (name != "prism").then(|| num(ratio(rps, prism), 1));
            let vs_ceiling =
                (op == "list" && name != "ceiling").then(|| num(ratio(rps, ceiling), 2));
            rows += &row(&[
                op.into(),
                label.into(),
                num(rps, 0),
                cell(r, &key, "p50_ms", 2),
                cell(r, &key, "p99_ms", 2),
                cell(r, &key, "errors", 0),
                vs_prism.unwrap_or_default(),
                vs_ceiling.unwrap_or_default(),
            ]);
        }
    }
    rows
}

fn paced(r: &Results) -> String {
    let mut rows = String::new();
    for op in ["list", "create"] {
        for store in ["memory", "sqlite"] {
            let key = format!("paced/{op}/{store}");
            if !r.samples.contains_key(&key) {
                continue;
            }
            let mut cells = vec![op.to_owned(), store.to_owned()];
            cells.push(cell(r, &key, "target_rps", 0));
            cells.push(cell(r, &key, "rps", 0));
            for field in ["p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"] {
                cells.push(cell(r, &key, field, 2));
            }
            rows += &row(&cells);
        }
    }
    rows
}

fn build_ratio(r: &Results) -> String {
    let seconds = |key: &str| r.med(key, "seconds");
    num(
        ratio(seconds("build/ours"), seconds("build/async-openai")),
        2,
    )
}

/// Each job's requests and the least wall time the throttle allows it, per scope.
fn minima() -> String {
    let rows = JOBS.iter().map(|job| {
        let steps: Vec<String> = job
            .steps
            .iter()
            .map(|(route, n)| format!("{n} {}", route.name()))
            .collect();
        let mut cells = vec![
            job.title.to_owned(),
            format!("{} ({})", job.requests(), steps.join(", ")),
        ];
        cells.extend(Scope::ALL.map(|scope| format!("{:.1}", job.minimum_ms(scope) / 1e3)));
        row(&cells)
    });
    rows.collect()
}

/// The table of every contender of the throttled emulator, in both scopes.
fn throttled(r: &Results, s: &Settings) -> String {
    let mut rows = String::new();
    for contender in &CONTENDERS {
        let job = contender.job();
        for scope in Scope::ALL {
            let key = job::key(scope, contender.id);
            let Some(samples) = r.samples.get(&key) else {
                continue;
            };
            let whole = samples.iter().filter(|v| job.completed(v)).count();
            let wall = r.med(&key, "wall_ms");
            let minimum = job.minimum_ms(scope);
            let goal = if contender.ours() {
                let own: Vec<&Goal> = goals::of_contender(scope, contender.id).collect();
                let ok =
                    whole == samples.len() && own.iter().all(|g| g.check(r, s).1 == Some(true));
                let limits: String = own
                    .iter()
                    .map(|g| format!(", {}", threshold_words(g)))
                    .collect();
                format!("all done{limits}: {}", verdict(ok))
            } else {
                "as measured".to_owned()
            };
            let mut cells = vec![
                job.title.to_owned(),
                contender.label(),
                scope.name().to_owned(),
                completed(samples, whole),
                done(r, &key),
                num(wall.map(|w| w / 1e3), 1),
            ];
            cells.extend(counts(r, &key));
            cells.extend([
                format!("{:.1}", minimum / 1e3),
                num(ratio(wall, Some(minimum)), 2),
                goal,
            ]);
            rows += &row(&cells);
        }
    }
    rows
}

/// The random-429 job beside the same job without faults, and the least a client
/// that honours every `retry-after-ms` could take: the wall without faults plus
/// that delay for each injected 429.
fn faults(r: &Results, s: &Settings) -> String {
    let (clean, _) = FAULTS[0];
    let clean_wall = r.med(clean, "wall_ms");
    let goals: Vec<&Goal> = ["faults", "faults-floor"]
        .into_iter()
        .filter_map(goals::find)
        .collect();
    let mut rows = String::new();
    for (key, label) in FAULTS {
        let Some(samples) = r.samples.get(key) else {
            continue;
        };
        let whole = samples
            .iter()
            .filter(|v| job::THROTTLED.completed(v))
            .count();
        let wall = r.med(key, "wall_ms");
        let mut cells = vec![
            label.to_owned(),
            completed(samples, whole),
            done(r, key),
            num(wall, 0),
        ];
        cells.extend(counts(r, key));
        if key == clean {
            cells.extend(std::iter::repeat_n(String::new(), 4));
        } else {
            let floor = goals::faults_floor(r);
            let verdicts: Vec<String> = goals
                .iter()
                .map(|goal| {
                    let state = match status(goal, r, s) {
                        "met" if whole < samples.len() => verdict(false),
                        state => state,
                    };
                    format!("{}: {state}", goal.section)
                })
                .collect();
            cells.extend([
                num(ratio(wall, clean_wall), 2),
                num(floor, 0),
                num(ratio(wall, floor), 2),
                verdicts.join("; "),
            ]);
        }
        rows += &row(&cells);
    }
    rows
}

/// `whole/runs`, with the first error when a run failed.
fn completed(samples: &[Value], whole: usize) -> String {
    let error = samples.iter().find_map(|v| v.get("error")?.as_str());
    match error {
        Some(error) if whole < samples.len() => {
            format!("{whole}/{} (`{}`)", samples.len(), clip(error))
        }
        _ => format!("{whole}/{}", samples.len()),
    }
}

/// `listed / granted / revoked`, the medians of the samples of `key`.
fn done(r: &Results, key: &str) -> String {
    let counts: Vec<String> = ["listed", "granted", "revoked"]
        .iter()
        .map(|field| cell(r, key, field, 0))
        .collect();
    counts.join(" / ")
}

/// Requests, 429s and the share of 429s of the samples of `key`.
fn counts(r: &Results, key: &str) -> [String; 3] {
    [
        cell(r, key, "requests", 0),
        cell(r, key, "throttled", 0),
        num(share_429(r, key).map(|v| v * 100.0), 1) + " %",
    ]
}

/// A goal's threshold in the throttled jobs' table: `<= 1.2`, `< 10 % 429`.
fn threshold_words(goal: &Goal) -> String {
    match goal.measure {
        Measure::Share429(..) => format!("{} {} % 429", goal.op.symbol(), goal.target * 100.0),
        _ => goal.threshold(),
    }
}

/// At most 80 characters of an error message, without table separators.
fn clip(text: &str) -> String {
    let text = text.replace('|', "/");
    match text.char_indices().nth(80) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}

/// The section listing what the run could not measure, if anything.
fn missing(r: &Results) -> String {
    if r.missing.is_empty() {
        return String::new();
    }
    let items: String = r
        .missing
        .iter()
        .map(|m| format!("- {}\n", m.replace('\n', " ")))
        .collect();
    format!("## Not measured in this run\n\n{items}\n")
}

fn minutes(r: &Results) -> String {
    let seconds = r.fact("duration_s").parse::<f64>();
    seconds.map_or_else(|_| "?".into(), |d| format!("{:.0}", d / 60.0))
}
