//! When and how long to wait before retrying a request, as the official SDKs do.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// How failed requests are retried.
///
/// **429** (rate limited) is retried for as long as
/// [`rate_limit_budget`](Self::rate_limit_budget) allows, not a number of times: the
/// admin API's throttle refills slowly (the `pacing` module's docs,
/// `src/pacing/mod.rs`, say what is known of it). The waits are the endpoint's
/// shared pause ([`Pacing`](crate::Pacing)): the server's `retry-after-ms` or
/// `retry-after` up to 10 minutes (a longer one is no admin window's), else a
/// backoff growing by half from 0.5 s to 60 s.
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
        if let Some(wait) = headers.and_then(|h| crate::signals::server_delay(h, SystemTime::now()))
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

/// A random factor in `[0.75, 1]` for backoff jitter.
pub(crate) fn jitter() -> f64 {
    1.0 - 0.25 * random_unit()
}

/// A random number in `[0, 1)`, from the standard library's randomly keyed hasher
/// (no RNG dependency for one number per retry or pause).
pub(crate) fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
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
