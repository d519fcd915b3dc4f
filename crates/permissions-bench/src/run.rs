//! One benchmark run as data: its settings, every sample, the facts of the machine
//! and what could not be measured. Saved as JSON next to `BENCHMARKS.md`, which is
//! rendered from it alone (by `report`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::median;

/// Every sample of the run, by measurement key, and what the report needs besides.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// The samples of each measurement (one JSON object per round).
    pub samples: BTreeMap<String, Vec<Value>>,
    /// Things measured once: versions, machine, counts.
    pub facts: BTreeMap<String, String>,
    /// Measurements that could not be taken, and why.
    pub missing: Vec<String>,
}

impl Results {
    /// Adds one sample of `key`.
    pub fn add(&mut self, key: &str, value: Value) {
        self.samples.entry(key.to_owned()).or_default().push(value);
    }

    fn values(&self, key: &str, field: &str) -> Vec<f64> {
        self.samples
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|v| v.get(field)?.as_f64())
            .collect()
    }

    /// The median of `field` over the samples of `key`.
    pub fn med(&self, key: &str, field: &str) -> Option<f64> {
        median(&self.values(key, field))
    }

    /// The smallest and largest `field` over the samples of `key`.
    pub fn range(&self, key: &str, field: &str) -> Option<(f64, f64)> {
        let values = self.values(key, field);
        let min = values.iter().copied().reduce(f64::min)?;
        let max = values.iter().copied().reduce(f64::max)?;
        Some((min, max))
    }

    /// A fact, or `?`.
    pub fn fact(&self, name: &str) -> String {
        self.facts.get(name).cloned().unwrap_or_else(|| "?".into())
    }
}

/// What the run measured, from its command line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

impl Settings {
    /// The settings of `bench-suite` with `--quick` or without, before the
    /// `--rounds` and `--skip-*` flags.
    pub fn new(quick: bool) -> Self {
        Self {
            quick,
            rounds: if quick { 2 } else { 5 },
            list_total: if quick { 20_000 } else { 100_000 },
            calls: if quick { 2_000 } else { 20_000 },
            projects: if quick { 2_000 } else { 10_000 },
            load_seconds: if quick { 2.0 } else { 5.0 },
            sdks: true,
            build_cost: !quick,
        }
    }
}

/// A whole run: what `BENCHMARKS.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// What was measured.
    pub settings: Settings,
    /// The flags given to `cargo xtask bench`, as the report quotes them.
    pub args: Vec<String>,
    /// The measurements.
    #[serde(flatten)]
    pub results: Results,
}
