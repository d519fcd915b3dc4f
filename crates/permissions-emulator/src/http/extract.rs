//! Reading requests: the path, query and body of each operation, validated into
//! plain values, or refused with the envelope.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use permissions_types::ListOrder;

use super::envelope::{Failure, clip};
use crate::rules::{
    DEFAULT_LIMIT, MAX_BODY_BYTES, MAX_ID_LEN, MAX_LIMIT, MAX_PROJECT_IDS, is_valid_checkpoint,
    is_valid_project_id,
};

pub(crate) fn checkpoint_from(
    path: Result<Path<String>, PathRejection>,
) -> Result<String, Failure> {
    let Path(checkpoint) = path.map_err(|_| invalid_checkpoint())?;
    if is_valid_checkpoint(&checkpoint) {
        Ok(checkpoint)
    } else {
        Err(invalid_checkpoint())
    }
}

fn invalid_checkpoint() -> Failure {
    Failure::bad_request(format!(
        "Invalid fine_tuned_model_checkpoint: expected 1 to {MAX_ID_LEN} printable ASCII \
         characters without '/', '\\', '?', '#' or '%'."
    ))
    .param("fine_tuned_model_checkpoint")
    .code("invalid_value")
}

/// The checkpoint and permission ids of a delete request.
pub(crate) fn permission_path_from(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(String, String), Failure> {
    let Path((checkpoint, permission_id)) = path.map_err(|_| invalid_checkpoint())?;
    if !is_valid_checkpoint(&checkpoint) {
        return Err(invalid_checkpoint());
    }
    if permission_id.is_empty() || permission_id.len() > MAX_ID_LEN {
        return Err(Failure::bad_request(format!(
            "Invalid permission_id: expected 1 to {MAX_ID_LEN} characters."
        ))
        .param("permission_id")
        .code("invalid_value"));
    }
    Ok((checkpoint, permission_id))
}

/// The list query, validated.
pub(crate) struct ListQuery {
    pub(crate) after: Option<String>,
    pub(crate) limit: usize,
    pub(crate) order: ListOrder,
    pub(crate) project_id: Option<String>,
}

/// The query of a list request, validated.
pub(crate) fn list_query_from(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<ListQuery, Failure> {
    let Query(pairs) =
        query.map_err(|_| Failure::bad_request("The query string could not be parsed."))?;
    parse_list_query(pairs)
}

fn parse_list_query(pairs: Vec<(String, String)>) -> Result<ListQuery, Failure> {
    let mut query = ListQuery {
        after: None,
        limit: DEFAULT_LIMIT as usize,
        order: ListOrder::Descending,
        project_id: None,
    };
    let mut seen = [false; 4];
    for (name, value) in pairs {
        let slot = match name.as_str() {
            "after" => 0,
            "limit" => 1,
            "order" => 2,
            "project_id" => 3,
            _ => continue, // Unknown query parameters are ignored, as by the real API.
        };
        if std::mem::replace(&mut seen[slot], true) {
            return Err(Failure::bad_request(format!(
                "Query parameter '{name}' was given more than once."
            ))
            .param(name)
            .code("invalid_value"));
        }
        match name.as_str() {
            "limit" => {
                let limit = value
                    .parse::<i64>()
                    .ok()
                    .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                    .ok_or_else(|| {
                        Failure::bad_request(format!(
                            "Invalid 'limit': expected an integer from 1 to {MAX_LIMIT}, got '{}'.",
                            clip(&value)
                        ))
                        .param("limit")
                        .code("invalid_value")
                    })?;
                query.limit = usize::try_from(limit).unwrap_or(DEFAULT_LIMIT as usize);
            }
            "order" => {
                query.order = value.parse().map_err(|_| {
                    Failure::bad_request(format!(
                        "Invalid 'order': expected 'ascending' or 'descending', got '{}'.",
                        clip(&value)
                    ))
                    .param("order")
                    .code("invalid_value")
                })?;
            }
            "after" => {
                if value.is_empty() || value.len() > MAX_ID_LEN {
                    return Err(Failure::bad_request(format!(
                        "Invalid 'after': expected a permission id of 1 to {MAX_ID_LEN} characters."
                    ))
                    .param("after")
                    .code("invalid_value"));
                }
                query.after = Some(value);
            }
            _ => {
                if !is_valid_project_id(&value) {
                    return Err(Failure::bad_request(format!(
                        "Invalid 'project_id': expected 1 to {MAX_ID_LEN} characters without \
                         control characters."
                    ))
                    .param("project_id")
                    .code("invalid_value"));
                }
                query.project_id = Some(value);
            }
        }
    }
    Ok(query)
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
pub(crate) fn parse_create_body(body: &[u8]) -> Result<Vec<String>, Failure> {
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
        let invalid = || {
            Failure::bad_request(format!(
                "Invalid 'project_ids[{i}]': expected a string of 1 to {MAX_ID_LEN} characters \
                 without control characters."
            ))
            .param(format!("project_ids[{i}]"))
            .code("invalid_value")
        };
        let serde_json::Value::String(project_id) = item else {
            return Err(invalid());
        };
        if !is_valid_project_id(project_id) {
            return Err(invalid());
        }
        if seen.insert(project_id.as_str()) {
            project_ids.push(project_id.clone());
        }
    }
    Ok(project_ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn limit_bounds() {
        assert!(parse_list_query(pairs(&[("limit", "0")])).is_err());
        assert!(parse_list_query(pairs(&[("limit", "101")])).is_err());
        assert!(parse_list_query(pairs(&[("limit", "x")])).is_err());
        assert_eq!(
            parse_list_query(pairs(&[("limit", "100")]))
                .map(|q| q.limit)
                .ok(),
            Some(100)
        );
        assert_eq!(parse_list_query(pairs(&[])).map(|q| q.limit).ok(), Some(10));
    }

    #[test]
    fn create_bodies() {
        assert_eq!(
            parse_create_body(br#"{"project_ids": ["a", "b", "a"]}"#).ok(),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert!(parse_create_body(br#"{"project_ids": []}"#).is_err());
        assert!(parse_create_body(br#"{"project_ids": ["a"], "x": 1}"#).is_err());
        assert!(parse_create_body(b"[]").is_err());
    }
}
