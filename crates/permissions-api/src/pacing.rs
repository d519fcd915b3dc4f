//! Pacing shared by the whole client: one limiter per endpoint, so that a job
//! survives the admin API's throttle instead of colliding with it.
//!
//! # Design
//!
//! The real admin endpoints allow about 7 to 10 requests per endpoint and minute,
//! in a fixed window that refills about 60 s after it opened, and answer 429
//! without `Retry-After` or `x-ratelimit-*` headers. The official SDKs retry twice
//! within 8 s and give up. This module makes the client finish such jobs.
//!
//! **Shared state.** A [`Pacer`] lives behind an `Arc` in the [`Transport`](crate::Transport),
//! so every clone of a [`Client`](crate::Client) and every request in flight share
//! it. It keeps one [`Endpoint`] per operation (method + path template), behind a
//! mutex that is never held across an `.await`:
//!
//! - the **limit**: at most `burst` requests per `period` (configured, or learned),
//!   in windows the pacer keeps the way the server keeps its own: a window opens
//!   with the first request after the previous one closed, holds `burst`
//!   requests, and lasts `period` stretched by [`SAFETY_MARGIN`] (against latency
//!   jitter). Each request reserves its send time under the lock, then sleeps
//!   without it: requests go in the order they asked, never in a stampede;
//! - the **pause**: after a 429 every request of the endpoint waits until the
//!   same instant (`Retry-After`/`retry-after-ms` when the server sends one, else a
//!   backoff that grows by half from 0.5 s up to 60 s with jitter, so that the
//!   waits end up spanning a whole window); a response with `x-ratelimit-remaining-requests:
//!   0` pauses until its `x-ratelimit-reset-requests` before any 429;
//! - the **probe**: when the pause ends, one request goes alone; the others wait
//!   for its answer (no thundering herd). A 429 lengthens the pause; any other answer
//!   ends the throttle round and releases the others under the limit. A probe
//!   whose future is dropped hands the role on at once, and a cancelled request's
//!   reserved slot is given back.
//!
//! **Learning** (when no limit is configured). The successes of the last window
//! that was served are counted. When a probe succeeds, the server's window has
//! refilled: that count is what one window holds (`burst`), and the time from
//! that window's opening to the probe is an upper bound of its length. Every 429
//! gives a lower bound: the server's window was still open that long after it
//! opened. The period tried next lies halfway between the two. The probe opens
//! the next window, so the client's windows line up with the server's from then
//! on.
//!
//! Once a limit is learned, each window's first request goes alone (the others
//! of its window wait for its answer), so a window opened too early costs one 429,
//! not a burst of them. An opener served after a full window tightens the upper
//! bound. After a 429 in a known window, the pause lasts until that window is
//! known to have refilled (its opening plus the upper bound), not a guess.
//!
//! **Relaxing.** A learned period is an estimate from above. After every clean
//! window it moves halfway down to the lower bound (a binary search), until the
//! two are within 1/16 of each other; from then on `burst` grows by one every
//! eight clean windows. A try that is too short costs one 429 and no time: the
//! pause ends when the window is known to have refilled. An estimate that becomes
//! too loose meets a 429, which raises the lower bound (or sets `burst` back to
//! what a window held), and is measured again. A configured limit is never
//! changed; the pause and the probe still apply to the 429s it may meet (another
//! program may share the key).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::retry;

/// How much longer than the limit's period the pacer waits: 2 %, so that the
/// requests of a new window never reach the server before the old window closed.
pub const SAFETY_MARGIN: f64 = 0.02;
/// The first pause after a 429 without `Retry-After`; it grows by [`GROWTH`] on
/// each further 429 of the round.
const FIRST_PAUSE: Duration = Duration::from_millis(500);
/// How much each pause of a round grows.
const GROWTH: f64 = 1.5;
/// The longest pause: as long as the real API's window.
const LONGEST_PAUSE: Duration = Duration::from_secs(60);

