//! What the API holds for the checkpoints a run reads: for each, the projects
//! that have access and the permission ids that grant it.

use std::collections::{BTreeMap, BTreeSet};

use permissions_api::permissions_types::ProjectId;

use crate::file::{FileError, ProjectRef, SharingFile};
use crate::organization::Directory;

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

    /// The projects of `checkpoint`, to change (recorded as read if it was not).
    pub(crate) fn projects_mut(
        &mut self,
        checkpoint: &str,
    ) -> &mut BTreeMap<String, BTreeSet<String>> {
        self.checkpoints.entry(checkpoint.to_owned()).or_default()
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
