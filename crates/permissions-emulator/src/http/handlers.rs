//! The four operations: list, create and delete permissions over the store, and
//! list the organization's projects.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use permissions_types::{
    CheckpointId, CheckpointPermission, DeletedPermission, PermissionList, ProjectList,
};

use super::envelope::{Failure, clip, json_response};
use super::extract::{
    body_from, checkpoint_from, list_query_from, parse_create_body, permission_path_from,
    projects_query_from, require_json,
};
use crate::faults::Fault;
use crate::org::{Refusal, UnknownCursor};
use crate::state::EmulatorState;
use crate::store::{Record, Store, StoreError};

pub(crate) async fn not_found(request: Request) -> Failure {
    Failure::invalid(
        StatusCode::NOT_FOUND,
        format!(
            "Invalid URL ({} {}).",
            request.method(),
            clip(request.uri().path())
        ),
    )
}

/// Refuses a checkpoint the organization does not have (only a seed that lists
/// projects leaves some out), as the real API refuses a model it does not know.
fn require_checkpoint(state: &EmulatorState, checkpoint: &CheckpointId) -> Result<(), Failure> {
    if state.org().has_checkpoint(checkpoint) {
        Ok(())
    } else {
        Err(Failure::invalid(
            StatusCode::NOT_FOUND,
            format!("The model `{checkpoint}` does not exist or you do not have access to it."),
        )
        .code("model_not_found"))
    }
}

/// A page as a page anomaly leaves it (see [`Fault::EmptyPage`] and
/// [`Fault::RepeatLastId`]); without one, as it is.
struct Bent<'a> {
    /// The page's data is dropped.
    empty: bool,
    has_more: bool,
    last_id: Option<&'a str>,
}

fn bend<'a>(
    anomaly: Option<&Extension<Fault>>,
    after: Option<&'a str>,
    last_id: Option<&'a str>,
    has_more: bool,
) -> Bent<'a> {
    match anomaly.map(|Extension(fault)| fault) {
        Some(Fault::EmptyPage) => Bent {
            empty: true,
            has_more: true,
            last_id: None,
        },
        Some(Fault::RepeatLastId) => Bent {
            empty: false,
            has_more: true,
            last_id: after.or(last_id),
        },
        _ => Bent {
            empty: false,
            has_more,
            last_id,
        },
    }
}

pub(crate) async fn list(
    State(state): State<EmulatorState>,
    anomaly: Option<Extension<Fault>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Failure> {
    let checkpoint = checkpoint_from(path)?;
    let query = list_query_from(query)?;
    require_checkpoint(&state, &checkpoint)?;
    let after = query.after.as_ref().map(|id| id.as_str());
    let body = state
        .0
        .store
        .list(
            &checkpoint,
            query.after.as_ref(),
            query.limit,
            query.order,
            query.project_id.as_ref(),
            |data, has_more| {
                let last = data.last().map(|r| r.permission.id.as_str());
                let bent = bend(anomaly.as_ref(), after, last, has_more);
                page_json(
                    if bent.empty { &[] } else { data },
                    bent.has_more,
                    bent.last_id,
                )
            },
        )
        .map_err(|error| match error {
            StoreError::UnknownCursor => Failure::bad_request(format!(
                "Invalid 'after': no permission '{}' was ever created on this checkpoint.",
                clip(after.unwrap_or_default())
            ))
            .param("after")
            .code("invalid_cursor"),
            other => storage_failure(other),
        })?;
    Ok(json_response(StatusCode::OK, body))
}

/// Serializes a page by copying each permission's pre-serialized JSON; the fields
/// are those, and in the order, of [`PermissionList`]. `last_id` is given apart so
/// that a page anomaly can replace it.
fn page_json(data: &[&Record], has_more: bool, last_id: Option<&str>) -> Vec<u8> {
    let size: usize = data.iter().map(|r| r.json.len() + 1).sum();
    let mut out = Vec::with_capacity(size + 160);
    out.extend_from_slice(b"{\"data\":[");
    for (i, record) in data.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&record.json);
    }
    out.extend_from_slice(b"],\"object\":\"list\",\"first_id\":");
    push_optional_string(&mut out, data.first().map(|r| r.permission.id.as_str()));
    out.extend_from_slice(b",\"last_id\":");
    push_optional_string(&mut out, last_id);
    out.extend_from_slice(if has_more {
        b",\"has_more\":true}"
    } else {
        b",\"has_more\":false}"
    });
    out
}

fn push_optional_string(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => {
            if serde_json::to_writer(&mut *out, value).is_err() {
                out.extend_from_slice(b"null");
            }
        }
        None => out.extend_from_slice(b"null"),
    }
}

fn storage_failure(error: StoreError) -> Failure {
    match error {
        StoreError::Storage(error) => tracing::error!(%error, "storage failure"),
        other => tracing::error!(error = ?other, "unexpected store answer"),
    }
    Failure::internal()
}

