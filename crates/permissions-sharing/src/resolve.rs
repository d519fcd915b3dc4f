//! A sharing file resolved against the organization's projects: every name turned
//! into the one project it names, every id checked, and everything the API would
//! refuse (an unknown or archived project) refused before a single write.
//!
//! [`resolve`] is a pure function of (file, organization); the organization is read
//! once per run by [`read_organization`](crate::read_organization).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use permissions_api::permissions_types::{CheckpointId, Project, ProjectId};

use crate::file::{Entry, Place, ProjectRef, SharingFile};
use crate::organization::{Directory, Organization};
use crate::state::State;

/// The sharing a file asks for, every project an id: what [`plan`](crate::plan)
/// compares with the API's state. It also keeps the organization's project names,
/// to show them beside the ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    checkpoints: BTreeMap<CheckpointId, BTreeSet<ProjectId>>,
    names: BTreeMap<String, String>,
    checked: bool,
}

impl Desired {
    /// A sharing of `checkpoints`, given by id and not checked against any
    /// organization.
    ///
    /// ```
    /// use permissions_sharing::Desired;
    ///
    /// let desired = Desired::new([("ft:gpt-4o-mini:org:demo:abc", ["proj_a", "proj_b"])])?;
    /// assert_eq!(desired.checkpoints().next().unwrap().1.len(), 2);
    /// assert!(!desired.is_checked());
    /// # Ok::<(), permissions_api::permissions_types::IdError>(())
    /// ```
    pub fn new<C, K, P, S>(
        checkpoints: C,
    ) -> Result<Self, permissions_api::permissions_types::IdError>
    where
        C: IntoIterator<Item = (K, P)>,
        K: AsRef<str>,
        P: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut desired = Self::default();
        for (checkpoint, projects) in checkpoints {
            let projects = projects
                .into_iter()
                .map(|p| ProjectId::parse(p.as_ref()))
                .collect::<Result<_, _>>()?;
            desired
                .checkpoints
                .insert(CheckpointId::parse(checkpoint.as_ref())?, projects);
        }
        Ok(desired)
    }

    /// The checkpoints and the projects each is to be shared with, sorted.
    pub fn checkpoints(&self) -> impl Iterator<Item = (&CheckpointId, &BTreeSet<ProjectId>)> {
        self.checkpoints.iter()
    }

    /// The projects of `checkpoint`, if the sharing names it.
    pub fn projects(&self, checkpoint: &str) -> Option<&BTreeSet<ProjectId>> {
        self.checkpoints.get(checkpoint)
    }

    /// The organization's name of project `id`, when known.
    pub fn name_of(&self, id: &str) -> Option<&str> {
        self.names.get(id).map(String::as_str)
    }

    /// Whether every id was checked against the organization's projects.
    pub fn is_checked(&self) -> bool {
        self.checked
    }
}

/// Why an entry of a file cannot be planned.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusalReason {
    /// No project of the organization has this name.
    UnknownName {
        /// The name the file gives.
        name: String,
        /// A name that differs only in case or spaces, if there is one.
        similar: Option<String>,
    },
    /// More than one project has this name.
    AmbiguousName {
        /// The name.
        name: String,
        /// The projects that have it.
        ids: Vec<String>,
    },
    /// The project is archived: it can no longer be granted access (one that
    /// holds access keeps it: [`resolve_against`]).
    Archived {
        /// The project.
        id: String,
        /// Its name, if it has one.
        name: Option<String>,
    },
    /// The organization has no project with this id.
    UnknownId {
        /// The id the file gives.
        id: String,
    },
    /// Another entry of the checkpoint names the same project.
    Twice {
        /// The project.
        id: String,
        /// Where the first entry stands.
        first: Place,
    },
    /// A name, while the organization's projects could not be listed.
    Unlisted {
        /// The name.
        name: String,
        /// Why the projects could not be listed.
        reason: String,
    },
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownName { name, similar } => {
                write!(f, "no project of the organization is named {name:?}")?;
                if let Some(similar) = similar {
                    write!(f, " (did you mean {similar:?}? names are matched exactly)")?;
                }
                Ok(())
            }
            Self::AmbiguousName { name, ids } => write!(
                f,
                "{} projects are named {name:?} ({}): name it by id, `{{id: ..., name: ...}}`",
                ids.len(),
                ids.join(", ")
            ),
            Self::Archived { id, name } => {
                write!(f, "project {id}")?;
                if let Some(name) = name {
                    write!(f, " ({name:?})")?;
                }
                write!(f, " is archived: it can no longer be granted access")
            }
            Self::UnknownId { id } => write!(f, "the organization has no project {id}"),
            Self::Twice { id, first } => write!(f, "{id} is listed twice (first at {first})"),
            Self::Unlisted { name, reason } => write!(
                f,
                "cannot resolve the name {name:?}: the organization's projects could not be \
                 listed ({reason}); name the project by id"
            ),
        }
    }
}