/// How requests are paced per endpoint (method and path template).
///
/// With `max_rpm` set, each endpoint sends at most `burst` requests in any
/// `burst × 60 / max_rpm` seconds (`burst` defaults to 1: evenly spaced requests).
/// Without it the client learns the limit from the 429s it meets (see the module
/// documentation). Read from `OPENAI_ADMIN_MAX_RPM` and `OPENAI_ADMIN_BURST` by
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

/// What the pacer is doing, over all endpoints, for progress displays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PacingStatus {
    /// Responses received.
    pub responses: u64,
    /// Of which 429s.
    pub throttled: u64,
    /// How long until the most delayed endpoint may send again, when a request
    /// waits for the rate limit (a pause after a 429, or a reserved slot).
    pub waiting: Option<Duration>,
    /// Whether an endpoint is throttled now: it met a 429 and has not served a
    /// request since.
    pub throttled_now: bool,
}

/// At most `burst` requests in any `period`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Limit {
    burst: u32,
    period: Duration,
}

/// One of the pacer's windows: opened at `start`, `reserved` requests so far.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Window {
    start: Instant,
    reserved: u32,
}

/// The successes of the last window that was served.
#[derive(Clone, Copy, Debug)]
struct Run {
    window: Instant,
    served: u32,
}

/// One endpoint's share of the pacer.
#[derive(Debug)]
struct Endpoint {
    limit: Option<Limit>,
    learns: bool,
    /// The window the last reservation went to (it may lie in the future).
    window: Option<Window>,
    pause_until: Option<Instant>,
    /// 429s in the current throttle round (0: not throttled).
    strikes: u32,
    probing: bool,
    run: Option<Run>,
    /// The longest time after a served window opened at which a 429 was still
    /// met: the server's window is longer than this.
    too_short: Duration,
    /// The shortest time after a full window opened at which the server served
    /// again: its window is at most this long.
    proven: Option<Duration>,
    /// Successes since the limit last changed, for relaxing it.
    clean: u32,
    responses: u64,
    throttled: u64,
    wakeup: Arc<Notify>,
}

/// The pacer of one client (and its clones); see the module documentation.
#[derive(Debug)]
pub(crate) struct Pacer {
    configured: Option<Limit>,
    endpoints: Mutex<HashMap<&'static str, Endpoint>>,
}

/// How the answer to a paced request is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 429: the endpoint is throttled; `retry_after` is the server's wait, if any.
    Throttled { retry_after: Option<Duration> },
    /// Any other response: the endpoint served the request.
    Answered,
    /// No response (connection error, timeout): says nothing of the throttle.
    NoAnswer,
}

/// The right to send one request now, from [`Pacer::acquire`]. Reported with
/// [`Permit::report`]; dropping it unreported (a cancelled request) releases the
/// probe role.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    pacer: &'a Pacer,
    endpoint: &'static str,
    role: Role,
    sent_at: Instant,
    /// The pacer's window this request was sent in.
    window: Instant,
    /// Time spent waiting for a reserved slot (not for a pause or a probe).
    pub(crate) slot_wait: Duration,
    reported: bool,
}

/// Why a request goes when it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// In a window that another request opened.
    Plain,
    /// First of a learned window: the others of its window wait for its answer,
    /// so that a window opened too early costs one 429, not a burst of them.
    Opener,
    /// First after a pause: the round ends when it is served.
    Probe,
}

/// A reserved slot that is given back if its request is cancelled before it is sent.
struct Reservation<'a> {
    pacer: &'a Pacer,
    endpoint: &'static str,
    window: Instant,
    role: Role,
    armed: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut endpoints = self.pacer.lock();
            if let Some(endpoint) = endpoints.get_mut(self.endpoint) {
                if let Some(window) = endpoint.window.as_mut()
                    && window.start == self.window
                {
                    window.reserved = window.reserved.saturating_sub(1);
                }
                if self.role != Role::Plain {
                    endpoint.release_gate();
                }
            }
        }
    }
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new(Pacing::learned())
    }
}

