//! Seed files: checkpoints and permissions to start from, so demos and tests begin
//! in a known state.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::Error;
use crate::rules::{MAX_ID_LEN, is_permission_id, is_valid_checkpoint, is_valid_project_id};
use crate::store::Import;

/// One permission to put in the emulator before it serves requests.
///
/// `id` and `created_at` are optional (a fresh id and the current time otherwise).
/// Seeds are added in file order, which breaks ties between equal `created_at`s. A
/// seed is skipped when its id already exists or its project already holds a
/// permission on the checkpoint, so seeding a database twice adds nothing. See
/// [`Seed`] for the file format.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPermission {
    /// The fine-tuned model checkpoint the permission is on.
    pub checkpoint: String,
    /// The project the checkpoint is granted to.
    pub project_id: String,
    /// The permission id (`cp_` and 24 ASCII alphanumerics); generated when absent.
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

    fn validate(&self) -> Result<(), String> {
        if !is_valid_checkpoint(&self.checkpoint) {
            return Err(invalid_checkpoint(&self.checkpoint));
        }
        if !is_valid_project_id(&self.project_id) {
            return Err(invalid_project(&self.project_id));
        }
        if let Some(id) = &self.id
            && !is_permission_id(id)
        {
            return Err(format!(
                "invalid id {id:?}: expected cp_ and 24 ASCII alphanumerics"
            ));
        }
        if self.created_at.is_some_and(|t| t < 0) {
            return Err("created_at must not be negative".into());
        }
        Ok(())
    }

    pub(crate) fn to_import(&self) -> Import {
        Import {
            checkpoint: self.checkpoint.clone(),
            project_id: self.project_id.clone(),
            id: self.id.clone(),
            created_at: self.created_at,
        }
    }
}

/// A checkpoint with the project that owns it: that project can be granted nothing
/// on it (the real API answers 400 "Cannot modify checkpoint permissions for the
/// owning project: proj_...").
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCheckpoint {
    /// The fine-tuned model checkpoint.
    pub id: String,
    /// The project that owns it.
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

    fn validate(&self) -> Result<(), String> {
        if !is_valid_checkpoint(&self.id) {
            return Err(invalid_checkpoint(&self.id));
        }
        if !is_valid_project_id(&self.owner_project_id) {
            return Err(invalid_project(&self.owner_project_id));
        }
        Ok(())
    }
}

fn invalid_checkpoint(id: &str) -> String {
    format!("invalid checkpoint {id:?}: 1 to {MAX_ID_LEN} printable ASCII characters, no '/'")
}

fn invalid_project(id: &str) -> String {
    format!("invalid project id {id:?}: 1 to {MAX_ID_LEN} characters, no control characters")
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Seed {
    /// Checkpoints with their owners.
    pub checkpoints: Vec<SeedCheckpoint>,
    /// Permissions, in the order they are added.
    pub permissions: Vec<SeedPermission>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SeedFile {
    List(Vec<SeedPermission>),
    Object(SeedObject),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedObject {
    #[serde(default)]
    checkpoints: Vec<SeedCheckpoint>,
    #[serde(default)]
    permissions: Vec<SeedPermission>,
}

/// Reads a seed file (see [`Seed`] for its forms).
pub fn read_seed_file(path: &Path) -> Result<Seed, Error> {
    let text = std::fs::read(path)
        .map_err(|e| Error::Seed(format!("cannot read {}: {e}", path.display())))?;
    parse_seed(&text).map_err(|e| Error::Seed(format!("{}: {e}", path.display())))
}

fn parse_seed(text: &[u8]) -> Result<Seed, String> {
    let file: SeedFile = serde_json::from_slice(text).map_err(|e| {
        format!(
            "{e}; expected a list of {{checkpoint, project_id, id?, created_at?}} or \
             {{\"checkpoints\": [{{id, owner_project_id}}], \"permissions\": [...]}}"
        )
    })?;
    let seed = match file {
        SeedFile::List(permissions) => Seed {
            checkpoints: Vec::new(),
            permissions,
        },
        SeedFile::Object(SeedObject {
            checkpoints,
            permissions,
        }) => Seed {
            checkpoints,
            permissions,
        },
    };
    seed.owners()?;
    Ok(seed)
}

impl Seed {
    /// Validates every checkpoint and permission, and returns the owners
    /// (checkpoint -> owning project). A checkpoint given two different owners, or
    /// granted to its owner, is refused.
    pub(crate) fn owners(&self) -> Result<HashMap<String, String>, String> {
        let mut owners: HashMap<String, String> = HashMap::new();
        for checkpoint in &self.checkpoints {
            checkpoint.validate()?;
            let owner = owners
                .entry(checkpoint.id.clone())
                .or_insert_with(|| checkpoint.owner_project_id.clone());
            if *owner != checkpoint.owner_project_id {
                return Err(format!(
                    "checkpoint {:?} is given two owners, {owner:?} and {:?}",
                    checkpoint.id, checkpoint.owner_project_id
                ));
            }
        }
        for permission in &self.permissions {
            permission.validate()?;
            if owners.get(&permission.checkpoint) == Some(&permission.project_id) {
                return Err(format!(
                    "{:?} owns {:?}: a checkpoint cannot be granted to its owning project",
                    permission.project_id, permission.checkpoint
                ));
            }
        }
        Ok(owners)
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
        let only_checkpoints = br#"{"checkpoints": [{"id": "ft:a", "owner_project_id": "p"}]}"#;
        assert_eq!(
            parse_seed(only_checkpoints).map(|s| s.permissions.len()),
            Ok(0)
        );
    }

    #[test]
    fn bad_seeds_are_refused() {
        for bad in [
            &br#"[{"checkpoint": "a/b", "project_id": "p"}]"#[..],
            br#"[{"checkpoint": "a", "project_id": ""}]"#,
            br#"[{"checkpoint": "a", "project_id": "p", "id": "cp_short"}]"#,
            br#"[{"checkpoint": "a", "project_id": "p", "extra": 1}]"#,
            br#"{"checkpoints": [{"id": "a", "owner_project_id": "p"}], "extra": []}"#,
            br#"{"checkpoints": [{"id": "a", "owner": "p"}]}"#,
            br#"{"checkpoints": [{"id": "a", "owner_project_id": "p"},
                                 {"id": "a", "owner_project_id": "q"}]}"#,
            br#"{"checkpoints": [{"id": "a", "owner_project_id": "p"}],
                 "permissions": [{"checkpoint": "a", "project_id": "p"}]}"#,
            b"not json",
        ] {
            assert!(parse_seed(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
