//! The one error type of the client layer.

use std::fmt;

use permissions_types::{ErrorResponse, IdError, IntoId};
use reqwest::header::HeaderMap;

use crate::redact::Redactor;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a call.
///
/// Server errors carry the status class ([`StatusKind`]), the envelope's fields and
/// the `x-request-id`. No variant ever holds the API key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error status.
    #[error(transparent)]
    Status(Box<StatusError>),
    /// The request could not be sent or its response could not be read.
    ///
    /// Its message names the request; the cause is its [`source`](std::error::Error::source),
    /// so that a report of the whole chain says each thing once.
    #[non_exhaustive]
    #[error("connection error{}", on(request))]
    Connection {
        /// What reqwest reported.
        #[source]
        source: reqwest::Error,
        /// The request, when it was built.
        request: Option<Box<RequestInfo>>,
    },
    /// The request or the connection attempt took longer than the timeout (the
    /// cause is its `source`).
    #[non_exhaustive]
    #[error("request timed out{}", on(request))]
    Timeout {
        /// What reqwest reported.
        #[source]
        source: reqwest::Error,
        /// The request, when it was built.
        request: Option<Box<RequestInfo>>,
    },
    /// The server answered, but not with the JSON the API describes.
    #[non_exhaustive]
    #[error("could not decode the response{}: {message}; body starts: {excerpt:?}",
        status.map(|s| format!(" (status {s})")).unwrap_or_default())]
    Decode {
        /// The HTTP status, when known.
        status: Option<u16>,
        /// Why decoding failed.
        message: String,
        /// The first bytes of the body, with anything that looks like a key masked.
        excerpt: String,
        /// The request that got this answer.
        request: Option<Box<RequestInfo>>,
    },
    /// An argument was refused before any request was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An id given as an argument is not of its type's shape
    /// ([`permissions_types::ids`]); nothing was sent. The message names the
    /// argument; the cause, its [`source`](std::error::Error::source), says what is
    /// wrong with the id.
    #[non_exhaustive]
    #[error("`{argument}` is not a valid {}", source.id_type().name())]
    InvalidId {
        /// The argument, as the API names it: `fine_tuned_model_checkpoint`,
        /// `project_ids[2]`, `permission_id`, `after`, `project_id`.
        argument: String,
        /// What is wrong with it.
        #[source]
        source: IdError,
    },
    /// The client could not be configured (missing key, invalid base URL, ...).
    #[error("invalid configuration: {0}")]
    Config(ConfigError),
    /// The server returned a pagination cursor already followed in this listing
    /// (the one it was given, or any cycle of them); following it would loop
    /// forever.
    #[non_exhaustive]
    #[error("pagination stopped: the server returned the cursor {cursor:?} again")]
    RepeatedCursor {
        /// The cursor that came back.
        cursor: String,
    },
}

/// ` on METHOD "URL"`, or nothing when the request is not known.
fn on(request: &Option<Box<RequestInfo>>) -> String {
    request
        .as_ref()
        .map(|r| format!(" on {r}"))
        .unwrap_or_default()
}

/// The method and URL of a request that failed, for messages such as
/// `DELETE "https://.../permissions/cp_x": 404 Not Found`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestInfo {
    /// The HTTP method.
    pub method: reqwest::Method,
    /// The full URL, with the query (which never holds the key).
    pub url: reqwest::Url,
}

impl fmt::Display for RequestInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} \"{}\"", self.method, self.url)
    }
}

/// The status class of a server error, as the official SDKs name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusKind {
    /// 400.
    BadRequest,
    /// 401: the key is missing, malformed or unknown.
    Authentication,
    /// 403: the key may not do this (for example, it is not an admin key).
    PermissionDenied,
    /// 404.
    NotFound,
    /// 409.
    Conflict,
    /// 422.
    UnprocessableEntity,
    /// 429.
    RateLimit,
    /// 500 and above.
    InternalServer,
    /// Any other error status.
    Other,
}

