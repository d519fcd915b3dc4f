//! The error envelope `{"error": {message, type, param, code}}` every refusal is
//! answered with, and the JSON responses around it.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use permissions_types::{ApiError, ErrorResponse};

/// An error answered with the envelope (boxed: it travels in `Err` through every
/// handler).
#[derive(Debug)]
pub(crate) struct Failure(Box<FailureBody>);

#[derive(Debug)]
struct FailureBody {
    status: StatusCode,
    error: ApiError,
    retry_after_ms: Option<u64>,
    retry_after: Option<u64>,
}

impl Failure {
    pub(crate) fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        Self(Box::new(FailureBody {
            status,
            error: ApiError::new(kind, message),
            retry_after_ms: None,
            retry_after: None,
        }))
    }

    /// An `invalid_request_error`.
    pub(crate) fn invalid(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, "invalid_request_error", message)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::invalid(StatusCode::BAD_REQUEST, message)
    }

    /// A `server_error`.
    pub(crate) fn server(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, "server_error", message)
    }

    /// A 429 of the rate limiter (`type: "requests"`, `code: "rate_limit_exceeded"`).
    pub(crate) fn rate_limited(message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "requests", message).code("rate_limit_exceeded")
    }

    /// The answer to a failure of ours, not of the request.
    pub(crate) fn internal() -> Self {
        Self::server(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server had an error while processing your request.",
        )
    }

    pub(crate) fn param(mut self, param: impl Into<String>) -> Self {
        self.0.error.param = Some(param.into());
        self
    }

    pub(crate) fn code(mut self, code: &str) -> Self {
        self.0.error.code = Some(code.to_owned());
        self
    }

    /// The error as it is answered, for tests.
    #[cfg(test)]
    pub(crate) fn error(&self) -> &ApiError {
        &self.0.error
    }

    /// Sends `retry-after-ms` and `retry-after` (seconds) headers, where given.
    pub(crate) fn retry_after(mut self, ms: Option<u64>, seconds: Option<u64>) -> Self {
        self.0.retry_after_ms = ms;
        self.0.retry_after = seconds;
        self
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let failure = *self.0;
        let mut response = json_response(failure.status, envelope_json(failure.error));
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

/// The envelope's bytes.
pub(crate) fn envelope_json(error: ApiError) -> Vec<u8> {
    serde_json::to_vec(&ErrorResponse::new(error)).unwrap_or_else(|_| {
        br#"{"error":{"message":"error","type":"server_error","param":null,"code":null}}"#.to_vec()
    })
}

/// A response of `status` with a JSON `body`.
pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// At most 64 characters of user input, for messages.
pub(crate) fn clip(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// Gives the envelope to error responses that were made without one (axum's 405
/// and rejections), keeping their other headers.
pub(crate) fn wrap_bare_error(response: &mut Response) {
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
