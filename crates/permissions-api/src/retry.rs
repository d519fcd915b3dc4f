//! When and how long to wait before retrying a request, as the official SDKs do.

use std::time::{Duration, SystemTime};

use reqwest::{StatusCode, header::HeaderMap};

/// How failed requests are retried.
///
/// **429** (rate limited) is retried for as long as
/// [`rate_limit_budget`](Self::rate_limit_budget) allows, not a number of times: the
/// admin API's window refills only after about 60 s. The waits are the endpoint's
/// shared pause ([`Pacing`](crate::Pacing)): the server's `retry-after-ms` or
/// `retry-after` however long, else a backoff growing by half from 0.5 s to 60 s.
///
/// **Everything else** follows the official SDKs: connection errors, timeouts, and
/// responses with status 408, 409 or 5xx are retried [`max_retries`](Self::max_retries)
/// times. `x-should-retry: true|false` overrides the status (for 429 too). The wait
/// is the server's `retry-after-ms`, else its `retry-after` (seconds or an HTTP
/// date) when that is positive and at most [`max_retry_after`](Self::max_retry_after);
/// otherwise `min(initial_delay * 2^n, max_delay)` times a random factor in
/// `[0.75, 1]`, where `n` counts the retries already made.
///
/// ```
/// use std::time::Duration;
/// use permissions_api::RetryPolicy;
///
/// assert_eq!(RetryPolicy::default().max_retries, 2);
/// assert_eq!(RetryPolicy::default().rate_limit_budget, Some(Duration::from_secs(300)));
/// assert_eq!(RetryPolicy::none().max_retries, 0);
/// assert_eq!(RetryPolicy::none().rate_limit_budget, Some(Duration::ZERO));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 disables retrying.
    pub max_retries: u32,
    /// The first backoff delay, doubled on each retry.
    pub initial_delay: Duration,
    /// The longest backoff delay.
    pub max_delay: Duration,
    /// The longest server-requested delay that is honoured as given (not for 429,
    /// whose wait is bounded by `rate_limit_budget`).
    pub max_retry_after: Duration,
    /// How long one request keeps retrying 429s: the time since its first 429,
    /// without the time it waited for its turn under the pacing limit. A request
    /// gives up as soon as the next pause would end past the budget. `None` retries
    /// for as long as it takes; `Some(Duration::ZERO)` never retries a 429.
    pub rate_limit_budget: Option<Duration>,
}

/// How long a request keeps retrying 429s unless configured otherwise: five windows
/// of the admin API's throttle.
pub const DEFAULT_RATE_LIMIT_BUDGET: Duration = Duration::from_secs(300);

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            rate_limit_budget: Some(DEFAULT_RATE_LIMIT_BUDGET),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries, not even a 429.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            rate_limit_budget: Some(Duration::ZERO),
            ..Self::default()
        }
    }

    /// Whether a 429 may be retried at all under this policy.
    pub(crate) fn retries_rate_limits(&self) -> bool {
        self.rate_limit_budget != Some(Duration::ZERO)
    }

    /// The default policy with `max_retries` retries.
    pub fn with_max_retries(max_retries: u32) -> Self {
        Self {
            max_retries,
            ..Self::default()
        }
    }

    /// The wait before retry number `retries_done + 1` after a response with these
    /// headers (or after a connection error, with no headers).
    pub(crate) fn delay(
        &self,
        retries_done: u32,
        headers: Option<&HeaderMap>,
        jitter: f64,
    ) -> Duration {
        if let Some(wait) = headers.and_then(|h| server_delay(h, SystemTime::now()))
            && !wait.is_zero()
            && wait <= self.max_retry_after
        {
            return wait;
        }
        let exponential = self
            .initial_delay
            .saturating_mul(2u32.saturating_pow(retries_done.min(30)));
        exponential
            .min(self.max_delay)
            .mul_f64(jitter.clamp(0.75, 1.0))
    }
}

/// Whether a response with this status and headers is worth retrying.
pub(crate) fn is_retryable_response(status: StatusCode, headers: &HeaderMap) -> bool {
    match headers.get("x-should-retry").map(|v| v.as_bytes()) {
        Some(b"true") => return true,
        Some(b"false") => return false,
        _ => {}
    }
    matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error()
}

/// The delay the server asked for: `retry-after-ms` first, then `retry-after` in
/// seconds or as an HTTP date.
pub(crate) fn server_delay(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let seconds = |value: f64| {
        (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value.min(1e9)))
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return seconds(ms / 1000.0);
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return seconds(secs);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A random factor in `[0.75, 1]` for backoff jitter, from the standard library's
/// randomly keyed hasher (no RNG dependency for one number per retry).
pub(crate) fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let unit = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    1.0 - 0.25 * unit
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retryable_statuses_follow_the_sdks() {
        let none = HeaderMap::new();
        for code in [408, 409, 429, 500, 502, 503, 504, 599] {
            assert!(
                is_retryable_response(StatusCode::from_u16(code).unwrap(), &none),
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 413, 422] {
            assert!(
                !is_retryable_response(StatusCode::from_u16(code).unwrap(), &none),
                "{code}"
            );
        }
    }

    #[test]
    fn x_should_retry_overrides_the_status() {
        let yes = headers(&[("x-should-retry", "true")]);
        let no = headers(&[("x-should-retry", "false")]);
        assert!(is_retryable_response(StatusCode::BAD_REQUEST, &yes));
        assert!(!is_retryable_response(StatusCode::SERVICE_UNAVAILABLE, &no));
    }

    #[test]
    fn retry_after_ms_wins_over_retry_after() {
        let now = SystemTime::now();
        let h = headers(&[("retry-after-ms", "250"), ("retry-after", "7")]);
        assert_eq!(server_delay(&h, now), Some(Duration::from_millis(250)));
        let h = headers(&[("retry-after", "1.5")]);
        assert_eq!(server_delay(&h, now), Some(Duration::from_millis(1500)));
        let h = headers(&[("retry-after", "soon")]);
        assert_eq!(server_delay(&h, now), None);
        let h = headers(&[("retry-after-ms", "-5")]);
        assert_eq!(server_delay(&h, now), None);
    }

    #[test]
    fn retry_after_accepts_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(3));
        let h = headers(&[("retry-after", &later)]);
        assert_eq!(server_delay(&h, now), Some(Duration::from_secs(3)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(3));
        let h = headers(&[("retry-after", &earlier)]);
        assert_eq!(server_delay(&h, now), Some(Duration::ZERO));
    }

    #[test]
    fn long_or_zero_server_delays_fall_back_to_backoff() {
        let policy = RetryPolicy::default();
        let long = headers(&[("retry-after", "61")]);
        assert_eq!(
            policy.delay(0, Some(&long), 1.0),
            Duration::from_millis(500)
        );
        let zero = headers(&[("retry-after-ms", "0")]);
        assert_eq!(policy.delay(1, Some(&zero), 1.0), Duration::from_secs(1));
        let ok = headers(&[("retry-after", "60")]);
        assert_eq!(policy.delay(0, Some(&ok), 1.0), Duration::from_secs(60));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let policy = RetryPolicy::default();
        let waits: Vec<_> = (0..6).map(|n| policy.delay(n, None, 1.0)).collect();
        let ms: Vec<_> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000, 8000, 8000]);
        assert_eq!(policy.delay(0, None, 0.75), Duration::from_millis(375));
        assert_eq!(policy.delay(40, None, 1.0), Duration::from_secs(8));
        for _ in 0..100 {
            let j = jitter();
            assert!((0.75..=1.0).contains(&j), "{j}");
        }
    }
}