/// Runs a store write: on a blocking thread when it goes to SQLite (disk I/O must
/// not stall the async workers), inline when the store is in memory.
async fn write_store<T: Send + 'static>(
    state: &EmulatorState,
    write: impl FnOnce(&Store) -> T + Send + 'static,
) -> Result<T, Failure> {
    if state.is_persistent() {
        let state = state.clone();
        tokio::task::spawn_blocking(move || write(&state.0.store))
            .await
            .map_err(|_| Failure::internal())
    } else {
        Ok(write(&state.0.store))
    }
}

pub(crate) async fn create(
    State(state): State<EmulatorState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = body_from(body)?;
    let checkpoint = checkpoint_from(path)?;
    require_json(&headers)?;
    let project_ids = parse_create_body(&body)?;
    require_checkpoint(&state, &checkpoint)?;
    if let Err(refusal) = state.org().check_grant(&checkpoint, &project_ids) {
        let message = match refusal {
            Refusal::Owner(project) => format!(
                "Cannot modify checkpoint permissions for the owning project: {}",
                clip(project.as_str())
            ),
            Refusal::UnknownProject(project) => format!(
                "Project '{}' was not found in this organization.",
                clip(project.as_str())
            ),
            Refusal::ArchivedProject(project) => format!(
                "Project '{}' is archived: archived projects cannot be used or updated.",
                clip(project.as_str())
            ),
        };
        return Err(Failure::bad_request(message).param("project_ids"));
    }
    let records = write_store(&state, move |store| store.create(&checkpoint, &project_ids))
        .await?
        .map_err(storage_failure)?;
    let data: Vec<CheckpointPermission> = records.iter().map(|r| r.permission.clone()).collect();
    let body =
        serde_json::to_vec(&PermissionList::new(data, false)).map_err(|_| Failure::internal())?;
    Ok(json_response(StatusCode::OK, body))
}

pub(crate) async fn delete_permission(
    State(state): State<EmulatorState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, Failure> {
    let (checkpoint, permission_id) = permission_path_from(path)?;
    require_checkpoint(&state, &checkpoint)?;
    let result = {
        let (checkpoint, permission_id) = (checkpoint.clone(), permission_id.clone());
        write_store(&state, move |store| {
            store.delete(&checkpoint, &permission_id)
        })
        .await?
    };
    match result {
        Ok(()) => {}
        Err(StoreError::NotFound) => {
            return Err(Failure::invalid(
                StatusCode::NOT_FOUND,
                format!(
                    "No permission found with id '{}' on checkpoint '{}'.",
                    clip(permission_id.as_str()),
                    clip(checkpoint.as_str())
                ),
            )
            .param("permission_id")
            .code("permission_not_found"));
        }
        Err(other) => return Err(storage_failure(other)),
    }
    let body = serde_json::to_vec(&DeletedPermission::new(permission_id))
        .map_err(|_| Failure::internal())?;
    Ok(json_response(StatusCode::OK, body))
}

pub(crate) async fn list_projects(
    State(state): State<EmulatorState>,
    anomaly: Option<Extension<Fault>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Failure> {
    let query = projects_query_from(query)?;
    let after = query.after.as_ref().map(|id| id.as_str());
    let (page, has_more) = state
        .org()
        .projects_page(query.after.as_ref(), query.limit, query.include_archived)
        .map_err(|UnknownCursor| {
            Failure::bad_request(format!(
                "Invalid 'after': no project '{}' in this organization.",
                clip(after.unwrap_or_default())
            ))
            .param("after")
            .code("invalid_cursor")
        })?;
    let (empty, has_more, last_id) = {
        let last = page.last().map(|p| p.id.as_str());
        let bent = bend(anomaly.as_ref(), after, last, has_more);
        (bent.empty, bent.has_more, bent.last_id.map(str::to_owned))
    };
    let data = if empty {
        Vec::new()
    } else {
        page.into_iter().cloned().collect()
    };
    let mut list = ProjectList::new(data, has_more);
    list.last_id = last_id;
    let body = serde_json::to_vec(&list).map_err(|_| Failure::internal())?;
    Ok(json_response(StatusCode::OK, body))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn page_json_matches_the_shared_type() {
        let records: Vec<Arc<Record>> =
            ["cp_aaaaaaaaaaaaaaaaaaaaaaaa", "cp_bbbbbbbbbbbbbbbbbbbbbbbb"]
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    let permission = CheckpointPermission::new(
                        *id,
                        format!("proj_\"{i}\""),
                        1_700_000_000 + i as i64,
                    );
                    let json = serde_json::to_vec(&permission)
                        .expect("serializes")
                        .into_boxed_slice();
                    Arc::new(Record { permission, json })
                })
                .collect();
        for has_more in [false, true] {
            for data in [records.clone(), Vec::new()] {
                let refs: Vec<&Record> = data.iter().map(Arc::as_ref).collect();
                let expected = serde_json::to_vec(&PermissionList::new(
                    data.iter().map(|r| r.permission.clone()).collect(),
                    has_more,
                ))
                .expect("serializes");
                assert_eq!(
                    String::from_utf8_lossy(&page_json(
                        &refs,
                        has_more,
                        refs.last().map(|r| r.permission.id.as_str())
                    )),
                    String::from_utf8_lossy(&expected)
                );
            }
        }
    }
}
