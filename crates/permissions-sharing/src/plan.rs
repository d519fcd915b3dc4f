//! The plan that takes the state of the named checkpoints ([`State`]) to the
//! file's.
//!
//! Planning is a pure function of (desired, current): [`plan`] never talks to the
//! API, so it is tested with property tests, and [`Plan::outcome`] says what the
//! state becomes once the plan is applied.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::resolve::Desired;
use crate::state::State;

/// Project ids per create request: the API's maximum.
pub const GRANT_BATCH: usize = 100;

/// One project to grant.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Grant {
    /// The project that gains access.
    pub project_id: String,
    /// Its name in the organization, when known.
    pub name: Option<String>,
}

/// One permission to revoke.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Revoke {
    /// The project that loses access.
    pub project_id: String,
    /// Its name in the organization, when known.
    pub name: Option<String>,
    /// The permission that grants it, deleted by id.
    pub permission_id: String,
}

/// The changes of one checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CheckpointPlan {
    /// The checkpoint.
    pub checkpoint: String,
    /// Projects to grant, sorted by id.
    pub grant: Vec<Grant>,
    /// Permissions to revoke (only when pruning), sorted.
    pub revoke: Vec<Revoke>,
    /// Projects that already have access and keep it.
    pub unchanged: usize,
    /// Projects that have access but are not in the file, kept because the plan
    /// does not prune.
    pub kept: usize,
}

impl CheckpointPlan {
    /// The requests applying this part needs: grants in batches, a revoke each.
    pub fn requests(&self) -> usize {
        self.grant.len().div_ceil(GRANT_BATCH) + self.revoke.len()
    }
}

/// What it takes to make the API's state match a sharing file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Whether projects missing from the file are revoked.
    pub prune: bool,
    /// One entry per checkpoint of the file, sorted.
    pub checkpoints: Vec<CheckpointPlan>,
}

/// The totals of a plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Projects to grant.
    pub grant: usize,
    /// Permissions to revoke.
    pub revoke: usize,
    /// Projects that keep their access.
    pub unchanged: usize,
    /// Requests that applying needs.
    pub requests: usize,
}

impl Plan {
    /// Whether nothing needs to change.
    pub fn is_empty(&self) -> bool {
        self.checkpoints
            .iter()
            .all(|c| c.grant.is_empty() && c.revoke.is_empty())
    }

    /// The totals over every checkpoint.
    pub fn totals(&self) -> Totals {
        self.checkpoints
            .iter()
            .fold(Totals::default(), |t, c| Totals {
                grant: t.grant + c.grant.len(),
                revoke: t.revoke + c.revoke.len(),
                unchanged: t.unchanged + c.unchanged,
                requests: t.requests + c.requests(),
            })
    }

    /// The state once this plan is applied to `current`.
    pub fn outcome(&self, current: &State) -> State {
        let mut state = current.clone();
        for part in &self.checkpoints {
            let projects = state.projects_mut(&part.checkpoint);
            for revoke in &part.revoke {
                if let Some(ids) = projects.get_mut(&revoke.project_id) {
                    ids.remove(&revoke.permission_id);
                    if ids.is_empty() {
                        projects.remove(&revoke.project_id);
                    }
                }
            }
            for grant in &part.grant {
                projects
                    .entry(grant.project_id.clone())
                    .or_default()
                    .insert(format!("cp_planned_{}", grant.project_id));
            }
        }
        state
    }
}

/// The plan that takes `current` to `desired`: for each checkpoint of the file,
/// grant the projects it lacks and, with `prune`, revoke every permission of a
/// project the file does not list. Checkpoints absent from the file are left alone.
pub fn plan(desired: &Desired, current: &State, prune: bool) -> Plan {
    let empty = BTreeMap::new();
    let name = |id: &str| desired.name_of(id).map(str::to_owned);
    let checkpoints = desired
        .checkpoints()
        .map(|(checkpoint, wanted)| {
            let held = current.projects(checkpoint.as_str()).unwrap_or(&empty);
            let grant = wanted
                .iter()
                .filter(|p| !held.contains_key(p.as_str()))
                .map(|p| Grant {
                    project_id: p.to_string(),
                    name: name(p.as_str()),
                })
                .collect();
            let not_wanted = |p: &&String| !wanted.contains(p.as_str());
            let revoke = if prune {
                held.iter()
                    .filter(|(p, _)| not_wanted(p))
                    .flat_map(|(p, ids)| {
                        ids.iter().map(|id| Revoke {
                            project_id: p.clone(),
                            name: name(p),
                            permission_id: id.clone(),
                        })
                    })
                    .collect()
            } else {
                Vec::new()
            };
            CheckpointPlan {
                checkpoint: checkpoint.to_string(),
                grant,
                revoke,
                unchanged: wanted
                    .iter()
                    .filter(|p| held.contains_key(p.as_str()))
                    .count(),
                kept: if prune {
                    0
                } else {
                    held.keys().filter(not_wanted).count()
                },
            }
        })
        .collect();
    Plan { prune, checkpoints }
}
