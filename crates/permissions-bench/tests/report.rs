//! `BENCHMARKS.md` is the rendering of `BENCHMARKS.json` and of nothing else, and
//! the goals are judged the same way everywhere.

use std::collections::HashSet;
use std::path::Path;

use permissions_bench::goals::{self, GOALS};
use permissions_bench::job::{self, Scope};
use permissions_bench::report::{data, render};
use permissions_bench::run::{Results, Run, Settings};
use serde_json::json;

fn workspace_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_committed_report_is_the_rendering_of_the_committed_data() {
    let run = serde_json::from_str::<Run>(&workspace_file("BENCHMARKS.json"))
        .expect("BENCHMARKS.json reads");
    assert!(
        render(&run) == workspace_file("BENCHMARKS.md"),
        "BENCHMARKS.md is not the rendering of BENCHMARKS.json: run \
         `cargo run -p permissions-bench --bin bench-suite -- --from BENCHMARKS.json`"
    );
    // The verdicts stored beside the samples are the ones the samples give.
    let stored: serde_json::Value =
        serde_json::from_str(&workspace_file("BENCHMARKS.json")).expect("JSON");
    let fresh = goals::evaluate(&run.results, &run.settings);
    let stored = stored["goals"].as_array().expect("goals");
    assert_eq!(stored.len(), fresh.len());
    for (stored, fresh) in stored.iter().zip(&fresh) {
        assert_eq!(stored["id"], fresh.id);
        assert_eq!(stored["goal"], fresh.goal.as_str());
        assert_eq!(stored["met"].as_bool(), fresh.met, "{}", fresh.id);
        // serde_json reads floats back to within an ulp or two.
        let close = match (stored["measured"].as_f64(), fresh.measured) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-12 * b.abs().max(1.0),
            (None, None) => true,
            _ => false,
        };
        assert!(
            close,
            "{}: {} vs {:?}",
            fresh.id, stored["measured"], fresh.measured
        );
    }
}

#[test]
fn a_run_survives_its_json() {
    let mut results = Results::default();
    results.add("overhead/seq/ours", json!({"us_per_request": 10.0}));
    results.facts.insert("git".into(), "abc1234".into());
    let run = Run {
        settings: Settings::new(true),
        args: vec!["--quick".into()],
        results,
    };
    assert_eq!(
        serde_json::from_str::<Run>(&data(&run).expect("JSON")).expect("reads"),
        run
    );
}

#[test]
fn goals_are_unique_and_an_empty_run_renders_as_not_measured() {
    let ids: HashSet<&str> = GOALS.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids.len(), GOALS.len(), "goal ids repeat");
    let empty = Run {
        settings: Settings::new(false),
        args: Vec::new(),
        results: Results::default(),
    };
    let text = render(&empty);
    // Every placeholder of the templates has a value (an unknown one, such as a
    // goal id that does not exist, stays as written), the build cost's too.
    assert!(!text.contains('{'), "{text}");
    let mut built = empty.clone();
    built.results.add("build/ours", json!({"seconds": 40.0}));
    let text_built = render(&built);
    assert!(text_built.contains("| clean, `permissions-api` | 40.0 |"));
    assert!(!text_built.contains('{'), "{text_built}");
    let rows = GOALS
        .iter()
        .filter(|g| g.summary.is_some() && g.retired.is_none())
        .count();
    assert_eq!(text.matches("| not measured |").count(), rows, "{text}");
    let retired = GOALS
        .iter()
        .filter(|g| g.summary.is_some() && g.retired.is_some())
        .count();
    assert_eq!(text.matches("| retired: ").count(), retired, "{text}");
    assert!(
        goals::evaluate(&empty.results, &empty.settings)
            .iter()
            .all(|v| v.measured.is_none() && v.met.is_none())
    );
}

