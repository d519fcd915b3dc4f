//! Seed files: permissions to start from, so demos and tests begin in a known state.

use std::path::Path;

use serde::Deserialize;

use crate::error::Error;
use crate::http::{MAX_ID_LEN, is_valid_checkpoint, is_valid_project_id};
use crate::store::is_permission_id;

/// One permission to put in the emulator before it serves requests.
///
/// In a seed file, either a JSON array of these or `{"permissions": [...]}`:
///
/// ```json
/// {"permissions": [
///   {"checkpoint": "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd",
///    "project_id": "proj_abGMw1llN8IrBb6SvvY5A1iH",
///    "id": "cp_zc4Q7MP6XxulcVzj4MZdwsAB", "created_at": 1712211699}
/// ]}
/// ```
///
/// `id` and `created_at` are optional (a fresh id and the current time otherwise).
/// Seeds are added in file order, which breaks ties between equal `created_at`s. A
/// seed is skipped when its id already exists or its project already holds a
/// permission on the checkpoint, so seeding a database twice adds nothing.
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

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if !is_valid_checkpoint(&self.checkpoint) {
            return Err(Error::Seed(format!(
                "invalid checkpoint {:?}: 1 to {MAX_ID_LEN} printable ASCII characters, no '/'",
                self.checkpoint
            )));
        }
        if !is_valid_project_id(&self.project_id) {
            return Err(Error::Seed(format!(
                "invalid project_id {:?}: 1 to {MAX_ID_LEN} characters, no control characters",
                self.project_id
            )));
        }
        if let Some(id) = &self.id
            && !is_permission_id(id)
        {
            return Err(Error::Seed(format!(
                "invalid id {id:?}: expected cp_ and 24 ASCII alphanumerics"
            )));
        }
        if self.created_at.is_some_and(|t| t < 0) {
            return Err(Error::Seed("created_at must not be negative".into()));
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SeedFile {
    List(Vec<SeedPermission>),
    Object { permissions: Vec<SeedPermission> },
}

/// Reads a seed file (see [`SeedPermission`] for its format).
pub fn read_seed_file(path: &Path) -> Result<Vec<SeedPermission>, Error> {
    let text = std::fs::read(path)
        .map_err(|e| Error::Seed(format!("cannot read {}: {e}", path.display())))?;
    parse_seeds(&text).map_err(|e| Error::Seed(format!("{}: {e}", path.display())))
}

fn parse_seeds(text: &[u8]) -> Result<Vec<SeedPermission>, String> {
    let file: SeedFile = serde_json::from_slice(text).map_err(|e| {
        format!("{e}; expected a list of {{checkpoint, project_id, id?, created_at?}} or {{\"permissions\": [...]}}")
    })?;
    let seeds = match file {
        SeedFile::List(seeds) | SeedFile::Object { permissions: seeds } => seeds,
    };
    for seed in &seeds {
        seed.validate().map_err(|e| e.to_string())?;
    }
    Ok(seeds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes_parse() {
        let list = br#"[{"checkpoint": "ft:a", "project_id": "proj_1"}]"#;
        let object = br#"{"permissions": [{"checkpoint": "ft:a", "project_id": "proj_1"}]}"#;
        assert_eq!(parse_seeds(list), parse_seeds(object));
        assert_eq!(parse_seeds(list).map(|s| s.len()), Ok(1));
    }

    #[test]
    fn bad_seeds_are_refused() {
        assert!(parse_seeds(br#"[{"checkpoint": "a/b", "project_id": "p"}]"#).is_err());
        assert!(parse_seeds(br#"[{"checkpoint": "a", "project_id": ""}]"#).is_err());
        assert!(
            parse_seeds(br#"[{"checkpoint": "a", "project_id": "p", "id": "cp_short"}]"#).is_err()
        );
        assert!(parse_seeds(br#"[{"checkpoint": "a", "project_id": "p", "extra": 1}]"#).is_err());
        assert!(parse_seeds(b"not json").is_err());
    }
}