impl Pacer {
    pub(crate) fn new(pacing: Pacing) -> Self {
        Self {
            configured: pacing
                .limit()
                .map(|(burst, period)| Limit { burst, period }),
            endpoints: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<&'static str, Endpoint>> {
        self.endpoints.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn endpoint<'m>(
        &self,
        endpoints: &'m mut HashMap<&'static str, Endpoint>,
        name: &'static str,
    ) -> &'m mut Endpoint {
        endpoints
            .entry(name)
            .or_insert_with(|| Endpoint::new(self.configured))
    }

    /// Waits until a request to `endpoint` may be sent: past any pause, as the
    /// probe or after it, and at its reserved slot. Every wait is logged.
    pub(crate) async fn acquire(&self, endpoint: &'static str) -> Permit<'_> {
        loop {
            let now = Instant::now();
            let wait = {
                let mut endpoints = self.lock();
                let state = self.endpoint(&mut endpoints, endpoint);
                if let Some(until) = state.pause_until.filter(|&until| until > now) {
                    Wait::Pause(until)
                } else if state.probing {
                    // Made under the lock that every wake-up takes: none is missed.
                    Wait::Probe(state.wakeup.clone().notified_owned())
                } else if state.strikes > 0 {
                    state.probing = true;
                    return Permit {
                        pacer: self,
                        endpoint,
                        role: Role::Probe,
                        sent_at: now,
                        window: now,
                        slot_wait: Duration::ZERO,
                        reported: false,
                    };
                } else {
                    let (at, window, opens) = state.reserve(now);
                    let role = if opens && state.learns && state.limit.is_some() {
                        state.probing = true;
                        Role::Opener
                    } else {
                        Role::Plain
                    };
                    Wait::Slot { at, window, role }
                }
            };
            match wait {
                Wait::Probe(notified) => {
                    tracing::debug!(
                        endpoint,
                        "pacing: waiting for the answer to the request that went first"
                    );
                    notified.await;
                }
                Wait::Pause(until) => {
                    tracing::debug!(
                        endpoint,
                        wait_ms = millis(until - now),
                        "rate limited: waiting for the endpoint's pause to end"
                    );
                    tokio::time::sleep_until(until).await;
                }
                Wait::Slot { at, window, role } => {
                    let mut reservation = Reservation {
                        pacer: self,
                        endpoint,
                        window,
                        role,
                        armed: true,
                    };
                    if at > now {
                        tracing::debug!(
                            endpoint,
                            wait_ms = millis(at - now),
                            "pacing: waiting for the endpoint's next request slot"
                        );
                        tokio::time::sleep_until(at).await;
                    }
                    reservation.armed = false;
                    return Permit {
                        pacer: self,
                        endpoint,
                        role,
                        sent_at: Instant::now(),
                        window,
                        slot_wait: at.saturating_duration_since(now),
                        reported: false,
                    };
                }
            }
        }
    }

    /// What the pacer is doing now, over all endpoints.
    pub(crate) fn status(&self) -> PacingStatus {
        let now = Instant::now();
        let endpoints = self.lock();
        let mut status = PacingStatus::default();
        for state in endpoints.values() {
            status.responses += state.responses;
            status.throttled += state.throttled;
            status.throttled_now |= state.strikes > 0;
            let until = state
                .pause_until
                .into_iter()
                .chain(state.window.map(|w| w.start));
            if let Some(wait) = until.map(|t| t.saturating_duration_since(now)).max()
                && !wait.is_zero()
            {
                status.waiting = status.waiting.max(Some(wait));
            }
        }
        status
    }
}

enum Wait {
    Probe(tokio::sync::futures::OwnedNotified),
    Pause(Instant),
    Slot {
        at: Instant,
        window: Instant,
        role: Role,
    },
}

impl Endpoint {
    /// An endpoint with a configured limit, or one that learns its limit.
    fn new(configured: Option<Limit>) -> Self {
        Self {
            limit: configured,
            learns: configured.is_none(),
            window: None,
            pause_until: None,
            strikes: 0,
            probing: false,
            run: None,
            too_short: Duration::ZERO,
            proven: configured.map(|limit| limit.period),
            clean: 0,
            responses: 0,
            throttled: 0,
            wakeup: Arc::new(Notify::new()),
        }
    }

