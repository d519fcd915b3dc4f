//! Loading and checking the OpenAPI fragment before anything is generated from it.

use std::collections::BTreeMap;

use serde_json::Value;

/// A parsed and checked OpenAPI 3.0 document.
#[derive(Debug, Clone)]
pub struct Spec {
    raw: Value,
    document: openapiv3::OpenAPI,
}

/// Why a document is not a usable OpenAPI 3.0 fragment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The text is not YAML (or JSON, which is YAML too).
    #[error("the spec is not valid YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    /// The `openapi` field is missing or names another version.
    #[error("expected an OpenAPI 3.0.x document, found `openapi: {found}`")]
    Version {
        /// What the `openapi` field held, or `(missing)`.
        found: String,
    },
    /// The document does not have the structure of an OpenAPI 3.0 document.
    #[error("the spec is not a valid OpenAPI 3.0 document: {0}")]
    Structure(#[source] serde_json::Error),
    /// The document parses, but breaks rules the generator relies on.
    #[error("the spec has {} problem(s):\n  - {}", .0.len(), .0.join("\n  - "))]
    Invalid(Vec<String>),
}

impl Spec {
    /// Parses `text` (YAML or JSON) and checks it: an OpenAPI 3.0.x document whose
    /// every local `$ref` resolves and whose operations all have unique `operationId`s.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let raw = crate::yaml::parse_json(text)?;
        match raw.get("openapi").and_then(Value::as_str) {
            Some(version) if version.starts_with("3.0.") => {}
            other => {
                return Err(SpecError::Version {
                    found: other.unwrap_or("(missing)").to_owned(),
                });
            }
        }
        let document: openapiv3::OpenAPI =
            serde_json::from_value(raw.clone()).map_err(SpecError::Structure)?;

        let mut problems = Vec::new();
        check_refs(&raw, &raw, "#", &mut problems);
        check_operation_ids(&document, &mut problems);
        if problems.is_empty() {
            Ok(Self { raw, document })
        } else {
            Err(SpecError::Invalid(problems))
        }
    }

    /// The typed document, as progenitor reads it.
    pub fn document(&self) -> &openapiv3::OpenAPI {
        &self.document
    }

    /// The document as plain JSON, for checks that look at it without a schema.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// The component schema called `name`, as JSON.
    pub fn component_schema(&self, name: &str) -> Option<&Value> {
        self.raw
            .pointer(&format!("/components/schemas/{}", escape_pointer(name)))
    }

    /// Every operation as `(operationId, METHOD, path)`, in document order.
    pub fn operations(&self) -> Vec<(String, String, String)> {
        self.document
            .operations()
            .map(|(path, method, op)| {
                (
                    op.operation_id.clone().unwrap_or_default(),
                    method.to_uppercase(),
                    path.to_owned(),
                )
            })
            .collect()
    }
}

fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn check_refs(root: &Value, node: &Value, at: &str, problems: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            if let Some(target) = map.get("$ref") {
                match target.as_str().and_then(|t| t.strip_prefix('#')) {
                    Some(pointer) if root.pointer(pointer).is_some() => {}
                    _ => problems.push(format!("{at}: `$ref: {target}` does not resolve")),
                }
            }
            for (key, value) in map {
                check_refs(
                    root,
                    value,
                    &format!("{at}/{}", escape_pointer(key)),
                    problems,
                );
            }
        }
        Value::Array(items) => {
            for (index, value) in items.iter().enumerate() {
                check_refs(root, value, &format!("{at}/{index}"), problems);
            }
        }
        _ => {}
    }
}

fn check_operation_ids(document: &openapiv3::OpenAPI, problems: &mut Vec<String>) {
    let mut seen: BTreeMap<&str, String> = BTreeMap::new();
    for (path, method, operation) in document.operations() {
        let here = format!("{} {path}", method.to_uppercase());
        match operation.operation_id.as_deref() {
            None => problems.push(format!("{here}: no operationId")),
            Some(id) => {
                if let Some(first) = seen.insert(id, here.clone()) {
                    problems.push(format!(
                        "operationId `{id}` is used by both {first} and {here}"
                    ));
                }
            }
        }
    }
}