/// One entry that cannot be planned, and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Where the entry stands.
    pub place: Place,
    /// Why it is refused.
    pub reason: RefusalReason,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.reason)
    }
}

/// Every entry of a file that cannot be planned; nothing was sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Refused(pub Vec<Refusal>);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} project entr", self.0.len())?;
        f.write_str(if self.0.len() == 1 { "y" } else { "ies" })?;
        f.write_str(" cannot be planned:")?;
        for refusal in &self.0 {
            write!(f, "\n  {refusal}")?;
        }
        Ok(())
    }
}

/// An `{id, name}` entry whose name is not the project's name any more: the id
/// decides, and the file may want updating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Where the entry stands.
    pub place: Place,
    /// The project.
    pub id: String,
    /// The name the file gives.
    pub in_file: String,
    /// The organization's name of the project (none when it has none).
    pub actual: Option<String>,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} is ", self.place, self.id)?;
        match &self.actual {
            Some(actual) => write!(f, "named {actual:?}")?,
            None => write!(f, "unnamed")?,
        }
        write!(
            f,
            " in the organization, not {:?}; the id decides",
            self.in_file
        )
    }
}

/// A file resolved: the sharing to plan, and the warnings to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// What to plan.
    pub desired: Desired,
    /// `{id, name}` entries whose name does not match.
    pub warnings: Vec<Warning>,
}

/// Resolves every entry of `file` against `organization`, or refuses the file
/// with every entry that the API would refuse or that names no single project.
///
/// With [`Organization::Listed`], every id must be a project of the organization
/// and none may be archived; a name must name exactly one project. With
/// [`Organization::Unlisted`], ids are taken as they are and every name is refused.
/// [`resolve_against`] also knows what the checkpoints hold.
pub fn resolve(file: &SharingFile, organization: &Organization) -> Result<Resolution, Refused> {
    resolve_against(file, organization, &State::new())
}

/// [`resolve`], where an archived project that holds access on a checkpoint
/// already (in `current`) keeps it: the API refuses only to grant it. A file
/// that `export` wrote then plans without changes, whatever was archived since.
pub fn resolve_against(
    file: &SharingFile,
    organization: &Organization,
    current: &State,
) -> Result<Resolution, Refused> {
    let mut refusals = Vec::new();
    let mut warnings = Vec::new();
    let mut checkpoints = BTreeMap::new();
    for (checkpoint, entries) in file.checkpoints() {
        let held = current.projects(checkpoint.as_str());
        let mut projects: BTreeMap<ProjectId, &Place> = BTreeMap::new();
        // In the file's order, so that a project named twice is reported where it
        // is named the second time.
        let mut in_order: Vec<&Entry> = entries.iter().collect();
        in_order.sort_by_key(|entry| entry.place.line);
        for entry in in_order {
            let id = match organization {
                Organization::Listed(directory) => {
                    find(directory, entry, &mut warnings).and_then(|p| usable(p, held))
                }
                Organization::Unlisted { reason } => match &entry.project {
                    ProjectRef::Id(id) | ProjectRef::IdAndName { id, .. } => Ok(id.clone()),
                    ProjectRef::Name(name) => Err(RefusalReason::Unlisted {
                        name: name.clone(),
                        reason: reason.clone(),
                    }),
                },
            };
            match id {
                Ok(id) => {
                    if let Some(first) = projects.get(&id) {
                        refusals.push(Refusal {
                            place: entry.place.clone(),
                            reason: RefusalReason::Twice {
                                id: id.to_string(),
                                first: (*first).clone(),
                            },
                        });
                    } else {
                        projects.insert(id, &entry.place);
                    }
                }
                Err(reason) => refusals.push(Refusal {
                    place: entry.place.clone(),
                    reason,
                }),
            }
        }
        checkpoints.insert(checkpoint.clone(), projects.into_keys().collect());
    }
    if !refusals.is_empty() {
        return Err(Refused(refusals));
    }
    let directory = organization.directory();
    let names = directory
        .map(|d| {
            d.projects()
                .iter()
                .filter_map(|p| Some((p.id.clone(), p.name.clone()?)))
                .collect()
        })
        .unwrap_or_default();
    Ok(Resolution {
        desired: Desired {
            checkpoints,
            names,
            checked: directory.is_some(),
        },
        warnings,
    })
}

