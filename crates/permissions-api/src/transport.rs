//! What the generated client does around each request, through progenitor's hooks:
//! credentials and headers ([`prepare_request`]), pacing, retries and error bodies
//! ([`Transport::execute`], called from the `ClientHooks::exec` hook).

use std::{cell::RefCell, future::Future, sync::Arc, time::Duration};

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};

use crate::pacing::{Outcome, Pacer, Pacing, PacingStatus, millis};
use crate::redact::Redactor;
use crate::{RequestInfo, RetryPolicy, error::envelope_from_body, retry, signals};

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
/// client directly. Clones share one pacer ([`Pacing`]). Its `Debug` output never
/// shows the key.
#[derive(Clone, Debug, Default)]
pub struct Transport {
    /// Requests whose URL starts with this get the headers (and so the key).
    base_url: String,
    /// Authorization (marked sensitive), organization, project, user agent, extras.
    headers: HeaderMap,
    retry: RetryPolicy,
    timeout: Option<Duration>,
    pacer: Arc<Pacer>,
    /// Masks the key in whatever the server sends back, for errors and logs.
    redactor: Arc<Redactor>,
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
        let key = headers
            .get(reqwest::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim());
        Self {
            redactor: Arc::new(Redactor::new(key)),
            base_url: base_url.into(),
            headers,
            retry,
            timeout,
            pacer: Arc::default(),
        }
    }

    pub(crate) fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// These settings with a new pacer of `pacing` (learned limits by default).
    #[must_use]
    pub fn with_pacing(self, pacing: Pacing) -> Self {
        self.with_pacer(Pacer::new(pacing, None))
    }

    /// These settings with `pacer`.
    pub(crate) fn with_pacer(mut self, pacer: Pacer) -> Self {
        self.pacer = Arc::new(pacer);
        self
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// What the pacer shared by these settings' clones is doing now.
    pub fn pacing_status(&self) -> PacingStatus {
        self.pacer.status()
    }

    /// Sends `request` when the endpoint's pacing allows, retrying as the policy
    /// says, and turns error bodies that are not the API's envelope into one so that
    /// the status is never lost. `operation` names the endpoint to pace.
    pub async fn execute(
        &self,
        http: &reqwest::Client,
        mut request: reqwest::Request,
        operation: &'static str,
    ) -> reqwest::Result<reqwest::Response> {
        let _ = SENT.try_with(|sent| {
            *sent.borrow_mut() = Some(RequestInfo {
                method: request.method().clone(),
                url: request.url().clone(),
            });
        });
        let mut retries_done = 0;
        let mut attempt = 0u32;
        let mut throttled = Throttled::default();
        loop {
            let permit = self.pacer.acquire(operation).await;
            throttled.queued(permit.slot_wait);
            attempt += 1;
            tracing::debug!(
                operation,
                method = %request.method(),
                url = %request.url(),
                attempt,
                "sending request"
            );
            let spare = (retries_done < self.retry.max_retries || self.retry.retries_rate_limits())
                .then(|| request.try_clone())
                .flatten();
            let result = http.execute(request).await;
            let rate_limited = match &result {
                Ok(response) => {
                    tracing::debug!(
                        operation,
                        status = response.status().as_u16(),
                        request_id = %self
                            .redactor
                            .clean(crate::error::request_id(response.headers()).unwrap_or("-")),
                        "response"
                    );
                    let headers = response.headers();
                    if response.status() == StatusCode::TOO_MANY_REQUESTS {
                        let retry_after =
                            signals::server_delay(headers, std::time::SystemTime::now())
                                .filter(|wait| !wait.is_zero());
                        let pause =
                            permit.report(Outcome::Throttled { retry_after }, Some(headers));
                        signals::is_retryable_response(response.status(), headers).then_some(pause)
                    } else {
                        permit.report(Outcome::Answered, Some(headers));
                        None
                    }
                }
                Err(error) => {
                    tracing::debug!(operation, error = %error, "no response");
                    permit.report(Outcome::NoAnswer, None);
                    None
                }
            };
            let Some(next) = spare else {
                return normalize_error_body(result?).await;
            };
            if let Some(pause) = rate_limited {
                // The pacer holds the wait: the next `acquire` sleeps until the
                // endpoint's pause ends, together with every other request.
                let spent = throttled.spent();
                if let Some(budget) = self.retry.rate_limit_budget
                    && spent + pause > budget
                {
                    tracing::warn!(
                        operation,
                        attempts = attempt,
                        throttled_ms = millis(spent),
                        budget_ms = millis(budget),
                        "rate limited: giving up, the next wait would end past the budget"
                    );
                    return normalize_error_body(result?).await;
                }
                tracing::info!(
                    operation,
                    attempt,
                    throttled_ms = millis(spent),
                    wait_ms = millis(pause),
                    "rate limited (429): retrying when the endpoint's pause ends"
                );
                drop(result);
                request = next;
                continue;
            }
            let delay = match &result {
                Ok(response)
                    if retries_done < self.retry.max_retries
                        && !response.status().is_success()
                        && signals::is_retryable_response(
                            response.status(),
                            response.headers(),
                        ) =>
                {
                    self.retry
                        .delay(retries_done, Some(response.headers()), retry::jitter())
                }
                Err(error) if retries_done < self.retry.max_retries && is_transient(error) => {
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
                delay_ms = millis(delay),
                "retrying request"
            );
            drop(result);
            tokio::time::sleep(delay).await;
            request = next;
            retries_done += 1;
        }
    }
}

/// How long one request has been rate limited: since its first 429, without the
/// time it then spent waiting for its turn under the pacing limit.
#[derive(Debug, Default)]
struct Throttled {
    since: Option<tokio::time::Instant>,
    queued: Duration,
}

impl Throttled {
    fn queued(&mut self, slot_wait: Duration) {
        if self.since.is_some() {
            self.queued += slot_wait;
        }
    }

    /// Starts the count at the first 429 and returns the time spent so far.
    fn spent(&mut self) -> Duration {
        let since = *self.since.get_or_insert_with(tokio::time::Instant::now);
        since.elapsed().saturating_sub(self.queued)
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
