//! The jobs of section 6, against the admin API's throttle time-compressed: the
//! emulator at 8 requests per budget every 3 s (`--rate-limit 8/3s`, 429 without
//! headers, as the real API: `permissions-api`'s `pacing` module docs), with one budget per route or one
//! for the whole key (`--rate-limit-scope`). Each job is the requests it needs, in
//! order, so that the least time the throttle allows it is computed, not assumed.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

/// The emulator's limit: `REQUESTS` per `WINDOW_S` seconds, per budget.
pub const REQUESTS: u32 = 8;
/// The window of the limit, in seconds.
pub const WINDOW_S: f64 = 3.0;
/// Permissions per page listed, and projects per grant request.
pub const PAGE: usize = 100;
/// Permissions the throttled job lists, in pages of 100.
pub const LISTED: usize = 3_000;
/// Projects it grants, in batches of 100.
pub const GRANTS: usize = 2_000;
/// Permissions it revokes, one request each.
pub const REVOKES: usize = 30;
/// `OPENAI_ADMIN_MAX_RPM` of the configured runs: the emulator's own rate.
pub const MAX_RPM: &str = "160";
/// Permissions the checkpoint holds before `apply`: two pages.
pub const APPLY_HELD: usize = 160;
/// Of those, the ones the sharing file leaves out, which `--prune` revokes.
pub const APPLY_PRUNED: usize = 60;
/// New projects the sharing file adds: two batches.
pub const APPLY_ADDED: usize = 200;
/// `ckpt-perms delete` processes run one after another, one permission each.
pub const LOOP_PROCESSES: usize = 24;
/// `ckpt-perms create` processes started at once on one checkpoint and key.
pub const CONCURRENT_PROCESSES: usize = 3;
/// Projects each of them grants, in batches of 100.
pub const CONCURRENT_GRANTS: usize = 800;
/// The random-429 job: the share of requests the emulator answers 429...
pub const FAULT_SHARE: f64 = 0.1;
/// ...with this `retry-after-ms`.
pub const FAULT_RETRY_AFTER_MS: u64 = 3;

/// Which requests of a key share one budget: the emulator's `--rate-limit-scope`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Scope {
    /// One budget per method and path template.
    Route,
    /// One budget for every admin route of the key.
    Key,
}

impl Scope {
    /// Both, in the order of even rounds.
    pub const ALL: [Self; 2] = [Self::Route, Self::Key];

    /// The value of `--rate-limit-scope`, as the sample keys and the report say it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Route => "route",
            Self::Key => "key",
        }
    }
}

/// An admin route, as the emulator's throttle tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /organization/projects`.
    Projects,
    /// `GET .../permissions`.
    List,
    /// `POST .../permissions`.
    Grant,
    /// `DELETE .../permissions/{id}`.
    Revoke,
}

impl Route {
    /// Its name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Projects => "projects",
            Self::List => "list",
            Self::Grant => "grant",
            Self::Revoke => "revoke",
        }
    }
}

/// A job: the requests it needs, in the order it sends them, and what a run that
/// did all of it counts.
#[derive(Debug, PartialEq, Eq)]
pub struct Job {
    /// Its name in the report.
    pub title: &'static str,
    /// Runs of requests to one route, in order: `(route, requests)`.
    pub steps: &'static [(Route, usize)],
    /// Permissions the emulator is seeded with (the first of the benchmark's).
    pub seeded: usize,
    /// Permissions a whole run lists.
    pub listed: usize,
    /// Projects it grants.
    pub granted: usize,
    /// Permissions it revokes.
    pub revoked: usize,
}

/// List, grant, revoke: the throttled job.
pub const THROTTLED: Job = Job {
    title: "Throttled job",
    steps: &[
        (Route::List, LISTED.div_ceil(PAGE)),
        (Route::Grant, GRANTS.div_ceil(PAGE)),
        (Route::Revoke, REVOKES),
    ],
    seeded: LISTED,
    listed: LISTED,
    granted: GRANTS,
    revoked: REVOKES,
};

/// `ckpt-perms apply --prune`: the organization's projects (one empty page), the
/// checkpoint's permissions, then the grants and the revokes.
pub const APPLY: Job = Job {
    title: "apply --prune",
    steps: &[
        (Route::Projects, 1),
        (Route::List, APPLY_HELD.div_ceil(PAGE)),
        (Route::Grant, APPLY_ADDED.div_ceil(PAGE)),
        (Route::Revoke, APPLY_PRUNED),
    ],
    seeded: APPLY_HELD,
    listed: APPLY_HELD,
    granted: APPLY_ADDED,
    revoked: APPLY_PRUNED,
};

/// One `delete` process per permission, one after another.
pub const DELETE_LOOP: Job = Job {
    title: "Delete loop",
    steps: &[(Route::Revoke, LOOP_PROCESSES)],
    seeded: LOOP_PROCESSES,
    listed: 0,
    granted: 0,
    revoked: LOOP_PROCESSES,
};

