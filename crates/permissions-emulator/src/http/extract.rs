//! Reading requests: the path, query and body of each operation, validated into
//! plain values, or refused with the envelope.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use permissions_types::{CheckpointId, IdError, ListOrder, PermissionId, ProjectId};

use super::envelope::{Failure, clip};
use crate::rules::{
    DEFAULT_LIMIT, DEFAULT_PROJECTS_LIMIT, MAX_BODY_BYTES, MAX_LIMIT, MAX_PROJECT_IDS,
};

/// `text` as an id of type `T`, or the 400 naming `param`, with the id type's own
/// explanation (which never repeats a text that looks like an API key).
fn id_param<T: TryFrom<String, Error = IdError>>(param: &str, text: String) -> Result<T, Failure> {
    T::try_from(text).map_err(|error| {
        Failure::bad_request(format!("Invalid '{param}': {error}."))
            .param(param)
            .code("invalid_value")
    })
}

const CHECKPOINT_PARAM: &str = "fine_tuned_model_checkpoint";

/// The checkpoint of a list or create request.
pub(crate) fn checkpoint_from(
    path: Result<Path<String>, PathRejection>,
) -> Result<CheckpointId, Failure> {
    let Path(checkpoint) = path.map_err(|_| unreadable_checkpoint())?;
    id_param(CHECKPOINT_PARAM, checkpoint)
}

/// A path whose checkpoint segment is not even text (not UTF-8 once decoded).
fn unreadable_checkpoint() -> Failure {
    Failure::bad_request(format!(
        "Invalid '{CHECKPOINT_PARAM}': the path segment is not UTF-8 text."
    ))
    .param(CHECKPOINT_PARAM)
    .code("invalid_value")
}

/// The checkpoint and permission ids of a delete request.
pub(crate) fn permission_path_from(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(CheckpointId, PermissionId), Failure> {
    let Path((checkpoint, permission_id)) = path.map_err(|_| unreadable_checkpoint())?;
    Ok((
        id_param(CHECKPOINT_PARAM, checkpoint)?,
        id_param("permission_id", permission_id)?,
    ))
}

/// Reads the parameters `names` of a query, in the order the query gives them,
/// handing each value to `read` with the parameter's index in `names`. A known
/// parameter given twice is a 400; unknown ones are ignored, as by the real API.
fn read_query<const N: usize>(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    names: [&str; N],
    mut read: impl FnMut(usize, String) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let Query(pairs) =
        query.map_err(|_| Failure::bad_request("The query string could not be parsed."))?;
    let mut seen = [false; N];
    for (name, value) in pairs {
        let Some(slot) = names.iter().position(|known| *known == name) else {
            continue;
        };
        if std::mem::replace(&mut seen[slot], true) {
            return Err(Failure::bad_request(format!(
                "Query parameter '{name}' was given more than once."
            ))
            .param(name)
            .code("invalid_value"));
        }
        read(slot, value)?;
    }
    Ok(())
}

/// A `limit` of 1 to [`MAX_LIMIT`].
fn limit_param(value: &str) -> Result<usize, Failure> {
    value
        .parse::<i64>()
        .ok()
        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
        .and_then(|limit| usize::try_from(limit).ok())
        .ok_or_else(|| {
            Failure::bad_request(format!(
                "Invalid 'limit': expected an integer from 1 to {MAX_LIMIT}, got '{}'.",
                clip(value)
            ))
            .param("limit")
            .code("invalid_value")
        })
}

/// The query of a list of permissions, validated.
pub(crate) struct ListQuery {
    pub(crate) after: Option<PermissionId>,
    pub(crate) limit: usize,
    pub(crate) order: ListOrder,
    pub(crate) project_id: Option<ProjectId>,
}

/// The query of a list of permissions, validated.
pub(crate) fn list_query_from(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<ListQuery, Failure> {
    let mut list = ListQuery {
        after: None,
        limit: DEFAULT_LIMIT as usize,
        order: ListOrder::Descending,
        project_id: None,
    };
    read_query(
        query,
        ["after", "limit", "order", "project_id"],
        |slot, value| {
            match slot {
                0 => list.after = Some(id_param("after", value)?),
                1 => list.limit = limit_param(&value)?,
                2 => {
                    list.order = value.parse().map_err(|_| {
                        Failure::bad_request(format!(
                            "Invalid 'order': expected 'ascending' or 'descending', got '{}'.",
                            clip(&value)
                        ))
                        .param("order")
                        .code("invalid_value")
                    })?;
                }
                _ => list.project_id = Some(id_param("project_id", value)?),
            }
            Ok(())
        },
    )?;
    Ok(list)
}

/// The query of a list of projects, validated.
pub(crate) struct ProjectsQuery {
    pub(crate) after: Option<ProjectId>,
    pub(crate) limit: usize,
    pub(crate) include_archived: bool,
}

/// The query of a list of projects, validated.
pub(crate) fn projects_query_from(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<ProjectsQuery, Failure> {
    let mut list = ProjectsQuery {
        after: None,
        limit: DEFAULT_PROJECTS_LIMIT as usize,
        include_archived: false,
    };
    read_query(
        query,
        ["after", "limit", "include_archived"],
        |slot, value| {
            match slot {
                0 => list.after = Some(id_param("after", value)?),
                1 => list.limit = limit_param(&value)?,
                _ => {
                    list.include_archived = match value.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(Failure::bad_request(format!(
                                "Invalid 'include_archived': expected 'true' or 'false', got \
                                 '{}'.",
                                clip(&value)
                            ))
                            .param("include_archived")
                            .code("invalid_value"));
                        }
                    };
                }
            }
            Ok(())
        },
    )?;
    Ok(list)
}

/// The body of a create request, or the 413 or 400 it earns.
pub(crate) fn body_from(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Failure> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Failure::invalid(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
            )
            .code("request_too_large")
        } else {
            Failure::bad_request("The request body could not be read.")
        }
    })
}

