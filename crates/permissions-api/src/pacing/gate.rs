//! The async side of the pacer: a request asks [`Pacer::acquire`] and waits, as
//! [`core`](super::core) decides, until it may go; its [`Permit`] reports the
//! answer. Every wait is a Tokio sleep or a [`Notify`]: a dropped request stops
//! waiting at once, and a dropped permit gives its role back.

use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::core::{Answer, BudgetScope, Core, Decision, Ticket, Time, WaitReason, millis};
use super::store::Store;
use super::{Pacing, PacingStatus};
use crate::retry::random_unit;

/// The shortest and the longest a process sharing a state file sleeps before it
/// reads the file again while it waits (a tenth of the wait in between): long
/// enough that the file is not read in a busy loop, short enough that a wait
/// another process ended costs little of the window. However many requests
/// wait, the process polls it about once per such interval: a waiter that
/// wakes within its interval of the last read, to wait on, takes the pacer as
/// it stands; a request about to go reads the file first.
const STORE_POLL_MIN: Duration = Duration::from_millis(50);
/// See [`STORE_POLL_MIN`].
const STORE_POLL_MAX: Duration = Duration::from_secs(1);

/// The pacer's time: the wall clock (so that processes sharing a state file agree
/// on it), advanced by Tokio's clock (so that a paused test clock pauses it too).
#[derive(Debug)]
struct Clock {
    wall: Time,
    start: Instant,
}

impl Clock {
    fn new() -> Self {
        Self {
            wall: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default(),
            start: Instant::now(),
        }
    }

    fn now(&self) -> Time {
        self.wall + self.start.elapsed()
    }

    fn instant(&self, time: Time) -> Instant {
        self.start + time.saturating_sub(self.wall)
    }
}

/// The pacer of one client and its clones.
#[derive(Debug)]
pub(crate) struct Pacer {
    core: Mutex<Core>,
    /// Woken by every answer and every released permit: gates and pauses change.
    wakeup: Notify,
    clock: Clock,
    store: Option<Store>,
    /// When `store` was last read (or tried), in milliseconds of `clock`; only
    /// touched under the `core` lock.
    synced_ms: AtomicU64,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new(Pacing::learned(), None)
    }
}

