//! Every generated operation against an in-process server on 127.0.0.1 that records
//! what arrives: the exact method, path, query, headers and body on the wire.

use axum::http::Method;
use permissions_api::generated::{Client, Error};
use permissions_types::{CreatePermissionsRequest, ListOrder, PermissionObject};

const KEY: &str = "sk-admin-wire-test-0123456789";
const CHECKPOINT: &str = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd";

use crate::common::{Recorder, Seen};

/// The generated client, configured by the hand-written builder (which sets the
/// credentials through the generated client's hooks); no retries.
fn client(server: &Recorder) -> Client {
    permissions_api::Client::builder()
        .api_key(KEY)
        .base_url(&server.url)
        .max_retries(0)
        .build()
        .unwrap()
        .raw()
        .clone()
}
const PAGE: &str = r#"{"object": "list", "data": [
    {"object": "checkpoint.permission", "id": "cp_zc4Q7MP6XxulcVzj4MZdwsAB",
     "created_at": 1721764867, "project_id": "proj_abGMw1llN8IrBb6SvvY5A1iH",
     "a_field_from_the_future": true}],
  "first_id": "cp_zc4Q7MP6XxulcVzj4MZdwsAB", "last_id": "cp_zc4Q7MP6XxulcVzj4MZdwsAB",
  "has_more": true}"#;

/// Headers every request carries: the key as a bearer token, JSON accepted, our
/// user agent, and no `api-version` (progenitor adds it; the pre-request hook
/// removes it).
fn assert_common_headers(seen: &Seen) {
    assert_eq!(seen.headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(seen.headers["accept"], "application/json");
    assert_eq!(seen.headers["user-agent"], permissions_api::USER_AGENT);
    assert!(
        !seen.headers.contains_key("api-version"),
        "api-version leaked: {:?}",
        seen.headers
    );
}

#[tokio::test]
async fn list_sends_every_parameter_in_the_query() {
    let server = Recorder::fixed(200, PAGE).await;
    let page = client(&server)
        .list_fine_tuning_checkpoint_permissions()
        .fine_tuned_model_checkpoint(CHECKPOINT)
        .after("cp_prev")
        .limit(100)
        .order(ListOrder::Ascending)
        .project_id("proj_abGMw1llN8IrBb6SvvY5A1iH")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-request-id"], "req_123");
    let page = page.into_inner();
    assert!(page.has_more);
    assert_eq!(page.data[0].object, PermissionObject::CheckpointPermission);

    let seen = server.only_request();
    assert_eq!(seen.method, Method::GET);
    assert_eq!(
        seen.path,
        "/v1/fine_tuning/checkpoints/ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd/permissions"
    );
    assert_eq!(
        seen.query.as_deref(),
        Some("after=cp_prev&limit=100&order=ascending&project_id=proj_abGMw1llN8IrBb6SvvY5A1iH")
    );
    assert_common_headers(&seen);
    assert!(seen.body.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn list_omits_parameters_that_are_not_set() {
    let server = Recorder::fixed(200, PAGE).await;
    client(&server)
        .list_fine_tuning_checkpoint_permissions()
        .fine_tuned_model_checkpoint(CHECKPOINT)
        .send()
        .await
        .unwrap();
    let seen = server.only_request();
    assert_eq!(seen.query, None);
    server.stop().await;
}

#[tokio::test]
async fn list_projects_sends_its_parameters_and_decodes_the_page() {
    let server = Recorder::fixed(
        200,
        r#"{"object": "list", "data": [{"id": "proj_abc", "object": "organization.project",
            "name": "Research", "created_at": 1711471533, "archived_at": null,
            "status": "active", "residency": "GLOBAL"}],
           "first_id": "proj_abc", "last_id": "proj_abc", "has_more": false}"#,
    )
    .await;
    let page = client(&server)
        .list_projects()
        .after("proj_prev")
        .limit(100)
        .include_archived(true)
        .send()
        .await
        .unwrap();
    assert_eq!(page.data[0].name.as_deref(), Some("Research"));
    let seen = server.only_request();
    assert_eq!(
        (&seen.method, seen.path.as_str()),
        (&Method::GET, "/v1/organization/projects")
    );
    assert_eq!(
        seen.query.as_deref(),
        Some("after=proj_prev&include_archived=true&limit=100")
    );
    assert_common_headers(&seen);
    server.stop().await;
}

