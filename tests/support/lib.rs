//! Helpers shared by the workspace-level tests: where things are, and a normal form
//! of JSON Schemas so that OpenAPI 3.0, OpenAPI 3.1 and schemars output compare.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use serde_json::Value;

/// The root of the workspace checkout.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The OpenAPI fragment, as text.
pub fn fragment_text() -> String {
    let path = workspace_root().join("openapi/permissions.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The OpenAPI fragment, parsed and checked.
pub fn fragment() -> permissions_codegen::Spec {
    permissions_codegen::Spec::parse(&fragment_text()).expect("the fragment is valid")
}

/// A file of `../shared/reference/`, or `None` (after saying so) when the shared
/// folder is not beside this checkout, as in a plain clone.
pub fn shared_reference(name: &str) -> Option<PathBuf> {
    let path = workspace_root().join("../shared/reference").join(name);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: {} is absent (it comes with ../shared beside the checkout); \
             nothing was checked against the official document",
            path.display()
        );
        None
    }
}

/// Parses a YAML or JSON file into JSON.
pub fn load_yaml(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    permissions_codegen::yaml::parse_json(&text)
        .unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The shape of an object schema, independent of how nullability, `$ref`s and enums
/// are spelled: OpenAPI 3.0 (`nullable`), 3.1 (`anyOf` with `null`, type arrays,
/// `const`) and schemars (`$defs`, `oneOf` of `const`s) all give the same shape.
#[derive(Debug, PartialEq, Eq)]
pub struct ObjectShape {
    /// Each property's shape, such as `string?` or `array<FineTuningCheckpointPermission>`.
    pub properties: BTreeMap<String, String>,
    /// The required properties.
    pub required: BTreeSet<String>,
    /// Whether unknown properties are refused (`additionalProperties: false`).
    pub closed: bool,
}

/// The shape of `schema`, an object schema. `ref_name` turns the last segment of a
/// `$ref` into the name it is compared under.
pub fn object_shape(schema: &Value, ref_name: &dyn Fn(&str) -> String) -> ObjectShape {
    let properties = schema["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .map(|(name, prop)| (name.clone(), value_shape(prop, ref_name)))
                .collect()
        })
        .unwrap_or_default();
    let required = schema["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    ObjectShape {
        properties,
        required,
        closed: schema["additionalProperties"] == Value::Bool(false),
    }
}

/// The shape of one property schema as a short string: the type, `?` when null is
/// allowed, `[a|b]` for enum values and `<...>` for array items.
pub fn value_shape(schema: &Value, ref_name: &dyn Fn(&str) -> String) -> String {
    let mut nullable = schema["nullable"] == Value::Bool(true);
    let mut schema = schema.clone();

    // 3.1 and schemars spell `T | null` as anyOf/oneOf with a null branch.
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = schema[key].as_array().cloned() {
            let (nulls, rest): (Vec<_>, Vec<_>) =
                branches.into_iter().partition(|b| b["type"] == "null");
            nullable |= !nulls.is_empty();
            if rest.len() == 1 {
                schema = rest[0].clone();
            } else if !rest.is_empty() && rest.iter().all(|b| b.get("const").is_some()) {
                // An enum written as one `const` per variant.
                schema = serde_json::json!({
                    "type": "string",
                    "enum": rest.iter().map(|b| b["const"].clone()).collect::<Vec<_>>(),
                });
            }
        }
    }
    if let Some(target) = schema["$ref"].as_str() {
        let name = target.rsplit('/').next().unwrap_or(target);
        return format!("{}{}", ref_name(name), if nullable { "?" } else { "" });
    }
    let ty = match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(types) => {
            let names: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            nullable |= names.contains(&"null");
            names
                .into_iter()
                .filter(|t| *t != "null")
                .collect::<Vec<_>>()
                .join("|")
        }
        _ => "any".to_owned(),
    };
    let mut shape = ty;
    if let Some(value) = schema.get("const") {
        shape.push_str(&format!("[{}]", value.as_str().unwrap_or_default()));
    } else if let Some(values) = schema["enum"].as_array() {
        let values: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
        shape.push_str(&format!("[{}]", values.join("|")));
    }
    if shape == "array" {
        shape = format!("array<{}>", value_shape(&schema["items"], ref_name));
    }
    if nullable {
        shape.push('?');
    }
    shape
}