#[test]
fn a_goal_is_met_or_missed_by_its_threshold() {
    let settings = Settings::new(false);
    let verdict = |ours: f64| {
        let mut results = Results::default();
        results.add("overhead/seq/ours", json!({"us_per_request": ours}));
        results.add("overhead/seq/reqwest", json!({"us_per_request": 100.0}));
        goals::find("overhead-wall")
            .expect("a goal")
            .check(&results, &settings)
    };
    assert_eq!(verdict(105.0), (Some(1.05), Some(true)));
    assert_eq!(verdict(106.0), (Some(1.06), Some(false)));
    let text = render(&Run {
        settings: settings.clone(),
        args: Vec::new(),
        results: {
            let mut results = Results::default();
            results.add("overhead/seq/ours", json!({"us_per_request": 200.0}));
            results.add("overhead/seq/reqwest", json!({"us_per_request": 100.0}));
            results
        },
    });
    assert!(
        text.contains("| 2.00 | <= 1.05 | **missed** |"),
        "the summary shows the miss:\n{text}"
    );
    assert!(text.contains("wall, sequential: **missed**"), "{text}");
}

#[test]
fn what_a_run_recorded_is_printed_as_it_is_never_read_as_a_placeholder() {
    let mut results = Results::default();
    // A contender's error message that looks like a placeholder of the templates.
    results.add(
        &job::key(Scope::Route, "python"),
        json!({"completed": false, "error": "RateLimitError {fact:git} {summary}"}),
    );
    results.facts.insert("git".into(), "abc1234".into());
    let text = render(&Run {
        settings: Settings::new(true),
        args: Vec::new(),
        results,
    });
    assert!(
        text.contains("`RateLimitError {fact:git} {summary}`"),
        "{text}"
    );
    assert!(text.contains("at commit abc1234."), "{text}");
}

/// A run of the throttled job that did all of it in `wall_ms`, sending `requests`
/// of which `throttled` were answered 429.
fn whole_job(wall_ms: f64, requests: u64, throttled: u64) -> serde_json::Value {
    json!({"completed": true, "listed": 3000, "granted": 2000, "revoked": 30,
           "wall_ms": wall_ms, "requests": requests, "throttled": throttled, "error": null})
}

fn rendered(results: Results) -> String {
    render(&Run {
        settings: Settings::new(false),
        args: Vec::new(),
        results,
    })
}

#[test]
fn each_scope_holds_a_run_against_its_own_minimum() {
    let mut results = Results::default();
    // Route: 28.8 s over 24 s is 1.20, at the goal; 9 429s of 90 is 10 %, not under it.
    results.add(
        &job::key(Scope::Route, "ours-lib"),
        whole_job(28_800.0, 90, 9),
    );
    // Key: 27 s is the minimum itself; 8 of 100 is under 10 %.
    results.add(
        &job::key(Scope::Key, "ours-lib"),
        whole_job(27_000.0, 100, 8),
    );
    let text = rendered(results);
    assert!(
        text.contains(
            "| Throttled job | our library, no configuration | route | 1/1 | 3000 / 2000 / 30 \
             | 28.8 | 90 | 9 | 10.0 % | 24.0 | 1.20 | all done, <= 1.2, < 10 % 429: **missed** |"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "| Throttled job | our library, no configuration | key | 1/1 | 3000 / 2000 / 30 \
             | 27.0 | 100 | 8 | 8.0 % | 27.0 | 1.00 | all done, <= 1.2, < 10 % 429: met |"
        ),
        "{text}"
    );
    for row in [
        "| Throttled job, one budget per route, our library, no configuration: wall / minimum | 1.20 | <= 1.2 | met |",
        "| Throttled job, one budget per route, our library, no configuration: share of requests answered 429 | 0.10 | < 0.1 | **missed** |",
        "| Throttled job, one budget per key, our library, no configuration: share of requests answered 429 | 0.08 | < 0.1 | met |",
        "| Throttle: share of our runs (every job, both scopes, and the random-429 runs) that did all of it | 1.00 | >= 1 | met |",
    ] {
        assert!(text.contains(row), "{row}\n{text}");
    }
}

