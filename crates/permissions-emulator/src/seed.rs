//! Seed files: the organization's projects, its checkpoints and the permissions to
//! start from, so demos and tests begin in a known state. Every id is checked by
//! its type in `permissions-types`, once, here.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use permissions_types::{CheckpointId, IdError, PermissionId, Project, ProjectId, ProjectStatus};
use serde::Deserialize;

use crate::error::Error;
use crate::org::Organization;
use crate::store::{Import, now};

/// One permission to put in the emulator before it serves requests.
///
/// `id` and `created_at` are optional (a fresh id and the current time otherwise).
/// Seeds are added in file order, which breaks ties between equal `created_at`s. A
/// seed is skipped when its id already exists or its project already holds a
/// permission on the checkpoint, so seeding a database twice adds nothing. See
/// [`Seed`] for the file format. The fields are checked when the emulator starts.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPermission {
    /// The fine-tuned model checkpoint the permission is on (a
    /// [`CheckpointId`]).
    pub checkpoint: String,
    /// The project the checkpoint is granted to (a [`ProjectId`]).
    pub project_id: String,
    /// The permission id (a [`PermissionId`]); generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Creation time, Unix seconds; the current time when absent.
    #[serde(default)]
    pub created_at: Option<i64>,
}

impl SeedPermission {
    /// A seed for `project_id` on `checkpoint`, with a generated id, created now.
    pub fn new(checkpoint: impl Into<String>, project_id: impl Into<String>) -> Self {
        Self {
            checkpoint: checkpoint.into(),
            project_id: project_id.into(),
            id: None,
            created_at: None,
        }
    }
}

/// A checkpoint with the project that owns it: that project can be granted nothing
/// on it (the real API answers 400 "Cannot modify checkpoint permissions for the
/// owning project: proj_..."). When the seed lists projects, the checkpoints listed
/// are the only ones that exist.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCheckpoint {
    /// The fine-tuned model checkpoint (a [`CheckpointId`]).
    pub id: String,
    /// The project that owns it (a [`ProjectId`]).
    pub owner_project_id: String,
}

impl SeedCheckpoint {
    /// `checkpoint`, owned by `owner_project_id`.
    pub fn new(checkpoint: impl Into<String>, owner_project_id: impl Into<String>) -> Self {
        Self {
            id: checkpoint.into(),
            owner_project_id: owner_project_id.into(),
        }
    }
}

/// A project of the organization, as list-projects serves it.
///
/// A seed that lists projects describes the whole organization: a grant naming
/// another project, or an archived one, is refused, and only the checkpoints the
/// seed lists exist.
///
/// ```
/// use permissions_emulator::SeedProject;
/// use permissions_types::ProjectStatus;
///
/// let research = SeedProject::new("proj_research", Some("Research"));
/// assert_eq!(research.status, ProjectStatus::Active);
/// let old = SeedProject::new("proj_old", None).archived();
/// assert_eq!(old.status, ProjectStatus::Archived);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedProject {
    /// The project id (a [`ProjectId`]).
    pub id: String,
    /// Its name, which need not be unique; `null` or absent for none.
    #[serde(default)]
    pub name: Option<String>,
    /// `active` (the default) or `archived`; any other value is refused.
    #[serde(default = "active")]
    pub status: ProjectStatus,
    /// Creation time, Unix seconds; the start time when absent.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// When an archived project was archived, Unix seconds; the start time (or
    /// `created_at`, if later) when absent. An active project has none.
    #[serde(default)]
    pub archived_at: Option<i64>,
}

fn active() -> ProjectStatus {
    ProjectStatus::Active
}

impl SeedProject {
    /// The active project `id`, named `name`, created when the emulator starts.
    pub fn new(id: impl Into<String>, name: Option<&str>) -> Self {
        Self {
            id: id.into(),
            name: name.map(str::to_owned),
            status: ProjectStatus::Active,
            created_at: None,
            archived_at: None,
        }
    }

