//! The organization a seed describes: its projects, which list-projects serves and
//! grants are checked against, and its checkpoints with their owners. A leaf: it
//! uses no other module of the crate.
//!
//! A seed that lists projects describes the whole organization (it is *closed*):
//! only its projects exist, only its checkpoints exist. A seed that lists none
//! leaves it *open*: every project and every checkpoint exists, as before
//! organizations were modelled.

use std::collections::HashMap;

use permissions_types::{CheckpointId, Project, ProjectId};

/// Why the organization refuses to grant a checkpoint to a project.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal<'a> {
    /// The organization has no such project.
    UnknownProject(&'a ProjectId),
    /// The project is archived: it cannot be used or updated.
    ArchivedProject(&'a ProjectId),
    /// The project owns the checkpoint.
    Owner(&'a ProjectId),
}

/// The `after` of a list of projects names no project of the organization.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UnknownCursor;

/// The projects and checkpoint owners of an emulator.
#[derive(Debug, Default)]
pub(crate) struct Organization {
    /// The projects in listing order (`created_at`, ties in seed order); `None`
    /// when the organization is open.
    projects: Option<Vec<Project>>,
    /// Position of each project in `projects`.
    positions: HashMap<String, usize>,
    /// The owner of each checkpoint the seed lists.
    owners: HashMap<CheckpointId, ProjectId>,
}

impl Organization {
    /// An organization of `projects` (`None`: open) whose checkpoints are the keys
    /// of `owners`. The projects' ids must be distinct (the seed checks it); they
    /// are put in listing order here.
    pub(crate) fn new(
        projects: Option<Vec<Project>>,
        owners: HashMap<CheckpointId, ProjectId>,
    ) -> Self {
        let projects = projects.map(|mut projects| {
            // Stable: projects created in the same second keep their seed order.
            projects.sort_by_key(|p| p.created_at);
            projects
        });
        let positions = projects
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        Self {
            projects,
            positions,
            owners,
        }
    }

    /// Whether the seed listed the organization's projects.
    pub(crate) fn is_closed(&self) -> bool {
        self.projects.is_some()
    }

    /// Whether `checkpoint` exists: every checkpoint does in an open organization,
    /// only those the seed lists in a closed one.
    pub(crate) fn has_checkpoint(&self, checkpoint: &CheckpointId) -> bool {
        !self.is_closed() || self.owners.contains_key(checkpoint)
    }

    /// The project that owns `checkpoint`, when the seed named one.
    pub(crate) fn owner_of(&self, checkpoint: &CheckpointId) -> Option<&ProjectId> {
        self.owners.get(checkpoint)
    }

    fn project(&self, id: &str) -> Option<&Project> {
        let projects = self.projects.as_ref()?;
        self.positions.get(id).map(|&i| &projects[i])
    }

    /// Checks a grant of `checkpoint` to `project_ids`, in their order: the first
    /// project the organization does not have, that is archived, or that owns the
    /// checkpoint refuses the whole grant.
    pub(crate) fn check_grant<'a>(
        &self,
        checkpoint: &CheckpointId,
        project_ids: &'a [ProjectId],
    ) -> Result<(), Refusal<'a>> {
        let owner = self.owner_of(checkpoint);
        for id in project_ids {
            if self.is_closed() {
                match self.project(id.as_str()) {
                    None => return Err(Refusal::UnknownProject(id)),
                    Some(project) if project.is_archived() => {
                        return Err(Refusal::ArchivedProject(id));
                    }
                    Some(_) => {}
                }
            }
            if owner == Some(id) {
                return Err(Refusal::Owner(id));
            }
        }
        Ok(())
    }

    /// One page of projects after `after` (exclusive), archived ones only when
    /// `include_archived`, and whether more follow. `after` may name an archived
    /// project even when those are left out: the page continues from its place.
    pub(crate) fn projects_page(
        &self,
        after: Option<&ProjectId>,
        limit: usize,
        include_archived: bool,
    ) -> Result<(Vec<&Project>, bool), UnknownCursor> {
        let start = match after {
            Some(after) => self
                .positions
                .get(after.as_str())
                .map(|i| i + 1)
                .ok_or(UnknownCursor)?,
            None => 0,
        };
        let projects = self.projects.as_deref().unwrap_or_default();
        // One more than the limit tells whether another page follows.
        let mut page: Vec<&Project> = projects
            .iter()
            .skip(start)
            .filter(|p| include_archived || !p.is_archived())
            .take(limit.saturating_add(1))
            .collect();
        let has_more = page.len() > limit;
        page.truncate(limit);
        Ok((page, has_more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> ProjectId {
        ProjectId::parse(text).expect("a project id")
    }

    fn checkpoint(text: &str) -> CheckpointId {
        CheckpointId::parse(text).expect("a checkpoint id")
    }

    fn closed() -> Organization {
        Organization::new(
            Some(vec![
                Project::new("proj_late", Some("Late"), 30),
                Project::new("proj_old", None, 10).archived(20),
                Project::new("proj_a", Some("A"), 20),
                Project::new("proj_b", Some("A"), 20),
            ]),
            HashMap::from([(checkpoint("ft:a"), id("proj_a"))]),
        )
    }

    fn ids(page: &[&Project]) -> Vec<String> {
        page.iter().map(|p| p.id.clone()).collect()
    }

    #[test]
    fn projects_list_in_creation_order_ties_in_seed_order() {
        let org = closed();
        let (page, more) = org.projects_page(None, 100, true).expect("page");
        assert_eq!(ids(&page), ["proj_old", "proj_a", "proj_b", "proj_late"]);
        assert!(!more);
        let (page, more) = org.projects_page(None, 2, false).expect("page");
        assert_eq!(ids(&page), ["proj_a", "proj_b"]);
        assert!(more);
        let (page, more) = org
            .projects_page(Some(&id("proj_b")), 2, false)
            .expect("page");
        assert_eq!(ids(&page), ["proj_late"]);
        assert!(!more);
        // An archived cursor still places the page.
        let (page, _) = org
            .projects_page(Some(&id("proj_old")), 1, false)
            .expect("page");
        assert_eq!(ids(&page), ["proj_a"]);
        assert_eq!(
            org.projects_page(Some(&id("proj_none")), 1, true),
            Err(UnknownCursor)
        );
    }

    #[test]
    fn a_closed_organization_refuses_unknown_archived_and_owning_projects() {
        let org = closed();
        let grant = |projects: &[&str]| {
            let projects: Vec<ProjectId> = projects.iter().map(|p| id(p)).collect();
            org.check_grant(&checkpoint("ft:a"), &projects)
                .map_err(|refusal| format!("{refusal:?}"))
        };
        assert_eq!(grant(&["proj_b", "proj_late"]), Ok(()));
        assert_eq!(
            grant(&["proj_b", "proj_x", "proj_old"]),
            Err(r#"UnknownProject(ProjectId("proj_x"))"#.to_owned())
        );
        assert_eq!(
            grant(&["proj_old", "proj_x"]),
            Err(r#"ArchivedProject(ProjectId("proj_old"))"#.to_owned())
        );
        assert_eq!(
            grant(&["proj_a"]),
            Err(r#"Owner(ProjectId("proj_a"))"#.to_owned())
        );
        assert!(org.has_checkpoint(&checkpoint("ft:a")));
        assert!(!org.has_checkpoint(&checkpoint("ft:b")));
    }

    #[test]
    fn an_open_organization_knows_everything_but_owners() {
        let org = Organization::new(None, HashMap::from([(checkpoint("ft:a"), id("proj_o"))]));
        assert!(org.has_checkpoint(&checkpoint("ft:unlisted")));
        let anyone = [id("proj_anyone")];
        assert_eq!(org.check_grant(&checkpoint("ft:a"), &anyone), Ok(()));
        let owner = [id("proj_o")];
        assert_eq!(
            org.check_grant(&checkpoint("ft:a"), &owner),
            Err(Refusal::Owner(&owner[0]))
        );
        assert_eq!(org.projects_page(None, 20, true), Ok((Vec::new(), false)));
    }
}
