//! The HTTP face of the emulator: routes, authentication, validation, the error
//! envelope, request ids and fault injection.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use permissions_types::{
    ApiError, CheckpointPermission, DeletedPermission, ErrorResponse, ListOrder, PermissionList,
    PermissionObject,
};

use crate::faults::{Fault, Faults};
use crate::store::{Record, Store, StoreError};
use crate::throttle::{Throttle, Verdict, go_duration};

/// Largest request body accepted; larger ones are answered 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most project ids one create request may grant.
pub const MAX_PROJECT_IDS: usize = 100;
/// Longest checkpoint id, project id, permission id or cursor accepted.
pub const MAX_ID_LEN: usize = 256;
/// Largest `limit` of a list request.
pub const MAX_LIMIT: i64 = 100;
/// `limit` of a list request that sends none.
pub const DEFAULT_LIMIT: i64 = 10;

const LIST_PATH: &str = "/v1/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions";
const DELETE_PATH: &str =
    "/v1/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions/{permission_id}";

/// Everything the request handlers share.
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) faults: Faults,
    pub(crate) admin_key_prefix: String,
    pub(crate) requests: AtomicU64,
    pub(crate) throttle: Throttle,
}

/// The state behind an emulator's router: its permissions, faults and settings.
///
/// Cheap to clone (one reference count). Built by
/// [`EmulatorBuilder::build_state`](crate::EmulatorBuilder::build_state) and served
/// by [`router`].
#[derive(Clone)]
pub struct EmulatorState(pub(crate) Arc<Shared>);

impl std::fmt::Debug for EmulatorState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorState")
            .field("store", &self.0.store)
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}

impl EmulatorState {
    /// How many HTTP requests reached the emulator, faulted ones included.
    pub fn request_count(&self) -> u64 {
        self.0.requests.load(Ordering::Relaxed)
    }

    /// Scripts `fault` for the next `times` requests (after faults already scripted).
    pub fn inject(&self, fault: Fault, times: usize) {
        self.0.faults.inject(fault, times);
    }

    /// Number of live permissions over all checkpoints.
    pub fn permission_count(&self) -> usize {
        self.0.store.len()
    }

    /// Requests and 429 answers per endpoint (method and path template), sorted by
    /// method and path; see [`EndpointCounters`](crate::EndpointCounters).
    pub fn endpoint_counters(&self) -> Vec<crate::EndpointCounters> {
        self.0.throttle.counters()
    }

    /// Whether the permissions are kept in a SQLite database file.
    pub fn is_persistent(&self) -> bool {
        self.0.store.is_persistent()
    }
}

/// The emulator's routes under `/v1`, with authentication, the error envelope,
/// `x-request-id` headers, the body limit and fault injection, ready to serve.
///
/// ```
/// # fn main() -> Result<(), permissions_emulator::Error> {
/// let state = permissions_emulator::Emulator::builder().build_state()?;
/// let app: axum::Router = permissions_emulator::router(state);
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
pub fn router(state: EmulatorState) -> Router {
    Router::new()
        .route(LIST_PATH, get(list).post(create))
        .route(DELETE_PATH, delete(delete_permission))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), front))
        .with_state(state)
}

/// An error answered with the envelope `{"error": {message, type, param, code}}`
/// (boxed: it travels in `Err` through every handler).
#[derive(Debug)]
pub(crate) struct Failure(Box<FailureBody>);

#[derive(Debug)]
pub(crate) struct FailureBody {
    status: StatusCode,
    error: ApiError,
    retry_after_ms: Option<u64>,
    retry_after: Option<u64>,
}

impl std::ops::Deref for Failure {
    type Target = FailureBody;

    fn deref(&self) -> &FailureBody {
        &self.0
    }
}

impl std::ops::DerefMut for Failure {
    fn deref_mut(&mut self) -> &mut FailureBody {
        &mut self.0
    }
}

