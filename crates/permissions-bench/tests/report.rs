//! `BENCHMARKS.md` is the rendering of `BENCHMARKS.json` and of nothing else, and
//! the goals are judged the same way everywhere.

use std::collections::HashSet;
use std::path::Path;

use permissions_bench::goals::{self, GOALS};
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
    let ids: HashSet<&str> = GOALS.iter().map(|g| g.id).collect();
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
    let rows = GOALS.iter().filter(|g| g.summary.is_some()).count();
    assert_eq!(text.matches("| not measured |").count(), rows, "{text}");
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
        "throttle/python",
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