    /// Reserves the earliest send time the limit allows from `now` on; says which
    /// window it falls in and whether it opens that window.
    fn reserve(&mut self, now: Instant) -> (Instant, Instant, bool) {
        let open = |start| Window { start, reserved: 1 };
        let (at, window) = match (self.limit, self.window) {
            // No limit yet: one window, opened by the first request.
            (None, Some(window)) => (
                now,
                Window {
                    reserved: window.reserved + 1,
                    ..window
                },
            ),
            (Some(limit), Some(window)) => {
                let end = window.start + stretched(limit.period);
                if now >= end {
                    (now, open(now))
                } else if window.reserved < limit.burst {
                    (
                        now.max(window.start),
                        Window {
                            reserved: window.reserved + 1,
                            ..window
                        },
                    )
                } else {
                    (end, open(end))
                }
            }
            (_, None) => (now, open(now)),
        };
        self.window = Some(window);
        (at, window.start, window.reserved == 1)
    }

    /// Lets the requests that wait for an opener or a probe go on.
    fn release_gate(&mut self) {
        self.probing = false;
        self.wakeup.notify_waiters();
    }

    fn throttled(&mut self, permit: &Permit<'_>, retry_after: Option<Duration>, now: Instant) {
        self.throttled += 1;
        if let Some(run) = self.run {
            self.too_short = self
                .too_short
                .max(permit.sent_at.saturating_duration_since(run.window));
        }
        // A request sent before the round began adds no strike: the round's
        // requests wait together, on one pause.
        if !(permit.role == Role::Probe || self.strikes == 0) {
            return;
        }
        self.strikes += 1;
        self.probing = false;
        let (mut until, why) = match retry_after {
            Some(wait) => (now + wait, "the server's Retry-After"),
            None => (
                now + backoff(self.strikes),
                "429 without Retry-After: backoff",
            ),
        };
        // The first 429 of a round, in a known window: wait until that window is
        // known to have refilled, rather than probe it by guesswork.
        if let (None, 1, Some(run), Some(proven)) =
            (retry_after, self.strikes, self.run, self.proven)
            && run.window + stretched(proven) > now
        {
            until = run.window + stretched(proven);
        }
        let pause = until.saturating_duration_since(now);
        self.pause_until = Some(self.pause_until.map_or(until, |t| t.max(until)));
        tracing::info!(
            endpoint = permit.endpoint,
            strike = self.strikes,
            pause_ms = millis(pause),
            why,
            "rate limited: pausing the endpoint"
        );
        self.wakeup.notify_waiters();
    }

    fn answered(&mut self, permit: &Permit<'_>, headers: Option<&HeaderMap>, now: Instant) {
        if permit.role == Role::Probe {
            self.recovered(permit);
        } else {
            if permit.role == Role::Opener {
                self.release_gate();
                // Served after a full window: that window had closed by now.
                if let (Some(run), Some(limit)) = (self.run, self.limit)
                    && run.window < permit.window
                    && run.served >= limit.burst
                {
                    let closed_by = permit.sent_at.saturating_duration_since(run.window);
                    self.proven = Some(self.proven.map_or(closed_by, |p| p.min(closed_by)));
                }
            }
            match self.run.as_mut() {
                Some(run) if run.window == permit.window => run.served += 1,
                // An answer from an older window, overtaken: it teaches nothing.
                Some(run) if run.window > permit.window => {}
                _ => {
                    self.run = Some(Run {
                        window: permit.window,
                        served: 1,
                    });
                }
            }
            self.relax(permit.endpoint);
        }
        if let Some(reset) = headers.and_then(exhausted_until) {
            self.pause_until = Some(now + reset);
            tracing::debug!(
                endpoint = permit.endpoint,
                pause_ms = millis(reset),
                "x-ratelimit-remaining-requests is 0: pausing until the window resets"
            );
        }
    }