    /// This project, archived.
    #[must_use]
    pub fn archived(mut self) -> Self {
        self.status = ProjectStatus::Archived;
        self
    }
}

/// What a seed file holds. Four forms are read: a JSON list of permissions,
/// `{"permissions": [...]}`, `{"checkpoints": [...], "permissions": [...]}`, and,
/// to describe the organization, `{"projects": [...], "checkpoints": [...],
/// "permissions": [...]}` (any key may be left out):
///
/// ```json
/// {"projects": [
///   {"id": "proj_owner", "name": "Weather"},
///   {"id": "proj_abGMw1llN8IrBb6SvvY5A1iH", "name": "Research", "created_at": 1711471533},
///   {"id": "proj_old", "name": null, "status": "archived", "archived_at": 1712000000}
///  ],
///  "checkpoints": [
///   {"id": "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd",
///    "owner_project_id": "proj_owner"}
///  ],
///  "permissions": [
///   {"checkpoint": "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd",
///    "project_id": "proj_abGMw1llN8IrBb6SvvY5A1iH",
///    "id": "cp_zc4Q7MP6XxulcVzj4MZdwsAB", "created_at": 1712211699}
/// ]}
/// ```
///
/// Every id must be valid for its type ([`CheckpointId`], [`ProjectId`],
/// [`PermissionId`]); a checkpoint has one owner and is not granted to it. A seed
/// that lists projects describes the whole organization, so its project ids are
/// distinct, and every owner and every permission's project is one of them, and
/// every permission's checkpoint is one of its checkpoints. Each file is checked
/// alone, and all seeds of an emulator together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Seed {
    /// The organization's projects; none leaves every project and checkpoint
    /// known.
    pub projects: Vec<SeedProject>,
    /// Checkpoints with their owners.
    pub checkpoints: Vec<SeedCheckpoint>,
    /// Permissions, in the order they are added.
    pub permissions: Vec<SeedPermission>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedObject {
    #[serde(default)]
    projects: Vec<SeedProject>,
    #[serde(default)]
    checkpoints: Vec<SeedCheckpoint>,
    #[serde(default)]
    permissions: Vec<SeedPermission>,
}

/// Reads a seed file (see [`Seed`] for its forms) and checks it.
pub fn read_seed_file(path: &Path) -> Result<Seed, Error> {
    let text = std::fs::read(path)
        .map_err(|e| Error::Seed(format!("cannot read {}: {e}", path.display())))?;
    parse_seed(&text).map_err(|e| Error::Seed(format!("{}: {e}", path.display())))
}

fn parse_seed(text: &[u8]) -> Result<Seed, String> {
    let is_list = text
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'[');
    let seed = if is_list {
        let permissions: Vec<SeedPermission> = serde_json::from_slice(text).map_err(|e| {
            format!("{e}; expected a list of {{checkpoint, project_id, id?, created_at?}}")
        })?;
        Seed {
            permissions,
            ..Seed::default()
        }
    } else {
        let object: SeedObject = serde_json::from_slice(text).map_err(|e| {
            format!(
                "{e}; expected a list of permissions or {{\"projects\": [{{id, name?, status?, \
                 created_at?, archived_at?}}], \"checkpoints\": [{{id, owner_project_id}}], \
                 \"permissions\": [{{checkpoint, project_id, id?, created_at?}}]}}"
            )
        })?;
        Seed {
            projects: object.projects,
            checkpoints: object.checkpoints,
            permissions: object.permissions,
        }
    };
    seed.check()?;
    Ok(seed)
}

/// A seed, checked: the organization it describes and the permissions to add.
#[derive(Debug)]
pub(crate) struct Checked {
    pub(crate) organization: Organization,
    pub(crate) imports: Vec<Import>,
}

/// `text` as an id of type `T`, or a refusal that says where it stood.
fn id_at<T: TryFrom<String, Error = IdError>>(at: &str, text: &str) -> Result<T, String> {
    T::try_from(text.to_owned()).map_err(|e| format!("{at}: {e}"))
}