impl Pacer {
    /// A pacer of `pacing`, sharing its state through `store` when given.
    pub(crate) fn new(pacing: Pacing, store: Option<Store>) -> Self {
        Self {
            core: Mutex::new(Core::new(pacing.limit(), BudgetScope::Route)),
            wakeup: Notify::new(),
            clock: Clock::new(),
            store,
            synced_ms: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The core, after what other processes recorded (for its buckets and
    /// `endpoint`'s) was merged into it. At a poll (`poll`: the waiter's
    /// interval), the file is skipped when this process read it within that
    /// interval and the core as it stands still makes the request wait: what
    /// another waiter read is in the core already, and a request never goes
    /// on an older view than its own read.
    fn synced(
        &self,
        now: Time,
        endpoint: &'static str,
        poll: Option<Duration>,
    ) -> MutexGuard<'_, Core> {
        let mut core = self.lock();
        let last = Duration::from_millis(self.synced_ms.load(Ordering::Relaxed));
        let recent = poll.is_some_and(|within| now.saturating_sub(last) < within);
        if !(recent && core.would_wait(endpoint, now)) {
            self.sync(&mut core, now, endpoint);
        }
        core
    }

    /// Merges the state file into `core` and writes it back, if there is one.
    fn sync(&self, core: &mut Core, now: Time, endpoint: &'static str) {
        if let Some(store) = &self.store {
            store.sync(core, now, Some(endpoint));
            self.synced_ms.store(millis(now), Ordering::Relaxed);
        }
    }

    /// Waits until a request to `endpoint` may go. Every wait is logged.
    pub(crate) async fn acquire(&self, endpoint: &'static str) -> Permit<'_> {
        let mut slot_wait = Duration::ZERO;
        let mut logged: Option<(Time, WaitReason)> = None;
        // After a wait of its own: how often this request polls the file.
        let mut poll: Option<Duration> = None;
        loop {
            let notified = self.wakeup.notified();
            let mut notified = pin!(notified);
            let now = self.clock.now();
            // Registered under the lock every wake-up takes: none is missed.
            let decision = {
                let mut core = self.synced(now, endpoint, poll);
                notified.as_mut().enable();
                let decision = core.acquire(endpoint, now);
                if matches!(decision, Decision::Send(_)) {
                    self.sync(&mut core, now, endpoint);
                }
                decision
            };
            let (until, reason) = match decision {
                Decision::Send(ticket) => {
                    return Permit {
                        pacer: self,
                        ticket: Some(ticket),
                        slot_wait,
                    };
                }
                Decision::Wait { until, reason } => (until, reason),
            };
            let started = Instant::now();
            match until {
                Some(until) => {
                    let left = until.saturating_sub(now);
                    if logged != Some((until, reason)) {
                        logged = Some((until, reason));
                        match reason {
                            WaitReason::Pause => tracing::debug!(
                                endpoint,
                                wait_ms = millis(left),
                                "rate limited: waiting for the pause to end"
                            ),
                            WaitReason::Answers => tracing::debug!(
                                endpoint,
                                "pacing: waiting for the answers to the window's requests \
                                 before one goes beyond the known budget"
                            ),
                            _ => tracing::debug!(
                                endpoint,
                                wait_ms = millis(left),
                                "pacing: waiting for the next window"
                            ),
                        }
                    }
                    // A state change (an answer, a released permit) may let it go
                    // sooner: ask again then too. So may another process's (a
                    // probe served, a window opened sooner): with a state file,
                    // ask again every tenth of the wait, reading the file unless
                    // another waiter did within that time (see `synced`).
                    let wake = match self.store {
                        Some(_) => left.div_f64(10.0).clamp(STORE_POLL_MIN, STORE_POLL_MAX),
                        None => left,
                    };
                    poll = Some(wake);
                    let wake = self.clock.instant(until.min(now + wake));
                    let sleep = pin!(tokio::time::sleep_until(wake));
                    futures::future::select(sleep, notified).await;
                }
                None => {
                    tracing::debug!(
                        endpoint,
                        "pacing: waiting for the answer to the request that went alone"
                    );
                    poll = None;
                    notified.await;
                }
            }
            if reason == WaitReason::Slot {
                slot_wait += started.elapsed();
            }
        }
    }

    /// What the pacer is doing now.
    pub(crate) fn status(&self) -> PacingStatus {
        let now = self.clock.now();
        let core = self.lock();
        let (throttled_now, waiting) = core.waiting(now);
        PacingStatus {
            responses: core.counts.responses,
            throttled: core.counts.throttled,
            waiting,
            throttled_now,
            scope: core.scope,
        }
    }

    fn finish(&self, ticket: &Ticket, answer: Option<Answer>) -> Duration {
        let now = self.clock.now();
        let pause = {
            let mut core = self.synced(now, ticket.endpoint, None);
            let pause = match answer {
                Some(answer) => core.report(ticket, answer, now, random_unit()),
                None => {
                    core.release(ticket, now);
                    Duration::ZERO
                }
            };
            self.sync(&mut core, now, ticket.endpoint);
            pause
        };
        self.wakeup.notify_waiters();
        pause
    }
}

/// The right to send one request now, from [`Pacer::acquire`]. Reported with
/// [`Permit::report`]; dropped unreported (a cancelled request), it gives its role
/// back.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    pacer: &'a Pacer,
    ticket: Option<Ticket>,
    /// Time spent waiting for the next window (not for a pause or a gate).
    pub(crate) slot_wait: Duration,
}

/// How the answer to a paced request is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 429; `retry_after` is the server's delay, if it said one.
    Throttled { retry_after: Option<Duration> },
    /// Any other response.
    Answered,
    /// No response (connection error, timeout): says nothing of the throttle.
    NoAnswer,
}

impl Permit<'_> {
    /// Reports the answer to this request; returns how long its budget is now
    /// paused (zero when it is not).
    pub(crate) fn report(mut self, outcome: Outcome, headers: Option<&HeaderMap>) -> Duration {
        let Some(ticket) = self.ticket.take() else {
            return Duration::ZERO;
        };
        let answer = match outcome {
            Outcome::Throttled { retry_after } => Answer::Throttled { retry_after },
            Outcome::Answered => Answer::Served {
                exhausted: headers.and_then(crate::signals::exhausted_for),
            },
            Outcome::NoAnswer => Answer::Lost,
        };
        self.pacer.finish(&ticket, Some(answer))
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.pacer.finish(&ticket, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::pacing::core::Role;

    const EP: &str = "deleteFineTuningCheckpointPermission";

    fn role(permit: &Permit<'_>) -> Option<Role> {
        permit.ticket.as_ref().and_then(|t| t.role)
    }

    #[tokio::test(start_paused = true)]
    async fn the_others_wait_for_the_probe_and_a_dropped_probe_hands_on() {
        let pacer = Arc::new(Pacer::default());
        let started = Instant::now();
        let pause = pacer
            .acquire(EP)
            .await
            .report(Outcome::Throttled { retry_after: None }, None);
        assert!(pause >= Duration::from_millis(250), "{pause:?}");
        let probe = pacer.acquire(EP).await;
        assert_eq!(role(&probe), Some(Role::Probe));
        assert!(
            started.elapsed() >= pause,
            "the probe went before the pause ended"
        );
        let waiter = {
            let pacer = pacer.clone();
            tokio::spawn(async move { role(&pacer.acquire(EP).await) })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            !waiter.is_finished(),
            "a second request went during the probe"
        );
        drop(probe);
        assert_eq!(
            waiter.await.unwrap(),
            Some(Role::Probe),
            "the role was not handed on"
        );
    }

    /// A process that shares a state file reads it again while it waits: when
    /// another process's probe is served, the wait ends soon after, not when the
    /// short pause it was told (half a second) ends.
    #[tokio::test(start_paused = true)]
    async fn a_wait_ends_soon_after_another_process_is_served() {
        let dir = tempfile::tempdir().unwrap();
        let store = || {
            Some(Store::new(
                dir.path(),
                "http://127.0.0.1:9/v1",
                "sk-admin-x",
            ))
        };
        let first = Pacer::new(Pacing::learned(), store());
        let second = Arc::new(Pacer::new(Pacing::learned(), store()));
        let pause = first
            .acquire(EP)
            .await
            .report(Outcome::Throttled { retry_after: None }, None);
        tokio::time::sleep(pause).await;
        let probe = first.acquire(EP).await;
        assert_eq!(role(&probe), Some(Role::Probe));
        let started = Instant::now();
        let waiter = {
            let second = second.clone();
            tokio::spawn(async move { second.acquire(EP).await.ticket.is_some() })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished(), "the second went during the probe");
        probe.report(Outcome::Answered, None);
        assert!(waiter.await.unwrap());
        let waited = started.elapsed();
        assert!(waited < Duration::from_millis(150), "{waited:?}");
    }

    /// Two processes waiting out one pause: when it ends, one probes and the
    /// other, reading the file before it goes, sees that probe and waits.
    #[tokio::test(start_paused = true)]
    async fn processes_whose_pause_ends_together_send_one_probe() {
        let dir = tempfile::tempdir().unwrap();
        let pacer = || {
            let store = Store::new(dir.path(), "http://127.0.0.1:9/v1", "sk-admin-x");
            Arc::new(Pacer::new(Pacing::learned(), Some(store)))
        };
        let (first, second) = (pacer(), pacer());
        let pause = first
            .acquire(EP)
            .await
            .report(Outcome::Throttled { retry_after: None }, None);
        let went = Arc::new(AtomicU64::new(0));
        let waiters: Vec<_> = [first, second]
            .into_iter()
            .map(|pacer| {
                let went = went.clone();
                tokio::spawn(async move {
                    let permit = pacer.acquire(EP).await;
                    went.fetch_add(1, Ordering::Relaxed);
                    // The probe's answer takes longer than this test looks.
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    drop(permit);
                })
            })
            .collect();
        tokio::time::sleep(pause + Duration::from_millis(200)).await;
        assert_eq!(went.load(Ordering::Relaxed), 1, "after {pause:?}");
        for waiter in waiters {
            waiter.abort();
            // Its permit is dropped (and the file written) before `dir` goes.
            let _ = waiter.await;
        }
    }

    /// However many requests wait out one pause, the process reads the state
    /// file about once per poll, not once per waiting request.
    #[tokio::test(start_paused = true)]
    async fn waiting_requests_share_one_poll_of_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), "http://127.0.0.1:9/v1", "sk-admin-x");
        let pacer = Arc::new(Pacer::new(Pacing::learned(), Some(store)));
        let syncs = || pacer.store.as_ref().unwrap().syncs.load(Ordering::Relaxed);
        let told = Duration::from_secs(5);
        pacer.acquire(EP).await.report(
            Outcome::Throttled {
                retry_after: Some(told),
            },
            None,
        );
        let before = syncs();
        let started = Instant::now();
        let waiters: Vec<_> = (0..32)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move { pacer.acquire(EP).await.report(Outcome::Answered, None) })
            })
            .collect();
        for waiter in waiters {
            waiter.await.unwrap();
        }
        assert!(started.elapsed() >= told);
        // Each request reads it when it asks, when its wait ends (about to go),
        // when it goes, and before and after its answer; one waiter's polls (a
        // tenth of what is left of the wait, 50 ms at least; the last of them
        // is the end of the wait) add the rest.
        let mut polls = 0;
        let mut left = told;
        while !left.is_zero() {
            left -= left
                .div_f64(10.0)
                .clamp(STORE_POLL_MIN, STORE_POLL_MAX)
                .min(left);
            polls += 1;
        }
        let read = syncs() - before;
        assert!(read <= 5 * 32 + polls, "{read} reads, {polls} polls");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_the_server_asked_for_ends_on_time_without_a_probe() {
        let pacer = Pacer::default();
        let started = Instant::now();
        pacer.acquire(EP).await.report(
            Outcome::Throttled {
                retry_after: Some(Duration::from_millis(3)),
            },
            None,
        );
        let next = pacer.acquire(EP).await;
        assert_eq!(role(&next), None);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(3) && waited < Duration::from_millis(10),
            "{waited:?}"
        );
        let status = pacer.status();
        assert_eq!((status.responses, status.throttled), (1, 1));
    }
}