/// The id of `project`, unless the API would refuse to grant it access and it
/// holds none already (`held`: the projects that hold access on the checkpoint).
fn usable(
    project: &Project,
    held: Option<&BTreeMap<String, BTreeSet<String>>>,
) -> Result<ProjectId, RefusalReason> {
    // The directory's ids are the server's: one that is not a valid id cannot be
    // granted, and says so.
    let id = ProjectId::parse(project.id.as_str()).map_err(|_| RefusalReason::UnknownId {
        id: project.id.clone(),
    })?;
    if project.is_archived() && !held.is_some_and(|h| h.contains_key(id.as_str())) {
        return Err(RefusalReason::Archived {
            id: project.id.clone(),
            name: project.name.clone(),
        });
    }
    Ok(id)
}

/// The project `entry` names in `directory`.
fn find<'a>(
    directory: &'a Directory,
    entry: &Entry,
    warnings: &mut Vec<Warning>,
) -> Result<&'a Project, RefusalReason> {
    let project = match &entry.project {
        ProjectRef::Id(id) | ProjectRef::IdAndName { id, .. } => directory
            .get(id.as_str())
            .ok_or_else(|| RefusalReason::UnknownId { id: id.to_string() })?,
        ProjectRef::Name(name) => {
            let mut named = directory.named(name);
            match (named.next(), named.next()) {
                (Some(only), None) => only,
                (None, _) => {
                    return Err(RefusalReason::UnknownName {
                        name: name.clone(),
                        similar: directory.similar(name).map(str::to_owned),
                    });
                }
                (Some(first), Some(second)) => {
                    let ids = [first, second]
                        .into_iter()
                        .chain(named)
                        .map(|p| p.id.clone())
                        .collect();
                    return Err(RefusalReason::AmbiguousName {
                        name: name.clone(),
                        ids,
                    });
                }
            }
        }
    };
    if let ProjectRef::IdAndName { id, name } = &entry.project
        && project.name.as_deref() != Some(name.as_str())
    {
        warnings.push(Warning {
            place: entry.place.clone(),
            id: id.to_string(),
            in_file: name.clone(),
            actual: project.name.clone(),
        });
    }
    Ok(project)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CKPT: &str = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd";

    fn organization() -> Organization {
        Organization::Listed(Directory::new([
            Project::new("proj_research", Some("Research"), 1),
            Project::new("proj_support", Some("Support"), 2),
            Project::new("proj_twin_a", Some("Twin"), 3),
            Project::new("proj_twin_b", Some("Twin"), 4),
            Project::new("proj_old", Some("Old"), 5).archived(6),
            Project::new("proj_unnamed", None, 7),
        ]))
    }

    fn file(entries: &str) -> SharingFile {
        SharingFile::parse(&format!("version: 1\ncheckpoints:\n  {CKPT}:\n{entries}"))
            .expect("a valid file")
    }

    fn refusals(entries: &str, organization: &Organization) -> Vec<(Option<usize>, RefusalReason)> {
        resolve(&file(entries), organization)
            .expect_err("refused")
            .0
            .into_iter()
            .map(|r| (r.place.line, r.reason))
            .collect()
    }

    #[test]
    fn names_and_ids_resolve_to_the_projects_they_name() {
        let resolution = resolve(
            &file("    - name: Research\n    - proj_unnamed\n    - {id: proj_support, name: Support}\n"),
            &organization(),
        )
        .unwrap();
        let projects: Vec<&str> = resolution
            .desired
            .projects(CKPT)
            .unwrap()
            .iter()
            .map(|p| p.as_str())
            .collect();
        assert_eq!(projects, ["proj_research", "proj_support", "proj_unnamed"]);
        assert!(resolution.warnings.is_empty());
        assert!(resolution.desired.is_checked());
        assert_eq!(resolution.desired.name_of("proj_support"), Some("Support"));
        assert_eq!(resolution.desired.name_of("proj_unnamed"), None);
    }

    /// An archived project passes where it holds access already, and only there.
    #[test]
    fn an_archived_project_keeps_the_access_it_holds() {
        let mut current = State::new();
        current.add(CKPT, "proj_old", "cp_1");
        let entries = "    - name: Old\n    - proj_research\n";
        let resolution = resolve_against(&file(entries), &organization(), &current).unwrap();
        let projects = resolution.desired.projects(CKPT).unwrap();
        assert!(
            projects.iter().any(|p| p.as_str() == "proj_old"),
            "{projects:?}"
        );
        let archived = RefusalReason::Archived {
            id: "proj_old".into(),
            name: Some("Old".into()),
        };
        // Without the state (`resolve`), it holds nothing.
        assert_eq!(refusals(entries, &organization()), [(Some(4), archived)]);
    }

    #[test]
    fn every_entry_the_api_would_refuse_is_refused_with_its_line() {
        let mut found = refusals(
            "    - name: Nobody\n    - name: research\n    - name: Twin\n    - name: Old\n    \
             - proj_old\n    - proj_missing\n    - proj_research\n    - name: Research\n",
            &organization(),
        );
        // Entries are visited sorted by id, else by name: compare in line order.
        found.sort_by_key(|(line, _)| *line);
        let first = Place {
            path: format!("checkpoints.{CKPT}[6]"),
            line: Some(10),
        };
        let archived = RefusalReason::Archived {
            id: "proj_old".into(),
            name: Some("Old".into()),
        };
        assert_eq!(
            found,
            [
                (
                    Some(4),
                    RefusalReason::UnknownName {
                        name: "Nobody".into(),
                        similar: None
                    }
                ),
                (
                    Some(5),
                    RefusalReason::UnknownName {
                        name: "research".into(),
                        similar: Some("Research".into())
                    }
                ),
                (
                    Some(6),
                    RefusalReason::AmbiguousName {
                        name: "Twin".into(),
                        ids: vec!["proj_twin_a".into(), "proj_twin_b".into()]
                    }
                ),
                (Some(7), archived.clone()),
                (Some(8), archived),
                (
                    Some(9),
                    RefusalReason::UnknownId {
                        id: "proj_missing".into()
                    }
                ),
                (
                    Some(11),
                    RefusalReason::Twice {
                        id: "proj_research".into(),
                        first
                    }
                ),
            ]
        );
        let message = resolve(&file("    - name: Twin\n"), &organization())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("(line 4): 2 projects are named \"Twin\""),
            "{message}"
        );
    }

    #[test]
    fn a_stale_name_beside_an_id_is_a_warning() {
        let resolution = resolve(
            &file("    - {id: proj_support, name: Helpdesk}\n"),
            &organization(),
        )
        .unwrap();
        assert_eq!(resolution.warnings.len(), 1);
        let warning = resolution.warnings[0].to_string();
        assert!(
            warning.contains("(line 4): proj_support is named \"Support\""),
            "{warning}"
        );
        assert!(
            warning.contains("not \"Helpdesk\"; the id decides"),
            "{warning}"
        );
    }

    #[test]
    fn without_the_organization_ids_go_unchecked_and_names_are_refused() {
        let unlisted = Organization::Unlisted {
            reason: "403 insufficient permissions".into(),
        };
        let resolution = resolve(&file("    - proj_anything\n"), &unlisted).unwrap();
        assert!(!resolution.desired.is_checked());
        assert_eq!(resolution.desired.projects(CKPT).unwrap().len(), 1);
        let found = refusals("    - proj_anything\n    - name: Research\n", &unlisted);
        assert_eq!(
            found,
            [(
                Some(5),
                RefusalReason::Unlisted {
                    name: "Research".into(),
                    reason: "403 insufficient permissions".into()
                }
            )]
        );
    }
}