impl Failure {
    fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        Self(Box::new(FailureBody {
            status,
            error: ApiError {
                code: None,
                message: message.into(),
                param: None,
                kind: kind.to_owned(),
            },
            retry_after_ms: None,
            retry_after: None,
        }))
    }

    fn invalid(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, "invalid_request_error", message)
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::invalid(StatusCode::BAD_REQUEST, message)
    }

    fn param(mut self, param: impl Into<String>) -> Self {
        self.error.param = Some(param.into());
        self
    }

    fn code(mut self, code: &str) -> Self {
        self.error.code = Some(code.to_owned());
        self
    }

    fn server(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, "server_error", message)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let failure = *self.0;
        let body = serde_json::to_vec(&ErrorResponse {
            error: failure.error,
        })
        .unwrap_or_else(|_| {
            br#"{"error":{"message":"error","type":"server_error","param":null,"code":null}}"#
                .to_vec()
        });
        let mut response = json_response(failure.status, body);
        let headers = response.headers_mut();
        if let Some(ms) = failure.retry_after_ms {
            headers.insert("retry-after-ms", HeaderValue::from(ms));
        }
        if let Some(seconds) = failure.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// At most `max` characters of user input, for messages.
fn clip(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// Whether `id` can name a checkpoint: 1 to [`MAX_ID_LEN`] printable ASCII
/// characters other than `/`, `\`, `?`, `#` and `%` (so encoded slashes and
/// double-encoding are refused).
pub(crate) fn is_valid_checkpoint(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'\\' | b'?' | b'#' | b'%'))
}

/// Whether `id` can name a project: 1 to [`MAX_ID_LEN`] bytes, no control characters.
pub(crate) fn is_valid_project_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && !id.chars().any(char::is_control)
}

fn checkpoint_from(path: Result<Path<String>, PathRejection>) -> Result<String, Failure> {
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

/// The first middleware every request meets: counts it, gives it a request id,
/// applies faults, checks the key, and wraps any bare error in the envelope.
async fn front(State(state): State<EmulatorState>, request: Request, next: Next) -> Response {
    state.0.requests.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    // What the request log needs, taken only when it is written.
    let logged = tracing::enabled!(tracing::Level::INFO)
        .then(|| (request.method().clone(), request.uri().clone()));
    let fault = state.0.faults.next();
    let mut response = match fault {
        Some(Fault::Status {
            status,
            retry_after_ms,
            retry_after,
        }) => fault_failure(status, retry_after_ms, retry_after).into_response(),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            authenticate_then(&state, request, next).await
        }
        None => authenticate_then(&state, request, next).await,
    };
    wrap_bare_error(&mut response);
    let request_id = format!("req_{:032x}", rand::random::<u128>());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    if let Some((method, uri)) = logged {
        tracing::info!(
            request_id,
            method = %method,
            path = %clip(uri.path()),
            status = response.status().as_u16(),
            elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            fault = fault.is_some(),
            "request"
        );
    }
    response
}

fn fault_failure(status: u16, retry_after_ms: Option<u64>, retry_after: Option<u64>) -> Failure {
    let status = StatusCode::from_u16(status)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut failure = match status {
        StatusCode::TOO_MANY_REQUESTS => Failure::new(
            status,
            "requests",
            "Rate limit reached for requests (injected by the emulator).",
        )
        .code("rate_limit_exceeded"),
        StatusCode::SERVICE_UNAVAILABLE => Failure::server(
            status,
            "The server is overloaded or not ready yet (injected by the emulator).",
        ),
        s if s.is_server_error() => Failure::server(
            s,
            "The server had an error while processing your request (injected by the emulator).",
        ),
        s => Failure::invalid(s, "Injected failure."),
    };
    failure.retry_after_ms = retry_after_ms;
    failure.retry_after = retry_after;
    failure
}

