//! Seed files: checkpoints and permissions to start from, so demos and tests begin
//! in a known state. Every id is checked by its type in `permissions-types`, once,
//! here.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;

use permissions_types::{CheckpointId, IdError, PermissionId, ProjectId};
use serde::Deserialize;

use crate::error::Error;
use crate::store::Import;

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
/// owning project: proj_...").
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

/// What a seed file holds. Three forms are read: a JSON list of permissions,
/// `{"permissions": [...]}`, and `{"checkpoints": [...], "permissions": [...]}`
/// (either key may be left out):
///
/// ```json
/// {"checkpoints": [
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
/// [`PermissionId`]); a checkpoint has one owner and is not granted to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Seed {
    /// Checkpoints with their owners.
    pub checkpoints: Vec<SeedCheckpoint>,
    /// Permissions, in the order they are added.
    pub permissions: Vec<SeedPermission>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedObject {
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
                "{e}; expected a list of permissions or {{\"checkpoints\": [{{id, \
                 owner_project_id}}], \"permissions\": [{{checkpoint, project_id, id?, \
                 created_at?}}]}}"
            )
        })?;
        Seed {
            checkpoints: object.checkpoints,
            permissions: object.permissions,
        }
    };
    seed.check()?;
    Ok(seed)
}

/// A seed, checked: the owner of each checkpoint that has one, and the permissions
/// to add.
#[derive(Debug)]
pub(crate) struct Checked {
    pub(crate) owners: HashMap<CheckpointId, ProjectId>,
    pub(crate) imports: Vec<Import>,
}

/// `text` as an id of type `T`, or a refusal that says where it stood.
fn id_at<T: TryFrom<String, Error = IdError>>(at: &str, text: &str) -> Result<T, String> {
    T::try_from(text.to_owned()).map_err(|e| format!("{at}: {e}"))
}

impl Seed {
    /// Checks every checkpoint and permission (see [`Seed`] for the rules); the
    /// first fault is refused, with where it stands.
    pub(crate) fn check(&self) -> Result<Checked, String> {
        let mut owners: HashMap<CheckpointId, ProjectId> = HashMap::new();
        for (i, checkpoint) in self.checkpoints.iter().enumerate() {
            let at = format!("checkpoints[{i}]");
            let id: CheckpointId = id_at(&format!("{at}.id"), &checkpoint.id)?;
            let owner: ProjectId = id_at(
                &format!("{at}.owner_project_id"),
                &checkpoint.owner_project_id,
            )?;
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
            imports.push(Import {
                checkpoint,
                project_id,
                id,
                created_at: permission.created_at,
            });
        }
        Ok(Checked { owners, imports })
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
}