    /// The probe was served: the window has refilled.
    fn recovered(&mut self, permit: &Permit<'_>) {
        if self.learns
            && let Some(run) = self.run.filter(|run| run.served > 0)
        {
            let measured = permit.sent_at.saturating_duration_since(run.window);
            let proven = self.proven.map_or(measured, |p| p.min(measured));
            self.proven = Some(proven);
            // The next window already tries halfway between the bounds: a try that
            // is too short costs one 429 and no time (see `relax`).
            let period = halfway(proven, self.too_short).unwrap_or(proven.max(self.too_short));
            let learned = Limit {
                burst: run.served,
                period,
            };
            tracing::info!(
                endpoint = permit.endpoint,
                burst = learned.burst,
                period_ms = millis(learned.period),
                longer_than_ms = millis(self.too_short),
                "learned the endpoint's rate limit"
            );
            self.limit = Some(learned);
            self.clean = 0;
        }
        self.strikes = 0;
        self.probing = false;
        self.pause_until = None;
        self.run = Some(Run {
            window: permit.sent_at,
            served: 1,
        });
        self.window = Some(Window {
            start: permit.sent_at,
            reserved: 1,
        });
        self.wakeup.notify_waiters();
    }

    /// Loosens a learned limit: after each clean window, the period halfway down to
    /// its lower bound while the two are far apart; then one more request per
    /// window after eight clean windows. Trying too short a period is cheap: the
    /// window's opener meets the one 429, and the pause lasts only until the
    /// window is known to have refilled, when the requests would have gone anyway.
    fn relax(&mut self, endpoint: &'static str) {
        let Some(limit) = self.limit.as_mut().filter(|_| self.learns) else {
            return;
        };
        self.clean += 1;
        let shorter = halfway(limit.period, self.too_short);
        if self.clean < limit.burst * if shorter.is_some() { 1 } else { 8 } {
            return;
        }
        self.clean = 0;
        match shorter {
            Some(period) => limit.period = period,
            None => limit.burst += 1,
        }
        tracing::debug!(
            endpoint,
            burst = limit.burst,
            period_ms = millis(limit.period),
            "relaxed the learned rate limit"
        );
    }
}

impl Permit<'_> {
    /// Reports the answer to this request; returns how long the endpoint is now
    /// paused (zero when it is not).
    pub(crate) fn report(mut self, outcome: Outcome, headers: Option<&HeaderMap>) -> Duration {
        self.reported = true;
        let now = Instant::now();
        let mut endpoints = self.pacer.lock();
        let state = self.pacer.endpoint(&mut endpoints, self.endpoint);
        match outcome {
            Outcome::Throttled { retry_after } => {
                state.responses += 1;
                state.throttled(&self, retry_after, now);
            }
            Outcome::Answered => {
                state.responses += 1;
                state.answered(&self, headers, now);
            }
            Outcome::NoAnswer => self.release_probe(state),
        }
        state
            .pause_until
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now))
    }

    fn release_probe(&self, state: &mut Endpoint) {
        if self.role != Role::Plain {
            state.release_gate();
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.reported && self.role != Role::Plain {
            let mut endpoints = self.pacer.lock();
            let state = self.pacer.endpoint(&mut endpoints, self.endpoint);
            self.release_probe(state);
        }
    }
}

/// The pause after the `strikes`-th 429 of a round without `Retry-After`: 0.5 s
/// growing by half on each strike up to 60 s, times a random factor in
/// `[0.75, 1]`. Growing by half rather than doubling: when the probe that ends the
/// round comes late, the window it measures is at most about half again too long.
fn backoff(strikes: u32) -> Duration {
    let exponent = i32::try_from(strikes.saturating_sub(1).min(32)).unwrap_or(32);
    let grown = FIRST_PAUSE.as_secs_f64() * GROWTH.powi(exponent);
    Duration::from_secs_f64(grown.min(LONGEST_PAUSE.as_secs_f64())).mul_f64(retry::jitter())
}