async fn authenticate_then(state: &EmulatorState, request: Request, next: Next) -> Response {
    let key = match authenticate(request.headers(), &state.0.admin_key_prefix) {
        Ok(key) => key,
        Err(failure) => return failure.into_response(),
    };
    // Only routed requests have a path template; others (404s) are not throttled.
    let verdict = match request.extensions().get::<MatchedPath>() {
        Some(path) => state.0.throttle.check(
            &key,
            request.method().as_str(),
            path.as_str(),
            Instant::now(),
        ),
        None => Verdict::Unlimited,
    };
    drop(key);
    match verdict {
        Verdict::Unlimited => next.run(request).await,
        Verdict::Throttled { limit, reset } => {
            let mut failure = Failure::new(
                StatusCode::TOO_MANY_REQUESTS,
                "requests",
                format!(
                    "Rate limit reached for requests on this endpoint: limit {} per {}. \
                     Please try again later.",
                    limit.requests,
                    go_duration(limit.window)
                ),
            )
            .code("rate_limit_exceeded");
            if limit.headers {
                let ms = u64::try_from(reset.as_millis()).unwrap_or(u64::MAX).max(1);
                failure.retry_after_ms = Some(ms);
                failure.retry_after = Some(ms.div_ceil(1000));
            }
            let mut response = failure.into_response();
            if limit.headers {
                rate_limit_headers(response.headers_mut(), limit.requests, 0, reset);
            }
            response
        }
        Verdict::Served {
            limit,
            remaining,
            reset,
        } => {
            let mut response = next.run(request).await;
            if limit.headers {
                rate_limit_headers(response.headers_mut(), limit.requests, remaining, reset);
            }
            response
        }
    }
}

/// The `x-ratelimit-*-requests` headers OpenAI sends where it sends them.
fn rate_limit_headers(headers: &mut HeaderMap, limit: u32, remaining: u32, reset: Duration) {
    headers.insert("x-ratelimit-limit-requests", HeaderValue::from(limit));
    headers.insert(
        "x-ratelimit-remaining-requests",
        HeaderValue::from(remaining),
    );
    if let Ok(value) = HeaderValue::from_str(&go_duration(reset)) {
        headers.insert("x-ratelimit-reset-requests", value);
    }
}

/// Checks `Authorization: Bearer <key>` and that the key is an admin key, and
/// returns the key (for the throttle's windows). The key is never logged nor echoed.
fn authenticate(headers: &HeaderMap, admin_key_prefix: &str) -> Result<String, Failure> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(Failure::invalid(
            StatusCode::UNAUTHORIZED,
            "You didn't provide an API key. You need to provide your API key in an \
             Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        ));
    };
    let malformed = || {
        Failure::invalid(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided: expected an Authorization header of the form \
             'Bearer YOUR_KEY'.",
        )
        .code("invalid_api_key")
    };
    if values.next().is_some() {
        return Err(malformed());
    }
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, key) = value.split_once(' ').ok_or_else(malformed)?;
    let key = key.trim_start_matches(' ');
    if !scheme.eq_ignore_ascii_case("bearer")
        || key.is_empty()
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(malformed());
    }
    if !key.starts_with(admin_key_prefix) {
        return Err(Failure::invalid(
            StatusCode::FORBIDDEN,
            format!(
                "You have insufficient permissions for this operation: it requires an admin \
                 API key (one starting with '{}').",
                clip(admin_key_prefix)
            ),
        )
        .code("insufficient_permissions"));
    }
    Ok(key.to_owned())
}

/// Gives the error envelope to error responses that were made without one (axum's
/// 405 and rejections), keeping their other headers.
fn wrap_bare_error(response: &mut Response) {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return;
    }
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed for this URL.".to_owned(),
        s => s.canonical_reason().unwrap_or("Request failed.").to_owned(),
    };
    let failure = if status.is_server_error() {
        Failure::server(status, message)
    } else {
        Failure::invalid(status, message)
    };
    let mut replacement = failure.into_response();
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replacement.headers_mut().append(name, value.clone());
        }
    }
    *response = replacement;
}

async fn not_found(request: Request) -> Failure {
    Failure::invalid(
        StatusCode::NOT_FOUND,
        format!(
            "Invalid URL ({} {}).",
            request.method(),
            clip(request.uri().path())
        ),
    )
}