impl Seed {
    /// Checks every project, checkpoint and permission (see [`Seed`] for the
    /// rules); the first fault is refused, with where it stands.
    pub(crate) fn check(&self) -> Result<Checked, String> {
        let started = now();
        let projects = (!self.projects.is_empty())
            .then(|| self.check_projects(started))
            .transpose()?;
        let known: Option<HashSet<&str>> = projects
            .as_ref()
            .map(|projects| projects.iter().map(|p| p.id.as_str()).collect());
        let not_in_org = |at: &str, project: &ProjectId| {
            format!(
                "{at}: {project} is not one of the seed's projects (a seed that lists projects \
                 describes the whole organization)"
            )
        };

        let mut owners: HashMap<CheckpointId, ProjectId> = HashMap::new();
        for (i, checkpoint) in self.checkpoints.iter().enumerate() {
            let at = format!("checkpoints[{i}]");
            let id: CheckpointId = id_at(&format!("{at}.id"), &checkpoint.id)?;
            let owner: ProjectId = id_at(
                &format!("{at}.owner_project_id"),
                &checkpoint.owner_project_id,
            )?;
            if known.as_ref().is_some_and(|k| !k.contains(owner.as_str())) {
                return Err(not_in_org(&format!("{at}.owner_project_id"), &owner));
            }
            match owners.entry(id) {
                Entry::Occupied(first) if *first.get() != owner => {
                    return Err(format!(
                        "{at}: checkpoint {} is given two owners, {} and {owner}",
                        first.key(),
                        first.get()
                    ));
                }
                Entry::Occupied(_) => {}
                Entry::Vacant(entry) => {
                    entry.insert(owner);
                }
            }
        }

        let mut imports = Vec::with_capacity(self.permissions.len());
        for (i, permission) in self.permissions.iter().enumerate() {
            let at = format!("permissions[{i}]");
            let checkpoint: CheckpointId =
                id_at(&format!("{at}.checkpoint"), &permission.checkpoint)?;
            let project_id: ProjectId = id_at(&format!("{at}.project_id"), &permission.project_id)?;
            let id: Option<PermissionId> = permission
                .id
                .as_deref()
                .map(|id| id_at(&format!("{at}.id"), id))
                .transpose()?;
            if permission.created_at.is_some_and(|t| t < 0) {
                return Err(format!("{at}.created_at must not be negative"));
            }
            if owners.get(&checkpoint) == Some(&project_id) {
                return Err(format!(
                    "{at}: {project_id} owns {checkpoint}: a checkpoint cannot be granted to its \
                     owning project"
                ));
            }
            if let Some(known) = &known {
                if !known.contains(project_id.as_str()) {
                    return Err(not_in_org(&format!("{at}.project_id"), &project_id));
                }
                if !owners.contains_key(&checkpoint) {
                    return Err(format!(
                        "{at}.checkpoint: {checkpoint} is not one of the seed's checkpoints (a \
                         seed that lists projects lists every checkpoint, with its owner)"
                    ));
                }
            }
            imports.push(Import {
                checkpoint,
                project_id,
                id,
                created_at: permission.created_at,
            });
        }
        Ok(Checked {
            organization: Organization::new(projects, owners),
            imports,
        })
    }

