//! Decoding rules of the wire types: forward compatible on responses, strict on requests.

use permissions_types::{
    CheckpointPermission, CreatePermissionsRequest, DeletedPermission, ErrorResponse, ListObject,
    ListOrder, PermissionList, PermissionObject,
};

const PAGE: &str = r#"{
  "object": "list",
  "data": [
    {"object": "checkpoint.permission", "id": "cp_zc4Q7MP6XxulcVzj4MZdwsAB",
     "created_at": 1721764867, "project_id": "proj_abGMw1llN8IrBb6SvvY5A1iH"},
    {"object": "checkpoint.permission", "id": "cp_enQCFmOTGj3syEpYVhBRLTSy",
     "created_at": 1721764800, "project_id": "proj_iqGMw1llN8IrBb6SvvY5A1oF"}
  ],
  "first_id": "cp_zc4Q7MP6XxulcVzj4MZdwsAB",
  "last_id": "cp_enQCFmOTGj3syEpYVhBRLTSy",
  "has_more": false
}"#;

#[test]
fn official_example_page_decodes_and_round_trips() {
    let page: PermissionList = serde_json::from_str(PAGE).unwrap();
    assert_eq!(page.data.len(), 2);
    assert_eq!(page.object, ListObject::List);
    assert_eq!(page.data[1].created_at, 1721764800);
    assert_eq!(page.last_id.as_deref(), Some("cp_enQCFmOTGj3syEpYVhBRLTSy"));
    let again: PermissionList =
        serde_json::from_str(&serde_json::to_string(&page).unwrap()).unwrap();
    assert_eq!(again, page);
}

#[test]
fn unknown_fields_in_responses_are_ignored() {
    let json = r#"{"object": "checkpoint.permission", "id": "cp_1", "created_at": 1,
                   "project_id": "proj_1", "granted_by": "user_1", "extra": {"nested": [1, 2]}}"#;
    let permission: CheckpointPermission = serde_json::from_str(json).unwrap();
    assert_eq!(permission.id, "cp_1");
}

#[test]
fn unknown_object_kind_is_kept_not_rejected() {
    let json = r#"{"object": "checkpoint.permission.v2", "id": "cp_1", "deleted": true}"#;
    let deleted: DeletedPermission = serde_json::from_str(json).unwrap();
    assert_eq!(
        deleted.object,
        PermissionObject::Unknown("checkpoint.permission.v2".into())
    );
    assert!(!deleted.object.is_known());
    // Written back exactly as received.
    let out = serde_json::to_value(&deleted).unwrap();
    assert_eq!(out["object"], "checkpoint.permission.v2");
}

#[test]
fn absent_or_null_cursors_decode_as_none() {
    let page: PermissionList =
        serde_json::from_str(r#"{"object": "list", "data": [], "has_more": false}"#).unwrap();
    assert_eq!((page.first_id, page.last_id), (None, None));
    let page: PermissionList = serde_json::from_str(
        r#"{"object": "list", "data": [], "first_id": null, "last_id": null, "has_more": false}"#,
    )
    .unwrap();
    assert!(page.first_id.is_none());
}

#[test]
fn page_constructor_keeps_cursors_consistent_with_data() {
    let full: PermissionList = serde_json::from_str(PAGE).unwrap();
    let rebuilt = PermissionList::new(full.data.clone(), false);
    assert_eq!(rebuilt, full);
    let empty = PermissionList::new(Vec::new(), false);
    assert_eq!((empty.first_id, empty.last_id), (None, None));
}

#[test]
fn wrong_shapes_are_errors_not_panics() {
    let bad = [
        "",
        "null",
        "[]",
        r#"{"object": "list"}"#,
        r#"{"object": 7, "data": [], "has_more": false}"#,
        r#"{"object": "list", "data": [{"id": 1}], "has_more": false}"#,
        r#"{"object": "list", "data": [], "has_more": "yes"}"#,
        "\u{0}\u{1}garbage",
    ];
    for input in bad {
        assert!(
            serde_json::from_str::<PermissionList>(input).is_err(),
            "{input:?} should not decode"
        );
    }
}

#[test]
fn create_request_rejects_unknown_fields() {
    let ok: CreatePermissionsRequest =
        serde_json::from_str(r#"{"project_ids": ["proj_1", "proj_2"]}"#).unwrap();
    assert_eq!(ok.project_ids, ["proj_1", "proj_2"]);
    let err = serde_json::from_str::<CreatePermissionsRequest>(
        r#"{"project_ids": ["proj_1"], "projects": ["proj_2"]}"#,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("unknown field `projects`"),
        "{err}"
    );
}

#[test]
fn error_envelope_uses_the_type_key() {
    let json = r#"{"error": {"message": "No permission found", "type": "invalid_request_error",
                   "param": null, "code": "not_found"}}"#;
    let envelope: ErrorResponse = serde_json::from_str(json).unwrap();
    assert_eq!(envelope.error.kind, "invalid_request_error");
    assert_eq!(envelope.error.code.as_deref(), Some("not_found"));
    assert_eq!(
        serde_json::to_value(&envelope).unwrap()["error"]["type"],
        "invalid_request_error"
    );
}

#[test]
fn error_body_without_param_or_code_still_decodes() {
    let envelope: ErrorResponse =
        serde_json::from_str(r#"{"error": {"message": "Rate limited", "type": "requests"}}"#)
            .unwrap();
    assert_eq!(envelope.error.param, None);
    assert_eq!(envelope.error.code, None);
}

#[test]
fn list_order_wire_form() {
    assert_eq!(ListOrder::default(), ListOrder::Descending);
    assert_eq!(
        serde_json::to_string(&ListOrder::Ascending).unwrap(),
        r#""ascending""#
    );
    assert_eq!(
        "descending".parse::<ListOrder>().unwrap(),
        ListOrder::Descending
    );
    let err = "sideways".parse::<ListOrder>().unwrap_err();
    assert!(err.to_string().contains("sideways"));
    assert!(serde_json::from_str::<ListOrder>(r#""Ascending""#).is_err());
}

#[test]
fn projects_decode_forward_compatibly() {
    use permissions_types::{ProjectList, ProjectObject, ProjectStatus};
    // The official example, with the fields this crate does not model.
    let page: ProjectList = serde_json::from_str(
        r#"{"object": "list", "data": [
              {"id": "proj_abc", "object": "organization.project", "name": "Project example",
               "created_at": 1711471533, "archived_at": null, "status": "active",
               "external_key_id": null, "residency": "GLOBAL"},
              {"id": "proj_def", "object": "organization.project", "name": null,
               "created_at": 1711471534, "archived_at": 1711471600, "status": "archived"},
              {"id": "proj_ghi", "object": "organization.project", "created_at": 1,
               "status": "paused"}],
            "first_id": "proj_abc", "last_id": "proj_ghi", "has_more": false}"#,
    )
    .unwrap();
    let [active, archived, unknown] = &page.data[..] else {
        panic!("three projects")
    };
    assert_eq!(active.object, ProjectObject::OrganizationProject);
    assert_eq!(active.name.as_deref(), Some("Project example"));
    assert!(!active.is_archived());
    assert_eq!(archived.name, None);
    assert!(archived.is_archived());
    assert_eq!(
        unknown.status,
        Some(ProjectStatus::Unknown("paused".into()))
    );
    assert!(!unknown.is_archived());
    let again: ProjectList = serde_json::from_str(&serde_json::to_string(&page).unwrap()).unwrap();
    assert_eq!(again, page);
}