/// The list query, validated.
struct ListQuery {
    after: Option<String>,
    limit: usize,
    order: ListOrder,
    project_id: Option<String>,
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

async fn list(
    State(state): State<EmulatorState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Failure> {
    let checkpoint = checkpoint_from(path)?;
    let Query(pairs) =
        query.map_err(|_| Failure::bad_request("The query string could not be parsed."))?;
    let query = parse_list_query(pairs)?;
    let body = state
        .0
        .store
        .list(
            &checkpoint,
            query.after.as_deref(),
            query.limit,
            query.order,
            query.project_id.as_deref(),
            page_json,
        )
        .map_err(|error| match error {
            StoreError::UnknownCursor => Failure::bad_request(format!(
                "Invalid 'after': no permission '{}' was ever created on this checkpoint.",
                clip(query.after.as_deref().unwrap_or_default())
            ))
            .param("after")
            .code("invalid_cursor"),
            other => storage_failure(other),
        })?;
    Ok(json_response(StatusCode::OK, body))
}

/// Serializes a page by copying each permission's pre-serialized JSON; the fields
/// are those, and in the order, of [`PermissionList`].
pub(crate) fn page_json(data: &[&Record], has_more: bool) -> Vec<u8> {
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
    push_optional_string(&mut out, data.last().map(|r| r.permission.id.as_str()));
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
    internal_error()
}

/// The answer to a failure of ours, not of the request.
fn internal_error() -> Failure {
    Failure::server(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The server had an error while processing your request.",
    )
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
            .map_err(|_| internal_error())
    } else {
        Ok(write(&state.0.store))
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
fn parse_create_body(body: &[u8]) -> Result<Vec<String>, Failure> {
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

async fn create(
    State(state): State<EmulatorState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Failure::invalid(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
            )
            .code("request_too_large")
        } else {
            Failure::bad_request("The request body could not be read.")
        }
    })?;
    let checkpoint = checkpoint_from(path)?;
    if !is_json_content_type(&headers) {
        return Err(Failure::bad_request(
            "Invalid Content-Type header: expected 'application/json'.",
        )
        .code("invalid_content_type"));
    }
    let project_ids = parse_create_body(&body)?;
    let records = write_store(&state, move |store| store.create(&checkpoint, &project_ids))
        .await?
        .map_err(storage_failure)?;
    let data: Vec<CheckpointPermission> = records.iter().map(|r| r.permission.clone()).collect();
    let body =
        serde_json::to_vec(&PermissionList::new(data, false)).map_err(|_| internal_error())?;
    Ok(json_response(StatusCode::OK, body))
}

async fn delete_permission(
    State(state): State<EmulatorState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, Failure> {
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
                    clip(&permission_id),
                    clip(&checkpoint)
                ),
            )
            .param("permission_id")
            .code("permission_not_found"));
        }
        Err(other) => return Err(storage_failure(other)),
    }
    let body = serde_json::to_vec(&DeletedPermission {
        id: permission_id,
        object: PermissionObject::CheckpointPermission,
        deleted: true,
    })
    .map_err(|_| internal_error())?;
    Ok(json_response(StatusCode::OK, body))
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
    fn page_json_matches_the_shared_type() {
        let records: Vec<Arc<Record>> =
            ["cp_aaaaaaaaaaaaaaaaaaaaaaaa", "cp_bbbbbbbbbbbbbbbbbbbbbbbb"]
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    let permission = CheckpointPermission {
                        id: (*id).to_owned(),
                        created_at: 1_700_000_000 + i as i64,
                        project_id: format!("proj_\"{i}\""),
                        object: PermissionObject::CheckpointPermission,
                    };
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
                    String::from_utf8_lossy(&page_json(&refs, has_more)),
                    String::from_utf8_lossy(&expected)
                );
            }
        }
    }

    #[test]
    fn checkpoint_validation() {
        assert!(is_valid_checkpoint(
            "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd"
        ));
        assert!(!is_valid_checkpoint("a/b"));
        assert!(!is_valid_checkpoint(""));
        assert!(!is_valid_checkpoint("a b"));
        assert!(!is_valid_checkpoint(&"a".repeat(MAX_ID_LEN + 1)));
    }
}
