//! The URLs of the API's requests, for error messages and `--debug` logs.
//!
//! The client layer does not put the method and URL in its errors, so they are
//! rebuilt here the way the generated client builds them: the base URL, the path
//! with each parameter percent-encoded as a path segment (colons are kept, as in
//! the official SDKs: `ft:gpt-4o-mini:org:x:y` stays readable), and the query
//! parameters in the order `after`, `limit`, `order`, `project_id`.
//!
//! ```
//! use permissions_api::ListParams;
//! use permissions_cli::endpoint::{delete_url, list_url};
//!
//! let base = "http://127.0.0.1:8089/v1";
//! assert_eq!(
//!     list_url(base, "ft:gpt-4o-mini:org:x:y", &ListParams::new().limit(5), Some("cp_1")),
//!     "http://127.0.0.1:8089/v1/fine_tuning/checkpoints/ft:gpt-4o-mini:org:x:y/permissions?after=cp_1&limit=5",
//! );
//! assert_eq!(
//!     delete_url(base, "a/b", "cp 1"),
//!     "http://127.0.0.1:8089/v1/fine_tuning/checkpoints/a%2Fb/permissions/cp%201",
//! );
//! ```

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use permissions_api::ListParams;

/// The characters encoded in a path segment: progenitor-client's set (the URL
/// standard's path-segment set, plus `/` and `%`).
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'%');

fn segment(value: &str) -> String {
    utf8_percent_encode(value, PATH_SEGMENT).to_string()
}

/// `POST` (create) and, without a query, `GET` (list): `.../checkpoints/{checkpoint}/permissions`.
pub fn permissions_url(base_url: &str, checkpoint: &str) -> String {
    format!(
        "{}/fine_tuning/checkpoints/{}/permissions",
        base_url.trim_end_matches('/'),
        segment(checkpoint)
    )
}

/// `GET` of one page: `params` with `after` replaced by `cursor` when given.
pub fn list_url(
    base_url: &str,
    checkpoint: &str,
    params: &ListParams,
    cursor: Option<&str>,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(after) = cursor.or(params.after.as_deref()) {
        query.append_pair("after", after);
    }
    if let Some(limit) = params.limit {
        query.append_pair("limit", &limit.to_string());
    }
    if let Some(order) = params.order {
        query.append_pair("order", order.as_str());
    }
    if let Some(project_id) = &params.project_id {
        query.append_pair("project_id", project_id);
    }
    let query = query.finish();
    let url = permissions_url(base_url, checkpoint);
    if query.is_empty() {
        url
    } else {
        format!("{url}?{query}")
    }
}

/// `DELETE`: `.../checkpoints/{checkpoint}/permissions/{permission_id}`.
pub fn delete_url(base_url: &str, checkpoint: &str, permission_id: &str) -> String {
    format!(
        "{}/{}",
        permissions_url(base_url, checkpoint),
        segment(permission_id)
    )
}