impl StatusKind {
    /// The class of `status`.
    pub fn from_status(status: u16) -> Self {
        match status {
            400 => Self::BadRequest,
            401 => Self::Authentication,
            403 => Self::PermissionDenied,
            404 => Self::NotFound,
            409 => Self::Conflict,
            422 => Self::UnprocessableEntity,
            429 => Self::RateLimit,
            500.. => Self::InternalServer,
            _ => Self::Other,
        }
    }
}

/// An error answer from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatusError {
    /// The HTTP status code ([`kind`](Self::kind) is its class).
    pub status: u16,
    /// The server's message (or, when the body had none, a description of the body).
    pub message: String,
    /// The error's `type`, such as `invalid_request_error`.
    pub error_type: Option<String>,
    /// The parameter the error is about.
    pub param: Option<String>,
    /// The machine-readable error code.
    pub code: Option<String>,
    /// The `x-request-id` response header, to quote when asking OpenAI for help.
    pub request_id: Option<String>,
    /// The request that got this answer.
    pub request: Option<RequestInfo>,
    /// The response headers, with anything that looks like a key masked in their
    /// values (as in every other field).
    pub headers: HeaderMap,
}

impl StatusError {
    /// The status class.
    pub fn kind(&self) -> StatusKind {
        StatusKind::from_status(self.status)
    }

    /// The status's reason phrase, such as `Not Found` (empty for an unknown one).
    pub fn reason(&self) -> &'static str {
        reason(self.status)
    }
}

/// The reason phrase of `status`, such as `Not Found`; empty when there is none.
fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.reason(), self.message)?;
        if let Some(code) = &self.code {
            write!(f, " (code {code})")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for StatusError {}

impl Error {
    /// The status class, for server errors.
    pub fn kind(&self) -> Option<StatusKind> {
        match self {
            Self::Status(e) => Some(e.kind()),
            _ => None,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status(e) => Some(e.status),
            Self::Decode { status, .. } => *status,
            _ => None,
        }
    }

    /// The `x-request-id` of the failed response, when the server answered.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Status(e) => e.request_id.as_deref(),
            _ => None,
        }
    }

    /// The response headers of a server error (keys masked in their values).
    pub fn headers(&self) -> Option<&HeaderMap> {
        match self {
            Self::Status(e) => Some(&e.headers),
            _ => None,
        }
    }

    /// The method and URL of the request that failed, when one was sent.
    pub fn request(&self) -> Option<&RequestInfo> {
        match self {
            Self::Status(e) => e.request.as_ref(),
            Self::Connection { request, .. }
            | Self::Timeout { request, .. }
            | Self::Decode { request, .. } => request.as_deref(),
            _ => None,
        }
    }

    /// `value` as an id of type `T`, or the [`Error::InvalidId`] of `argument`.
    pub(crate) fn check_id<T>(argument: impl Into<String>, value: impl IntoId<T>) -> Result<T> {
        value.into_id().map_err(|source| Self::InvalidId {
            argument: argument.into(),
            source,
        })
    }

    pub(crate) fn from_reqwest(source: reqwest::Error, request: Option<RequestInfo>) -> Self {
        let request = request.map(Box::new);
        if source.is_timeout() {
            Self::Timeout { source, request }
        } else {
            Self::Connection { source, request }
        }
    }

    /// Converts an error of the generated client for `request`, reading the body of
    /// responses the spec does not describe.
    pub(crate) async fn from_generated(
        error: progenitor_client::Error<ErrorResponse>,
        request: Option<RequestInfo>,
        redactor: &Redactor,
    ) -> Self {
        use progenitor_client::Error as E;
        match error {
            E::ErrorResponse(response) => {
                let status = response.status().as_u16();
                let headers = redactor.clean_headers(response.headers());
                Self::from_envelope(status, headers, response.into_inner(), request, redactor)
            }
            E::UnexpectedResponse(response) => {
                let status = response.status().as_u16();
                let headers = redactor.clean_headers(response.headers());
                match response.bytes().await {
                    Ok(body) if status >= 400 => Self::from_envelope(
                        status,
                        headers,
                        envelope_from_body(status, &body),
                        request,
                        redactor,
                    ),
                    Ok(body) => Self::Decode {
                        status: Some(status),
                        message: match headers
                            .get(reqwest::header::LOCATION)
                            .and_then(|to| to.to_str().ok())
                            .filter(|_| (300..400).contains(&status))
                        {
                            // Only one out of the base URL reaches here: config.rs.
                            Some(to) => format!(
                                "a redirect to {to}, out of the base URL, not followed \
                                 (the key goes only to the base URL)"
                            ),
                            None => "the API does not describe this status".into(),
                        },
                        excerpt: redactor.clean(&excerpt(&body)),
                        request: request.map(Box::new),
                    },
                    Err(source) => Self::from_reqwest(source, request),
                }
            }
            E::InvalidResponsePayload(body, err) => Self::Decode {
                status: None,
                // serde's messages quote the values they refused.
                message: redactor.clean(&err.to_string()),
                excerpt: redactor.clean(&excerpt(&body)),
                request: request.map(Box::new),
            },
            E::CommunicationError(source)
            | E::ResponseBodyError(source)
            | E::InvalidUpgrade(source) => Self::from_reqwest(source, request),
            E::InvalidRequest(message) | E::Custom(message) => {
                Self::InvalidArgument(redactor.clean(&message))
            }
        }
    }

    /// A status error from the envelope and the response's headers (already
    /// cleaned); every text the server chose goes through `redactor`.
    fn from_envelope(
        status: u16,
        headers: HeaderMap,
        body: ErrorResponse,
        request: Option<RequestInfo>,
        redactor: &Redactor,
    ) -> Self {
        let error = body.error;
        let non_empty = |s: String| (!s.is_empty()).then_some(s);
        Self::Status(Box::new(StatusError {
            status,
            message: redactor.clean(&error.message),
            error_type: redactor.clean_opt(non_empty(error.kind)),
            param: redactor.clean_opt(error.param),
            code: redactor.clean_opt(error.code),
            request_id: request_id(&headers).map(str::to_owned),
            request,
            headers,
        }))
    }
}