/// `create` processes at once.
pub const CONCURRENT: Job = Job {
    title: "Concurrent create",
    steps: &[(
        Route::Grant,
        CONCURRENT_PROCESSES * CONCURRENT_GRANTS.div_ceil(PAGE),
    )],
    seeded: 0,
    listed: 0,
    granted: CONCURRENT_PROCESSES * CONCURRENT_GRANTS,
    revoked: 0,
};

/// Every job, in the order of the report.
pub const JOBS: [&Job; 4] = [&THROTTLED, &APPLY, &DELETE_LOOP, &CONCURRENT];

impl Job {
    /// The requests it needs.
    pub fn requests(&self) -> usize {
        self.steps.iter().map(|&(_, n)| n).sum()
    }

    /// The least wall time, in ms, that the emulator's windows allow any client
    /// doing this job in `scope`: each budget serves `REQUESTS` requests as soon as
    /// they come, then none until its window (opened by the first of them) is
    /// `WINDOW_S` old; the requests go in the job's order and take no time.
    pub fn minimum_ms(&self, scope: Scope) -> f64 {
        // Each budget's window: when it opened and how many it served.
        let mut windows: HashMap<Option<Route>, (f64, u32)> = HashMap::new();
        let mut now = 0.0;
        for &(route, requests) in self.steps {
            let budget = (scope == Scope::Route).then_some(route);
            for _ in 0..requests {
                let (opened, served) = windows.entry(budget).or_insert((now, 0));
                if now >= *opened + WINDOW_S {
                    (*opened, *served) = (now, 0);
                }
                if *served == REQUESTS {
                    now = *opened + WINDOW_S;
                    (*opened, *served) = (now, 0);
                }
                *served += 1;
            }
        }
        now * 1e3
    }

    /// Whether a sample of this job did all of it.
    pub fn completed(&self, value: &Value) -> bool {
        let count = |f: &str| value.get(f).and_then(Value::as_u64).unwrap_or(0) as usize;
        value.get("completed").and_then(Value::as_bool) == Some(true)
            && count("listed") == self.listed
            && count("granted") == self.granted
            && count("revoked") == self.revoked
    }
}

/// How a contender runs its job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runner {
    /// `throttle-job`: our library.
    Library,
    /// `ckpt-perms list`, `create`, `delete -`.
    Cli,
    /// `ckpt-perms apply FILE --prune --yes`.
    Apply,
    /// `ckpt-perms delete CHECKPOINT ID`, one process per permission.
    DeleteLoop,
    /// `ckpt-perms create CHECKPOINT` processes at once.
    ConcurrentCreate,
    /// The official Python SDK's script.
    Python,
    /// The official Node SDK's script.
    Node,
}

/// A contender of the throttled emulator.
#[derive(Clone, Copy, Debug)]
pub struct Contender {
    /// Its name in the sample keys.
    pub id: &'static str,
    /// Its name in the report (`{rpm}`: the configured rate).
    pub label: &'static str,
    /// How it runs.
    pub runner: Runner,
    /// Whether it sets `OPENAI_ADMIN_MAX_RPM` (the others learn the limit).
    pub configured: bool,
}

impl Contender {
    /// The job it does.
    pub fn job(&self) -> &'static Job {
        match self.runner {
            Runner::Library | Runner::Cli | Runner::Python | Runner::Node => &THROTTLED,
            Runner::Apply => &APPLY,
            Runner::DeleteLoop => &DELETE_LOOP,
            Runner::ConcurrentCreate => &CONCURRENT,
        }
    }

    /// Whether it is ours (the official SDKs are measured, not judged).
    pub fn ours(&self) -> bool {
        !matches!(self.runner, Runner::Python | Runner::Node)
    }

    /// Its label, with the configured rate.
    pub fn label(&self) -> String {
        self.label.replace("{rpm}", MAX_RPM)
    }
}

const fn contender(
    id: &'static str,
    label: &'static str,
    runner: Runner,
    configured: bool,
) -> Contender {
    Contender {
        id,
        label,
        runner,
        configured,
    }
}

/// The contenders, in the order of even rounds; each runs in both scopes.
#[rustfmt::skip]
pub const CONTENDERS: [Contender; 10] = [
    contender("ours-lib", "our library, no configuration", Runner::Library, false),
    contender("ours-lib-rpm", "our library, `OPENAI_ADMIN_MAX_RPM={rpm}`", Runner::Library, true),
    contender("ours-cli", "`ckpt-perms`, no configuration", Runner::Cli, false),
    contender("ours-cli-rpm", "`ckpt-perms`, `OPENAI_ADMIN_MAX_RPM={rpm}`", Runner::Cli, true),
    contender("python", "official Python SDK, defaults", Runner::Python, false),
    contender("node", "official Node SDK, defaults", Runner::Node, false),
    contender("apply", "`ckpt-perms apply`, no configuration", Runner::Apply, false),
    contender("apply-rpm", "`ckpt-perms apply`, `OPENAI_ADMIN_MAX_RPM={rpm}`", Runner::Apply, true),
    contender("delete-loop", "`ckpt-perms delete` in a loop, no configuration", Runner::DeleteLoop, false),
    contender("concurrent", "`ckpt-perms create` at once, no configuration", Runner::ConcurrentCreate, false),
];

