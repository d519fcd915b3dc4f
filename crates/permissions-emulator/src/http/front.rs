//! The first middleware every request meets: counts it, gives it a request id,
//! checks the size of its head, applies faults, checks the key and the throttle,
//! and wraps any bare error in the envelope.
//!
//! The head limits ([`MAX_URI_BYTES`], [`MAX_HEADER_COUNT`], [`MAX_HEADER_BYTES`])
//! sit below hyper's own, so the emulator answers an oversized head with the
//! envelope like any other refusal. A head beyond hyper's bounds never reaches a
//! middleware: hyper answers it bare (no body), and the emulator lets it.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::{authenticate, authorize, scope_for};
use super::envelope::{Failure, clip, wrap_bare_error};
use crate::faults::Fault;
use crate::rules::{MAX_HEADER_BYTES, MAX_HEADER_COUNT, MAX_URI_BYTES};
use crate::state::EmulatorState;
use crate::throttle::{Verdict, go_duration};

pub(crate) async fn front(
    State(state): State<EmulatorState>,
    mut request: Request,
    next: Next,
) -> Response {
    state
        .0
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let started = Instant::now();
    // What the request log needs, taken only when it is written.
    let logged = tracing::enabled!(tracing::Level::INFO)
        .then(|| (request.method().clone(), request.uri().clone()));
    let fault = state.0.faults.next();
    // A page anomaly is the list handler's to apply, to the page it serves.
    if let Some(anomaly @ (Fault::EmptyPage | Fault::RepeatLastId)) = &fault {
        request.extensions_mut().insert(anomaly.clone());
    }
    let mut response = match (oversized_head(&request), &fault) {
        (Some(failure), _) => failure.into_response(),
        (
            None,
            Some(Fault::Status {
                status,
                retry_after_ms,
                retry_after,
            }),
        ) => fault_failure(*status)
            .retry_after(*retry_after_ms, *retry_after)
            .into_response(),
        (None, Some(Fault::Delay(delay))) => {
            tokio::time::sleep(*delay).await;
            admit(&state, request, next).await
        }
        (None, _) => admit(&state, request, next).await,
    };
    wrap_bare_error(&mut response);
    let request_id = new_request_id();
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

/// A fresh `x-request-id`, shaped as the real API's.
fn new_request_id() -> String {
    format!("req_{:032x}", rand::random::<u128>())
}

/// The refusal of a request whose target or headers exceed the emulator's limits.
fn oversized_head(request: &Request) -> Option<Failure> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(Failure::invalid(
            StatusCode::URI_TOO_LONG,
            "The request URI is too long.",
        ));
    }
    let headers = request.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    (headers.len() > MAX_HEADER_COUNT || header_bytes > MAX_HEADER_BYTES).then(|| {
        Failure::invalid(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "The request headers are too many or too large.",
        )
    })
}

fn fault_failure(status: u16) -> Failure {
    let status = StatusCode::from_u16(status)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match status {
        StatusCode::TOO_MANY_REQUESTS => {
            Failure::rate_limited("Rate limit reached for requests (injected by the emulator).")
        }
        StatusCode::SERVICE_UNAVAILABLE => Failure::server(
            status,
            "The server is overloaded or not ready yet (injected by the emulator).",
        ),
        s if s.is_server_error() => Failure::server(
            s,
            "The server had an error while processing your request (injected by the emulator).",
        ),
        s => Failure::invalid(s, "Injected failure."),
    }
}

/// Authentication, scopes and the throttle, in that order; then the handler.
async fn admit(state: &EmulatorState, request: Request, next: Next) -> Response {
    let key = match authenticate(request.headers(), &state.0.admin_key_prefix) {
        Ok(key) => key,
        Err(failure) => return failure.into_response(),
    };
    // Only routed requests have a path template; others (404s) are neither
    // scope-checked nor throttled.
    let Some(path) = request.extensions().get::<MatchedPath>() else {
        return next.run(request).await;
    };
    let scope = scope_for(request.method(), path.as_str());
    if let Err(failure) = authorize(&state.0.keys, &key, scope) {
        return failure.into_response();
    }
    let verdict = state.0.throttle.check(
        &key,
        request.method().as_str(),
        path.as_str(),
        Instant::now(),
    );
    drop(key);
    match verdict {
        Verdict::Unlimited => next.run(request).await,
        Verdict::Throttled { limit, reset } => {
            let mut failure = Failure::rate_limited(format!(
                "Rate limit reached for requests on this endpoint: limit {} per {}. \
                 Please try again later.",
                limit.requests,
                go_duration(limit.window)
            ));
            if limit.headers {
                let ms = u64::try_from(reset.as_millis()).unwrap_or(u64::MAX).max(1);
                failure = failure.retry_after(Some(ms), Some(ms.div_ceil(1000)));
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
