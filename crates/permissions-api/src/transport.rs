//! What the generated client does around each request, through progenitor's hooks:
//! credentials and headers ([`prepare_request`]), retries and error bodies
//! ([`Transport::execute`], called from the `ClientHooks::exec` hook).

use std::{cell::RefCell, future::Future, time::Duration};

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{HeaderMap, HeaderValue};

use crate::{RequestInfo, RetryPolicy, error::envelope_from_body, retry};

tokio::task_local! {
    /// The last request the exec hook sent, for the error of a call made through
    /// [`record_request`]: the generated client's errors do not carry it.
    static SENT: RefCell<Option<RequestInfo>>;
}

/// Runs `call` (a generated operation) and returns its output with the method and
/// URL of the request it sent, if it got that far.
pub(crate) async fn record_request<F: Future>(call: F) -> (F::Output, Option<RequestInfo>) {
    SENT.scope(RefCell::new(None), async move {
        let output = call.await;
        (output, SENT.with(|sent| sent.borrow_mut().take()))
    })
    .await
}

/// The settings the generated [`crate::generated::Client`] carries for every request.
///
/// Built by [`crate::ClientBuilder`]; build one yourself only to use the generated
/// client directly. Its `Debug` output never shows the key.
#[derive(Clone, Debug, Default)]
pub struct Transport {
    /// Requests whose URL starts with this get the headers (and so the key).
    base_url: String,
    /// Authorization (marked sensitive), organization, project, user agent, extras.
    headers: HeaderMap,
    retry: RetryPolicy,
    timeout: Option<Duration>,
}

impl Transport {
    /// Settings that send `headers` to URLs under `base_url`, retry by `retry`, and
    /// give each attempt `timeout` (reqwest's own setting when `None`).
    ///
    /// Header values that hold secrets should be marked sensitive
    /// ([`HeaderValue::set_sensitive`]) so that they stay out of `Debug` output.
    pub fn new(
        base_url: impl Into<String>,
        headers: HeaderMap,
        retry: RetryPolicy,
        timeout: Option<Duration>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            headers,
            retry,
            timeout,
        }
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Sends `request`, retrying as the policy says, and turns error bodies that are
    /// not the API's envelope into one so that the status is never lost.
    pub async fn execute(
        &self,
        http: &reqwest::Client,
        mut request: reqwest::Request,
        operation: &str,
    ) -> reqwest::Result<reqwest::Response> {
        let _ = SENT.try_with(|sent| {
            *sent.borrow_mut() = Some(RequestInfo {
                method: request.method().clone(),
                url: request.url().clone(),
            });
        });
        let mut retries_done = 0;
        loop {
            tracing::debug!(
                operation,
                method = %request.method(),
                url = %request.url(),
                attempt = retries_done + 1,
                "sending request"
            );
            let spare = (retries_done < self.retry.max_retries)
                .then(|| request.try_clone())
                .flatten();
            let result = http.execute(request).await;
            match &result {
                Ok(response) => tracing::debug!(
                    operation,
                    status = response.status().as_u16(),
                    request_id = crate::error::request_id(response.headers()).unwrap_or("-"),
                    "response"
                ),
                Err(error) => tracing::debug!(operation, error = %error, "no response"),
            }
            let Some(next) = spare else {
                return normalize_error_body(result?).await;
            };
            let delay = match &result {
                Ok(response)
                    if !response.status().is_success()
                        && retry::is_retryable_response(response.status(), response.headers()) =>
                {
                    self.retry
                        .delay(retries_done, Some(response.headers()), retry::jitter())
                }
                Err(error) if is_transient(error) => {
                    self.retry.delay(retries_done, None, retry::jitter())
                }
                _ => return normalize_error_body(result?).await,
            };
            let cause = match &result {
                Ok(response) => response.status().to_string(),
                Err(error) => error_kind(error).to_owned(),
            };
            tracing::warn!(
                operation,
                retry = retries_done + 1,
                of = self.retry.max_retries,
                cause = %cause,
                delay_ms = delay.as_millis() as u64,
                "retrying request"
            );
            drop(result);
            tokio::time::sleep(delay).await;
            request = next;
            retries_done += 1;
        }
    }
}

/// The pre-request hook of the generated client (see `permissions_codegen::settings`).
///
/// progenitor adds an `api-version` header carrying the spec's `info.version`; the
/// OpenAI API does not define it and the official SDKs do not send it. Credentials
/// and the other headers go only to the configured base URL.
pub(crate) fn prepare_request(transport: &Transport, request: &mut reqwest::Request) {
    request.headers_mut().remove("api-version");
    if request.url().as_str().starts_with(&transport.base_url) {
        for (name, value) in &transport.headers {
            request.headers_mut().insert(name, value.clone());
        }
    }
    if let Some(timeout) = transport.timeout {
        *request.timeout_mut() = Some(timeout);
    }
}

impl ClientHooks<Transport> for crate::generated::Client {
    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        self.inner()
            .execute(self.client(), request, info.operation_id)
            .await
    }
}

/// Errors of the network rather than of the request: worth another attempt.
fn is_transient(error: &reqwest::Error) -> bool {
    error.is_connect() || error.is_timeout() || error.is_request() || error.is_body()
}

fn error_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection refused or failed"
    } else {
        "transport error"
    }
}

/// Rewrites the body of an error response that is not `{"error": {...}}` into that
/// envelope, keeping status and headers: the generated client would otherwise report
/// a decode error and drop the status.
async fn normalize_error_body(response: reqwest::Response) -> reqwest::Result<reqwest::Response> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(response);
    }
    let mut headers = response.headers().clone();
    let version = response.version();
    let body = response.bytes().await?;
    let body = if serde_json::from_slice::<permissions_types::ErrorResponse>(&body).is_ok() {
        body
    } else {
        let envelope = envelope_from_body(status.as_u16(), &body);
        headers.remove(reqwest::header::CONTENT_LENGTH);
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        serde_json::to_vec(&envelope)
            .map(bytes::Bytes::from)
            .unwrap_or(body)
    };
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    Ok(reqwest::Response::from(rebuilt))
}