/// The contender named `id`.
pub fn find(id: &str) -> Option<&'static Contender> {
    CONTENDERS.iter().find(|c| c.id == id)
}

/// The samples' key of contender `id` in `scope`.
pub fn key(scope: Scope, id: &str) -> String {
    format!("throttle/{}/{id}", scope.name())
}

/// The samples' keys of the random-429 job: without faults, and with them.
pub const FAULTS: [(&str, &str); 2] = [("faults/none", "no faults"), ("faults/429", "random 429s")];

/// The emulator's `--rate-limit` value for this limit: `8/3s`.
pub fn rate_limit() -> String {
    format!("{REQUESTS}/{WINDOW_S}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_budget_for_the_key_fills_a_window_every_eight_requests() {
        // 80 requests: 10 windows, the last opening 9 windows after the first.
        assert_eq!(THROTTLED.requests(), 80);
        assert_eq!(THROTTLED.minimum_ms(Scope::Key), 27_000.0);
        // 65 requests: 9 windows.
        assert_eq!(APPLY.requests(), 65);
        assert_eq!(APPLY.minimum_ms(Scope::Key), 24_000.0);
        let eight = Job {
            steps: &[(Route::List, 4), (Route::Revoke, 4)],
            ..DELETE_LOOP
        };
        assert_eq!(eight.minimum_ms(Scope::Key), 0.0);
        let nine = Job {
            steps: &[(Route::List, 4), (Route::Revoke, 5)],
            ..DELETE_LOOP
        };
        assert_eq!(nine.minimum_ms(Scope::Key), 3_000.0);
    }

    #[test]
    fn one_budget_per_route_gives_each_run_of_requests_its_own_windows() {
        // 30 list (3 waits), 20 grant (2), 30 revoke (3).
        assert_eq!(THROTTLED.minimum_ms(Scope::Route), 24_000.0);
        // Projects, 2 pages and 2 grants fit their first windows; 60 revokes wait 7.
        assert_eq!(APPLY.minimum_ms(Scope::Route), 21_000.0);
        for job in [&DELETE_LOOP, &CONCURRENT] {
            assert_eq!(job.minimum_ms(Scope::Route), 6_000.0, "{}", job.title);
            assert_eq!(job.minimum_ms(Scope::Key), 6_000.0, "{}", job.title);
        }
        // A route met again after its window closed starts a fresh one.
        let back = Job {
            steps: &[(Route::List, 8), (Route::Revoke, 16), (Route::List, 8)],
            ..DELETE_LOOP
        };
        assert_eq!(back.minimum_ms(Scope::Route), 3_000.0);
        assert_eq!(back.minimum_ms(Scope::Key), 9_000.0);
    }

    #[test]
    fn no_route_comes_back_within_a_job() {
        // The report says the runs of one route add up, which needs this.
        for job in JOBS {
            let routes: std::collections::HashSet<Route> =
                job.steps.iter().map(|&(r, _)| r).collect();
            assert_eq!(routes.len(), job.steps.len(), "{}", job.title);
        }
    }

    #[test]
    fn a_run_is_complete_when_it_says_so_and_counts_the_whole_job() {
        let whole =
            serde_json::json!({"completed": true, "listed": 160, "granted": 200, "revoked": 60});
        assert!(APPLY.completed(&whole));
        assert!(!THROTTLED.completed(&whole));
        let mut short = whole.clone();
        short["revoked"] = 59.into();
        assert!(!APPLY.completed(&short));
        let mut failed = whole;
        failed["completed"] = false.into();
        assert!(!APPLY.completed(&failed));
    }

    #[test]
    fn contenders_are_unique_and_each_knows_its_job() {
        let ids: std::collections::HashSet<&str> = CONTENDERS.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), CONTENDERS.len());
        assert_eq!(find("apply-rpm").map(Contender::job), Some(&APPLY));
        assert_eq!(
            find("apply-rpm").map(Contender::label).as_deref(),
            Some("`ckpt-perms apply`, `OPENAI_ADMIN_MAX_RPM=160`")
        );
        assert!(!find("node").is_some_and(Contender::ours));
        assert_eq!(key(Scope::Key, "ours-lib"), "throttle/key/ours-lib");
    }
}
