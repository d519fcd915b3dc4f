//! The state of the named checkpoints, and the plan that takes it to the file's.
//!
//! Planning is a pure function of (desired, current): [`plan`] never talks to the
//! API, so it is tested with property tests, and [`Plan::outcome`] says what the
//! state becomes once the plan is applied.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use permissions_api::permissions_types::ProjectId;

use crate::file::{FileError, ProjectRef, SharingFile};
use crate::resolve::{Desired, Directory};

/// Project ids per create request: the API's maximum.
pub const GRANT_BATCH: usize = 100;

/// What the API holds for some checkpoints: for each, its projects and the
/// permission id(s) that grant each one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    checkpoints: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

impl State {
    /// A state without checkpoints.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `checkpoint` was read, even if it has no permission.
    pub fn add_checkpoint(&mut self, checkpoint: impl Into<String>) {
        self.checkpoints.entry(checkpoint.into()).or_default();
    }

    /// Records the permission `permission_id` of `project_id` on `checkpoint`.
    pub fn add(
        &mut self,
        checkpoint: impl Into<String>,
        project_id: impl Into<String>,
        permission_id: impl Into<String>,
    ) {
        self.checkpoints
            .entry(checkpoint.into())
            .or_default()
            .entry(project_id.into())
            .or_default()
            .insert(permission_id.into());
    }

    /// Adds everything `other` holds.
    pub fn merge(&mut self, other: State) {
        for (checkpoint, projects) in other.checkpoints {
            let mine = self.checkpoints.entry(checkpoint).or_default();
            for (project, ids) in projects {
                mine.entry(project).or_default().extend(ids);
            }
        }
    }

    /// The checkpoints read, sorted.
    pub fn checkpoints(&self) -> impl Iterator<Item = &str> {
        self.checkpoints.keys().map(String::as_str)
    }

    /// The projects of `checkpoint` with their permission ids.
    pub fn projects(&self, checkpoint: &str) -> Option<&BTreeMap<String, BTreeSet<String>>> {
        self.checkpoints.get(checkpoint)
    }

    /// The sharing this state amounts to, as a file (for `export`): projects by
    /// id, with their names from `names` when given (`{id, name}` entries).
    ///
    /// Fails on an id the API holds that is not of its type's shape: a file could
    /// not name it.
    pub fn to_file(&self, names: Option<&Directory>) -> Result<SharingFile, FileError> {
        let mut checkpoints = Vec::with_capacity(self.checkpoints.len());
        for (checkpoint, projects) in &self.checkpoints {
            let mut entries = Vec::with_capacity(projects.len());
            for project in projects.keys() {
                let id = ProjectId::parse(project.as_str())
                    .map_err(|e| FileError::at(&format!("checkpoints.{checkpoint}"), None, e))?;
                entries.push(match names.and_then(|n| n.name_of(project)) {
                    Some(name) => ProjectRef::IdAndName {
                        id,
                        name: name.to_owned(),
                    },
                    None => ProjectRef::Id(id),
                });
            }
            checkpoints.push((checkpoint, entries));
        }
        SharingFile::new(checkpoints)
    }
}

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
            let projects = state
                .checkpoints
                .entry(part.checkpoint.clone())
                .or_default();
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