/// The `x-request-id` header, when present and readable.
pub(crate) fn request_id(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-request-id").and_then(|v| v.to_str().ok())
}

/// Longest body excerpt kept in an error.
const EXCERPT_CHARS: usize = 200;

/// The start of a body, as text, with key-like tokens masked (the client's own
/// key is masked by its [`Redactor`] where the excerpt is kept).
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let short: String = text.chars().take(EXCERPT_CHARS).collect();
    let mut out = crate::redact::redact_keys(short.trim());
    if text.chars().count() > EXCERPT_CHARS {
        out.push('…');
    }
    out
}

/// The error envelope for an error body that is not one: `{"error": "text"}`, a
/// bare `{"message": ...}`, or no JSON at all still give a useful message.
pub(crate) fn envelope_from_body(status: u16, body: &[u8]) -> ErrorResponse {
    if let Ok(envelope) = serde_json::from_slice::<ErrorResponse>(body) {
        return envelope;
    }
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field =
        |v: &serde_json::Value, name: &str| v.get(name).and_then(|m| m.as_str()).map(str::to_owned);
    let message = json
        .as_ref()
        .and_then(|v| {
            field(v, "error")
                .or_else(|| v.get("error").and_then(|e| field(e, "message")))
                .or_else(|| field(v, "message"))
        })
        .unwrap_or_else(|| {
            let text = excerpt(body);
            if text.is_empty() {
                Some(reason(status))
                    .filter(|r| !r.is_empty())
                    .unwrap_or("error")
                    .to_owned()
            } else {
                text
            }
        });
    ErrorResponse::new(permissions_types::ApiError::new("", message))
}