    /// The projects as list-projects serves them; `started` stands in for the
    /// times a seed leaves out.
    fn check_projects(&self, started: i64) -> Result<Vec<Project>, String> {
        let mut seen = HashSet::with_capacity(self.projects.len());
        let mut projects = Vec::with_capacity(self.projects.len());
        for (i, seed) in self.projects.iter().enumerate() {
            let at = format!("projects[{i}]");
            let id: ProjectId = id_at(&format!("{at}.id"), &seed.id)?;
            if !seen.insert(id.clone()) {
                return Err(format!("{at}: project {id} is listed twice"));
            }
            let created_at = seed.created_at.unwrap_or(started);
            if created_at < 0 {
                return Err(format!("{at}.created_at must not be negative"));
            }
            let project = Project::new(id.into_string(), seed.name.as_deref(), created_at);
            let project = match (&seed.status, seed.archived_at) {
                (ProjectStatus::Active, None) => project,
                (ProjectStatus::Active, Some(_)) => {
                    return Err(format!(
                        "{at}: an active project has no archived_at (set \"status\": \"archived\")"
                    ));
                }
                (ProjectStatus::Archived, archived_at) => {
                    let archived_at = archived_at.unwrap_or(started.max(created_at));
                    if archived_at < created_at {
                        return Err(format!("{at}.archived_at is before its created_at"));
                    }
                    project.archived(archived_at)
                }
                (other, _) => {
                    return Err(format!(
                        "{at}.status: {:?} is not a status (expected \"active\" or \"archived\")",
                        other.as_str()
                    ));
                }
            };
            projects.push(project);
        }
        Ok(projects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses() {
        let list = br#"[{"checkpoint": "ft:a", "project_id": "proj_1"}]"#;
        let object = br#"{"permissions": [{"checkpoint": "ft:a", "project_id": "proj_1"}]}"#;
        assert_eq!(parse_seed(list), parse_seed(object));
        assert_eq!(parse_seed(list).map(|s| s.permissions.len()), Ok(1));
        let owned = br#"{"checkpoints": [{"id": "ft:a", "owner_project_id": "proj_o"}],
                         "permissions": [{"checkpoint": "ft:a", "project_id": "proj_1"}]}"#;
        let seed = parse_seed(owned).expect("parses");
        assert_eq!(
            seed.checkpoints,
            vec![SeedCheckpoint::new("ft:a", "proj_o")]
        );
        assert_eq!(seed.permissions.len(), 1);
        let only_checkpoints =
            br#"{"checkpoints": [{"id": "ft:a", "owner_project_id": "proj_o"}]}"#;
        assert_eq!(
            parse_seed(only_checkpoints).map(|s| s.permissions.len()),
            Ok(0)
        );
        let organization = br#"{"projects": [
                {"id": "proj_o", "name": "Owner"},
                {"id": "proj_1", "name": null, "created_at": 5},
                {"id": "proj_2", "status": "archived", "created_at": 5, "archived_at": 9}],
            "checkpoints": [{"id": "ft:a", "owner_project_id": "proj_o"}],
            "permissions": [{"checkpoint": "ft:a", "project_id": "proj_2"}]}"#;
        let seed = parse_seed(organization).expect("parses");
        assert_eq!(
            seed.projects,
            vec![
                SeedProject::new("proj_o", Some("Owner")),
                SeedProject {
                    created_at: Some(5),
                    ..SeedProject::new("proj_1", None)
                },
                SeedProject {
                    created_at: Some(5),
                    archived_at: Some(9),
                    ..SeedProject::new("proj_2", None).archived()
                },
            ]
        );
        let checked = seed.check().expect("checks");
        assert!(checked.organization.is_closed());
        assert_eq!(checked.imports.len(), 1);
    }

    #[test]
    fn bad_seeds_are_refused_with_where_they_stand() {
        for (bad, location) in [
            (
                &br#"[{"checkpoint": "ft:a/b", "project_id": "proj_p"}]"#[..],
                "permissions[0].checkpoint",
            ),
            (
                br#"[{"checkpoint": "ftckpt_abc", "project_id": "proj_p"}]"#,
                "checkpoint object",
            ),
            (
                br#"[{"checkpoint": "ft:a", "project_id": ""}]"#,
                "permissions[0].project_id",
            ),
            (
                br#"[{"checkpoint": "ft:a", "project_id": "p"}]"#,
                "permissions[0].project_id",
            ),
            (
                br#"[{"checkpoint": "ft:a", "project_id": "proj_p", "id": "cp_a-b"}]"#,
                "permissions[0].id",
            ),
            (
                br#"[{"checkpoint": "ft:a", "project_id": "proj_p", "created_at": -1}]"#,
                "permissions[0].created_at",
            ),
            (
                br#"[{"checkpoint": "ft:a", "project_id": "proj_p", "extra": 1}]"#,
                "extra",
            ),
            (
                br#"{"checkpoints": [{"id": "ft:a", "owner_project_id": "proj_p"}], "extra": []}"#,
                "extra",
            ),
            (
                br#"{"checkpoints": [{"id": "ft:a", "owner": "proj_p"}]}"#,
                "owner",
            ),
            (
                br#"{"checkpoints": [{"id": "ft:a", "owner_project_id": "proj_p"},
                                     {"id": "ft:a", "owner_project_id": "proj_q"}]}"#,
                "two owners",
            ),
            (
                br#"{"checkpoints": [{"id": "ft:a", "owner_project_id": "proj_p"}],
                     "permissions": [{"checkpoint": "ft:a", "project_id": "proj_p"}]}"#,
                "owning project",
            ),
            (
                br#"{"projects": [{"id": "proj_a"}, {"id": "proj_a"}]}"#,
                "projects[1]: project proj_a is listed twice",
            ),
            (br#"{"projects": [{"id": "a"}]}"#, "projects[0].id"),
            (
                br#"{"projects": [{"id": "proj_a", "status": "deleted"}]}"#,
                "projects[0].status",
            ),
            (
                br#"{"projects": [{"id": "proj_a", "archived_at": 5}]}"#,
                "projects[0]: an active project",
            ),
            (
                br#"{"projects": [{"id": "proj_a", "status": "archived", "created_at": 9,
                                   "archived_at": 5}]}"#,
                "projects[0].archived_at",
            ),
            (br#"{"projects": [{"id": "proj_a", "nam": "A"}]}"#, "nam"),
            (
                br#"{"projects": [{"id": "proj_a"}],
                     "checkpoints": [{"id": "ft:a", "owner_project_id": "proj_b"}]}"#,
                "checkpoints[0].owner_project_id: proj_b is not one of the seed's projects",
            ),
            (
                br#"{"projects": [{"id": "proj_a"}, {"id": "proj_o"}],
                     "checkpoints": [{"id": "ft:a", "owner_project_id": "proj_o"}],
                     "permissions": [{"checkpoint": "ft:a", "project_id": "proj_b"}]}"#,
                "permissions[0].project_id: proj_b is not one of the seed's projects",
            ),
            (
                br#"{"projects": [{"id": "proj_a"}],
                     "permissions": [{"checkpoint": "ft:a", "project_id": "proj_a"}]}"#,
                "permissions[0].checkpoint: ft:a is not one of the seed's checkpoints",
            ),
            (b"not json", "expected a list of permissions"),
        ] {
            let error = parse_seed(bad).expect_err(&String::from_utf8_lossy(bad));
            assert!(error.contains(location), "{location}: {error}");
        }
    }

    #[test]
    fn a_refused_id_that_looks_like_a_key_is_not_repeated() {
        let bad = br#"[{"checkpoint": "ft:a", "project_id": "sk-admin-secret0123456789"}]"#;
        let error = parse_seed(bad).expect_err("refused");
        assert!(!error.contains("secret0123456789"), "{error}");
    }

    #[test]
    fn archived_projects_get_an_archived_at() {
        let seed = Seed {
            projects: vec![SeedProject {
                created_at: Some(100),
                ..SeedProject::new("proj_old", None).archived()
            }],
            ..Seed::default()
        };
        let checked = seed.check().expect("checks");
        let (page, _) = checked
            .organization
            .projects_page(None, 10, true)
            .expect("page");
        assert!(page[0].is_archived());
        assert!(page[0].archived_at.is_some_and(|at| at >= 100));
    }
}