#[test]
fn the_minima_are_the_jobs_requests_in_the_windows_of_each_scope() {
    let text = rendered(Results::default());
    for row in [
        "| Throttled job | 80 (30 list, 20 grant, 30 revoke) | 24.0 | 27.0 |",
        "| apply --prune | 65 (1 projects, 2 list, 2 grant, 60 revoke) | 21.0 | 24.0 |",
        "| Delete loop | 24 (24 revoke) | 6.0 | 6.0 |",
        "| Concurrent create | 24 (24 grant) | 6.0 | 6.0 |",
    ] {
        assert!(text.contains(row), "{row}\n{text}");
    }
}

#[test]
fn a_run_that_did_not_finish_misses_every_goal_of_its_contender() {
    let mut results = Results::default();
    let mut short = json!({"completed": false, "listed": 160, "granted": 200, "revoked": 12,
        "wall_ms": 30_000.0, "requests": 80, "throttled": 1, "error": "HTTP 429"});
    results.add(&job::key(Scope::Key, "apply"), short.clone());
    short["revoked"] = 60.into();
    short["completed"] = true.into();
    short["wall_ms"] = 21_000.0.into();
    results.add(&job::key(Scope::Route, "apply"), short);
    // The SDKs' runs are measured, not judged: their failures do not count.
    results.add(
        &job::key(Scope::Route, "node"),
        json!({"completed": false, "error": "RateLimitError"}),
    );
    let verdict = |id: &str| {
        goals::find(id)
            .expect(id)
            .check(&results, &Settings::new(false))
    };
    assert_eq!(verdict("throttle-whole"), (Some(0.5), Some(false)));
    assert_eq!(verdict("throttle-route-apply"), (Some(1.0), Some(true)));
    assert_eq!(verdict("throttle-key-apply").1, Some(false));
    let text = rendered(results);
    assert!(
        text.contains("| apply --prune | `ckpt-perms apply`, no configuration | key | 0/1 (`HTTP 429`) | 160 / 200 / 12 |"),
        "{text}"
    );
    assert!(
        text.contains("| 21.0 | 1.00 | all done, <= 1.2, < 10 % 429: met |"),
        "{text}"
    );
    assert!(
        text.contains("| official Node SDK, defaults | route | 0/1 (`RateLimitError`) |"),
        "{text}"
    );
}

#[test]
fn random_429s_are_held_against_the_same_job_without_faults() {
    let mut results = Results::default();
    results.add("faults/none", whole_job(100.0, 80, 0));
    let mut faulty = whole_job(160.0, 89, 9);
    faulty["injected"] = 9.into();
    results.add("faults/429", faulty);
    assert_eq!(
        goals::find("faults")
            .expect("a goal")
            .check(&results, &Settings::new(false)),
        (Some(1.6), None),
        "retired: measured, never judged"
    );
    assert_eq!(
        goals::find("faults-floor")
            .expect("a goal")
            .check(&results, &Settings::new(false)),
        (Some(160.0 / 127.0), Some(true))
    );
    let text = rendered(results);
    assert!(
        text.contains("| no faults | 1/1 | 3000 / 2000 / 30 | 100 | 80 | 0 | 0.0 % |  |  |  |  |"),
        "{text}"
    );
    assert!(
        text.contains(
            "| random 429s | 1/1 | 3000 / 2000 / 30 | 160 | 89 | 9 | 10.1 % | 1.60 | 127 | 1.26 \
             | random 429s within 1.5x of no faults: retired; \
             random 429s within 1.5x of the floor: met |"
        ),
        "{text}"
    );
    assert!(
        text.contains("| Random 429s (10 % of requests, `retry-after-ms: 3`), our library: wall / wall without faults | 1.60 | <= 1.5 | retired: "),
        "{text}"
    );
}
