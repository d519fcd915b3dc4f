//! Pacing shared by the whole client, so that a job survives the admin API's
//! throttle instead of colliding with it: the configuration ([`Pacing`]) and what
//! the pacer reports ([`PacingStatus`]).
//!
//! # The admin API's throttle
//!
//! What is known of it, from public measurements of the admin endpoints. This is
//! the one place the workspace says it; everything else links here.
//!
//! - An admin endpoint serves about 7 to 10 requests a minute, in a fixed window
//!   that refills about 60 s after it opened.
//! - Beyond that it answers 429 with OpenAI's rate-limit envelope and no
//!   `Retry-After` and no `x-ratelimit-*` headers: nothing says how long to wait.
//! - Requests to one route share a budget whatever the ids in their path; whether
//!   different routes share one is not public.
//! - The same key often serves Terraform and scripts too, which spend the same
//!   budget unseen.
//!
//! So the official SDKs' retries (2, with at most 8 s of backoff) give up long
//! before a window refills. The pacer instead spends each budget at a limit that
//! is configured or learned from the 429s, makes the requests of a budget wait out
//! a 429 together, and retries a 429 for a time
//! ([`RetryPolicy::rate_limit_budget`](crate::RetryPolicy::rate_limit_budget)),
//! not a number of times.
//!
//! # Parts
//!
//! - [`core`]: the decisions, a synchronous state machine told the time and the
//!   answers (the model of the server's window and the learning rules are
//!   documented there, and only there);
//! - [`gate`]: the async side: waits (cancellable), wake-ups, the permit of a
//!   request, the clock;
//! - [`store`]: the state file that processes using the same key share.
//!
//! The headers that say how long to wait are read by [`crate::signals`].

pub(crate) mod core;
pub(crate) mod gate;
pub(crate) mod store;

use std::time::Duration;

pub(crate) use self::core::millis;
pub use self::core::{BudgetScope, SAFETY_MARGIN};
pub(crate) use self::gate::{Outcome, Pacer};

/// How requests are paced per budget: per endpoint (method and path template)
/// until the server's answers show that the endpoints share one, then for all of
/// them together ([`BudgetScope`]).
///
/// With `max_rpm` set, each budget sends at most `burst` requests in any
/// `burst × 60 / max_rpm` seconds (`burst` defaults to 1: evenly spaced requests).
/// Without it the client learns the limit from the 429s it meets. Read from
/// `OPENAI_ADMIN_MAX_RPM` and `OPENAI_ADMIN_BURST` by
/// [`ClientBuilder::from_env`](crate::ClientBuilder::from_env), the names the
/// Terraform provider for the same API uses.
///
/// ```
/// use permissions_api::Pacing;
///
/// let paced = Pacing::max_rpm(8).burst(2);
/// assert_eq!(paced.limit(), Some((2, std::time::Duration::from_secs(15))));
/// assert_eq!(Pacing::learned().limit(), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pacing {
    /// Requests per minute and endpoint; `None` learns the limit from 429s.
    pub max_rpm: Option<u32>,
    /// Requests that may go at once, within `max_rpm` (ignored without it).
    pub burst: Option<u32>,
}

impl Pacing {
    /// No configured limit: the client learns it from the 429s it meets.
    pub fn learned() -> Self {
        Self::default()
    }

    /// At most `max_rpm` requests per minute and endpoint (0 counts as unset).
    pub fn max_rpm(max_rpm: u32) -> Self {
        Self {
            max_rpm: (max_rpm > 0).then_some(max_rpm),
            burst: None,
        }
    }

    /// This pacing with `burst` requests allowed at once (0 counts as 1).
    #[must_use]
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst.max(1));
        self
    }

    /// The configured limit as (`burst`, `period`): at most `burst` requests in any
    /// `period`; `None` when the limit is learned.
    pub fn limit(&self) -> Option<(u32, Duration)> {
        let rpm = self.max_rpm.filter(|&rpm| rpm > 0)?;
        let burst = self.burst.unwrap_or(1).max(1);
        Some((
            burst,
            Duration::from_secs_f64(60.0 * f64::from(burst) / f64::from(rpm)),
        ))
    }
}

/// What the pacer is doing, over all budgets, for progress displays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PacingStatus {
    /// Responses received.
    pub responses: u64,
    /// Of which 429s.
    pub throttled: u64,
    /// How long until the most delayed budget may send again, when requests wait
    /// for the rate limit (a pause after a 429, or the next window).
    pub waiting: Option<Duration>,
    /// Whether a budget is throttled now: it met a 429 and has not served a
    /// request since.
    pub throttled_now: bool,
    /// Which requests share one budget, as far as the answers have shown.
    pub scope: BudgetScope,
}
