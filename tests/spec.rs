//! The OpenAPI fragment: valid OpenAPI 3.0, self-consistent, and faithful to the
//! official document where it copies it.

use permissions_codegen::{Spec, SpecError};
use serde_json::Value;
use workspace_tests::{fragment, fragment_text, load_yaml, shared_reference, value_shape};

const OPERATIONS: [(&str, &str, &str); 4] = [
    (
        "listFineTuningCheckpointPermissions",
        "GET",
        "/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions",
    ),
    (
        "createFineTuningCheckpointPermission",
        "POST",
        "/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions",
    ),
    (
        "deleteFineTuningCheckpointPermission",
        "DELETE",
        "/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions/{permission_id}",
    ),
    ("list-projects", "GET", "/organization/projects"),
];

const SCHEMAS: [&str; 6] = [
    "FineTuningCheckpointPermission",
    "ListFineTuningCheckpointPermissionResponse",
    "CreateFineTuningCheckpointPermissionRequest",
    "DeleteFineTuningCheckpointPermissionResponse",
    "Project",
    "ProjectListResponse",
];

/// Properties of official schemas that `openapi/overlay.yaml` leaves out.
const LEFT_OUT: [(&str, &str); 2] = [("Project", "external_key_id"), ("Project", "residency")];

#[test]
fn fragment_is_valid_openapi_30_with_its_operations() {
    let spec = fragment();
    assert!(spec.document().openapi.starts_with("3.0."));
    let mut operations = spec.operations();
    operations.sort();
    let mut expected: Vec<_> = OPERATIONS
        .iter()
        .map(|(id, m, p)| (id.to_string(), m.to_string(), p.to_string()))
        .collect();
    expected.sort();
    assert_eq!(operations, expected);
}

#[test]
fn every_operation_needs_the_admin_key_and_declares_its_errors() {
    let spec = fragment();
    let raw = spec.raw();
    assert_eq!(
        raw.pointer("/components/securitySchemes/AdminApiKeyAuth/scheme"),
        Some(&Value::from("bearer"))
    );
    for (id, method, path) in OPERATIONS {
        let op = &raw["paths"][path][method.to_lowercase()];
        assert_eq!(
            op["security"][0]["AdminApiKeyAuth"],
            serde_json::json!([]),
            "{id}"
        );
        let responses = op["responses"].as_object().unwrap();
        assert!(
            !responses.contains_key("default"),
            "{id}: progenitor needs explicit codes"
        );
        for code in ["400", "401", "403", "404", "409", "422", "429", "5XX"] {
            let target = responses
                .get(code)
                .and_then(|r| r["$ref"].as_str())
                .unwrap_or_else(|| panic!("{id}: no {code} response"));
            let response = raw.pointer(target.trim_start_matches('#')).unwrap();
            assert_eq!(
                response["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorResponse",
                "{id} {code}"
            );
        }
    }
    let envelope = spec.component_schema("Error").unwrap();
    for field in ["message", "type", "param", "code"] {
        assert!(envelope["properties"].get(field).is_some(), "Error.{field}");
    }
}

#[test]
fn cursors_are_nullable_and_optional() {
    let spec = fragment();
    let page = spec
        .component_schema("ListFineTuningCheckpointPermissionResponse")
        .unwrap();
    for cursor in ["first_id", "last_id"] {
        assert_eq!(page["properties"][cursor]["nullable"], true, "{cursor}");
        assert!(
            !page["required"]
                .as_array()
                .unwrap()
                .contains(&cursor.into()),
            "{cursor} must not be required"
        );
    }
}

fn parse_err(text: &str) -> SpecError {
    Spec::parse(text).expect_err("the document should be refused")
}

#[test]
fn a_dangling_ref_is_reported_with_its_location() {
    let text = fragment_text().replace(
        "$ref: \"#/components/schemas/FineTuningCheckpointPermission\"",
        "$ref: \"#/components/schemas/NoSuchSchema\"",
    );
    let message = parse_err(&text).to_string();
    assert!(
        message.contains("#/components/schemas/NoSuchSchema"),
        "{message}"
    );
    assert!(message.contains("does not resolve"), "{message}");
}

#[test]
fn a_duplicate_operation_id_is_reported() {
    let text = fragment_text().replace(
        "operationId: deleteFineTuningCheckpointPermission",
        "operationId: listFineTuningCheckpointPermissions",
    );
    let message = parse_err(&text).to_string();
    assert!(
        message.contains("operationId `listFineTuningCheckpointPermissions` is used by both"),
        "{message}"
    );
}

#[test]
fn other_versions_and_non_documents_are_refused() {
    let text = fragment_text().replace("openapi: 3.0.3", "openapi: 3.1.0");
    assert!(matches!(parse_err(&text), SpecError::Version { found } if found == "3.1.0"));
    assert!(matches!(parse_err("paths: {}"), SpecError::Version { .. }));
    assert!(matches!(
        parse_err("openapi: [unclosed"),
        SpecError::Yaml(_)
    ));
    assert!(matches!(
        parse_err("openapi: 3.0.3\npaths: 12\n"),
        SpecError::Structure(_)
    ));
}

/// Finds an operation of an OpenAPI document by its operationId.
fn operation<'a>(doc: &'a Value, wanted: &str) -> Option<(&'a str, &'a str, &'a Value)> {
    doc["paths"].as_object()?.iter().find_map(|(path, item)| {
        item.as_object()?.iter().find_map(|(method, op)| {
            (op["operationId"] == wanted).then_some((path.as_str(), method.as_str(), op))
        })
    })
}