#[tokio::test]
async fn create_posts_the_project_ids_as_json() {
    let server = Recorder::fixed(200, PAGE).await;
    let body = CreatePermissionsRequest::new(["proj_a", "proj_b"]);
    let page = client(&server)
        .create_fine_tuning_checkpoint_permission()
        .fine_tuned_model_checkpoint(CHECKPOINT)
        .body(body)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.data.len(), 1);

    let seen = server.only_request();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(
        seen.path,
        "/v1/fine_tuning/checkpoints/ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd/permissions"
    );
    assert_eq!(seen.query, None);
    assert_eq!(seen.headers["content-type"], "application/json");
    assert_common_headers(&seen);
    let sent: serde_json::Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"project_ids": ["proj_a", "proj_b"]})
    );
    server.stop().await;
}

#[tokio::test]
async fn delete_names_the_permission_in_the_path() {
    let server = Recorder::fixed(
        200,
        r#"{"object": "checkpoint.permission", "id": "cp_zc4Q7MP6XxulcVzj4MZdwsAB", "deleted": true}"#,
    )
    .await;
    let deleted = client(&server)
        .delete_fine_tuning_checkpoint_permission()
        .fine_tuned_model_checkpoint(CHECKPOINT)
        .permission_id("cp_zc4Q7MP6XxulcVzj4MZdwsAB")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(deleted.deleted);
    assert_eq!(deleted.id, "cp_zc4Q7MP6XxulcVzj4MZdwsAB");

    let seen = server.only_request();
    assert_eq!(seen.method, Method::DELETE);
    assert_eq!(
        seen.path,
        "/v1/fine_tuning/checkpoints/ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd/permissions/cp_zc4Q7MP6XxulcVzj4MZdwsAB"
    );
    assert_eq!(seen.query, None);
    assert_common_headers(&seen);
    assert!(seen.body.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn path_parameters_are_percent_encoded_except_colons() {
    let server = Recorder::fixed(
        200,
        r#"{"object": "checkpoint.permission", "id": "x", "deleted": true}"#,
    )
    .await;
    client(&server)
        .delete_fine_tuning_checkpoint_permission()
        .fine_tuned_model_checkpoint("ft:my model/v2?x#1%")
        .permission_id("cp_ü{1}")
        .send()
        .await
        .unwrap();
    let seen = server.only_request();
    assert_eq!(
        seen.path,
        "/v1/fine_tuning/checkpoints/ft:my%20model%2Fv2%3Fx%231%25/permissions/cp_%C3%BC%7B1%7D"
    );
    assert_eq!(seen.query, None, "a `?` in an id must not start a query");
    server.stop().await;
}

#[tokio::test]
async fn error_responses_decode_into_the_envelope() {
    let server = Recorder::fixed(
        404,
        r#"{"error": {"message": "No permission cp_x", "type": "invalid_request_error",
                      "param": "permission_id", "code": "not_found"}}"#,
    )
    .await;
    let err = client(&server)
        .delete_fine_tuning_checkpoint_permission()
        .fine_tuned_model_checkpoint(CHECKPOINT)
        .permission_id("cp_x")
        .send()
        .await
        .unwrap_err();
    match err {
        Error::ErrorResponse(response) => {
            assert_eq!(response.status(), 404);
            assert_eq!(response.error.message, "No permission cp_x");
            assert_eq!(response.error.param.as_deref(), Some("permission_id"));
            assert_eq!(response.error.code.as_deref(), Some("not_found"));
        }
        other => panic!("expected an error response, got {other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn a_body_that_is_not_the_schema_is_an_error_not_a_panic() {
    let server = Recorder::fixed(200, r#"{"object": "list", "data": "nope"}"#).await;
    let err = client(&server)
        .list_fine_tuning_checkpoint_permissions()
        .fine_tuned_model_checkpoint(CHECKPOINT)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidResponsePayload(..)), "{err:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_missing_checkpoint_is_refused_before_sending() {
    let server = Recorder::fixed(200, PAGE).await;
    let err = client(&server)
        .list_fine_tuning_checkpoint_permissions()
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert!(server.requests().is_empty());
    server.stop().await;
}
