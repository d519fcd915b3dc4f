//! Fault injection: answers some requests with 429, 500 or 503, delays them, or
//! (scripted only) bends list pages, so that retry and pagination logic are
//! exercised against real HTTP.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::error::Error;

/// A random share of requests to disturb; everything is off by default.
///
/// Each share is a probability in `0.0..=1.0`. For every request one number is
/// drawn: the first `rate_limited` of the range answers 429, the next `server_error`
/// answers 500, the next `unavailable` answers 503 (so the three shares must add up
/// to at most 1). Independently, a `delayed` share of requests waits `delay` first.
///
/// ```
/// use permissions_emulator::FaultConfig;
///
/// let faults = FaultConfig { rate_limited: 0.2, rng_seed: Some(7), ..FaultConfig::default() };
/// assert_eq!(faults.server_error, 0.0);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct FaultConfig {
    /// Share of requests answered `429 Too Many Requests`.
    pub rate_limited: f64,
    /// Share of requests answered `500 Internal Server Error`.
    pub server_error: f64,
    /// Share of requests answered `503 Service Unavailable`.
    pub unavailable: f64,
    /// Share of requests delayed by `delay` before being served.
    pub delayed: f64,
    /// How long a delayed request waits.
    pub delay: Duration,
    /// The `retry-after-ms` header of random 429s (`retry-after` is its ceiling in
    /// seconds); `None` sends neither header.
    pub retry_after_ms: Option<u64>,
    /// Seed of the random draws, for runs that repeat; drawn from the OS when `None`.
    pub rng_seed: Option<u64>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            rate_limited: 0.0,
            server_error: 0.0,
            unavailable: 0.0,
            delayed: 0.0,
            delay: Duration::from_millis(100),
            retry_after_ms: Some(100),
            rng_seed: None,
        }
    }
}

impl FaultConfig {
    /// Whether any random fault is switched on.
    pub fn is_active(&self) -> bool {
        self.rate_limited > 0.0
            || self.server_error > 0.0
            || self.unavailable > 0.0
            || self.delayed > 0.0
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        let shares = [
            ("rate_limited", self.rate_limited),
            ("server_error", self.server_error),
            ("unavailable", self.unavailable),
            ("delayed", self.delayed),
        ];
        for (name, share) in shares {
            if !(0.0..=1.0).contains(&share) {
                return Err(Error::Config(format!(
                    "fault share {name} = {share} is not in 0..=1"
                )));
            }
        }
        if self.rate_limited + self.server_error + self.unavailable > 1.0 + 1e-9 {
            return Err(Error::Config(
                "the 429, 500 and 503 fault shares add up to more than 1".into(),
            ));
        }
        Ok(())
    }
}

/// One disturbance of one request, for [`Emulator::inject`](crate::Emulator::inject).
///
/// ```
/// use std::time::Duration;
/// use permissions_emulator::Fault;
///
/// let throttled = Fault::Status { status: 429, retry_after_ms: Some(20), retry_after: None };
/// assert_eq!(throttled, Fault::status(429).retry_after_ms(20));
/// let failing = Fault::status(503);
/// let slow = Fault::Delay(Duration::from_millis(50));
/// # let _ = (failing, slow);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status (429, 500, 503, or any 4xx/5xx) and the error envelope,
    /// without serving the request.
    Status {
        /// The HTTP status code; values outside 400..=599 are answered as 500.
        status: u16,
        /// The `retry-after-ms` header to send, if any.
        retry_after_ms: Option<u64>,
        /// The `retry-after` header (seconds) to send, if any.
        retry_after: Option<u64>,
    },
    /// Wait this long, then serve the request normally.
    Delay(Duration),
    /// Answer a list request with an empty page that says `has_more: true` (and
    /// `first_id`, `last_id` null). Spent without effect on other requests.
    EmptyPage,
    /// Serve a list request's page with `has_more: true` and, as `last_id`, the
    /// request's own `after`: a client that follows it asks for the same page again.
    /// On a request without `after` only `has_more` is forced. Spent without effect
    /// on other requests.
    RepeatLastId,
}

impl Fault {
    /// An answer with `status` and the error envelope, without retry headers.
    pub fn status(status: u16) -> Self {
        Self::Status {
            status,
            retry_after_ms: None,
            retry_after: None,
        }
    }