/// Refuses a body that is not declared `application/json` (a charset is allowed).
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), Failure> {
    if is_json_content_type(headers) {
        Ok(())
    } else {
        Err(
            Failure::bad_request("Invalid Content-Type header: expected 'application/json'.")
                .code("invalid_content_type"),
        )
    }
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Validates a create body into its distinct project ids, in the order given.
pub(crate) fn parse_create_body(body: &[u8]) -> Result<Vec<ProjectId>, Failure> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        Failure::bad_request(
            "We could not parse the JSON body of your request. The API expects a JSON \
             payload, but what was sent was not valid JSON.",
        )
        .code("invalid_json")
    })?;
    let serde_json::Value::Object(object) = value else {
        return Err(
            Failure::bad_request("The request body must be a JSON object.").code("invalid_type"),
        );
    };
    if let Some(unknown) = object.keys().find(|k| k.as_str() != "project_ids") {
        return Err(Failure::bad_request(format!(
            "Unrecognized request argument supplied: {}",
            clip(unknown)
        ))
        .param(clip(unknown))
        .code("unknown_parameter"));
    }
    let Some(project_ids) = object.get("project_ids") else {
        return Err(
            Failure::bad_request("Missing required parameter: 'project_ids'.")
                .param("project_ids")
                .code("missing_required_parameter"),
        );
    };
    let serde_json::Value::Array(items) = project_ids else {
        return Err(Failure::bad_request(
            "Invalid type for 'project_ids': expected an array of strings.",
        )
        .param("project_ids")
        .code("invalid_type"));
    };
    if items.is_empty() {
        return Err(Failure::bad_request(
            "Invalid 'project_ids': empty array. Expected at least one project id.",
        )
        .param("project_ids")
        .code("empty_array"));
    }
    if items.len() > MAX_PROJECT_IDS {
        return Err(Failure::bad_request(format!(
            "Invalid 'project_ids': array too long. Expected at most {MAX_PROJECT_IDS} \
             project ids, got {}.",
            items.len()
        ))
        .param("project_ids")
        .code("array_above_max_length"));
    }
    let mut seen = HashSet::with_capacity(items.len());
    let mut project_ids = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let param = format!("project_ids[{i}]");
        let serde_json::Value::String(project_id) = item else {
            return Err(
                Failure::bad_request(format!("Invalid '{param}': expected a string."))
                    .param(param)
                    .code("invalid_value"),
            );
        };
        let project_id: ProjectId = id_param(&param, project_id.clone())?;
        if seen.insert(project_id.clone()) {
            project_ids.push(project_id);
        }
    }
    Ok(project_ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Result<Query<Vec<(String, String)>>, QueryRejection> {
        Ok(Query(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
    }

    fn param(failure: Failure) -> Option<String> {
        failure.error().param.clone()
    }

    #[test]
    fn limit_bounds() {
        for bad in ["0", "101", "x", "-1", ""] {
            assert!(list_query_from(query(&[("limit", bad)])).is_err(), "{bad}");
            assert!(
                projects_query_from(query(&[("limit", bad)])).is_err(),
                "{bad}"
            );
        }
        let limit = |q| list_query_from(q).map(|q| q.limit).ok();
        assert_eq!(limit(query(&[("limit", "100")])), Some(100));
        assert_eq!(limit(query(&[])), Some(10));
        let limit = |q| projects_query_from(q).map(|q| q.limit).ok();
        assert_eq!(limit(query(&[("limit", "1")])), Some(1));
        assert_eq!(limit(query(&[])), Some(20));
    }

    #[test]
    fn query_ids_are_checked_by_their_types_in_query_order() {
        let first_bad = list_query_from(query(&[("project_id", "nope"), ("after", "cp_a-b")]))
            .err()
            .and_then(param);
        assert_eq!(first_bad.as_deref(), Some("project_id"));
        let first_bad = list_query_from(query(&[("after", "proj_a"), ("project_id", "nope")]))
            .err()
            .and_then(param);
        assert_eq!(first_bad.as_deref(), Some("after"));
        let list = list_query_from(query(&[
            ("after", "cp_abc"),
            ("project_id", "proj_a"),
            ("other", "ignored"),
        ]))
        .expect("valid");
        assert_eq!(
            list.after.as_ref().map(PermissionId::as_str),
            Some("cp_abc")
        );
        assert_eq!(
            list.project_id.as_ref().map(ProjectId::as_str),
            Some("proj_a")
        );

        let projects = projects_query_from(query(&[("include_archived", "true")])).expect("valid");
        assert!(projects.include_archived);
        for bad in ["True", "1", "yes", ""] {
            let refused = projects_query_from(query(&[("include_archived", bad)]));
            assert_eq!(
                refused.err().and_then(param).as_deref(),
                Some("include_archived"),
                "{bad}"
            );
        }
        let refused = projects_query_from(query(&[("after", "cp_abc")]));
        assert_eq!(refused.err().and_then(param).as_deref(), Some("after"));
        let twice = projects_query_from(query(&[("limit", "2"), ("limit", "2")]));
        assert_eq!(twice.err().and_then(param).as_deref(), Some("limit"));
    }

    #[test]
    fn create_bodies() {
        assert_eq!(
            parse_create_body(br#"{"project_ids": ["proj_a", "proj_b", "proj_a"]}"#)
                .ok()
                .map(|ids| ids.iter().map(ToString::to_string).collect::<Vec<_>>()),
            Some(vec!["proj_a".to_owned(), "proj_b".to_owned()])
        );
        assert!(parse_create_body(br#"{"project_ids": []}"#).is_err());
        assert!(parse_create_body(b"[]").is_err());
        // The unknown field is reported before the malformed project id.
        let refused = parse_create_body(br#"{"project_ids": ["p"], "bogus": 1}"#);
        assert_eq!(refused.err().and_then(param).as_deref(), Some("bogus"));
        let refused = parse_create_body(br#"{"project_ids": ["proj_a", "p"]}"#);
        assert_eq!(
            refused.err().and_then(param).as_deref(),
            Some("project_ids[1]")
        );
    }
}