/// When a response says the window is used up (`x-ratelimit-remaining-requests:
/// 0`), how long until it resets (`x-ratelimit-reset-requests`).
fn exhausted_until(headers: &HeaderMap) -> Option<Duration> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if text("x-ratelimit-remaining-requests")? != "0" {
        return None;
    }
    parse_reset(text("x-ratelimit-reset-requests")?).filter(|d| *d <= LONGEST_PAUSE * 10)
}

/// A duration as OpenAI's `x-ratelimit-reset-*` headers write it (Go's format):
/// `20ms`, `1.5s`, `6m0s`, `1h2m3s`.
fn parse_reset(text: &str) -> Option<Duration> {
    let mut rest = text;
    let mut total = 0.0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit] {
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit..];
        total += number * scale;
    }
    (total.is_finite() && total < 1e9).then(|| Duration::from_secs_f64(total))
}

/// The period halfway between an upper and a lower bound of the server's window,
/// while they are more than 1/16 of the upper apart; `None` once they are close.
fn halfway(upper: Duration, lower: Duration) -> Option<Duration> {
    (upper.saturating_sub(lower) > upper / 16).then(|| (upper + lower) / 2)
}

/// A period with the safety margin.
fn stretched(period: Duration) -> Duration {
    period.mul_f64(1.0 + SAFETY_MARGIN)
}

