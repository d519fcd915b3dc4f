//! `openapi/overlay.yaml`: what we add to the official document, and what we take.
//!
//! The overlay is an OpenAPI 3.0 document in shape, merged over the extracted
//! fragment as a JSON Merge Patch (RFC 7386: maps merge key by key, `null` removes a
//! key, any other value replaces), plus one extension that drives the sync:
//!
//! ```yaml
//! x-sync:
//!   paths:            # every operation under these path templates is taken
//!     - /fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions
//!   operationIds: []  # and these operations, wherever they are
//!   dropExtensions:   # removed from everything taken from upstream
//!     - x-oaiMeta
//!   everyOperation:   # merged into every taken operation, before the rest
//!     security:
//!       - AdminApiKeyAuth: []
//!   header: |         # prose for the generated file's header comment
//!     ...
//! ```

use permissions_codegen::yaml::{Map, Node};

use super::{SyncError, convert::Note};

/// The parsed overlay.
#[derive(Debug, Clone)]
pub struct Overlay {
    /// Path templates whose operations (and those of the paths below them) are taken.
    pub paths: Vec<String>,
    /// Operations taken by `operationId`, wherever they are.
    pub operation_ids: Vec<String>,
    /// Extensions removed from everything taken from upstream.
    pub drop_extensions: Vec<String>,
    /// Merged into every taken operation.
    pub every_operation: Option<Node>,
    /// Prose for the header comment of the written fragment.
    pub header: Option<String>,
    /// The rest of the overlay, merged over the fragment.
    pub document: Node,
}

/// The extension that configures the sync.
pub const CONFIG_KEY: &str = "x-sync";

impl Overlay {
    /// Parses the overlay text.
    pub fn parse(text: &str) -> Result<Self, SyncError> {
        let bad = |message: String| SyncError::Overlay(message);
        let root = permissions_codegen::yaml::parse(text)
            .map_err(|e| bad(format!("not valid YAML: {e}")))?;
        let Node::Map(mut root) = root else {
            return Err(bad(format!("expected a mapping, found {}", root.kind())));
        };
        let config = root.shift_remove(CONFIG_KEY).ok_or_else(|| {
            bad(format!(
                "no `{CONFIG_KEY}` section (which operations to take)"
            ))
        })?;
        let Node::Map(mut config) = config else {
            return Err(bad(format!("`{CONFIG_KEY}` must be a mapping")));
        };
        let strings = |config: &mut Map, key: &str| -> Result<Vec<String>, SyncError> {
            match config.shift_remove(key) {
                None => Ok(Vec::new()),
                Some(Node::Seq(items)) => items
                    .into_iter()
                    .map(|item| match item {
                        Node::Str(s) => Ok(s),
                        other => Err(bad(format!(
                            "`{CONFIG_KEY}.{key}` must list strings, found {}",
                            other.kind()
                        ))),
                    })
                    .collect(),
                Some(other) => Err(bad(format!(
                    "`{CONFIG_KEY}.{key}` must be a list, found {}",
                    other.kind()
                ))),
            }
        };
        let paths = strings(&mut config, "paths")?;
        let operation_ids = strings(&mut config, "operationIds")?;
        let drop_extensions = strings(&mut config, "dropExtensions")?;
        if paths.is_empty() && operation_ids.is_empty() {
            return Err(bad(format!(
                "`{CONFIG_KEY}` selects nothing: give `paths` or `operationIds`"
            )));
        }
        if let Some(bad_path) = paths.iter().find(|p| !p.starts_with('/')) {
            return Err(bad(format!(
                "`{CONFIG_KEY}.paths`: `{bad_path}` is not a path template (it must start with /)"
            )));
        }
        let every_operation = match config.shift_remove("everyOperation") {
            None => None,
            Some(node @ Node::Map(_)) => Some(node),
            Some(other) => {
                return Err(bad(format!(
                    "`{CONFIG_KEY}.everyOperation` must be a mapping, found {}",
                    other.kind()
                )));
            }
        };
        let header = match config.shift_remove("header") {
            None => None,
            Some(Node::Str(text)) => Some(text),
            Some(other) => {
                return Err(bad(format!(
                    "`{CONFIG_KEY}.header` must be a string, found {}",
                    other.kind()
                )));
            }
        };
        if let Some(unknown) = config.keys().next() {
            return Err(bad(format!(
                "unknown key `{CONFIG_KEY}.{unknown}` (known: paths, operationIds, \
                 dropExtensions, everyOperation, header)"
            )));
        }
        Ok(Self {
            paths,
            operation_ids,
            drop_extensions,
            every_operation,
            header,
            document: Node::Map(root),
        })
    }

    /// Whether the operation `operation_id` at `path` is one the fragment takes.
    pub fn selects(&self, path: &str, operation_id: Option<&str>) -> bool {
        self.paths.iter().any(|prefix| {
            path == prefix
                || path
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        }) || operation_id.is_some_and(|id| self.operation_ids.iter().any(|o| o == id))
    }
}

/// Applies `patch` to `target` as a JSON Merge Patch (RFC 7386), noting at `at` every
/// upstream value that the patch replaces with a different one.
pub fn merge_patch(target: &mut Node, patch: &Node, at: &str, notes: &mut Vec<Note>) {
    let Node::Map(patch) = patch else {
        if target != patch {
            if !matches!(target, Node::Null) {
                notes.push(Note {
                    at: at.to_owned(),
                    what: "overlay replaces the upstream value".into(),
                });
            }
            *target = patch.clone();
        }
        return;
    };
    if !matches!(target, Node::Map(_)) {
        if !matches!(target, Node::Null) {
            notes.push(Note {
                at: at.to_owned(),
                what: format!("overlay replaces {} with a mapping", target.kind()),
            });
        }
        *target = Node::Map(Map::new());
    }
    let Node::Map(target) = target else {
        return;
    };
    for (key, value) in patch {
        let here = format!("{at}/{}", super::walk::escape(key));
        if matches!(value, Node::Null) {
            if target.shift_remove(key).is_some() {
                notes.push(Note {
                    at: here,
                    what: "overlay removes it".into(),
                });
            }
            continue;
        }
        match target.get_mut(key) {
            Some(existing) => merge_patch(existing, value, &here, notes),
            None => {
                // A new key: copy it, without its nulls (RFC 7386 removes them too).
                let mut fresh = Node::Null;
                merge_patch(&mut fresh, value, &here, &mut Vec::new());
                target.insert(key.clone(), fresh);
            }
        }
    }
}
