//! The real admin API's throttle: a fixed window of requests per key and endpoint,
//! or per key ([`RateLimitScope`]).
//!
//! What is known of the real one is said once, in the client's pacing module
//! (`crates/permissions-api/src/pacing/mod.rs`; a path, not a link: the emulator
//! does not depend on the client). [`RateLimit`] reproduces it, time-compressed if
//! asked (`8/3s`), and can add the headers the real one lacks, to test clients
//! that read them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A throttle of `requests` per `window`, per key and endpoint (method and path
/// template) or per key alone ([`RateLimitScope`]), in fixed windows.
///
/// A window opens with the first request after the previous one closed and lasts
/// `window`; within it the first `requests` requests are served and the others are
/// answered 429 (they do not count). Parsed from `REQUESTS/DURATION`, as given to
/// `--rate-limit`:
///
/// ```
/// use std::time::Duration;
/// use permissions_emulator::RateLimit;
///
/// let limit: RateLimit = "8/60s".parse()?;
/// assert_eq!((limit.requests, limit.window), (8, Duration::from_secs(60)));
/// assert_eq!("8/3s".parse::<RateLimit>()?.window, Duration::from_secs(3));
/// assert_eq!("10/1m".parse::<RateLimit>()?.window, Duration::from_secs(60));
/// assert_eq!("5/250ms".parse::<RateLimit>()?.window, Duration::from_millis(250));
/// assert!("8".parse::<RateLimit>().is_err());
/// assert!("0/60s".parse::<RateLimit>().is_err());
/// # Ok::<(), permissions_emulator::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Requests served per window (at least 1).
    pub requests: u32,
    /// How long a window lasts (more than zero).
    pub window: Duration,
    /// Whether answers carry `retry-after`, `retry-after-ms` and `x-ratelimit-*`
    /// headers. The real admin endpoints send none, so this is off by default.
    pub headers: bool,
    /// Which requests of a key share a window.
    pub scope: RateLimitScope,
}

/// Which requests of a key share one budget (`--rate-limit-scope`): both, since
/// the real admin API's scope is not known
/// (`crates/permissions-api/src/pacing/mod.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateLimitScope {
    /// One budget per method and path template (the default).
    #[default]
    Route,
    /// One budget for every admin route of the key.
    Key,
}

impl fmt::Display for RateLimitScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Route => "route",
            Self::Key => "key",
        })
    }
}

impl FromStr for RateLimitScope {
    type Err = crate::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "route" => Ok(Self::Route),
            "key" => Ok(Self::Key),
            other => Err(crate::Error::Config(format!(
                "invalid rate limit scope {other:?}: expected route or key"
            ))),
        }
    }
}

impl RateLimit {
    /// `requests` per `window`, without headers; `None` when either is zero.
    pub fn new(requests: u32, window: Duration) -> Option<Self> {
        (requests > 0 && !window.is_zero()).then_some(Self {
            requests,
            window,
            headers: false,
            scope: RateLimitScope::Route,
        })
    }

    /// This limit, with or without the rate-limit headers.
    #[must_use]
    pub fn with_headers(mut self, headers: bool) -> Self {
        self.headers = headers;
        self
    }

    /// This limit, with one budget per route or per key.
    #[must_use]
    pub fn with_scope(mut self, scope: RateLimitScope) -> Self {
        self.scope = scope;
        self
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.requests, go_duration(self.window))
    }
}

impl FromStr for RateLimit {
    type Err = crate::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |why: &str| {
            crate::Error::Config(format!(
                "invalid rate limit {text:?}: {why} (expected REQUESTS/DURATION, such as 8/60s)"
            ))
        };
        let (requests, window) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| invalid("no '/'"))?;
        let requests: u32 = requests
            .trim()
            .parse()
            .map_err(|_| invalid("the request count is not a whole number"))?;
        let window = parse_duration(window.trim())
            .ok_or_else(|| invalid("the duration is not a number followed by ms, s, m or h"))?;
        Self::new(requests, window).ok_or_else(|| invalid("both numbers must be above zero"))
    }
}

/// `250ms`, `3s`, `1.5s`, `1m`, `2h`; a bare number counts as seconds.
fn parse_duration(text: &str) -> Option<Duration> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    (seconds.is_finite() && seconds <= 1e9).then(|| Duration::from_secs_f64(seconds))
}

/// A duration the way OpenAI's `x-ratelimit-reset-*` headers write it (Go's
/// format): `20ms`, `1.5s`, `6m0s`.
pub(crate) fn go_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let minutes = millis / 60_000;
    let rest = (millis % 60_000) as f64 / 1000.0;
    if minutes == 0 {
        format!("{rest}s")
    } else {
        format!("{minutes}m{rest}s")
    }
}

/// The throttle's answer to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No limit is set.
    Unlimited,
    /// Served; `remaining` more fit in the window, which closes in `reset`.
    Served {
        limit: RateLimit,
        remaining: u32,
        reset: Duration,
    },
    /// Answered 429; the window closes in `reset`.
    Throttled { limit: RateLimit, reset: Duration },
}

/// Requests and 429 answers of one endpoint, as counted by the emulator.
///
/// Requests that reached the endpoint with a valid admin key are counted, whether
/// or not a [`RateLimit`] is set; `throttled` are those answered 429 by it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct EndpointCounters {
    /// The method, such as `POST`.
    pub method: String,
    /// The path template, such as
    /// `/v1/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions`.
    pub path: String,
    /// Requests that reached the endpoint.
    pub requests: u64,
    /// Requests answered 429 by the throttle.
    pub throttled: u64,
}