/// A duration in whole milliseconds, for log fields.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const EP: &str = "listFineTuningCheckpointPermissions";

    #[test]
    fn configured_limits_space_requests_and_allow_bursts() {
        assert_eq!(Pacing::max_rpm(0).limit(), None);
        assert_eq!(
            Pacing::max_rpm(120).limit(),
            Some((1, Duration::from_millis(500)))
        );
        assert_eq!(
            Pacing::max_rpm(160).burst(8).limit(),
            Some((8, Duration::from_secs(3)))
        );
        let mut state = Endpoint::new(Some(Limit {
            burst: 2,
            period: Duration::from_secs(1),
        }));
        let t0 = Instant::now();
        let period = Duration::from_secs(1).mul_f64(1.0 + SAFETY_MARGIN);
        assert_eq!(state.reserve(t0), (t0, t0, true));
        assert_eq!(state.reserve(t0), (t0, t0, false));
        // The third waits for the next window, which the fourth shares.
        let next = t0 + period;
        assert_eq!(state.reserve(t0), (next, next, true));
        assert_eq!(state.reserve(t0), (next, next, false));
        assert_eq!(state.reserve(t0).0, t0 + period * 2);
        // After a quiet spell, a window opens at once.
        let later = t0 + period * 10;
        assert_eq!(state.reserve(later), (later, later, true));
    }

    #[test]
    fn relaxing_halves_the_gap_then_grows_the_burst() {
        let mut state = Endpoint::new(None);
        state.limit = Some(Limit {
            burst: 2,
            period: Duration::from_secs(4),
        });
        state.too_short = Duration::from_secs(2);
        let mut periods = Vec::new();
        for _ in 0..16 {
            state.relax(EP);
            let limit = state.limit.unwrap();
            periods.push((limit.burst, limit.period.as_millis()));
        }
        // Each clean window of 2 halves the gap: 4 s, 3 s, 2.5 s, ... until it is
        // within 1/16; then one more per window, after eight windows.
        assert_eq!(periods[1], (2, 3000));
        assert_eq!(periods[3], (2, 2500));
        assert_eq!(periods[7], (2, 2125));
        assert!(periods.iter().all(|&(_, ms)| ms > 2000), "{periods:?}");
        let mut grown = state.limit.unwrap().burst;
        for _ in 0..16 {
            state.relax(EP);
        }
        grown = state.limit.unwrap().burst - grown;
        assert_eq!(grown, 1, "{:?}", state.limit);
        // A configured limit is never relaxed.
        let mut fixed = Endpoint::new(Some(Limit {
            burst: 1,
            period: Duration::from_secs(1),
        }));
        for _ in 0..100 {
            fixed.relax(EP);
        }
        assert_eq!(fixed.limit.unwrap().period, Duration::from_secs(1));
    }

    #[test]
    fn backoff_grows_to_a_whole_window() {
        let ms: Vec<u128> = [1, 2, 3, 4, 12, 13, 40]
            .map(|s| backoff(s).as_millis())
            .to_vec();
        for (strike, (&got, top)) in ms
            .iter()
            .zip([500u128, 750, 1125, 1687, 43248, 60000, 60000])
            .enumerate()
        {
            assert!(
                (top * 3 / 4..=top).contains(&got),
                "strike {}: {got} ms",
                strike + 1
            );
        }
        // Within a dozen strikes, the waits span a whole 60 s window.
        let total: u128 = (1..=12).map(|s| backoff(s).as_millis()).sum();
        assert!(total >= 60_000, "{total}");
    }

    #[test]
    fn reset_headers_parse_in_go_format() {
        assert_eq!(parse_reset("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(parse_reset("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_reset("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(parse_reset("1h2m3s"), Some(Duration::from_secs(3723)));
        for bad in ["", "s", "5", "5x", "-1s", "1.2.3s"] {
            assert_eq!(parse_reset(bad), None, "{bad:?}");
        }
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining-requests", HeaderValue::from(0));
        headers.insert(
            "x-ratelimit-reset-requests",
            HeaderValue::from_static("2.5s"),
        );
        assert_eq!(exhausted_until(&headers), Some(Duration::from_millis(2500)));
        headers.insert("x-ratelimit-remaining-requests", HeaderValue::from(3));
        assert_eq!(exhausted_until(&headers), None);
    }

    #[tokio::test(start_paused = true)]
    async fn one_throttle_round_teaches_the_window() {
        let pacer = Pacer::new(Pacing::learned());
        let t0 = Instant::now();
        // A window of 3 requests: served, served, served, then 429.
        for _ in 0..3 {
            pacer.acquire(EP).await.report(Outcome::Answered, None);
        }
        let permit = pacer.acquire(EP).await;
        permit.report(Outcome::Throttled { retry_after: None }, None);
        let status = pacer.status();
        assert_eq!((status.responses, status.throttled), (4, 1));
        assert!(status.waiting.is_some());
        // The next request waits out the pause and goes alone, as the probe.
        let probe = pacer.acquire(EP).await;
        assert_eq!(probe.role, Role::Probe);
        assert!(t0.elapsed() >= Duration::from_millis(375));
        probe.report(Outcome::Answered, None);
        let endpoints = pacer.lock();
        let state = &endpoints[EP];
        let learned = state.limit.expect("learned");
        assert_eq!(learned.burst, 3);
        // The window is longer than the 429 said (0 s after it opened) and at most
        // as long as the probe's wait; the next try lies halfway.
        let proven = state.proven.expect("an upper bound");
        assert!(proven >= Duration::from_millis(375), "{proven:?}");
        assert!(
            learned.period > state.too_short && learned.period < proven,
            "{learned:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_others_wait_for_the_probe_and_a_dropped_probe_hands_on() {
        let pacer = Arc::new(Pacer::new(Pacing::learned()));
        pacer.acquire(EP).await.report(
            Outcome::Throttled {
                retry_after: Some(Duration::from_secs(1)),
            },
            None,
        );
        let probe = pacer.acquire(EP).await;
        assert_eq!(probe.role, Role::Probe);
        let waiter = {
            let pacer = pacer.clone();
            tokio::spawn(async move {
                let permit = pacer.acquire(EP).await;
                permit.role == Role::Probe
            })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            !waiter.is_finished(),
            "a second request went during the probe"
        );
        drop(probe);
        assert!(waiter.await.unwrap(), "the waiter did not become the probe");
    }
}
