//! The shared wire types and the spec's component schemas must not drift apart: the
//! JSON Schema schemars derives for each type has the same shape as its schema.

use permissions_types::{
    ApiError, CheckpointPermission, CreatePermissionsRequest, DeletedPermission, ErrorResponse,
    ListOrder, PermissionList, Project, ProjectList,
};
use serde_json::Value;
use workspace_tests::{ObjectShape, fragment, object_shape, value_shape};

/// The JSON Schema of the shared type named by `rust_path` (a `REPLACEMENTS` entry).
fn schema_of(rust_path: &str) -> Value {
    let schema = match rust_path.rsplit("::").next().unwrap() {
        "CheckpointPermission" => schemars::schema_for!(CheckpointPermission),
        "PermissionList" => schemars::schema_for!(PermissionList),
        "CreatePermissionsRequest" => schemars::schema_for!(CreatePermissionsRequest),
        "DeletedPermission" => schemars::schema_for!(DeletedPermission),
        "ErrorResponse" => schemars::schema_for!(ErrorResponse),
        "ApiError" => schemars::schema_for!(ApiError),
        "Project" => schemars::schema_for!(Project),
        "ProjectList" => schemars::schema_for!(ProjectList),
        other => panic!("no shared type {other}: add it to this test"),
    };
    schema.to_value()
}

/// Maps a Rust type name in a schemars `$ref` to the spec schema it replaces.
fn spec_name_of(rust_name: &str) -> String {
    permissions_codegen::REPLACEMENTS
        .iter()
        .find(|(_, rust)| rust.rsplit("::").next() == Some(rust_name))
        .map_or_else(
            || format!("unmapped:{rust_name}"),
            |(spec, _)| spec.to_string(),
        )
}

fn spec_shapes(spec: &permissions_codegen::Spec) -> Vec<(String, ObjectShape)> {
    let same = |name: &str| name.to_owned();
    permissions_codegen::REPLACEMENTS
        .iter()
        .map(|(schema, _)| {
            let body = spec
                .component_schema(schema)
                .unwrap_or_else(|| panic!("{schema} is not in the fragment"));
            (schema.to_string(), object_shape(body, &same))
        })
        .collect()
}

fn type_shapes() -> Vec<(String, ObjectShape)> {
    permissions_codegen::REPLACEMENTS
        .iter()
        .map(|(schema, rust)| {
            (
                schema.to_string(),
                object_shape(&schema_of(rust), &spec_name_of),
            )
        })
        .collect()
}

#[test]
fn every_shared_type_has_the_shape_of_its_component_schema() {
    let spec = spec_shapes(&fragment());
    let types = type_shapes();
    for ((name, expected), (_, actual)) in spec.iter().zip(&types) {
        assert_eq!(
            actual, expected,
            "{name}: the Rust type and the spec disagree"
        );
    }
}

#[test]
fn a_drifted_spec_is_caught() {
    // Make `last_id` non-nullable and `has_more` optional in a copy of the spec.
    let text = workspace_tests::fragment_text()
        .replacen(
            "        last_id:\n          type: string\n          nullable: true\n",
            "        last_id:\n          type: string\n",
            1,
        )
        .replacen(
            "        - data\n        - has_more\n",
            "        - data\n",
            1,
        );
    let drifted = permissions_codegen::Spec::parse(&text).unwrap();
    let name = "ListFineTuningCheckpointPermissionResponse";
    let spec = spec_shapes(&drifted)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap()
        .1;
    let ours = type_shapes()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap()
        .1;
    assert_ne!(spec.properties["last_id"], ours.properties["last_id"]);
    assert_ne!(spec.required, ours.required);
}

#[test]
fn list_order_matches_the_order_parameter() {
    let spec = fragment();
    let param = spec.raw()["paths"]
        ["/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "order")
        .unwrap()
        .clone();
    let same = |name: &str| name.to_owned();
    let ours = schemars::schema_for!(ListOrder).to_value();
    assert_eq!(
        value_shape(&ours, &same),
        value_shape(&param["schema"], &same)
    );
    assert_eq!(
        serde_json::to_value(ListOrder::default()).unwrap(),
        param["schema"]["default"]
    );
}

#[test]
fn shared_type_schemas_snapshot() {
    let schemas: serde_json::Map<String, Value> = permissions_codegen::REPLACEMENTS
        .iter()
        .map(|(schema, rust)| (schema.to_string(), schema_of(rust)))
        .collect();
    insta::assert_json_snapshot!("shared_type_schemas", schemas);
}