/// The description of an official property: its own or, for `T | null` written as
/// `anyOf`, that of its one non-null branch (which the 3.0 conversion keeps).
fn description(prop: &Value) -> Value {
    if !prop["description"].is_null() {
        return prop["description"].clone();
    }
    let branches = prop["anyOf"].as_array().into_iter().flatten();
    let mut described = branches
        .filter(|b| b["type"] != "null")
        .map(|b| &b["description"]);
    match (described.next(), described.next()) {
        (Some(only), None) => only.clone(),
        _ => Value::Null,
    }
}

/// The parts of a parameter that the fragment must copy from the official document.
fn parameter_facts(param: &Value) -> Value {
    let same = |name: &str| name.to_owned();
    serde_json::json!({
        "name": param["name"],
        "in": param["in"],
        "required": param["required"].as_bool().unwrap_or(false),
        "description": param["description"],
        "shape": value_shape(&param["schema"], &same),
        "default": param["schema"]["default"],
    })
}

#[test]
fn fragment_matches_the_official_document() {
    let Some(path) = shared_reference("openai-openapi-3.1.0.yaml") else {
        return;
    };
    let official = load_yaml(&path);
    let ours = fragment();
    let ours = ours.raw();

    for (id, method, path) in OPERATIONS {
        let (o_path, o_method, o_op) =
            operation(&official, id).unwrap_or_else(|| panic!("{id} not in the official document"));
        assert_eq!((o_path, o_method.to_uppercase().as_str()), (path, method));
        let op = &ours["paths"][path][method.to_lowercase()];
        assert_eq!(op["summary"], o_op["summary"], "{id} summary");
        assert_eq!(op["tags"], o_op["tags"], "{id} tags");
        let facts = |op: &Value| -> Vec<Value> {
            op["parameters"]
                .as_array()
                .map(|ps| ps.iter().map(parameter_facts).collect())
                .unwrap_or_default()
        };
        assert_eq!(facts(op), facts(o_op), "{id} parameters");
        assert_eq!(op["requestBody"], o_op["requestBody"], "{id} request body");
        // `links` are our addition (overlay.yaml); the rest of the 200 is upstream's.
        let mut ok = op["responses"]["200"].clone();
        let links = ok.as_object_mut().and_then(|o| o.remove("links"));
        assert_eq!(ok, o_op["responses"]["200"], "{id} 200");
        for (name, link) in links.iter().flat_map(|l| l.as_object()).flatten() {
            let target = link["operationId"].as_str().unwrap_or_default();
            assert!(
                OPERATIONS.iter().any(|(id, _, _)| *id == target),
                "{id} link {name} names an operation the fragment lacks: {target}"
            );
        }
    }

    let same = |name: &str| name.to_owned();
    for name in SCHEMAS.into_iter().chain(["Error", "ErrorResponse"]) {
        let mut o_schema = official["components"]["schemas"][name].clone();
        for (_, prop) in LEFT_OUT.iter().filter(|(schema, _)| *schema == name) {
            let removed = o_schema["properties"]
                .as_object_mut()
                .and_then(|props| props.remove(*prop));
            assert!(
                removed.is_some(),
                "{name}.{prop} is no longer upstream: drop it from the overlay"
            );
        }
        let o_schema = &o_schema;
        let schema = &ours["components"]["schemas"][name];
        assert_eq!(
            workspace_tests::object_shape(schema, &same),
            workspace_tests::object_shape(o_schema, &same),
            "{name}"
        );
        assert_eq!(schema["description"], o_schema["description"], "{name}");
        for (prop, body) in schema["properties"].as_object().unwrap() {
            assert_eq!(
                body["description"],
                description(&o_schema["properties"][prop]),
                "{name}.{prop} description"
            );
        }
    }
}