/// Why a client could not be configured ([`Error::Config`]). Its messages speak of
/// the library (variables and builder methods); a program maps the variants to its
/// own words (a CLI to its flags).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No key was given (nor found in `OPENAI_ADMIN_KEY` or `OPENAI_API_KEY`).
    #[error("no API key: set OPENAI_ADMIN_KEY (or OPENAI_API_KEY), or call ClientBuilder::api_key")]
    MissingKey,
    /// The key holds characters that cannot travel in a header (it is not shown).
    #[error("the API key holds characters that cannot be sent in a header")]
    UnsendableKey,
    /// An environment variable holds a value of the wrong kind.
    #[error("{variable}={value:?} is not {expected}")]
    InvalidVariable {
        /// The variable, such as `OPENAI_ADMIN_MAX_RPM`.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// The base URL is not an absolute `http` or `https` URL of a host.
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header of [`ClientBuilder::header`](crate::ClientBuilder::header) has an invalid name or value.
    #[error("invalid header {name:?}: {what} is not valid in a header")]
    InvalidHeader {
        /// The header's name.
        name: String,
        /// `"the name"` or `"the value"`.
        what: &'static str,
    },
    /// reqwest could not build its client.
    #[error("cannot build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
}

impl From<ConfigError> for Error {
    fn from(error: ConfigError) -> Self {
        Self::Config(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        let kinds: Vec<_> = [400, 401, 403, 404, 409, 422, 429, 500, 503, 418]
            .into_iter()
            .map(StatusKind::from_status)
            .collect();
        use StatusKind::*;
        assert_eq!(
            kinds,
            [
                BadRequest,
                Authentication,
                PermissionDenied,
                NotFound,
                Conflict,
                UnprocessableEntity,
                RateLimit,
                InternalServer,
                InternalServer,
                Other
            ]
        );
    }

    #[test]
    fn reasons_are_the_canonical_ones() {
        assert_eq!(reason(404), "Not Found");
        assert_eq!(reason(429), "Too Many Requests");
        assert_eq!(reason(599), "");
    }

    #[test]
    fn keys_are_masked_in_excerpts() {
        let text = "Incorrect API key provided: sk-admin-abcdefghijklmnop1234. Also sk-x.";
        assert!(!excerpt(text.as_bytes()).contains("abcdefghijklmnop"));
    }

    proptest::proptest! {
        #[test]
        fn any_error_body_gives_a_message_and_never_panics(
            status in 400u16..600,
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        ) {
            let envelope = envelope_from_body(status, &body);
            proptest::prop_assert!(!envelope.error.message.is_empty() || body.is_empty() || serde_json::from_slice::<ErrorResponse>(&body).is_ok());
            let short = excerpt(&body);
            proptest::prop_assert!(short.chars().count() <= EXCERPT_CHARS + 1);
        }

        #[test]
        fn a_key_in_any_text_is_masked(
            before in "\\PC{0,40}",
            secret in "[A-Za-z0-9_-]{12,40}",
            after in "[ .,;:!?)]{1}\\PC{0,40}",
        ) {
            let key = format!("sk-admin-{secret}");
            let masked = crate::redact::redact_keys(&format!("{before}{key}{after}"));
            proptest::prop_assert!(!masked.contains(&key), "{}", masked);
            proptest::prop_assert!(masked.contains(&format!("sk-****{}", &key[key.len() - 4..])), "{}", masked);
        }
    }

    #[test]
    fn error_bodies_that_are_not_envelopes_still_give_a_message() {
        let msg = |body: &str| envelope_from_body(502, body.as_bytes()).error.message;
        assert_eq!(msg(r#"{"error": "upstream down"}"#), "upstream down");
        assert_eq!(msg(r#"{"message": "nope"}"#), "nope");
        assert_eq!(msg(r#"{"error": {"message": "partial"}}"#), "partial");
        assert_eq!(msg("<html>Bad gateway</html>"), "<html>Bad gateway</html>");
        assert_eq!(msg(""), "Bad Gateway");
        let long = "x".repeat(500);
        assert_eq!(msg(&long).chars().count(), EXCERPT_CHARS + 1);
    }
}