    /// This fault with a `retry-after-ms` header (a status fault; others are kept).
    pub fn retry_after_ms(self, ms: u64) -> Self {
        match self {
            Self::Status {
                status,
                retry_after,
                ..
            } => Self::Status {
                status,
                retry_after_ms: Some(ms),
                retry_after,
            },
            other => other,
        }
    }
}

/// The faults of one emulator: a script of next faults, then random ones.
#[derive(Debug)]
pub(crate) struct Faults {
    config: FaultConfig,
    random: Option<Mutex<StdRng>>,
    script: Mutex<VecDeque<(Fault, usize)>>,
    /// Requests the script still covers: lets `next` skip the lock when it is empty.
    scripted: AtomicUsize,
}

impl Faults {
    pub(crate) fn new(config: FaultConfig) -> Result<Self, Error> {
        config.validate()?;
        let random = config.is_active().then(|| {
            Mutex::new(match config.rng_seed {
                Some(seed) => StdRng::seed_from_u64(seed),
                None => StdRng::from_os_rng(),
            })
        });
        Ok(Self {
            config,
            random,
            script: Mutex::new(VecDeque::new()),
            scripted: AtomicUsize::new(0),
        })
    }

    /// Scripts `fault` for the next `times` requests, after those already scripted.
    pub(crate) fn inject(&self, fault: Fault, times: usize) {
        if times > 0 {
            let mut script = self.script.lock().unwrap_or_else(|p| p.into_inner());
            script.push_back((fault, times));
            self.scripted.fetch_add(times, Ordering::SeqCst);
        }
    }

    /// The faults for the request arriving now: a scripted one first, else random.
    pub(crate) fn next(&self) -> Option<Fault> {
        if self.scripted.load(Ordering::SeqCst) > 0 {
            let mut script = self.script.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((fault, remaining)) = script.front_mut() {
                let fault = fault.clone();
                *remaining -= 1;
                self.scripted.fetch_sub(1, Ordering::SeqCst);
                if *remaining == 0 {
                    script.pop_front();
                }
                return Some(fault);
            }
        }
        let random = self.random.as_ref()?;
        let mut rng = random.lock().unwrap_or_else(|p| p.into_inner());
        let config = &self.config;
        let draw: f64 = rng.random();
        let delayed = config.delayed > 0.0 && rng.random::<f64>() < config.delayed;
        let retry_after_ms = config.retry_after_ms;
        let status = |status| Fault::Status {
            status,
            retry_after_ms,
            retry_after: retry_after_ms.map(|ms| ms.div_ceil(1000)),
        };
        if draw < config.rate_limited {
            Some(status(429))
        } else if draw < config.rate_limited + config.server_error {
            Some(Fault::status(500))
        } else if draw < config.rate_limited + config.server_error + config.unavailable {
            Some(Fault::status(503))
        } else if delayed {
            Some(Fault::Delay(config.delay))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_comes_first_and_runs_out() {
        let faults = Faults::new(FaultConfig::default()).expect("valid");
        faults.inject(Fault::Delay(Duration::from_millis(1)), 2);
        faults.inject(Fault::status(503), 1);
        assert_eq!(faults.next(), Some(Fault::Delay(Duration::from_millis(1))));
        assert_eq!(faults.next(), Some(Fault::Delay(Duration::from_millis(1))));
        assert!(matches!(
            faults.next(),
            Some(Fault::Status { status: 503, .. })
        ));
        assert_eq!(faults.next(), None);
    }

    #[test]
    fn seeded_random_faults_repeat_and_respect_shares() {
        let config = FaultConfig {
            rate_limited: 0.3,
            unavailable: 0.2,
            rng_seed: Some(42),
            ..FaultConfig::default()
        };
        let run = || {
            let faults = Faults::new(config.clone()).expect("valid");
            (0..1000).map(|_| faults.next()).collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let count = |code| {
            first
                .iter()
                .filter(|f| matches!(f, Some(Fault::Status { status, .. }) if *status == code))
                .count()
        };
        assert!((200..400).contains(&count(429)), "429s: {}", count(429));
        assert!((100..300).contains(&count(503)), "503s: {}", count(503));
        assert_eq!(count(500), 0);
    }

    #[test]
    fn invalid_shares_are_refused() {
        assert!(
            Faults::new(FaultConfig {
                rate_limited: 1.5,
                ..FaultConfig::default()
            })
            .is_err()
        );
        assert!(
            Faults::new(FaultConfig {
                rate_limited: 0.6,
                server_error: 0.6,
                ..FaultConfig::default()
            })
            .is_err()
        );
    }
}