#[derive(Debug)]
struct Window {
    opened: Instant,
    served: u32,
}

/// The windows and counters of one emulator.
#[derive(Debug)]
pub(crate) struct Throttle {
    limit: Option<RateLimit>,
    /// Keys are hashed, so that the emulator keeps no copy of them.
    hasher: RandomState,
    windows: Mutex<HashMap<(u64, String, String), Window>>,
    counters: Mutex<BTreeMap<(String, String), (u64, u64)>>,
}

impl Throttle {
    pub(crate) fn new(limit: Option<RateLimit>) -> Self {
        Self {
            limit,
            hasher: RandomState::new(),
            windows: Mutex::new(HashMap::new()),
            counters: Mutex::new(BTreeMap::new()),
        }
    }

    /// Counts a request of `key` to `method path` and says whether it is served.
    pub(crate) fn check(&self, key: &str, method: &str, path: &str, now: Instant) -> Verdict {
        let verdict = match self.limit {
            None => Verdict::Unlimited,
            Some(limit) => {
                // Per key and route, or (one budget for the key) per key alone.
                let id = match limit.scope {
                    RateLimitScope::Route => (
                        self.hasher.hash_one(key),
                        method.to_owned(),
                        path.to_owned(),
                    ),
                    RateLimitScope::Key => {
                        (self.hasher.hash_one(key), String::new(), String::new())
                    }
                };
                let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
                let window = windows.entry(id).or_insert(Window {
                    opened: now,
                    served: 0,
                });
                if now.saturating_duration_since(window.opened) >= limit.window {
                    *window = Window {
                        opened: now,
                        served: 0,
                    };
                }
                let reset = limit
                    .window
                    .saturating_sub(now.saturating_duration_since(window.opened));
                if window.served < limit.requests {
                    window.served += 1;
                    Verdict::Served {
                        limit,
                        remaining: limit.requests - window.served,
                        reset,
                    }
                } else {
                    Verdict::Throttled { limit, reset }
                }
            }
        };
        let mut counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let entry = counters
            .entry((method.to_owned(), path.to_owned()))
            .or_default();
        entry.0 += 1;
        if matches!(verdict, Verdict::Throttled { .. }) {
            entry.1 += 1;
        }
        verdict
    }

    pub(crate) fn counters(&self) -> Vec<EndpointCounters> {
        let counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        counters
            .iter()
            .map(|((method, path), (requests, throttled))| EndpointCounters {
                method: method.clone(),
                path: path.clone(),
                requests: *requests,
                throttled: *throttled,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        for bad in ["", "s", "1d", "-1s", "1..2s", "1e400s"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn go_durations_read_like_openai_headers() {
        assert_eq!(go_duration(Duration::from_millis(20)), "20ms");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(360)), "6m0s");
        assert_eq!(
            RateLimit::new(8, Duration::from_secs(3))
                .unwrap()
                .to_string(),
            "8/3s"
        );
    }

    #[test]
    fn a_fixed_window_per_key_and_endpoint() {
        let limit = RateLimit::new(2, Duration::from_secs(10)).unwrap();
        let throttle = Throttle::new(Some(limit));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let served = |v: Verdict| matches!(v, Verdict::Served { .. });
        assert!(served(throttle.check("k1", "GET", "/p", at(0))));
        assert!(served(throttle.check("k1", "GET", "/p", at(1))));
        assert_eq!(
            throttle.check("k1", "GET", "/p", at(2)),
            Verdict::Throttled {
                limit,
                reset: Duration::from_secs(8)
            }
        );
        // Another endpoint and another key have windows of their own.
        assert!(served(throttle.check("k1", "POST", "/p", at(2))));
        assert!(served(throttle.check("k2", "GET", "/p", at(2))));
        // The window closes 10 s after it opened, not after the last request.
        assert!(!served(throttle.check("k1", "GET", "/p", at(9))));
        assert!(served(throttle.check("k1", "GET", "/p", at(10))));
        let counters = throttle.counters();
        let get = counters.iter().find(|c| c.method == "GET").unwrap();
        assert_eq!((get.requests, get.throttled), (6, 2));
    }

    #[test]
    fn with_the_key_scope_every_route_of_a_key_shares_one_window() {
        let limit = RateLimit::new(3, Duration::from_secs(10))
            .unwrap()
            .with_scope(RateLimitScope::Key);
        let throttle = Throttle::new(Some(limit));
        let t0 = Instant::now();
        let served = |v: Verdict| matches!(v, Verdict::Served { .. });
        assert!(served(throttle.check("k1", "GET", "/p", t0)));
        assert!(served(throttle.check("k1", "POST", "/p", t0)));
        assert!(served(throttle.check("k1", "DELETE", "/p/{id}", t0)));
        assert!(!served(throttle.check("k1", "GET", "/p", t0)));
        assert!(!served(throttle.check("k1", "DELETE", "/p/{id}", t0)));
        // Another key has a window of its own.
        assert!(served(throttle.check("k2", "DELETE", "/p/{id}", t0)));
        assert_eq!(
            "key".parse::<RateLimitScope>().unwrap(),
            RateLimitScope::Key
        );
        assert!("global".parse::<RateLimitScope>().is_err());
    }

    #[test]
    fn without_a_limit_everything_is_served_and_counted() {
        let throttle = Throttle::new(None);
        for _ in 0..100 {
            assert_eq!(
                throttle.check("k", "DELETE", "/p", Instant::now()),
                Verdict::Unlimited
            );
        }
        assert_eq!(throttle.counters()[0].requests, 100);
    }
}
