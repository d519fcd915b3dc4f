//! The pacer's decisions, as a synchronous state machine: it is told the time and
//! what the server answered, and says when a request may go. It has no clock, no
//! Tokio and no I/O: [`gate`](super::gate) sleeps and wakes, and
//! [`store`](super::store) shares its state with other processes.
//!
//! # The model
//!
//! The server counts requests in fixed windows: a window opens with the first
//! request after the previous one closed, serves `capacity` requests and answers
//! the rest 429 until it closes, `length` after it opened. Which requests share a
//! window (one per route, or one for the whole key) is not known in advance.
//!
//! A **bucket** is one budget as the pacer sees it: one per endpoint
//! ([`BudgetScope::Route`], the default: the one sharing that is known, see
//! [`pacing`](crate::pacing)), or one for every endpoint of the key
//! ([`BudgetScope::Key`], once the answers show that the endpoints share one). A
//! bucket keeps:
//!
//! - its **limit**: at most `burst` requests in any `period`, configured or
//!   learned ([`Origin`]); unknown until a first 429 without a delay;
//! - its **window**: when the server's current window opened and what was sent in
//!   it (by this process and, through the store, by others);
//! - its **phase** ([`Phase`]): open; paused until an instant (after a 429); or
//!   gated, while one request goes alone and the others wait for its answer (the
//!   probe that ends a pause, or the first request of a learned window, so that a
//!   window opened too early costs one 429 and not a burst of them).
//!
//! # Inputs and outputs
//!
//! [`Core::acquire`] takes an endpoint and the time and returns a [`Decision`]:
//! send now (with a [`Ticket`]), or wait until an instant, or until woken by an
//! answer. [`Core::report`] takes the ticket, the [`Answer`] and the time, and
//! returns how long the bucket is paused. [`Core::release`] gives a ticket back
//! when its request is dropped.
//!
//! # Learning
//!
//! Only a 429 *without* a delay is evidence of the window: a 429 that says when to
//! retry (`retry-after-ms`, `Retry-After`) is honoured as said and teaches nothing
//! (an overloaded proxy answers so, not the admin throttle).
//!
//! - **Capacity.** A 429 after `s` requests of the window were served means the
//!   budget available in this window was `s`: `burst` becomes `s` at once, so a
//!   budget that other endpoints, processes or clients spend is followed down
//!   within one window; successes of that window answered after the 429 (sent
//!   before it, here or by other processes) raise it. A window whose whole
//!   budget was used without a 429, with requests left waiting, lets `burst`
//!   grow by half, up to the largest budget a window was seen to hold
//!   ([`Capacity::ceiling`]) while below it: after [`Capacity::hold`] such
//!   windows (1, doubled by each request refused beyond the known budget but
//!   not beyond the ceiling while trying more, whatever came back first, up to
//!   [`HOLD_MAX`]), so that a budget the others stop spending is regained
//!   within a few windows, at the cost of one 429 per try. Beyond it, after
//!   [`Capacity::beyond`] windows ([`BEYOND_HOLD`], doubled by each request
//!   refused beyond the ceiling, up to [`BEYOND_HOLD_MAX`]): no window held
//!   more, and a budget others spent from the start is still found, but a job
//!   alone spends few 429s looking for more. (An opener's 429 that tests the
//!   length and finds the same budget changes nothing.)
//! - **Length.** Every such 429 is a lower bound of the window's length (the time
//!   since it opened); a request served after a spent window (one that met a
//!   429, or served the whole confirmed budget) an upper bound, unless it
//!   contradicts the lower one (the window then opened earlier than recorded).
//!   Without an upper bound, pauses end at `opened + 1.5 × elapsed` (at least
//!   0.5 s later, and no later than [`LONGEST_WINDOW`] after `opened` while
//!   that is ahead), so that the bound is found in a few probes. With one, windows
//!   are paced at the upper bound, but while the bounds are more than 1/16
//!   apart, the probe after a 429 and the opener after a spent window go halfway
//!   between them: a 429 costs one request and no time (the window refills by
//!   the upper bound anyway) and raises the lower bound; a success lowers the
//!   upper one. (A window whose budget others stopped spending has room left and
//!   serves such an opener early; the upper bound it sets is dropped by the
//!   first 429 met past it.) Before any length is known a window never rolls,
//!   so at the first 429 it is taken to have opened after the last pause in
//!   everyone's sending ([`run_start`]), not at a request long ago: the
//!   successes before that pause drop out (other processes' are dated by the
//!   latest the store records for their window). For the same reason, a
//!   first 429 more than [`LONGEST_WINDOW`] after its window's recorded
//!   opening bounds nothing (the window opened since, at a time unknown); a
//!   probe refused again, in a window that met a 429 and served nothing
//!   since, does bound it.
//! - **Sharing.** A 429 on an endpoint whose own window had not used the known
//!   budget while other endpoints (of this process, or of others through the
//!   store) were served in that window for the rest of it, or, with no budget
//!   known, were served more than it was, means the endpoints share one
//!   budget (every 429 of a window is judged against the budget known at its
//!   first, not against what that one measured): the pacer switches to
//!   [`BudgetScope::Key`] and paces them together (a configured
//!   limit then applies to them together, and the pause after that 429 lasts
//!   until its rate allows what they were all served in the last minute, at
//!   most a minute: [`Bucket::configured_rate_allows`]).
//! - **Under a configured limit** no budget or limit is learned (the bounds of
//!   the window's length still are), and a 429 is never probed halfway inside
//!   the configured period: the user said how long it is, and a 429 within it
//!   means others spend the budget too.
//! - **Alike endpoints.** A new endpoint starts from the newest budget another
//!   confirmed (not a larger one it was trying), here or in another process,
//!   from how often trying more failed there and the largest budget it saw,
//!   and from the bounds of the length it found, with the lower bounds others
//!   raised within them; its own answers correct it.
//! - **Other processes** ([`Core::merge`]). A window another process recorded
//!   is the same server window as this one's, their sends added up, unless the
//!   earlier of the two is known to have been left: it met a 429, this process
//!   rolled past it, or it served the whole learned budget and the later one
//!   opened more than the lower bound after it and served a request; and
//!   when processes compare windows, one is open no longer than its length,
//!   or with none known than [`LONGEST_WINDOW`] ([`closes`]). A pause ends
//!   when the file shows a request served in a window opened after the pause
//!   began (never one the server asked for), and a limit another process
//!   learned is taken when this one has none (its burst as the known budget
//!   when that process recorded none). Another process's pause is
//!   waited out for at most [`TAKEN_PAUSE`] after it was decided (one the
//!   server asked for, [`LONGEST_RESET`]).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::signals::LONGEST_RESET;

/// A point in time: the wall clock since the UNIX epoch, as the gate measures it,
/// so that processes sharing a state file agree on it.
pub(crate) type Time = Duration;

/// How much longer than a period the pacer waits, against latency jitter: 2 %.
pub const SAFETY_MARGIN: f64 = 0.02;
/// The least a pause after an unexplained 429 adds to the time already waited.
const FIRST_PAUSE: Duration = Duration::from_millis(500);
/// How much each probe's distance from the window's opening grows while the
/// window's length is unknown.
const GROWTH: f64 = 1.5;
/// The most a pause adds to the time since the window opened.
const LONGEST_PAUSE: Duration = Duration::from_secs(60);
/// The most clean full windows waited before climbing back toward the largest
/// budget a window was seen to hold ([`Capacity::hold`]).
pub(crate) const HOLD_MAX: u32 = 2;
/// The clean full windows waited before a first try beyond the largest budget a
/// window was seen to hold ([`Capacity::beyond`]).
pub(crate) const BEYOND_HOLD: u32 = 4;
/// The most clean full windows waited before trying beyond it again.
pub(crate) const BEYOND_HOLD_MAX: u32 = 8;
/// Successes remembered per bucket, for the evidence of a shared budget.
const RECENT: usize = 256;
/// The fewest successes after a pause in sending that [`run_start`] takes for
/// the start of a window.
const RUN_MIN: u64 = 2;
/// How soon after a refused request was sent the first probe may go, jitter
/// included, while the window's length is unknown: half of [`FIRST_PAUSE`]. A
/// shorter stretch without sending is no pause in which a window closed
/// ([`run_start`]): such gaps come from round trips and from waiting for the
/// state file's lock.
const EARLIEST_PROBE: Duration = Duration::from_millis(250);
/// The longest window the admin API was seen to keep.
const LONGEST_WINDOW: Duration = Duration::from_secs(60);
/// The longest of another process's pauses after a 429 without a delay that
/// this one waits out: what such a pause lasts at most in a window of
/// [`LONGEST_WINDOW`]. (Pauses that end with no probe, which the server asked
/// for, last at most [`LONGEST_RESET`], here too: [`Core::told`].) With the
/// lengths the store reads
/// ([`LONGEST_RECORDED`]), a corrupt state file cannot stop a process for
/// longer.
const TAKEN_PAUSE: Duration =
    Duration::from_secs(LONGEST_WINDOW.as_secs() + LONGEST_PAUSE.as_secs());
/// The longest window length taken from the state file: twice the longest the
/// admin API keeps. A longer one is a corrupt file's.
pub(crate) const LONGEST_RECORDED: Duration = Duration::from_secs(2 * LONGEST_WINDOW.as_secs());
/// How far back successes count as evidence of a shared budget, when no pause in
/// sending bounds the window: twice [`LONGEST_WINDOW`].
const LOOKBACK: Duration = Duration::from_secs(2 * LONGEST_WINDOW.as_secs());

/// Which requests share one budget.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BudgetScope {
    /// One budget per endpoint (method and path template).
    #[default]
    Route,
    /// One budget for every admin endpoint of the key.
    Key,
}

/// Where a limit comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// `max_rpm` and `burst`: never changed.
    Configured,
    /// Measured from the server's answers.
    Learned,
}

/// At most `burst` requests in any `period`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Limit {
    pub(crate) burst: u32,
    pub(crate) period: Duration,
    pub(crate) origin: Origin,
}

impl Limit {
    fn configured(burst: u32, period: Duration) -> Self {
        Self {
            burst: burst.max(1),
            period,
            origin: Origin::Configured,
        }
    }
}

/// A bucket: one endpoint's budget, or the key's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum BucketId {
    /// The budget of one endpoint (an operation id).
    Endpoint(&'static str),
    /// The budget every endpoint shares.
    Key,
}

impl BucketId {
    /// The name the state file knows it by.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Endpoint(name) => name,
            Self::Key => "*",
        }
    }
}

/// The server's window as a bucket knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    /// When it opened.
    pub(crate) opened: Time,
    /// Requests sent in it, by everyone the bucket knows of.
    pub(crate) sent: u32,
    /// Of which served.
    pub(crate) served: u32,
    /// When it last met a 429 that taught something: it was still open then.
    pub(crate) throttled_at: Option<Time>,
    /// Whether a request had to wait for the next window.
    pub(crate) waited: bool,
    /// Requests sent and served by this process since the store last saw them.
    pub(crate) unsynced_sent: u32,
    pub(crate) unsynced_served: u32,
    /// The budget its first 429 was judged against ([`Core::shares_budget`]):
    /// later 429s of the window are too, not against what that 429 measured.
    pub(crate) judged_with: Option<u32>,
    /// When its latest success known (here, or through the store) was sent:
    /// every success it holds was sent by then (those another process recorded
    /// without saying when: by when they were read).
    pub(crate) last_success: Option<Time>,
}

impl Window {
    /// Whether `ticket` was sent in this window: windows open at a send and only
    /// move forward (one merged from the store, or re-anchored, may have opened
    /// before or after the one the ticket saw).
    fn holds(&self, ticket: &Ticket) -> bool {
        ticket.sent_at >= self.opened
    }

    fn opened_at(opened: Time) -> Self {
        Self {
            opened,
            sent: 0,
            served: 0,
            throttled_at: None,
            waited: false,
            unsynced_sent: 0,
            unsynced_served: 0,
            judged_with: None,
            last_success: None,
        }
    }

    /// A window as another process recorded it, read at `now`: successes it
    /// did not date (an older process's) were sent by then.
    fn recorded(theirs: SharedWindow, now: Time) -> Self {
        let mut window = Self {
            sent: theirs.sent,
            served: theirs.served,
            throttled_at: theirs.throttled_at,
            last_success: theirs.last_success,
            ..Self::opened_at(theirs.opened)
        };
        window.last_success = (window.served > 0).then(|| window.successes_by(now));
        window
    }

    /// What other processes learn of this window.
    fn shared(&self) -> SharedWindow {
        SharedWindow {
            opened: self.opened,
            sent: self.sent,
            served: self.served,
            throttled_at: self.throttled_at,
            last_success: self.last_success,
        }
    }

    /// By when the successes it holds at `now` were sent.
    fn successes_by(&self, now: Time) -> Time {
        self.last_success.map_or(now, |at| at.min(now))
    }
}

/// Why one request goes alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The first request after a pause: the round ends when it is served.
    Probe,
    /// The first request of a window of a learned limit.
    Opener,
    /// A request beyond the window's last known budget, while a larger burst is
    /// tried: one at a time, once this process's requests before it in the
    /// window were answered, so that a try too large costs one 429.
    Scout,
}

/// What a bucket lets requests do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Phase {
    /// Requests go within the limit.
    Open,
    /// After a 429: nobody goes before `until` (unless another process is
    /// served in a newer window: [`Core::merge`]); then, when `probe`, one
    /// request goes alone (a pause the server asked for ends without one).
    Paused { until: Time, probe: bool },
    /// Request `ticket` goes alone; the others wait for its answer.
    Gated { ticket: u64, role: Role },
}

/// What is known of the server's window length.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Bounds {
    /// A 429 was met this long after a window opened: the window is longer.
    pub(crate) lower: Duration,
    /// A request was served this long after a full window opened: it is at most
    /// this long.
    pub(crate) upper: Option<Duration>,
}

impl Bounds {
    /// Takes a served request `measured` after a full window opened as an upper
    /// bound, unless it contradicts the lower bound: then the window it was
    /// measured from opened earlier than recorded (another endpoint or process
    /// opened it), and the measurement says nothing.
    fn observe_upper(&mut self, measured: Duration) {
        if measured > self.lower {
            self.upper = Some(self.upper.map_or(measured, |u| u.min(measured)));
        }
    }

    /// Merges another's bounds; an upper bound that the lower one contradicts is
    /// dropped.
    fn merge(&mut self, other: Bounds) {
        self.lower = self.lower.max(other.lower);
        self.upper = match (self.upper, other.upper) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
        .filter(|upper| *upper > self.lower);
    }

    /// The length halfway between the bounds, while they are more than 1/16 of
    /// the upper bound apart: where a probe tests the window next.
    fn halfway(&self) -> Option<Duration> {
        let upper = self.upper?;
        (upper.saturating_sub(self.lower) > upper / 16).then(|| (upper + self.lower) / 2)
    }
}

/// The learning of a bucket's burst.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Capacity {
    /// The budget a window held at the last 429 (the requests served in it).
    pub(crate) confirmed: Option<u32>,
    /// When it was measured.
    pub(crate) measured_at: Option<Time>,
    /// The largest budget a window was seen to hold, here or by the other
    /// processes. Never lowered: a budget others spent is regained as soon as
    /// they stop.
    pub(crate) ceiling: Option<u32>,
    /// Clean full windows since the burst last changed.
    clean: u32,
    /// Clean full windows to wait before climbing back toward `ceiling`.
    pub(crate) hold: u32,
    /// Clean full windows to wait before trying beyond `ceiling`: no window
    /// was seen to hold more, so a try is more likely to cost a 429.
    pub(crate) beyond: u32,
}

impl Capacity {
    /// Takes `budget` for the one a window holds now.
    fn confirm(&mut self, budget: u32) {
        self.confirmed = Some(budget);
        self.ceiling = self.ceiling.max(Some(budget));
    }

    /// With no budget known, takes `burst` (a limit taken without one) for the
    /// known budget, undated: a measurement replaces it, and a try beyond it
    /// goes one request at a time ([`Bucket::goes_beyond`]).
    fn know_at_least(&mut self, burst: u32) {
        if self.confirmed.is_none() {
            self.confirm(burst);
        }
    }

    /// Takes the budget another process measured at `at` (recorded in
    /// `theirs`), with its waits before trying more (a count of 0 read as 1).
    fn take_measured(&mut self, budget: u32, at: Time, theirs: &Shared) {
        self.confirm(budget);
        self.measured_at = Some(at);
        self.hold = theirs.hold.max(1);
        self.beyond = theirs.beyond.max(1);
    }

    /// The clean full windows to wait before trying more than `burst`.
    fn windows_before_try(&self, burst: u32) -> u32 {
        if self.ceiling.is_some_and(|c| burst < c) {
            self.hold
        } else {
            self.beyond
        }
    }
}

/// One budget.
#[derive(Clone, Debug)]
pub(crate) struct Bucket {
    pub(crate) limit: Option<Limit>,
    pub(crate) bounds: Bounds,
    pub(crate) capacity: Capacity,
    pub(crate) window: Option<Window>,
    /// The window before `window`: an opener's 429 belongs to it.
    pub(crate) previous: Option<Window>,
    pub(crate) phase: Phase,
    /// When the phase last changed: the newer of two processes' pauses wins.
    pub(crate) phase_at: Time,
    /// 429s in the current round (0: not throttled).
    strikes: u32,
    /// Whether the pause now running ends with a probe halfway between the
    /// bounds.
    bisecting: bool,
    /// Until when the server asked this bucket to wait (`Retry-After`): no
    /// other process's success ends that pause sooner.
    told_until: Time,
    /// Recent successes (time, endpoint), for the evidence of a shared budget.
    recent: VecDeque<(Time, &'static str)>,
    /// Other processes' successes in the current window, by when they were
    /// sent at the latest (as far as the store tells, else when it showed
    /// them): see [`Bucket::reanchor`].
    others_seen: VecDeque<(Time, u32)>,
    /// This process's requests not answered yet (ticket, when sent): see
    /// [`Bucket::awaits_answers`].
    unanswered: VecDeque<(u64, Time)>,
}

impl Bucket {
    fn new(configured: Option<Limit>) -> Self {
        Self {
            limit: configured,
            bounds: Bounds {
                lower: Duration::ZERO,
                upper: configured.map(|l| l.period),
            },
            capacity: Capacity {
                confirmed: configured.map(|l| l.burst),
                measured_at: None,
                ceiling: configured.map(|l| l.burst),
                clean: 0,
                hold: 1,
                beyond: BEYOND_HOLD,
            },
            window: None,
            previous: None,
            phase: Phase::Open,
            phase_at: Time::ZERO,
            strikes: 0,
            bisecting: false,
            told_until: Time::ZERO,
            recent: VecDeque::new(),
            others_seen: VecDeque::new(),
            unanswered: VecDeque::new(),
        }
    }

    /// A bucket as another process recorded it, with its window if still open
    /// at `now` (as far as its bounds tell: [`closes`]).
    fn recorded(configured: Option<Limit>, shared: Shared, now: Time) -> Self {
        let mut bucket = Self::new(configured);
        bucket.bounds.merge(Bounds {
            lower: shared.lower,
            upper: shared.upper,
        });
        if let Some((confirmed, at)) = shared.confirmed {
            bucket.capacity.take_measured(confirmed, at, &shared);
        }
        bucket.capacity.ceiling = bucket.capacity.ceiling.max(shared.ceiling);
        bucket.window = shared
            .window
            .filter(|w| now < closes(w.opened, bucket.bounds.upper))
            .map(|w| Window::recorded(w, now));
        bucket
    }

    fn learns(&self) -> bool {
        !matches!(
            self.limit,
            Some(Limit {
                origin: Origin::Configured,
                ..
            })
        )
    }

    /// Why a request would wait at `now`, and until when (`None`: until an
    /// answer); `None` when it may go. Changes nothing.
    fn waits(&self, now: Time) -> Option<(Option<Time>, WaitReason)> {
        match self.phase {
            Phase::Paused { until, .. } if now < until => Some((Some(until), WaitReason::Pause)),
            Phase::Gated { .. } => Some((None, WaitReason::Gate)),
            Phase::Paused { probe: true, .. } => None,
            Phase::Paused { probe: false, .. } | Phase::Open => {
                match (self.limit, self.window_end(), self.window) {
                    (Some(limit), Some(end), Some(window))
                        if now < end && window.sent >= limit.burst =>
                    {
                        Some((Some(end), WaitReason::Slot))
                    }
                    (_, Some(end), _) if self.awaits_answers(now) => {
                        Some((Some(end), WaitReason::Answers))
                    }
                    _ => None,
                }
            }
        }
    }

    /// Whether a request at `now` goes beyond the budget last confirmed for its
    /// window, while a larger learned burst is tried: it goes alone
    /// ([`Role::Scout`]), so that a try too large costs one 429.
    fn goes_beyond(&self, now: Time) -> bool {
        match (self.limit, self.window_end(), self.window) {
            (Some(limit), Some(end), Some(window)) if now < end => {
                let known = self.capacity.confirmed.unwrap_or(limit.burst);
                limit.origin == Origin::Learned && window.sent >= known
            }
            _ => false,
        }
    }

    /// Whether a request beyond the known budget waits for the answers to this
    /// process's requests sent before it in the window: while they are out, it
    /// may reach the server before them (the network reorders requests) and be
    /// served in the place of one, and its success would say nothing.
    fn awaits_answers(&self, now: Time) -> bool {
        self.goes_beyond(now)
            && self.window.is_some_and(|window| {
                self.unanswered
                    .iter()
                    .any(|(_, sent_at)| *sent_at >= window.opened)
            })
    }

    /// When the current window closes, as far as the limit tells; or, when it
    /// has served the whole confirmed budget and the window's length is
    /// uncertain, when the next window is tried: halfway between the bounds.
    fn window_end(&self) -> Option<Time> {
        let limit = self.limit?;
        let window = self.window?;
        let length = self
            .bounds
            .halfway()
            .filter(|_| self.spent(&window))
            .unwrap_or(limit.period);
        Some(window.opened + stretched(length))
    }

    /// Whether `window` served the whole learned budget last confirmed by a
    /// 429: a request served after it went in a new window.
    fn spent(&self, window: &Window) -> bool {
        self.learns() && self.capacity.confirmed.is_some_and(|c| window.served >= c)
    }

    /// Opens a new window at `now`, after judging the one that closed.
    fn roll(&mut self, now: Time) {
        if let (Some(closed), Some(limit)) = (self.window, self.limit)
            && limit.origin == Origin::Learned
            && closed.throttled_at.is_none()
            && closed.waited
            && closed.sent >= limit.burst
        {
            self.relax(now);
        }
        self.previous = self.window.take();
        self.window = Some(Window::opened_at(now));
        self.others_seen.clear();
    }

    /// After a clean window whose whole budget was used: the burst grows by half,
    /// up to the largest budget seen ([`Capacity::ceiling`]) when below it.
    /// (The period stays the upper bound: a window opened before it is known to
    /// have closed could be the old one with room left, and what is served in it
    /// would be misread. Probes and openers narrow the bounds instead:
    /// [`Bucket::pause_after`], [`Bucket::window_end`].)
    fn relax(&mut self, now: Time) {
        let Some(limit) = self.limit.as_mut() else {
            return;
        };
        let capacity = &mut self.capacity;
        if capacity.confirmed.is_some_and(|c| limit.burst > c) {
            // A larger burst went through: it is the budget now (a measurement
            // other processes take), and the next try comes at once; unless
            // it is back at the largest budget seen without passing it: the
            // next try goes beyond that, and waits for it.
            let grew = capacity.ceiling.is_none_or(|c| limit.burst > c);
            capacity.confirm(limit.burst);
            capacity.measured_at = Some(now);
            capacity.hold = 1;
            capacity.clean = 0;
            if !grew && capacity.ceiling == Some(limit.burst) {
                return;
            }
        } else {
            capacity.clean += 1;
            if capacity.clean < capacity.windows_before_try(limit.burst) {
                return;
            }
            capacity.clean = 0;
        }
        let grown = limit.burst.saturating_add((limit.burst / 2).max(2));
        limit.burst = match capacity.ceiling {
            Some(ceiling) if limit.burst < ceiling => grown.min(ceiling),
            _ => grown,
        };
        tracing::debug!(
            burst = limit.burst,
            period_ms = millis(limit.period),
            "pacing: trying a looser learned limit after a clean window"
        );
    }

    /// A window's budget is measured at its first 429, but requests sent before
    /// it (here, or by other processes) may be answered after it: each success
    /// of that window answered later raises the measured budget.
    fn count_late_successes(&mut self) {
        let Some(window) = self.window.filter(|w| w.throttled_at.is_some()) else {
            return;
        };
        if !self.learns() || self.capacity.confirmed.is_none_or(|c| window.served <= c) {
            return;
        }
        self.capacity.confirm(window.served);
        if let Some(limit) = self.limit.as_mut() {
            limit.burst = limit.burst.max(window.served);
        }
    }

    /// Before a period is known the window never rolls, so at a first 429 it may
    /// span windows that closed long ago: it is moved to where the server's
    /// window most likely opened ([`run_start`] of this process's successes and
    /// the others'), without the successes known to be older.
    fn reanchor(&mut self, at: Time) {
        let Some(window) = self.window.as_mut().filter(|w| w.throttled_at.is_none()) else {
            return;
        };
        // The others' successes are placed as late as they may have been sent:
        // a pause after them is then the shortest it may have been.
        let mut sent: Vec<Sent> = self
            .recent
            .iter()
            .map(|(t, _)| Sent::at(*t))
            .chain(self.others_seen.iter().map(|(by, n)| Sent {
                at: *by,
                count: u64::from(*n),
                exact: false,
            }))
            .collect();
        sent.sort_unstable();
        let Some(start) = run_start(&sent, window.opened, at) else {
            return;
        };
        // The successes sent before the pause drop out: this process's, and the
        // others' known to be (a batch dated at or after the pause may hold
        // older ones too, but it is kept whole: a budget taken too large is
        // followed down at the next 429, one taken too small costs windows).
        let own = self
            .recent
            .iter()
            .filter(|(t, _)| *t >= window.opened && *t < start)
            .count();
        let others = self
            .others_seen
            .iter()
            .filter(|(by, _)| *by < start)
            .fold(0u32, |sum, (_, n)| sum.saturating_add(*n));
        let dropped = u32::try_from(own)
            .unwrap_or(u32::MAX)
            .saturating_add(others);
        tracing::debug!(
            bucket_window_ms = millis(start.saturating_sub(window.opened)),
            served = window.served.saturating_sub(dropped),
            "pacing: the window is taken to have opened after the last pause in sending"
        );
        window.opened = start;
        window.served = window.served.saturating_sub(dropped);
        window.sent = window.sent.saturating_sub(dropped).max(window.served);
    }

    /// Takes another process's window for the current one, as the store showed
    /// it at `now`.
    fn adopt(&mut self, theirs: Window, now: Time) {
        self.window = Some(theirs);
        self.others_seen.clear();
        self.seen_others(theirs.served, theirs.successes_by(now));
    }

    /// Notes that the store showed `count` more successes of other processes
    /// in the current window, sent by `by`.
    fn seen_others(&mut self, count: u32, by: Time) {
        if count > 0 {
            self.others_seen.push_back((by, count));
            if self.others_seen.len() > RECENT
                && let (Some((by_first, first)), Some((by_second, second))) =
                    (self.others_seen.pop_front(), self.others_seen.pop_front())
            {
                // The two oldest as one, dated by the later: none is lost.
                self.others_seen
                    .push_front((by_first.max(by_second), first.saturating_add(second)));
            }
        }
    }

    /// Records a request sent at `now` in the current window: when the window
    /// opened, and the request's place in it.
    fn sent(&mut self, now: Time) -> (Time, u32) {
        let window = self.window.get_or_insert_with(|| Window::opened_at(now));
        window.sent = window.sent.saturating_add(1);
        window.unsynced_sent = window.unsynced_sent.saturating_add(1);
        (window.opened, window.sent)
    }

    /// The pause after a 429 without a delay, met `elapsed` after its window
    /// opened; `random` in `[0, 1)` spreads processes that probe together. With
    /// both bounds known, the probe of a bisecting round tests the length halfway
    /// between them (a 429 costs one request and raises the lower bound; a
    /// success lowers the upper one); otherwise it goes when the window is known
    /// to have refilled.
    fn pause_after(&self, opened: Time, elapsed: Duration, random: f64) -> Time {
        if let Some(upper) = self.bounds.upper {
            let test = self.bounds.halfway().filter(|_| self.bisecting);
            return opened + stretched(test.unwrap_or(upper));
        }
        let grown = elapsed
            .mul_f64(GROWTH)
            .max(elapsed + FIRST_PAUSE)
            .min(elapsed + LONGEST_PAUSE);
        let jitter = 1.0 - 0.1 * random.clamp(0.0, 1.0);
        let grown = grown.mul_f64(jitter);
        // No window seen lasted longer than LONGEST_WINDOW: the search tests
        // that length before any longer one (and grows as before past it).
        let longest = stretched(LONGEST_WINDOW);
        let grown = if elapsed < longest {
            grown.min(longest)
        } else {
            grown
        };
        opened + grown.max(elapsed + EARLIEST_PROBE)
    }

    /// Under a configured limit, when its rate allows the next request at
    /// `now`, counting the requests this process was served in the last
    /// [`LONGEST_WINDOW`] (no server window remembers more; once endpoints are
    /// found to share the budget, all of theirs): each takes `period / burst`
    /// of it, and `burst` may go at once. Requests the endpoints sent together,
    /// each at the configured rate, owe the time they took beyond it; at most
    /// [`LONGEST_PAUSE`] from `now`.
    fn configured_rate_allows(&self, now: Time) -> Option<Time> {
        let limit = self.limit.filter(|l| l.origin == Origin::Configured)?;
        let burst = limit.burst.max(1);
        let each = stretched(limit.period) / burst;
        let floor = now.saturating_sub(LONGEST_WINDOW);
        let mut sent: Vec<Time> = self
            .recent
            .iter()
            .map(|(at, _)| *at)
            .filter(|at| *at >= floor)
            .collect();
        sent.sort_unstable();
        let due = sent
            .into_iter()
            .fold(Time::ZERO, |due, at| due.max(at) + each);
        Some(
            due.saturating_sub(each.saturating_mul(burst - 1))
                .min(now + LONGEST_PAUSE),
        )
    }

    /// Whether a 429 met by `ticket` speaks of the window before the current
    /// one: the ticket went alone and opened the current one (a probe, or an
    /// opener), while the one before may still have been open (within twice
    /// the longest length known; a window left long ago, after an idle spell,
    /// is not the one that refused it).
    fn speaks_of_previous(&self, ticket: &Ticket) -> bool {
        matches!(self.gate_role(ticket), Some(Role::Probe | Role::Opener))
            && self.previous.is_some_and(|previous| {
                self.bounds
                    .upper
                    .is_none_or(|upper| ticket.sent_at < previous.opened + stretched(upper) * 2)
            })
    }

    /// The window refilled (a probe was served, here or in another process):
    /// the round of 429s is over and requests go again.
    fn refilled(&mut self) {
        self.strikes = 0;
        self.bisecting = false;
        self.phase = Phase::Open;
    }

    /// The role `ticket` holds the gate with, if it does.
    fn gate_role(&self, ticket: &Ticket) -> Option<Role> {
        match self.phase {
            Phase::Gated { ticket: t, role } if t == ticket.id => Some(role),
            _ => None,
        }
    }

    /// Ends the gate of `ticket`, if it holds it: an opener's lets the others go;
    /// a probe's hands the role on to the next request.
    fn release_gate(&mut self, ticket: u64, now: Time) {
        if let Phase::Gated { ticket: t, role } = self.phase
            && t == ticket
        {
            self.phase = match role {
                Role::Opener | Role::Scout => Phase::Open,
                Role::Probe => Phase::Paused {
                    until: now,
                    probe: true,
                },
            };
        }
    }
}

/// The right to send one request, from [`Core::acquire`]; reported with
/// [`Core::report`] or given back with [`Core::release`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub(crate) id: u64,
    pub(crate) endpoint: &'static str,
    pub(crate) bucket: BucketId,
    pub(crate) sent_at: Time,
    /// The window it was sent in (as the bucket saw it then).
    pub(crate) window: Time,
    /// Its place among the requests sent in that window (1: the first), by
    /// everyone the bucket knew of then.
    pub(crate) place: u32,
    pub(crate) role: Option<Role>,
}

/// Why a request waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitReason {
    /// For the next window of the limit.
    Slot,
    /// For a pause after a 429 to end.
    Pause,
    /// For the answer to the request that went alone.
    Gate,
    /// For the answers to this process's requests of the window, before one
    /// goes beyond the known budget ([`Bucket::awaits_answers`]).
    Answers,
}

/// What [`Core::acquire`] says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Send the request now.
    Send(Ticket),
    /// Ask again at `until`, or, when `None`, once an answer arrives.
    Wait {
        until: Option<Time>,
        reason: WaitReason,
    },
}

/// What the server answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Any answer but a 429; `exhausted` when its headers say the window is used
    /// up and resets in that long (`x-ratelimit-remaining-requests: 0`).
    Served { exhausted: Option<Duration> },
    /// 429; `retry_after` is the delay the server asked for, if it said one.
    Throttled { retry_after: Option<Duration> },
    /// No answer (connection error, timeout): nothing to learn.
    Lost,
}

/// What the pacer is doing now, over all buckets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) responses: u64,
    pub(crate) throttled: u64,
}

/// Every bucket of one client (and its clones).
#[derive(Debug)]
pub(crate) struct Core {
    configured: Option<Limit>,
    pub(crate) scope: BudgetScope,
    pub(crate) buckets: HashMap<BucketId, Bucket>,
    /// What other processes recorded for endpoints this one has not used (from
    /// the store, by name): evidence of a shared budget, and part of it once
    /// found.
    pub(crate) elsewhere: HashMap<String, Shared>,
    next_ticket: u64,
    pub(crate) counts: Counts,
}

impl Core {
    /// A pacer with a configured limit (`burst` per `period`, per bucket), or one
    /// that learns.
    pub(crate) fn new(configured: Option<(u32, Duration)>, scope: BudgetScope) -> Self {
        Self {
            configured: configured.map(|(burst, period)| Limit::configured(burst, period)),
            scope,
            buckets: HashMap::new(),
            elsewhere: HashMap::new(),
            next_ticket: 0,
            counts: Counts::default(),
        }
    }

    /// The bucket `endpoint` is paced in.
    pub(crate) fn bucket_of(&self, endpoint: &'static str) -> BucketId {
        match self.scope {
            BudgetScope::Route => BucketId::Endpoint(endpoint),
            BudgetScope::Key => BucketId::Key,
        }
    }

    pub(crate) fn bucket_mut(&mut self, id: BucketId) -> &mut Bucket {
        if !self.buckets.contains_key(&id) {
            let bucket = self.prior();
            self.buckets.insert(id, bucket);
        }
        self.buckets.get_mut(&id).expect("inserted above")
    }

    /// A new bucket: configured, or starting from the newest limit another
    /// endpoint learned, here or in another process (the admin endpoints are
    /// alike; one that differs is corrected by its own answers), so that each
    /// endpoint does not discover the window again with 429s: with the budget
    /// that endpoint confirmed (not a larger burst it was trying) and its
    /// [`Capacity::hold`] and [`Capacity::ceiling`], and with the bounds of
    /// the window's length it found, raised by the lower bounds the others
    /// found below its period (what one tested, the next does not test again;
    /// a bound older or contradicted is not taken).
    fn prior(&self) -> Bucket {
        let mut bucket = Bucket::new(self.configured);
        if !bucket.learns() {
            return bucket;
        }
        let learned: Vec<(Limit, Bounds, Capacity)> = self
            .buckets
            .values()
            .filter_map(|b| {
                let limit = b.limit.filter(|l| l.origin == Origin::Learned)?;
                Some((limit, b.bounds, b.capacity))
            })
            .chain(self.elsewhere.values().filter_map(|e| {
                let (burst, period) = e.learned?;
                let limit = Limit {
                    burst,
                    period,
                    origin: Origin::Learned,
                };
                let bounds = Bounds {
                    lower: e.lower,
                    upper: e.upper,
                };
                let capacity = Capacity {
                    confirmed: e.confirmed.map(|(c, _)| c),
                    measured_at: e.confirmed.map(|(_, at)| at),
                    ceiling: e.ceiling.max(e.confirmed.map(|(c, _)| c)),
                    clean: 0,
                    hold: e.hold.max(1),
                    beyond: e.beyond.max(1),
                };
                Some((limit, bounds, capacity))
            }))
            .collect();
        // Not one whose period its own lower bound contradicts (a 429 past it
        // dropped its upper bound; its probes are finding the length again).
        let newest = learned
            .iter()
            .filter(|(limit, bounds, _)| bounds.lower < limit.period)
            .max_by_key(|(_, _, capacity)| capacity.measured_at);
        if let Some(&(limit, bounds, capacity)) = newest {
            // The budget it confirmed, not a larger one it was trying.
            let burst = capacity
                .confirmed
                .map_or(limit.burst, |c| c.min(limit.burst))
                .max(1);
            let within = bounds.upper.unwrap_or(limit.period).min(limit.period);
            let lower = learned
                .iter()
                .map(|(_, b, _)| b.lower)
                .filter(|lower| *lower < within)
                .fold(bounds.lower, Duration::max);
            bucket.limit = Some(Limit { burst, ..limit });
            bucket.bounds = Bounds { lower, ..bounds };
            // With how often trying more failed there: it would fail here too.
            // Undated: this endpoint's own measurement, in the file or to come,
            // replaces it, however old.
            bucket.capacity = Capacity {
                measured_at: None,
                clean: 0,
                ..capacity
            };
            bucket.capacity.know_at_least(burst);
        }
        bucket
    }

    /// Whether a request to `endpoint` may go at `now`.
    pub(crate) fn acquire(&mut self, endpoint: &'static str, now: Time) -> Decision {
        self.noting_phase(endpoint, now, |core| core.decide(endpoint, now))
    }

    /// Runs `change` and dates the phase of `endpoint`'s bucket if it changed.
    fn noting_phase<T>(
        &mut self,
        endpoint: &'static str,
        now: Time,
        change: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let before = self.buckets.get(&self.bucket_of(endpoint)).map(|b| b.phase);
        let result = change(self);
        let id = self.bucket_of(endpoint);
        if let Some(bucket) = self.buckets.get_mut(&id)
            && Some(bucket.phase) != before
        {
            bucket.phase_at = now;
        }
        result
    }

    fn decide(&mut self, endpoint: &'static str, now: Time) -> Decision {
        let id = self.bucket_of(endpoint);
        let ticket = self.next_ticket;
        let bucket = self.bucket_mut(id);
        if let Some((until, reason)) = bucket.waits(now) {
            if reason == WaitReason::Slot {
                // Open (a pause without a probe may have ended), and full with
                // requests left waiting: see [`Bucket::roll`].
                bucket.phase = Phase::Open;
                if let Some(window) = bucket.window.as_mut() {
                    window.waited = true;
                }
            }
            return Decision::Wait { until, reason };
        }
        let role = match bucket.phase {
            Phase::Paused { probe: true, .. } => {
                // The probe: it opens the next window, alone.
                bucket.roll(now);
                Some(Role::Probe)
            }
            // Open, or a pause without a probe that ended (a gated bucket
            // waits: above).
            _ => {
                bucket.phase = Phase::Open;
                match (bucket.limit, bucket.window_end()) {
                    (Some(_), Some(end)) if now < end => {
                        bucket.goes_beyond(now).then_some(Role::Scout)
                    }
                    (Some(limit), _) => {
                        bucket.roll(now);
                        (limit.origin == Origin::Learned).then_some(Role::Opener)
                    }
                    (None, _) => None,
                }
            }
        };
        if let Some(role) = role {
            bucket.phase = Phase::Gated { ticket, role };
        }
        let (window, place) = bucket.sent(now);
        bucket.unanswered.push_back((ticket, now));
        if bucket.unanswered.len() > RECENT {
            bucket.unanswered.pop_front();
        }
        self.next_ticket += 1;
        Decision::Send(Ticket {
            id: ticket,
            endpoint,
            bucket: id,
            sent_at: now,
            window,
            place,
            role,
        })
    }

    /// Whether [`Core::acquire`] would make a request to `endpoint` wait at
    /// `now`, as the core stands. Changes nothing.
    pub(crate) fn would_wait(&self, endpoint: &'static str, now: Time) -> bool {
        self.buckets
            .get(&self.bucket_of(endpoint))
            .is_some_and(|bucket| bucket.waits(now).is_some())
    }

    /// Gives back the ticket of a request that was dropped: a request that went
    /// alone hands its role on. What it may have spent stays counted.
    pub(crate) fn release(&mut self, ticket: &Ticket, now: Time) {
        self.noting_phase(ticket.endpoint, now, |core| {
            core.answered(ticket);
            if let Some(bucket) = core.buckets.get_mut(&ticket.bucket) {
                bucket.release_gate(ticket.id, now);
            }
        });
    }

    /// Notes that `ticket` is out no longer (in whichever bucket holds it now:
    /// the scope may have changed since it was given).
    fn answered(&mut self, ticket: &Ticket) {
        for bucket in self.buckets.values_mut() {
            bucket.unanswered.retain(|(id, _)| *id != ticket.id);
        }
    }

    /// Records the answer to `ticket`; returns how long its bucket is now paused.
    /// `random` is a number in `[0, 1)` (the jitter of a pause).
    pub(crate) fn report(
        &mut self,
        ticket: &Ticket,
        answer: Answer,
        now: Time,
        random: f64,
    ) -> Duration {
        self.noting_phase(ticket.endpoint, now, |core| {
            core.record(ticket, answer, now, random)
        })
    }

    fn record(&mut self, ticket: &Ticket, answer: Answer, now: Time, random: f64) -> Duration {
        self.answered(ticket);
        if answer != Answer::Lost {
            self.counts.responses += 1;
        }
        // The scope may have changed since the ticket was given.
        let id = if self.buckets.contains_key(&ticket.bucket) {
            ticket.bucket
        } else {
            self.bucket_of(ticket.endpoint)
        };
        match answer {
            Answer::Lost => self.bucket_mut(id).release_gate(ticket.id, now),
            Answer::Served { exhausted } => self.served(id, ticket, now, exhausted),
            Answer::Throttled { retry_after } => {
                self.counts.throttled += 1;
                match retry_after {
                    Some(wait) => self.told(id, ticket, now, wait),
                    None => self.throttled(id, ticket, now, random),
                }
            }
        }
        // The bucket again: a 429 may have merged every endpoint into the key's.
        let id = self.bucket_of(ticket.endpoint);
        match self.buckets.get(&id).map(|b| b.phase) {
            Some(Phase::Paused { until, .. }) => until.saturating_sub(now),
            _ => Duration::ZERO,
        }
    }

    fn served(&mut self, id: BucketId, ticket: &Ticket, now: Time, exhausted: Option<Duration>) {
        let bucket = self.bucket_mut(id);
        if let Some(window) = bucket.window.as_mut().filter(|w| w.holds(ticket)) {
            window.served = window.served.saturating_add(1);
            window.unsynced_served = window.unsynced_served.saturating_add(1);
            window.last_success = window.last_success.max(Some(ticket.sent_at));
            bucket.count_late_successes();
        }
        bucket.recent.push_back((ticket.sent_at, ticket.endpoint));
        if bucket.recent.len() > RECENT {
            bucket.recent.pop_front();
        }
        match ticket.role {
            Some(Role::Probe) if bucket.gate_role(ticket).is_some() => {
                // The window refilled: the full one opened `measured` before.
                if let Some(full) = bucket.previous.filter(|w| w.throttled_at.is_some()) {
                    bucket
                        .bounds
                        .observe_upper(ticket.sent_at.saturating_sub(full.opened));
                }
                bucket.refilled();
                if bucket.learns()
                    && let (Some(burst), Some(period)) =
                        (bucket.capacity.confirmed, bucket.bounds.upper)
                {
                    let learned = Limit {
                        burst,
                        period,
                        origin: Origin::Learned,
                    };
                    if bucket.limit != Some(learned) {
                        tracing::info!(
                            bucket = id.name(),
                            burst,
                            period_ms = millis(period),
                            longer_than_ms = millis(bucket.bounds.lower),
                            "pacing: learned the rate limit"
                        );
                    }
                    bucket.limit = Some(learned);
                }
            }
            Some(Role::Scout) => bucket.release_gate(ticket.id, now),
            Some(Role::Opener) => {
                // Served after a spent window opened `measured` before: a new
                // window had opened by then.
                if let Some(spent) = bucket.previous.filter(|w| bucket.spent(w)) {
                    bucket
                        .bounds
                        .observe_upper(ticket.sent_at.saturating_sub(spent.opened));
                    if let (Some(limit), Some(upper)) = (bucket.limit.as_mut(), bucket.bounds.upper)
                        && limit.origin == Origin::Learned
                        && upper < limit.period
                    {
                        limit.period = upper;
                        tracing::debug!(
                            bucket = id.name(),
                            period_ms = millis(upper),
                            longer_than_ms = millis(bucket.bounds.lower),
                            "pacing: the window refills sooner than known"
                        );
                    }
                }
                bucket.release_gate(ticket.id, now);
            }
            _ => {}
        }
        if let Some(reset) = exhausted {
            let until = now + reset;
            bucket.phase = Phase::Paused {
                until,
                probe: false,
            };
            tracing::debug!(
                bucket = id.name(),
                pause_ms = millis(reset),
                "pacing: x-ratelimit-remaining-requests is 0, pausing until the reset"
            );
        }
    }

    /// A 429 that says when to retry: honoured as said, up to [`LONGEST_RESET`]
    /// (a longer delay is no admin window's but a proxy's, or a date gone wrong:
    /// the request retries then, and its rate-limit budget decides whether it
    /// gives up), and no evidence of the window (an overloaded proxy answers so
    /// too).
    fn told(&mut self, id: BucketId, ticket: &Ticket, now: Time, wait: Duration) {
        let until = now + wait.min(LONGEST_RESET);
        let bucket = self.bucket_mut(id);
        bucket.release_gate(ticket.id, now);
        bucket.told_until = bucket.told_until.max(until);
        let phase = match bucket.phase {
            Phase::Paused {
                until: already,
                probe,
            } => Phase::Paused {
                until: already.max(until),
                probe,
            },
            _ => Phase::Paused {
                until,
                probe: false,
            },
        };
        bucket.phase = phase;
        if wait > LONGEST_RESET {
            tracing::warn!(
                bucket = id.name(),
                endpoint = ticket.endpoint,
                asked_s = wait.as_secs(),
                wait_ms = millis(LONGEST_RESET),
                "rate limited (429): the server asked for a longer wait than any admin \
                 window lasts; waiting the longest believed"
            );
        } else {
            tracing::info!(
                bucket = id.name(),
                endpoint = ticket.endpoint,
                "rate limited (429): waiting as long as the server asked"
            );
        }
    }

    /// A 429 without a delay: the window of `ticket` is spent.
    fn throttled(&mut self, id: BucketId, ticket: &Ticket, now: Time, random: f64) {
        let judged_with = match self.scope {
            BudgetScope::Route => {
                let (shared, known) = self.shares_budget(id, ticket);
                if shared {
                    self.share(Some(ticket.endpoint), Some(now));
                    return self.throttled(BucketId::Key, ticket, now, random);
                }
                known
            }
            BudgetScope::Key => None,
        };
        let bucket = self.bucket_mut(id);
        let was_probe = bucket.gate_role(ticket) == Some(Role::Probe);
        let of_previous = bucket.speaks_of_previous(ticket);
        if of_previous {
            // It opened a window too early: the server's is still the previous one.
            if let Some(previous) = bucket.previous.take() {
                bucket.window = Some(previous);
                bucket.others_seen.clear();
            }
        }
        if bucket.limit.is_none() && !was_probe {
            bucket.reanchor(ticket.sent_at);
        }
        // The window the 429 speaks of: the ticket's, or (a probe's or an
        // opener's) the one before.
        let window = match bucket.window {
            Some(w) if of_previous || w.holds(ticket) => w,
            _ => Window::opened_at(ticket.window),
        };
        // Without a length known, a window is open at most LONGEST_WINDOW: a
        // 429 later than that speaks of one opened since, at a time unknown,
        // which bounds nothing (the search for its end starts at the request);
        // unless the window met a 429 before and nothing was served since (a
        // probe refused again): it is still the same, and longer than that.
        let (opened, elapsed) = if bucket.bounds.upper.is_some()
            || window.throttled_at.is_some()
            || ticket.sent_at < closes(window.opened, None)
        {
            (window.opened, ticket.sent_at.saturating_sub(window.opened))
        } else {
            (ticket.sent_at, Duration::ZERO)
        };
        bucket.bounds.lower = bucket.bounds.lower.max(elapsed);
        if bucket.bounds.upper.is_some_and(|upper| elapsed >= upper) {
            // The server's answers contradict the upper bound: drop it.
            bucket.bounds.upper = None;
        }
        // The budget this window held for us, judged at its first 429; unless
        // the 429 is an opener's that found the budget known (it tested the
        // window's length, and a try that its roll began goes on).
        let known_again = of_previous && bucket.capacity.confirmed == Some(window.served);
        if window.served > 0 && window.throttled_at.is_none() && bucket.learns() && !known_again {
            let available = window.served;
            let before = bucket.capacity.confirmed;
            // Refused beyond the last known budget, in its own window, while
            // trying more (whatever came back first): wait longer before trying
            // again. A budget that shrank (or a first one): follow it back up
            // soon. The same budget again: as before.
            let tried_more = !of_previous
                && matches!((before, bucket.limit), (Some(b), Some(limit))
                    if limit.burst > b && ticket.place > b);
            let capacity = &mut bucket.capacity;
            if tried_more && capacity.ceiling.is_none_or(|c| ticket.place > c) {
                // Refused beyond the largest budget seen: try that again later
                // still.
                capacity.beyond = capacity.beyond.saturating_mul(2).min(BEYOND_HOLD_MAX);
            } else if tried_more {
                // Refused short of it: others still spend the rest.
                capacity.hold = capacity.hold.saturating_mul(2).min(HOLD_MAX);
            } else if before.is_none_or(|b| available < b) {
                capacity.hold = 1;
            }
            tracing::debug!(
                bucket = id.name(),
                served = available,
                sent = window.sent,
                "pacing: a window served this many before its first 429"
            );
            bucket.capacity.confirm(available);
            bucket.capacity.measured_at = Some(now);
            bucket.capacity.clean = 0;
            if let Some(limit) = bucket.limit.as_mut() {
                limit.burst = available;
            }
        }
        if let Some(current) = bucket.window.as_mut().filter(|w| w.opened == window.opened) {
            current.throttled_at = Some(current.throttled_at.map_or(now, |t| t.max(now)));
            current.judged_with = current.judged_with.or(judged_with);
        }
        // Requests sent before this round began add no strike: they wait on one
        // pause (which still covers the window they speak of).
        let first_of_round = bucket.strikes == 0 || was_probe;
        if first_of_round || !matches!(bucket.phase, Phase::Paused { .. }) {
            bucket.strikes += 1;
        }
        if first_of_round {
            // Each probe tests halfway between the bounds until they are close: a
            // 429 costs one request and no time (the window is known to refill by
            // the upper bound anyway). Not under a configured limit: its period
            // is what the user said, not a bound the server showed, and a 429
            // under it means others spend the budget too.
            bucket.bisecting = bucket.learns() && bucket.bounds.halfway().is_some();
        }
        let until = bucket
            .pause_after(opened, elapsed, random)
            .max(bucket.configured_rate_allows(now).unwrap_or_default());
        let until = match bucket.phase {
            Phase::Paused { until: already, .. } => already.max(until),
            _ => until,
        };
        bucket.phase = Phase::Paused { until, probe: true };
        tracing::info!(
            bucket = id.name(),
            endpoint = ticket.endpoint,
            strike = bucket.strikes,
            pause_ms = millis(until.saturating_sub(now)),
            "rate limited (429): pausing until the window refills"
        );
    }

    /// Whether a 429 on `ticket`'s endpoint shows that the endpoints share one
    /// budget, and the budget it was judged against. The window it speaks of,
    /// if the budget is shared, opened after the last pause in everyone's
    /// sending ([`run_start`]; at most [`LOOKBACK`] before) and at most as long
    /// before its own as a window is known to last (under a configured limit,
    /// [`LONGEST_WINDOW`]). Then:
    ///
    /// - with a known budget (its own, or the largest another endpoint, here or in
    ///   another process, measured; for a later 429 of a window, the one its
    ///   first was judged against): its own window had not used it, and the
    ///   others' successes in that window account for the rest;
    /// - with none: the others were served more in that window than it was (had
    ///   it a budget of its own, it would be smaller than what the others got,
    ///   and the admin endpoints are alike).
    fn shares_budget(&self, id: BucketId, ticket: &Ticket) -> (bool, Option<u32>) {
        let Some(bucket) = self.buckets.get(&id) else {
            return (false, None);
        };
        // A probe's or an opener's 429 may speak of the window before the one it
        // opened: the one whose 429 paused the bucket, or that it took for spent.
        // (With none before, or one left long ago, its own budget would have
        // been whole.)
        let opened_one = bucket.speaks_of_previous(ticket);
        let window = if opened_one {
            bucket.previous
        } else {
            bucket.window.filter(|w| w.holds(ticket))
        };
        let Some(window) = window else {
            return (false, None);
        };
        let at = ticket.sent_at;
        // How long the server's window may last: the longest measured; under a
        // configured limit (its period is the user's pacing, not the server's
        // window), the longest seen.
        let span = if bucket.learns() {
            self.buckets
                .values()
                .filter_map(|b| b.bounds.upper)
                .chain(self.elsewhere.values().filter_map(|e| e.upper))
                .max()
                .unwrap_or_default()
        } else {
            LONGEST_WINDOW
        };
        let floor = at.saturating_sub(LOOKBACK);
        // Other processes' successes on endpoints this one has not used are
        // known only by the windows they were served in: one that opened just
        // before this run means no pause in sending. Only a window of a known
        // length: one that never rolled may hold a whole job's successes.
        let mut everyone: Vec<Sent> = self
            .buckets
            .values()
            .flat_map(|b| b.recent.iter().map(|(t, _)| *t))
            .chain(
                self.elsewhere
                    .values()
                    .filter(|e| e.upper.is_some())
                    .filter_map(|e| e.window)
                    .filter(|w| w.served > 0)
                    .map(|w| w.opened),
            )
            .filter(|t| *t >= floor && *t <= at)
            .map(Sent::at)
            .collect();
        everyone.sort_unstable();
        let run = run_start(&everyone, floor, at)
            .or(everyone.first().map(|s| s.at))
            .unwrap_or(window.opened);
        // The window opened after the last pause in everyone's sending, and at
        // most `span` before its own: the later of the two (without a length
        // known, the pause alone).
        let since = if span.is_zero() {
            run.min(window.opened)
        } else {
            run.max(window.opened.saturating_sub(span))
        };
        let own = bucket.recent.iter().filter(|(t, _)| *t >= since).count();
        // In u64: the file's counts are anyone's (a usize may be 32 bits).
        let others: u64 = self
            .buckets
            .iter()
            .filter(|(other, _)| **other != id)
            .map(|(_, b)| b.recent.iter().filter(|(t, _)| *t >= since).count() as u64)
            .sum::<u64>()
            + self
                .elsewhere
                .values()
                .filter_map(|e| e.window)
                .filter(|w| w.opened >= since && w.opened <= at)
                .map(|w| u64::from(w.served))
                .sum::<u64>();
        let known = window
            .judged_with
            .or(bucket.capacity.confirmed)
            .or_else(|| {
                self.buckets
                    .iter()
                    .filter(|(other, _)| **other != id)
                    .filter_map(|(_, b)| b.capacity.confirmed)
                    .chain(
                        self.elsewhere
                            .values()
                            .filter_map(|e| e.confirmed.map(|(c, _)| c)),
                    )
                    .max()
            });
        // What its own window used before it: the requests sent before it (some
        // may be answered after the 429), or all of the window it speaks of.
        let used = if opened_one {
            window.sent.max(window.served)
        } else if window.opened == ticket.window {
            ticket.place.saturating_sub(1).max(window.served)
        } else {
            // The window was replaced since (merged): the place was counted in
            // another.
            window.served
        };
        tracing::debug!(
            bucket = id.name(),
            used,
            others,
            own,
            known,
            "pacing: is the budget shared?"
        );
        let shared = match known {
            Some(known) => {
                used < known && others > 0 && u64::from(used) + others >= u64::from(known)
            }
            None => others > own as u64,
        };
        (shared, known)
    }

    /// Switches to one budget for the whole key, merging what every endpoint knew
    /// (with `elsewhere_at`, the time, also what other processes recorded for
    /// endpoints this one has not used, in windows still open then);
    /// `found_by` is the endpoint whose 429 showed it, or `None` when another
    /// process found it (the store), for the log.
    pub(crate) fn share(&mut self, found_by: Option<&str>, elsewhere_at: Option<Time>) {
        let mut merged = Bucket::new(self.configured);
        let mut opened: Option<Time> = None;
        let mut last_success: Option<Time> = None;
        let (mut sent, mut served) = (0u32, 0u32);
        // Only the endpoints that measured a budget measured the window: the others'
        // 429s may have come from a window the rest spent.
        let measured = self
            .buckets
            .values()
            .any(|b| b.capacity.confirmed.is_some());
        let others: Vec<Bucket> = elsewhere_at
            .map(|now| {
                self.elsewhere
                    .values()
                    .map(|shared| Bucket::recorded(self.configured, *shared, now))
                    .collect()
            })
            .unwrap_or_default();
        let measured = measured || others.iter().any(|b| b.capacity.confirmed.is_some());
        for bucket in self.buckets.values().chain(&others) {
            if !measured || bucket.capacity.confirmed.is_some() {
                merged.bounds.merge(bucket.bounds);
                let (ours, theirs) = (&mut merged.capacity, bucket.capacity);
                ours.hold = ours.hold.max(theirs.hold);
                ours.beyond = ours.beyond.max(theirs.beyond);
                ours.ceiling = ours.ceiling.max(theirs.ceiling);
            }
            if let Some(window) = bucket.window {
                opened = Some(opened.map_or(window.opened, |o| o.min(window.opened)));
                last_success = last_success.max(window.last_success);
                sent = sent.saturating_add(window.sent);
                served = served.saturating_add(window.served);
            }
            merged.recent.extend(bucket.recent.iter().copied());
            merged.unanswered.extend(bucket.unanswered.iter().copied());
            if let Phase::Paused { until, probe } = bucket.phase {
                merged.phase = Phase::Paused { until, probe };
            }
        }
        if let Some(opened) = opened {
            merged.window = Some(Window {
                sent,
                served,
                unsynced_sent: sent,
                unsynced_served: served,
                last_success,
                ..Window::opened_at(opened)
            });
        }
        // (With no window, nothing was served: no budget is known.)
        if merged.learns() && merged.window.is_some() {
            merged.capacity.confirm(served);
            if let Some(upper) = merged.bounds.upper {
                merged.limit = Some(Limit {
                    burst: served.max(1),
                    period: upper,
                    origin: Origin::Learned,
                });
            }
        }
        match (self.configured, found_by) {
            (Some(limit), Some(endpoint)) => tracing::warn!(
                endpoint,
                burst = limit.burst,
                period_ms = millis(limit.period),
                "pacing: the admin endpoints share one budget (a 429 came before this \
                 endpoint used its own); the configured limit now applies to all of them \
                 together"
            ),
            (None, Some(endpoint)) => tracing::info!(
                endpoint,
                served_in_window = served,
                "pacing: the admin endpoints share one budget (a 429 came before this \
                 endpoint used its own); pacing them together"
            ),
            (Some(limit), None) => tracing::info!(
                burst = limit.burst,
                period_ms = millis(limit.period),
                "pacing: another process found that the admin endpoints share one budget \
                 (the pacing state file says so); the configured limit applies to all of \
                 them together"
            ),
            (None, None) => tracing::info!(
                "pacing: another process found that the admin endpoints share one budget \
                 (the pacing state file says so); pacing them together"
            ),
        }
        self.buckets.clear();
        self.buckets.insert(BucketId::Key, merged);
        self.scope = BudgetScope::Key;
    }

    /// Whether some bucket is throttled now (met a 429 and has not served since),
    /// and how long until the most delayed one may send again.
    pub(crate) fn waiting(&self, now: Time) -> (bool, Option<Duration>) {
        let mut throttled = false;
        let mut wait: Option<Duration> = None;
        for bucket in self.buckets.values() {
            throttled |= bucket.strikes > 0;
            let until = match bucket.phase {
                Phase::Paused { until, .. } => Some(until),
                _ => bucket
                    .window_end()
                    .filter(|_| bucket.window.is_some_and(|w| w.waited)),
            };
            if let Some(left) = until
                .map(|u| u.saturating_sub(now))
                .filter(|d| !d.is_zero())
            {
                wait = wait.max(Some(left));
            }
        }
        (throttled, wait)
    }
}

/// What one bucket tells the processes that share its budget (through the
/// store), and learns from them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Shared {
    /// The current window.
    pub(crate) window: Option<SharedWindow>,
    /// A pause: until when, whether a probe ends it, and when it was decided.
    pub(crate) paused_until: Option<(Time, bool, Time)>,
    pub(crate) lower: Duration,
    pub(crate) upper: Option<Duration>,
    /// The budget a window held at the last 429, and when it was measured.
    pub(crate) confirmed: Option<(u32, Time)>,
    /// With `confirmed`: the clean full windows to wait before climbing back
    /// toward `ceiling` ([`Capacity::hold`]; 0 or 1, at once).
    pub(crate) hold: u32,
    /// The largest budget a window was seen to hold ([`Capacity::ceiling`]).
    pub(crate) ceiling: Option<u32>,
    /// With `confirmed`: the clean full windows to wait before trying beyond
    /// `ceiling` ([`Capacity::beyond`]; at least 1).
    pub(crate) beyond: u32,
    /// The learned limit: burst and period (the burst no larger than the
    /// budget when that budget is undated: see [`Core::shared`]).
    pub(crate) learned: Option<(u32, Duration)>,
}

/// A window as the store records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SharedWindow {
    pub(crate) opened: Time,
    pub(crate) sent: u32,
    pub(crate) served: u32,
    /// When it last met a 429 that taught something.
    pub(crate) throttled_at: Option<Time>,
    /// When its latest success was sent: the others were sent no later.
    pub(crate) last_success: Option<Time>,
}

impl Core {
    /// What bucket `id` shares with the other processes, as of `now` (a request
    /// that probes alone counts as a short pause, so that they do not probe too).
    pub(crate) fn shared(&self, id: BucketId, now: Time) -> Option<Shared> {
        let bucket = self.buckets.get(&id)?;
        let paused_until = match bucket.phase {
            Phase::Paused { until, probe } => Some((until, probe, bucket.phase_at)),
            Phase::Gated {
                role: Role::Probe, ..
            } => Some((
                now + FIRST_PAUSE,
                true,
                // However long the probe is out, its pause stays within the
                // span other processes take one for.
                bucket
                    .phase_at
                    .max(now.saturating_sub(TAKEN_PAUSE - FIRST_PAUSE)),
            )),
            _ => None,
        };
        Some(Shared {
            window: bucket.window.map(|w| w.shared()),
            paused_until,
            lower: bucket.bounds.lower,
            upper: bucket.bounds.upper,
            confirmed: bucket.capacity.confirmed.zip(bucket.capacity.measured_at),
            hold: bucket.capacity.hold,
            ceiling: bucket.capacity.ceiling,
            beyond: bucket.capacity.beyond,
            learned: bucket
                .limit
                .filter(|l| l.origin == Origin::Learned)
                .map(|l| {
                    // A budget it did not measure goes without its date (see
                    // `merge`): then a larger burst it tries is not passed on
                    // as the budget.
                    let burst = match (bucket.capacity.confirmed, bucket.capacity.measured_at) {
                        (Some(known), None) => l.burst.min(known),
                        _ => l.burst,
                    };
                    (burst, l.period)
                }),
        })
    }

    /// Merges what other processes recorded for bucket `id` into it: their sends
    /// in the same window, their pauses (and the end of its own, when they were
    /// served since), bounds, newer measurements, and a learned limit where it
    /// has none. The rules are in the module's docs, under *Other processes*.
    pub(crate) fn merge(&mut self, id: BucketId, other: Shared, now: Time) {
        // How long a window lasts, if this budget does not know yet: as long as
        // the longest another one measured (the admin endpoints' are alike).
        let measured = self.buckets.values().filter_map(|b| b.bounds.upper).max();
        let bucket = self.bucket_mut(id);
        // The window: the same server window (it opened with the first request of
        // anyone), or a newer one that another process opened.
        if let Some(recorded) = other.window {
            let SharedWindow {
                opened,
                sent,
                served,
                throttled_at,
                ..
            } = recorded;
            let length = bucket
                .limit
                .map(|l| l.period)
                .or(bucket.bounds.upper)
                .or(measured);
            let theirs = Window::recorded(recorded, now);
            let (ours_spent, theirs_spent) = (
                bucket.window.is_some_and(|w| bucket.spent(&w)),
                bucket.spent(&theirs),
            );
            let lower = bucket.bounds.lower.max(other.lower);
            let rolled_from = bucket.previous.map(|w| w.opened);
            match bucket.window.as_mut() {
                // Theirs, unless it is known to have closed.
                None if now < closes(opened, length) => bucket.adopt(theirs, now),
                None => {}
                // A window opened before a 429 met in an older one never opened on
                // the server (a probe or an opener that met that 429): forget it.
                Some(ours)
                    if opened > ours.opened && ours.throttled_at.is_some_and(|at| at >= opened) => {
                }
                Some(ours)
                    if ours.opened > opened && throttled_at.is_some_and(|at| at >= ours.opened) =>
                {
                    bucket.adopt(theirs, now);
                }
                Some(ours) => {
                    let (earlier, later) = (ours.opened.min(opened), ours.opened.max(opened));
                    // A window that met a 429 is followed by another only once it
                    // refilled: a later one is the next. So is one this process
                    // rolled past itself (its opener went before the longest
                    // length known). So is one that served the whole learned
                    // budget, when the later one opened after the least the
                    // window lasts and served a request (another process's
                    // opener, answered; not a process that started in the same
                    // window before it knew, nor an opener still unanswered).
                    let (first, first_spent, later_served) = if ours.opened <= opened {
                        (ours.throttled_at, ours_spent, served)
                    } else {
                        (throttled_at, theirs_spent, ours.served)
                    };
                    let rolled_past =
                        ours.opened > opened && rolled_from.is_some_and(|from| from >= opened);
                    let next = (first.is_some() && later > earlier)
                        || rolled_past
                        || (first_spent && later > earlier + lower && later_served > 0);
                    let same = !next && later < closes(earlier, length);
                    if same {
                        // What the others were served since the last sync.
                        let grown =
                            served.saturating_sub(ours.served.saturating_sub(ours.unsynced_served));
                        ours.opened = earlier;
                        ours.sent = sent.saturating_add(ours.unsynced_sent);
                        ours.served = served.saturating_add(ours.unsynced_served);
                        ours.throttled_at = ours.throttled_at.max(throttled_at);
                        ours.last_success = ours.last_success.max(theirs.last_success);
                        bucket.seen_others(grown, theirs.successes_by(now));
                        bucket.count_late_successes();
                    } else if opened > ours.opened {
                        bucket.previous = bucket.window.take();
                        bucket.adopt(theirs, now);
                    }
                }
            }
        }
        // Another process's pause, decided after our phase last changed (never our
        // own, which the file still holds after we moved on); decided by now,
        // and taken for at most as long as such a pause may last.
        if let Some((until, probe, decided)) = other
            .paused_until
            .map(|(until, probe, decided)| {
                let decided = decided.min(now);
                let longest = if probe { TAKEN_PAUSE } else { LONGEST_RESET };
                (until.min(decided + longest), probe, decided)
            })
            .filter(|(until, _, decided)| *until > now && *decided > bucket.phase_at)
        {
            bucket.phase_at = decided;
            match bucket.phase {
                Phase::Open => bucket.phase = Phase::Paused { until, probe },
                Phase::Paused {
                    until: ours,
                    probe: ours_probe,
                } => {
                    bucket.phase = Phase::Paused {
                        until: ours.max(until),
                        probe: ours_probe || probe,
                    }
                }
                Phase::Gated { .. } => {}
            }
        }
        // Another process was served in a window opened after this bucket paused:
        // the window refilled, and the pause (which waited for that) is over;
        // unless the server asked for it.
        if let Phase::Paused { probe: true, .. } = bucket.phase
            && now >= bucket.told_until
            && bucket
                .window
                .is_some_and(|w| w.opened >= bucket.phase_at && w.served > w.unsynced_served)
        {
            bucket.refilled();
            bucket.phase_at = now;
        }
        bucket.bounds.merge(Bounds {
            lower: other.lower,
            upper: other.upper,
        });
        if bucket.learns()
            && let Some((confirmed, at)) = other.confirmed
            && bucket.capacity.measured_at.is_none_or(|ours| at > ours)
        {
            bucket.capacity.take_measured(confirmed, at, &other);
            if let Some((burst, period)) = other.learned {
                bucket.limit = Some(Limit {
                    burst,
                    period,
                    origin: Origin::Learned,
                });
            }
        }
        bucket.capacity.ceiling = bucket.capacity.ceiling.max(other.ceiling);
        // A limit another process learned, where this one has none yet (its own
        // measurement of the budget, if newer, still counts), with its burst
        // as the known budget when that process recorded none (it started the
        // endpoint from another's, or it is older).
        if bucket.learns()
            && bucket.limit.is_none()
            && let Some((burst, period)) = other.learned
            && period > bucket.bounds.lower
        {
            let burst = bucket.capacity.confirmed.unwrap_or(burst).max(1);
            bucket.limit = Some(Limit {
                burst,
                period,
                origin: Origin::Learned,
            });
            bucket.capacity.know_at_least(burst);
        }
    }

    /// Forgets the sends the store has now recorded.
    pub(crate) fn mark_synced(&mut self) {
        for bucket in self.buckets.values_mut() {
            if let Some(window) = bucket.window.as_mut() {
                window.unsynced_sent = 0;
                window.unsynced_served = 0;
            }
        }
    }
}

/// Where the window met by a 429 at `at` most likely opened, if later than
/// `opened`: at the first success (of `sent`, in ascending order: successes,
/// other processes' counted at the latest they may have been sent, and the
/// openings of other processes' windows of a known length; only one known to
/// be sent then starts a run) of a run of at least [`RUN_MIN`] after the last
/// pause in sending more than
/// twice as long as all that was sent since (and than [`EARLIEST_PROBE`]),
/// unless an equally long stretch before that pause served more (then the
/// budget could not be as small as the later run suggests).
///
/// Why the later choice: a window taken too short is corrected by the next
/// probe's 429, which raises the lower bound; one taken too long would never be.
/// Why a run and a clear pause: requests sent one after another are spaced by
/// their round trips, which vary; one slow answer before the last success is no
/// pause, and taking it for one would learn a budget of one request.
fn run_start(sent: &[Sent], opened: Time, at: Time) -> Option<Time> {
    let sent: Vec<Sent> = sent
        .iter()
        .copied()
        .filter(|s| s.at >= opened && s.at <= at)
        .collect();
    let mut since = 0u64;
    for k in (1..sent.len()).rev() {
        let (start, before) = (sent[k], sent[k - 1].at);
        since = since.saturating_add(start.count);
        let span = at - start.at;
        // Only a success known to be sent then starts a run: others' dated at
        // the latest may have been sent long before.
        if !start.exact || since < RUN_MIN || start.at - before <= (span * 2).max(EARLIEST_PROBE) {
            continue;
        }
        let earlier = sent[..k]
            .iter()
            .filter(|s| s.at + span >= before)
            .fold(0u64, |sum, s| sum.saturating_add(s.count));
        if since >= earlier {
            return Some(start.at);
        }
    }
    None
}

/// Successes sent at one time, as [`run_start`] weighs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Sent {
    /// When: exactly, or (not `exact`) at the latest.
    at: Time,
    count: u64,
    exact: bool,
}

impl Sent {
    /// One success sent at `at`, or another process's window opened then.
    fn at(at: Time) -> Self {
        Self {
            at,
            count: 1,
            exact: true,
        }
    }
}

/// When a window opened at `opened` has closed, if windows last `length`: with
/// none known, at most the longest the admin API keeps. (A window never rolls
/// before its length is known: an older one taken as open would add requests
/// served long ago to its budget, and the time since it opened to its length.)
fn closes(opened: Time, length: Option<Duration>) -> Time {
    opened + stretched(length.unwrap_or(LONGEST_WINDOW))
}

/// A period with the safety margin.
pub(crate) fn stretched(period: Duration) -> Duration {
    period.mul_f64(1.0 + SAFETY_MARGIN)
}

/// A duration in whole milliseconds, for log fields.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    use super::*;

    const GET: &str = "list";
    const POST: &str = "create";
    const DELETE: &str = "delete";
    const START: Duration = Duration::from_secs(1_000);
    const RTT: Duration = Duration::from_millis(20);

    const SERVED: Answer = Answer::Served { exhausted: None };
    const THROTTLED: Answer = Answer::Throttled { retry_after: None };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The server's throttle: fixed windows of `capacity` per `length`, per route
    /// or per key; an unseen client spends `spent` of each window as it opens; a
    /// `told` share of 429s (every n-th request) say when to retry.
    struct Server {
        capacity: u32,
        length: Duration,
        per_key: bool,
        spent: u32,
        /// Every n-th request is answered 429 with `retry-after-ms: 3` (0: none).
        noise_every: u32,
        requests: u32,
        windows: HashMap<&'static str, (Time, u32)>,
    }

    impl Server {
        fn new(capacity: u32, length: Duration, per_key: bool) -> Self {
            Self {
                capacity,
                length,
                per_key,
                spent: 0,
                noise_every: 0,
                requests: 0,
                windows: HashMap::new(),
            }
        }

        /// The answer to a request to `endpoint` arriving at `at`.
        fn answer(&mut self, endpoint: &'static str, at: Time) -> Answer {
            self.requests += 1;
            if self.noise_every > 0 && self.requests.is_multiple_of(self.noise_every) {
                return Answer::Throttled {
                    retry_after: Some(ms(3)),
                };
            }
            let key = if self.per_key { "*" } else { endpoint };
            let (length, spent, capacity) = (self.length, self.spent, self.capacity);
            let window = self.windows.entry(key).or_insert((at, spent.min(capacity)));
            if at >= window.0 + length {
                *window = (at, spent.min(capacity));
            }
            if window.1 < capacity {
                window.1 += 1;
                Answer::Served { exhausted: None }
            } else {
                Answer::Throttled { retry_after: None }
            }
        }
    }

    /// What a simulated job did.
    #[derive(Debug, Default)]
    struct Run {
        wall: Duration,
        sent: u32,
        /// 429s without a delay (the throttle's).
        throttled: u32,
        /// The send time of every served request.
        served_at: Vec<Time>,
    }

    impl Run {
        /// Served requests per `length` from the start, window by window.
        fn per_window(&self, start: Time, length: Duration) -> Vec<u32> {
            let mut counts = Vec::new();
            for at in &self.served_at {
                let i = ((*at - start).as_secs_f64() / length.as_secs_f64()) as usize;
                if counts.len() <= i {
                    counts.resize(i + 1, 0);
                }
                counts[i] += 1;
            }
            counts
        }
    }

    /// A client (a core) and its virtual clock.
    struct Sim {
        core: Core,
        now: Time,
        /// When set, the state of a generator that spreads each request's round
        /// trip over `[RTT / 2, 3 RTT / 2)`, as a real network does.
        jitter: Option<u64>,
    }

    impl Sim {
        fn new(configured: Option<(u32, Duration)>) -> Self {
            Self {
                core: Core::new(configured, BudgetScope::Route),
                now: START,
                jitter: None,
            }
        }

        /// The round trip of the next request.
        fn rtt(&mut self) -> Duration {
            let Some(state) = self.jitter.as_mut() else {
                return RTT;
            };
            // A linear congruential generator (Knuth's MMIX constants).
            *state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let unit = (*state >> 11) as f64 / (1u64 << 53) as f64;
            RTT.mul_f64(0.5 + unit)
        }

        /// Runs the `jobs` (endpoint, requests, concurrency) at once against
        /// `server` until every request was served; each takes [`RTT`].
        fn run(&mut self, server: &mut Server, jobs: &[(&'static str, u32, u32)]) -> Run {
            let started = self.now;
            let mut run = Run::default();
            let mut left: Vec<u32> = jobs.iter().map(|j| j.1).collect();
            let mut in_flight = vec![0u32; jobs.len()];
            let mut flight: BinaryHeap<Reverse<(Time, u64)>> = BinaryHeap::new();
            let mut tickets: HashMap<u64, (usize, Ticket, Answer)> = HashMap::new();
            let mut steps = 0;
            while left.iter().any(|l| *l > 0) {
                steps += 1;
                assert!(steps < 200_000, "no progress: {left:?} left");
                let mut wake: Option<Time> = None;
                for (j, &(endpoint, _, concurrency)) in jobs.iter().enumerate() {
                    while in_flight[j] < concurrency.min(left[j]) {
                        match self.core.acquire(endpoint, self.now) {
                            Decision::Send(ticket) => {
                                run.sent += 1;
                                in_flight[j] += 1;
                                let rtt = self.rtt();
                                let answer = server.answer(endpoint, self.now + rtt / 2);
                                flight.push(Reverse((self.now + rtt, ticket.id)));
                                tickets.insert(ticket.id, (j, ticket, answer));
                            }
                            Decision::Wait { until, .. } => {
                                if let Some(until) = until {
                                    wake = Some(wake.map_or(until, |w| w.min(until)));
                                }
                                break;
                            }
                        }
                    }
                }
                let answer_at = flight.peek().map(|Reverse((t, _))| *t);
                self.now = match (answer_at, wake) {
                    (Some(a), Some(w)) => a.min(w),
                    (Some(a), None) => a,
                    (None, Some(w)) => w,
                    (None, None) => panic!("stuck: nothing in flight, no wait end"),
                }
                .max(self.now);
                while let Some(Reverse((t, id))) = flight.peek().copied() {
                    if t > self.now {
                        break;
                    }
                    flight.pop();
                    let (j, ticket, answer) = tickets.remove(&id).unwrap();
                    in_flight[j] -= 1;
                    match answer {
                        Answer::Served { .. } => {
                            left[j] -= 1;
                            run.served_at.push(ticket.sent_at);
                        }
                        Answer::Throttled { retry_after: None } => run.throttled += 1,
                        _ => {}
                    }
                    self.core.report(&ticket, answer, self.now, 0.5);
                    if std::env::var_os("PACING_TRACE").is_some() {
                        let id = self.core.bucket_of(ticket.endpoint);
                        let b = &self.core.buckets[&id];
                        eprintln!(
                            "{:>8.3} {:7} {:?} {:?} limit={:?} conf={:?} lower={:?} upper={:?} {:?} window={:?}",
                            (ticket.sent_at - START).as_secs_f64(),
                            ticket.endpoint,
                            answer,
                            ticket.role,
                            b.limit.map(|l| (l.burst, l.period.as_millis())),
                            b.capacity.confirmed,
                            b.bounds.lower.as_millis(),
                            b.bounds.upper.map(|u| u.as_millis()),
                            b.phase,
                            b.window
                                .map(|w| ((w.opened - START).as_millis(), w.sent, w.served)),
                        );
                    }
                }
            }
            run.wall = self.now - started;
            run
        }

        /// Runs the `jobs` one after another (each alone, as a job's steps go),
        /// with what they did added up.
        fn run_in_turn(&mut self, server: &mut Server, jobs: &[(&'static str, u32, u32)]) -> Run {
            let mut total = Run::default();
            for job in jobs {
                let run = self.run(server, std::slice::from_ref(job));
                total.wall += run.wall;
                total.sent += run.sent;
                total.throttled += run.throttled;
                total.served_at.extend(run.served_at);
            }
            total
        }
    }

    /// The fewest windows `requests` need at `capacity` per window.
    fn minimum(requests: u32, capacity: u32, length: Duration) -> Duration {
        length * (requests.div_ceil(capacity) - 1)
    }

    #[test]
    fn a_configured_limit_spaces_requests_and_meets_no_429() {
        let mut sim = Sim::new(Some((8, Duration::from_secs(3))));
        let mut server = Server::new(8, Duration::from_secs(3), false);
        let run = sim.run(&mut server, &[(GET, 80, 4)]);
        assert_eq!(run.throttled, 0, "{run:?}");
        // 10 windows of 8: the last opens 9 stretched periods after the first.
        let expected = stretched(Duration::from_secs(3)) * 9;
        assert!(
            run.wall >= expected && run.wall < expected + ms(100),
            "{:?}",
            run.wall
        );
    }

    #[test]
    fn an_unconfigured_pacer_learns_the_window_and_wastes_little() {
        let mut sim = Sim::new(None);
        let mut server = Server::new(8, Duration::from_secs(3), false);
        let run = sim.run(&mut server, &[(DELETE, 200, 4)]);
        let minimum = minimum(200, 8, Duration::from_secs(3));
        assert!(
            run.wall < minimum.mul_f64(1.2),
            "{:?} against {minimum:?}",
            run.wall
        );
        assert!(
            f64::from(run.throttled) < 0.1 * f64::from(run.sent),
            "{run:?}"
        );
        let limit = sim.core.buckets[&BucketId::Endpoint(DELETE)].limit.unwrap();
        assert_eq!(limit.burst, 8);
        assert!(
            limit.period >= ms(2_900) && limit.period < ms(3_400),
            "{limit:?}"
        );
    }

    /// Pages read one after another, each round trip a little longer or shorter
    /// than the one before: the budget is the window's, not the few requests
    /// after a slower answer.
    #[test]
    fn requests_one_after_another_learn_the_whole_budget() {
        for seed in 1..=20 {
            let mut sim = Sim::new(None);
            sim.jitter = Some(seed);
            let mut server = Server::new(8, Duration::from_secs(3), false);
            let run = sim.run(&mut server, &[(GET, 80, 1)]);
            let capacity = sim.core.buckets[&BucketId::Endpoint(GET)].capacity;
            assert_eq!(capacity.confirmed, Some(8), "seed {seed}: {capacity:?}");
            let minimum = minimum(80, 8, Duration::from_secs(3));
            assert!(
                run.wall < minimum.mul_f64(1.2),
                "seed {seed}: {:?} against {minimum:?}: {run:?}",
                run.wall
            );
        }
    }

    /// The throttled job's shape against one budget per route: pages one after
    /// another, then grants (4 at a time), then revokes. A probe or an opener
    /// that meets a 429 while the other endpoints were served is no evidence of
    /// a shared budget: the window it speaks of is its own full one.
    #[test]
    fn routes_used_one_after_another_keep_their_own_budgets() {
        let length = Duration::from_secs(3);
        for seed in 1..=10 {
            let mut sim = Sim::new(None);
            sim.jitter = Some(seed);
            let mut server = Server::new(8, length, false);
            let jobs = [(GET, 31, 1), (POST, 20, 4), (DELETE, 30, 1)];
            let wall = sim.run_in_turn(&mut server, &jobs).wall;
            let minimum_total: Duration = jobs
                .iter()
                .map(|&(_, requests, _)| minimum(requests, 8, length))
                .sum();
            assert_eq!(sim.core.scope, BudgetScope::Route, "seed {seed}");
            assert!(
                wall < minimum_total.mul_f64(1.2),
                "seed {seed}: {wall:?} against {minimum_total:?}"
            );
        }
    }

    /// After the window's length was first found (up to 1.5x too long), the
    /// windows that follow a spent one are tested halfway between the bounds:
    /// within five windows, the job is paced within 7 % of the real length.
    #[test]
    fn spent_windows_narrow_the_window_length_within_a_few_windows() {
        let length = Duration::from_secs(3);
        let mut sim = Sim::new(None);
        sim.jitter = Some(7);
        let mut server = Server::new(8, length, false);
        sim.run(&mut server, &[(DELETE, 40, 4)]);
        let bucket = &sim.core.buckets[&BucketId::Endpoint(DELETE)];
        let limit = bucket.limit.expect("learned");
        assert!(
            limit.period >= length && limit.period < length.mul_f64(1.07),
            "{limit:?} {:?}",
            bucket.bounds
        );
    }

    /// A probe's 429 speaks of its own endpoint's full window, not of the
    /// others' successes: no evidence of a shared budget.
    #[test]
    fn a_probe_429_after_a_full_window_is_no_evidence_of_sharing() {
        let mut core = Core::new(None, BudgetScope::Route);
        let send = |core: &mut Core, endpoint, at: Time, answer| {
            let Decision::Send(ticket) = core.acquire(endpoint, at) else {
                panic!("{endpoint} waits at {at:?}");
            };
            core.report(&ticket, answer, at + RTT, 0.5)
        };
        for i in 0..8 {
            send(&mut core, POST, START + ms(10 * i), SERVED);
        }
        for i in 0..8 {
            send(&mut core, DELETE, START + ms(100 + 10 * i), SERVED);
        }
        let pause = send(&mut core, DELETE, START + ms(200), THROTTLED);
        assert!(pause > Duration::ZERO);
        // The probe, when the pause ends: the window has not refilled yet.
        send(&mut core, DELETE, START + ms(200) + RTT + pause, THROTTLED);
        assert_eq!(core.scope, BudgetScope::Route);
    }

    /// Likewise an opener's: one endpoint learns the limit (its window's length
    /// still uncertain), the next starts from it, and its second window's opener,
    /// testing halfway between the bounds, meets the 429 of its own full first
    /// window, while the first endpoint's successes lie within the longest
    /// length measured.
    #[test]
    fn an_opener_429_after_a_full_window_is_no_evidence_of_sharing() {
        let length = Duration::from_secs(3);
        let mut sim = Sim::new(None);
        let mut server = Server::new(8, length, false);
        sim.run(&mut server, &[(GET, 16, 1)]);
        let bounds = sim.core.buckets[&BucketId::Endpoint(GET)].bounds;
        let halfway = bounds.halfway().expect("the length is still uncertain");
        assert!(stretched(halfway) < length, "{bounds:?}");
        let run = sim.run(&mut server, &[(POST, 16, 4)]);
        assert!(run.throttled > 0, "the opener went halfway: {run:?}");
        assert_eq!(sim.core.scope, BudgetScope::Route);
    }

    /// An endpoint that sat idle: its opener's 429 speaks of a window somebody
    /// else opened, not of its own, left long ago. Here another endpoint spent
    /// the key's budget meanwhile: the sharing is found, and the window's length
    /// is not taken from the idle spell (it was 30 s: a lower bound of 30 s).
    #[test]
    fn an_opener_429_after_an_idle_spell_speaks_of_a_new_window() {
        let length = Duration::from_secs(3);
        let mut sim = Sim::new(None);
        let mut server = Server::new(8, length, true);
        sim.run(&mut server, &[(DELETE, 24, 4)]);
        sim.now += Duration::from_secs(30);
        sim.run(&mut server, &[(GET, 8, 1)]);
        sim.run(&mut server, &[(DELETE, 8, 4)]);
        assert_eq!(sim.core.scope, BudgetScope::Key);
        let bounds = sim.core.buckets[&BucketId::Key].bounds;
        assert!(bounds.lower < length, "{bounds:?}");
    }

    /// Another process's opener, sent early (halfway between the bounds) and
    /// not answered yet, may have met the old window still open: its window is
    /// no new one until it serves a request, and this process does not send a
    /// burst into it.
    #[test]
    fn an_unanswered_opener_elsewhere_opens_no_window_here() {
        let length = Duration::from_millis(2_300);
        let mut sim = Sim::new(None);
        let mut server = Server::new(8, length, false);
        sim.run(&mut server, &[(DELETE, 16, 1)]);
        let bucket = &sim.core.buckets[&BucketId::Endpoint(DELETE)];
        let (Some(window), Some(halfway)) = (bucket.window, bucket.bounds.halfway()) else {
            panic!("{bucket:?}");
        };
        assert!(
            window.served >= 8 && bucket.bounds.lower < halfway,
            "{bucket:?}"
        );
        let theirs = window.opened + halfway;
        let shared = Shared {
            window: Some(SharedWindow {
                opened: theirs,
                sent: 1,
                served: 0,
                throttled_at: None,
                last_success: None,
            }),
            ..Shared::default()
        };
        let now = theirs + ms(5);
        sim.core.merge(BucketId::Endpoint(DELETE), shared, now);
        let sent = (0..4)
            .filter(|_| matches!(sim.core.acquire(DELETE, now), Decision::Send(_)))
            .count();
        assert!(sent <= 1, "{sent} went: {:?}", sim.core.buckets);
    }

    /// A pause the server asked for is honoured as said: another process
    /// served meanwhile, in a window it opened, does not end it (as it ends a
    /// pause after a 429 without a delay).
    #[test]
    fn a_pause_the_server_asked_for_outlasts_another_process_served() {
        let mut core = Core::new(Some((8, Duration::from_secs(1))), BudgetScope::Route);
        let Decision::Send(first) = core.acquire(DELETE, START) else {
            panic!("the first request waits");
        };
        core.report(&first, THROTTLED, START + RTT, 0.5);
        let mut now = START + RTT;
        let probe = loop {
            match core.acquire(DELETE, now) {
                Decision::Send(probe) => break probe,
                Decision::Wait {
                    until: Some(until), ..
                } => now = until,
                other => panic!("{other:?}"),
            }
        };
        let told = Answer::Throttled {
            retry_after: Some(Duration::from_secs(5)),
        };
        core.report(&probe, told, now + RTT, 0.5);
        let theirs = now + Duration::from_secs(2);
        let shared = Shared {
            window: Some(SharedWindow {
                opened: theirs,
                sent: 1,
                served: 1,
                throttled_at: None,
                last_success: Some(theirs),
            }),
            ..Shared::default()
        };
        core.merge(BucketId::Endpoint(DELETE), shared, theirs + RTT);
        match core.acquire(DELETE, theirs + RTT) {
            Decision::Wait {
                until: Some(until),
                reason: WaitReason::Pause,
            } => assert!(until >= now + RTT + Duration::from_secs(5), "{until:?}"),
            other => panic!("the pause the server asked for ended: {other:?}"),
        }
    }

    /// Requests of one window answered after its first 429 (in flight then, or
    /// another process's, merged from the store) count in its budget.
    #[test]
    fn successes_answered_after_the_first_429_count_in_the_budget() {
        let mut core = Core::new(None, BudgetScope::Route);
        let now = START;
        let tickets: Vec<Ticket> = (0..12)
            .map(|_| match core.acquire(POST, now) {
                Decision::Send(ticket) => ticket,
                other => panic!("{other:?}"),
            })
            .collect();
        let at = now + RTT;
        for ticket in &tickets[..4] {
            core.report(ticket, SERVED, at, 0.5);
        }
        core.report(&tickets[8], THROTTLED, at, 0.5);
        let bucket = &core.buckets[&BucketId::Endpoint(POST)];
        assert_eq!(bucket.capacity.confirmed, Some(4));
        for ticket in &tickets[4..8] {
            core.report(ticket, SERVED, at + ms(1), 0.5);
        }
        for ticket in &tickets[9..] {
            core.report(ticket, THROTTLED, at + ms(1), 0.5);
        }
        let bucket = &core.buckets[&BucketId::Endpoint(POST)];
        assert_eq!(bucket.capacity.confirmed, Some(8));
    }

    /// Sixteen requests at once against an unknown limit: the first window
    /// costs one 429 per request beyond the budget, the rest little.
    #[test]
    fn many_at_once_learn_the_limit_in_one_round() {
        let mut sim = Sim::new(None);
        let mut server = Server::new(8, Duration::from_secs(1), false);
        let run = sim.run(&mut server, &[(POST, 100, 16)]);
        assert!(run.throttled <= 8 + 12, "{run:?}");
    }

    /// A budget that others spend is followed down within one window, and
    /// regained within a few once they stop.
    #[test]
    fn a_budget_others_spend_is_followed_down_and_regained() {
        let length = Duration::from_secs(3);
        let mut sim = Sim::new(None);
        let mut server = Server::new(8, length, false);
        sim.run(&mut server, &[(DELETE, 40, 4)]);
        // An unseen client now spends 5 of every window.
        server.spent = 5;
        let start = sim.now;
        let run = sim.run(&mut server, &[(DELETE, 60, 4)]);
        let windows = run.per_window(start, stretched(length));
        // From the second window on, the pacer takes the 3 left, no more.
        assert!(windows.iter().skip(1).all(|&n| n <= 3 + 1), "{windows:?}");
        assert!(
            f64::from(run.throttled) < 0.25 * f64::from(run.sent),
            "{run:?}"
        );
        // The client stops: within 5 windows the pacer sends 8 again.
        regains_the_whole_budget(&mut sim, &mut server, 5);
    }

    /// Lets the unseen client of `server` stop spending, and checks that from
    /// window `within` on (of a job long after) the pacer sends the whole
    /// budget again (7 or more of 8 a window, as the windows are cut).
    fn regains_the_whole_budget(sim: &mut Sim, server: &mut Server, within: usize) {
        server.spent = 0;
        let start = sim.now;
        let run = sim.run(server, &[(DELETE, 160, 4)]);
        let windows = run.per_window(start, stretched(server.length));
        assert!(windows.len() > within + 1, "{windows:?}");
        assert!(
            windows[within..windows.len() - 1].iter().all(|&n| n >= 7),
            "{windows:?}"
        );
    }

    /// A budget others spent from the start (the largest a window was seen to
    /// hold is theirs to share) is still regained once they stop: a try beyond
    /// it waits for [`BEYOND_HOLD_MAX`] clean windows at most, and each try
    /// that goes through is followed by the next at once.
    #[test]
    fn a_budget_others_spent_from_the_start_is_found_when_they_stop() {
        let length = Duration::from_secs(3);
        let mut sim = Sim::new(None);
        let mut server = Server::new(8, length, false);
        server.spent = 5;
        sim.run(&mut server, &[(DELETE, 60, 4)]);
        let capacity = sim.core.buckets[&BucketId::Endpoint(DELETE)].capacity;
        assert_eq!(capacity.ceiling, Some(3), "{capacity:?}");
        regains_the_whole_budget(&mut sim, &mut server, BEYOND_HOLD_MAX as usize + 4);
    }

    /// A job alone, once it knows the budget, tries beyond it rarely: after
    /// [`BEYOND_HOLD`] clean windows, then after twice as many, up to
    /// [`BEYOND_HOLD_MAX`]. Each try costs a 429 (its requests beyond the
    /// budget go one at a time): after the first, one in 9 windows, 4 or 5 in
    /// 40, not one every few.
    #[test]
    fn a_job_alone_seldom_tries_beyond_the_budget_it_found() {
        let length = Duration::from_secs(3);
        let mut sim = Sim::new(None);
        let mut server = Server::new(8, length, false);
        sim.run(&mut server, &[(DELETE, 80, 4)]);
        let run = sim.run(&mut server, &[(DELETE, 320, 4)]);
        assert!(run.throttled <= 5, "{run:?}");
        let minimum = minimum(320, 8, length);
        assert!(
            run.wall < minimum.mul_f64(1.1),
            "{:?} against {minimum:?}",
            run.wall
        );
    }

    /// At the real admin API's window (8 requests a minute), the first 429's
    /// window is found by the probe that tests [`LONGEST_WINDOW`] (before any
    /// longer length), no more than 2 % past its end, after 13 refused probes
    /// at most (the search starts at 0.5 s: windows of any length are found).
    #[test]
    fn the_real_api_window_is_found_without_overshooting_it() {
        let length = Duration::from_secs(60);
        let (run, found) = first_window_found(length);
        assert!(run.throttled <= 1 + 13, "{run:?}");
        assert!(
            found >= length && found <= stretched(length) + ms(100),
            "{found:?}: {run:?}"
        );
    }

    /// A window longer than any seen (90 s) is still found by growing steps:
    /// the probe refused at [`LONGEST_WINDOW`] speaks of the window that met
    /// the first 429, still closed, and the next goes 1.5 times as far. (It
    /// was taken to bound nothing: every further probe went about 0.5 s after
    /// the last, 75 429s in all, against 16.)
    #[test]
    fn a_window_longer_than_any_seen_is_found_without_a_flood_of_probes() {
        let length = Duration::from_secs(90);
        let (run, found) = first_window_found(length);
        assert!(run.throttled <= 1 + 15, "{run:?}");
        assert!(found >= length && found <= length.mul_f64(1.5), "{found:?}");
    }

    /// Sends 9 requests one at a time to a fresh pacer against 8 per `length`:
    /// the ninth meets the first 429, and the probes search for the window's
    /// end. Returns the run and when, after the start, the ninth was served.
    fn first_window_found(length: Duration) -> (Run, Duration) {
        let mut sim = Sim::new(None);
        let mut server = Server::new(8, length, false);
        let run = sim.run(&mut server, &[(GET, 9, 1)]);
        let found = run.served_at.last().copied().expect("served") - START;
        (run, found)
    }

    /// 429s that say when to retry are honoured and teach nothing: with one
    /// request in ten answered so, a job takes hardly longer.
    #[test]
    fn told_429s_are_honoured_and_no_evidence() {
        let mut server = Server::new(u32::MAX, Duration::from_secs(3), false);
        let clean = Sim::new(None).run(&mut server, &[(POST, 600, 4)]);
        let mut noisy_server = Server::new(u32::MAX, Duration::from_secs(3), false);
        noisy_server.noise_every = 10;
        let mut sim = Sim::new(None);
        let noisy = sim.run(&mut noisy_server, &[(POST, 600, 4)]);
        assert!(
            noisy.wall < clean.wall.mul_f64(1.5),
            "{:?} against {:?}",
            noisy.wall,
            clean.wall
        );
        assert_eq!(sim.core.buckets[&BucketId::Endpoint(POST)].limit, None);
    }

    /// A delay longer than any admin window (a proxy's, a date years ahead)
    /// holds the budget for [`LONGEST_RESET`], not for as long as it says.
    #[test]
    fn a_told_delay_holds_the_budget_for_minutes_at_most() {
        let mut core = Core::new(None, BudgetScope::Route);
        let Decision::Send(ticket) = core.acquire(POST, START) else {
            panic!("the first request goes");
        };
        let years = Duration::from_secs(1_000_000_000);
        let told = Answer::Throttled {
            retry_after: Some(years),
        };
        let now = START + ms(40);
        assert_eq!(core.report(&ticket, told, now, 0.5), LONGEST_RESET);
        assert_eq!(
            core.acquire(POST, now),
            Decision::Wait {
                until: Some(now + LONGEST_RESET),
                reason: WaitReason::Pause
            }
        );
    }

    /// The endpoints of a key that share one budget are found out and paced
    /// together, within a bound: once the scope is known, no window holds more
    /// than the budget, and the job stays within 1.2x of the minimum.
    #[test]
    fn a_shared_budget_is_found_and_paced_together() {
        let length = Duration::from_secs(3);
        let mut sim = Sim::new(None);
        let mut server = Server::new(8, length, true);
        // One endpoint alone first: its budget is measured (8).
        sim.run(&mut server, &[(DELETE, 24, 4)]);
        let start = sim.now;
        let run = sim.run(&mut server, &[(GET, 40, 2), (DELETE, 40, 2)]);
        assert_eq!(sim.core.scope, BudgetScope::Key);
        let minimum = minimum(80, 8, length);
        assert!(
            run.wall < minimum.mul_f64(1.2),
            "{:?} against {minimum:?}",
            run.wall
        );
        let windows = run.per_window(start, stretched(length));
        assert!(windows.iter().all(|&n| n <= 8), "{windows:?}");
        assert!(
            f64::from(run.throttled) < 0.1 * f64::from(run.sent),
            "{run:?}"
        );
    }

    /// The shape of `apply --prune` in one process: reads, then grants, then
    /// revokes, each endpoint after the other, against one budget for the key.
    #[test]
    fn endpoints_used_one_after_another_find_the_budget_they_share() {
        let length = Duration::from_secs(3);
        let mut sim = Sim::new(None);
        let mut server = Server::new(8, length, true);
        let total = sim.run_in_turn(&mut server, &[(GET, 5, 1), (POST, 2, 1), (DELETE, 60, 4)]);
        let wall = total.wall;
        let minimum = minimum(67, 8, length);
        assert_eq!(sim.core.scope, BudgetScope::Key);
        assert!(
            wall < minimum.mul_f64(1.2),
            "{wall:?} against {minimum:?}: {total:?}"
        );
        // Discovering a window nobody knew costs the requests in flight at the
        // first 429 (3) and the probes that find its length (4 here); little after.
        assert!(
            f64::from(total.throttled) < 0.15 * f64::from(total.sent),
            "{total:?}"
        );
    }

    /// The same shape under a configured limit at the server's own rate (what
    /// `OPENAI_ADMIN_MAX_RPM=160` says of 8 per 3 s): one 429 shows the budget
    /// shared, and the configured rate then holds for the endpoints together,
    /// counting what each sent before: the window that 429 spoke of is waited
    /// out, not probed.
    #[test]
    fn a_configured_limit_found_shared_costs_one_429() {
        let length = Duration::from_secs(3);
        let mut sim = Sim::new(Some((1, length / 8)));
        let mut server = Server::new(8, length, true);
        let total = sim.run_in_turn(&mut server, &[(GET, 5, 1), (POST, 2, 1), (DELETE, 60, 4)]);
        assert_eq!(sim.core.scope, BudgetScope::Key);
        assert_eq!(total.throttled, 1, "{total:?}");
    }

    /// Under a configured limit found shared, what the endpoints were served
    /// together beyond its rate is owed after a 429, but only as far back as a
    /// window lasts, and no pause lasts more than a minute.
    #[test]
    fn a_configured_rate_owed_pauses_at_most_a_minute() {
        // `OPENAI_ADMIN_MAX_RPM=8`.
        let period = Duration::from_millis(7_500);
        let mut core = Core::new(Some((1, period)), BudgetScope::Key);
        let now = START + Duration::from_secs(300);
        // Three endpoints, each served at the configured rate for 4 minutes.
        let bucket = core.bucket_mut(BucketId::Key);
        for i in 0..32 {
            for endpoint in [GET, POST, DELETE] {
                let at = now - Duration::from_secs(240) + period * i;
                bucket.recent.push_back((at, endpoint));
            }
        }
        let Decision::Send(ticket) = core.acquire(DELETE, now) else {
            panic!("the first request of the key waited");
        };
        let pause = core.report(&ticket, THROTTLED, now + RTT, 0.5);
        assert!(pause > period * 2 && pause <= LONGEST_PAUSE, "{pause:?}");
    }

    /// A configured limit that an unseen client overruns (it spends half of each
    /// window): the probe after a 429 waits out the configured period, and
    /// longer at each 429 of the round, instead of testing inside it.
    #[test]
    fn a_configured_limit_overrun_by_others_probes_no_sooner_than_its_period() {
        let length = Duration::from_secs(3);
        let mut sim = Sim::new(Some((1, length / 8)));
        let mut server = Server::new(8, length, false);
        server.spent = 4;
        let run = sim.run(&mut server, &[(DELETE, 40, 4)]);
        // The first round finds how long the window outlasts the period (a 429
        // and the probes that grow from it: 4 here); after that, one 429 per
        // window of the server's is the price of a limit set too high.
        let windows = (run.wall.as_secs_f64() / length.as_secs_f64()).ceil() as u32;
        assert!(run.throttled <= windows + 4, "{windows} windows: {run:?}");
    }

    /// An endpoint that starts from another's learned limit starts from the
    /// budget that one confirmed, not a larger burst it was trying, and from
    /// how often trying more failed there: with one budget per route of the
    /// same size, it does not spend 429s to learn that again at once.
    #[test]
    fn an_alike_endpoint_starts_from_the_budget_and_the_hold_found() {
        let mut sim = Sim::new(None);
        let mut server = Server::new(8, Duration::from_secs(3), false);
        // Long enough to find the budget, try more once and fail.
        let first = sim.run(&mut server, &[(GET, 64, 4)]);
        let get = sim.core.bucket_mut(BucketId::Endpoint(GET));
        assert!(get.capacity.beyond > BEYOND_HOLD, "{first:?}");
        // Caught while trying more again.
        if let Some(limit) = get.limit.as_mut() {
            limit.burst = 12;
        }
        let found = get.capacity;
        let Decision::Send(_) = sim.core.acquire(POST, sim.now) else {
            panic!("the new endpoint waited");
        };
        let post = &sim.core.buckets[&BucketId::Endpoint(POST)];
        assert_eq!(post.limit.map(|l| l.burst), found.confirmed, "{post:?}");
        assert_eq!(
            (
                post.capacity.hold,
                post.capacity.beyond,
                post.capacity.ceiling
            ),
            (found.hold, found.beyond, found.ceiling),
            "{post:?}"
        );
    }

    /// An endpoint that starts from the others' limit starts from the bounds
    /// of the length that the newest measurement found, raised by the lower
    /// bounds the others found within them: one endpoint measured the budget,
    /// the next tested the length halfway between the bounds (its 429 raised
    /// the lower one), and a third does not spend a 429 to test that again. An
    /// endpoint whose lower bound is past its period (a 429 past its upper
    /// bound dropped it), though it measured a budget last, is not started
    /// from, nor is its lower bound taken: either would leave the period
    /// shorter than the lower bound.
    #[test]
    fn an_alike_endpoint_starts_from_the_bounds_the_others_found() {
        let mut core = learned_and_spent(8);
        core.bucket_mut(BucketId::Endpoint(POST)).bounds.lower = ms(2_800);
        let contradicted = core.bucket_mut(BucketId::Endpoint("retrieve"));
        contradicted.bounds = Bounds {
            lower: ms(3_500),
            upper: None,
        };
        contradicted.capacity.measured_at = Some(START + Duration::from_secs(1));
        let Decision::Send(_) = core.acquire(DELETE, START + Duration::from_secs(10)) else {
            panic!("the new endpoint waited");
        };
        let delete = &core.buckets[&BucketId::Endpoint(DELETE)];
        let length = Duration::from_secs(3);
        assert_eq!(
            delete.bounds,
            Bounds {
                lower: ms(2_800),
                upper: Some(length),
            }
        );
        assert_eq!(delete.limit.map(|l| l.period), Some(length));
    }

    /// A new endpoint started from a limit another process recorded without a
    /// budget (it had started that endpoint from another's) takes the burst
    /// for the known budget, so that a try of a larger burst goes beyond it
    /// one request at a time; undated, so that a measurement replaces it.
    /// And a budget found shared before any window was seen knows no budget.
    #[test]
    fn a_limit_taken_without_a_budget_is_the_known_budget() {
        let mut core = Core::new(None, BudgetScope::Route);
        let length = Duration::from_secs(3);
        core.elsewhere.insert(
            POST.to_owned(),
            Shared {
                lower: Duration::from_secs(2),
                upper: Some(length),
                hold: 1,
                beyond: BEYOND_HOLD,
                learned: Some((8, length)),
                ..Shared::default()
            },
        );
        let Decision::Send(_) = core.acquire(DELETE, START) else {
            panic!("the new endpoint waited");
        };
        let capacity = core.buckets[&BucketId::Endpoint(DELETE)].capacity;
        assert_eq!((capacity.confirmed, capacity.measured_at), (Some(8), None));
        let mut fresh = Core::new(None, BudgetScope::Route);
        fresh.share(None, None);
        assert_eq!(fresh.buckets[&BucketId::Key].capacity.confirmed, None);
    }

    /// A core whose [`GET`] bucket learned a budget of 8 per 3 s (the length
    /// known between 2 s and 3 s), and whose window at [`START`] served
    /// `served` of it.
    fn learned_and_spent(served: u32) -> Core {
        let mut core = Core::new(None, BudgetScope::Route);
        let bucket = core.bucket_mut(BucketId::Endpoint(GET));
        bucket.limit = Some(Limit {
            burst: 8,
            period: Duration::from_secs(3),
            origin: Origin::Learned,
        });
        bucket.capacity.confirm(8);
        bucket.capacity.measured_at = Some(START);
        bucket.bounds = Bounds {
            lower: Duration::from_secs(2),
            upper: Some(Duration::from_secs(3)),
        };
        // The window's opener, then the rest of the budget.
        let send = |core: &mut Core, at: Time| match core.acquire(GET, at) {
            Decision::Send(ticket) => core.report(&ticket, SERVED, at + RTT, 0.5),
            other => panic!("{other:?}"),
        };
        send(&mut core, START);
        for _ in 1..served {
            send(&mut core, START + RTT);
        }
        core
    }

    /// Notes that a window of [`GET`]'s bucket once held `budget` (others spent
    /// part of it since): a clean full window climbs back toward it.
    fn once_held(core: &mut Core, budget: u32) {
        core.bucket_mut(BucketId::Endpoint(GET)).capacity.ceiling = Some(budget);
    }

    /// Opens a window of `endpoint` at `at` with its opener (served), then
    /// sends `more` requests at once; returns their tickets, unanswered.
    fn open_window(core: &mut Core, endpoint: &'static str, at: Time, more: usize) -> Vec<Ticket> {
        let Decision::Send(opener) = core.acquire(endpoint, at) else {
            panic!("the opener waited at {at:?}: {:?}", core.buckets);
        };
        core.report(&opener, SERVED, at + RTT, 0.5);
        (0..more)
            .map(|_| match core.acquire(endpoint, at + RTT) {
                Decision::Send(ticket) => ticket,
                other => panic!("{other:?}: {:?}", core.buckets),
            })
            .collect()
    }

    /// An opener that tests the window's length halfway between the bounds, and
    /// meets a 429, is no failed try of a larger burst (the window it speaks of
    /// was filled before the try began): the try its roll began goes on.
    #[test]
    fn an_opener_testing_the_length_is_no_failed_try() {
        let mut core = learned_and_spent(8);
        once_held(&mut core, 12);
        // A ninth waits for the next window: the whole budget was used.
        let Decision::Wait {
            until: Some(until), ..
        } = core.acquire(GET, START + RTT * 2)
        else {
            panic!("the ninth went in a spent window");
        };
        let Decision::Send(opener) = core.acquire(GET, until) else {
            panic!("no opener at {until:?}");
        };
        assert_eq!(opener.role, Some(Role::Opener));
        core.report(&opener, THROTTLED, until + RTT, 0.5);
        let bucket = &core.buckets[&BucketId::Endpoint(GET)];
        assert_eq!(
            (bucket.capacity.confirmed, bucket.capacity.hold),
            (Some(8), 1)
        );
        assert!(bucket.limit.is_some_and(|l| l.burst > 8), "{bucket:?}");
    }

    /// A request beyond the known budget (a try of a larger burst) goes alone
    /// only once every request sent before it in its window was answered or
    /// dropped: sent while they are out, it may reach the server before them
    /// (the network reorders requests) and be served in the place of one, so
    /// that its success says nothing and the next request goes beyond too. (Seen
    /// in `apply` against one budget for the key: 10 sent in a window of 8, two
    /// refused.) It waits for the answers no later than the window's end.
    #[test]
    fn a_request_beyond_the_known_budget_waits_for_the_answers_before_it() {
        let mut core = learned_and_spent(8);
        if let Some(limit) = core.bucket_mut(BucketId::Endpoint(GET)).limit.as_mut() {
            limit.burst = 12;
        }
        let next = START + Duration::from_secs(4);
        let mut out = open_window(&mut core, GET, next, 7);
        let end = core.buckets[&BucketId::Endpoint(GET)].window_end();
        let waits = |decision: Decision| {
            assert_eq!(
                decision,
                Decision::Wait {
                    until: end,
                    reason: WaitReason::Answers
                }
            );
        };
        waits(core.acquire(GET, next + RTT * 2));
        let last = out.pop().unwrap();
        let dropped = out.pop().unwrap();
        for ticket in &out {
            core.report(ticket, SERVED, next + RTT * 2, 0.5);
        }
        core.release(&dropped, next + RTT * 2);
        waits(core.acquire(GET, next + RTT * 2));
        core.report(&last, SERVED, next + RTT * 3, 0.5);
        let Decision::Send(ninth) = core.acquire(GET, next + RTT * 3) else {
            panic!("the ninth waited once the others were answered");
        };
        assert_eq!((ninth.place, ninth.role), (9, Some(Role::Scout)));
    }

    /// A climb back toward a budget a window once held, refused: the next climb
    /// waits twice as long, a try beyond that budget no longer than before.
    #[test]
    fn a_refused_climb_back_waits_longer() {
        let mut core = learned_and_spent(8);
        once_held(&mut core, 12);
        let capacity = fail_a_try(&mut core);
        assert_eq!(
            (capacity.confirmed, capacity.hold, capacity.beyond),
            (Some(8), 2, BEYOND_HOLD)
        );
    }

    /// A try refused short of the largest budget a window was seen to hold is
    /// a climb back (others still spend the rest), whatever burst was tried:
    /// the next climb waits longer, a try beyond it no longer than before.
    #[test]
    fn a_try_refused_short_of_the_largest_budget_seen_is_a_climb_back() {
        // A window once held 10; another process was trying 15 (the state file
        // told): the ninth goes alone, at once, and is refused short of 10.
        let mut core = learned_and_spent(8);
        once_held(&mut core, 10);
        if let Some(limit) = core.bucket_mut(BucketId::Endpoint(GET)).limit.as_mut() {
            limit.burst = 15;
        }
        let Decision::Send(ninth) = core.acquire(GET, START + RTT * 2) else {
            panic!("the ninth waited");
        };
        assert_eq!((ninth.place, ninth.role), (9, Some(Role::Scout)));
        core.report(&ninth, THROTTLED, START + RTT * 3, 0.5);
        let capacity = core.buckets[&BucketId::Endpoint(GET)].capacity;
        assert_eq!(
            (capacity.confirmed, capacity.hold, capacity.beyond),
            (Some(8), 2, BEYOND_HOLD)
        );
    }

    /// A try beyond the largest budget a window was seen to hold, refused:
    /// the next one beyond it waits twice as long.
    #[test]
    fn a_try_refused_beyond_the_largest_budget_seen_waits_longer() {
        let mut core = learned_and_spent(8);
        core.bucket_mut(BucketId::Endpoint(GET)).capacity.beyond = 1;
        let capacity = fail_a_try(&mut core);
        assert_eq!(
            (capacity.confirmed, capacity.hold, capacity.beyond),
            (Some(8), 1, 2)
        );
    }

    /// Lets `core`'s [`GET`] bucket (spent, see [`learned_and_spent`]) try a
    /// larger burst after a clean full window: once the opener and the seven
    /// after it are served, the ninth request of the next window goes alone
    /// and is refused.
    fn fail_a_try(core: &mut Core) -> Capacity {
        // A ninth waited: the clean full window lets the next try more.
        assert!(matches!(
            core.acquire(GET, START + RTT * 2),
            Decision::Wait { .. }
        ));
        let next = START + Duration::from_secs(4);
        for ticket in open_window(core, GET, next, 7) {
            core.report(&ticket, SERVED, next + RTT * 2, 0.5);
        }
        let Decision::Send(ninth) = core.acquire(GET, next + RTT * 2) else {
            panic!("the ninth waited: {:?}", core.buckets);
        };
        assert_eq!((ninth.place, ninth.role), (9, Some(Role::Scout)));
        core.report(&ninth, THROTTLED, next + RTT * 3, 0.5);
        core.buckets[&BucketId::Endpoint(GET)].capacity
    }

    /// `create` starts in a window `list` was served 6 of 8 in (one budget for
    /// the key): its opener is served, and of the 4 it sends next the server
    /// serves one, answered last, and refuses the others. The first 429 back is
    /// for the first of the 4 sent: the request before it (1) and the others'
    /// 6 fall short of 8. The next, for the second, is judged against the same
    /// budget (2 + 6): the budget is shared. (It was judged against what the
    /// first 429 measured, 1, which its own requests had used: no 429 of that
    /// window could show the sharing. Seen in 2 of 6 runs of `list`, `create`
    /// and `delete` as processes in a row.)
    #[test]
    fn later_429s_of_a_window_are_judged_against_the_budget_known_at_its_first() {
        let mut core = learned_and_spent(6);
        let now = START + RTT * 2;
        let tickets = open_window(&mut core, POST, now, 4);
        for ticket in &tickets[..3] {
            core.report(ticket, THROTTLED, now + RTT * 2, 0.5);
        }
        core.report(&tickets[3], SERVED, now + RTT * 3, 0.5);
        assert_eq!(core.scope, BudgetScope::Key, "{:?}", core.buckets);
        let key = &core.buckets[&BucketId::Key];
        assert_eq!(key.capacity.confirmed, Some(8), "{key:?}");
    }

    /// Per-route budgets: `list` was served its 8; `create` is served its 8 in
    /// the next window, and in the one after 7, its 8th refused (a client this
    /// process does not see took one). `list`'s successes are two windows
    /// back: no evidence of a shared budget. (With no pause in sending between
    /// them, the window was taken to reach back to `list`'s, and they were
    /// counted.)
    #[test]
    fn successes_windows_ago_show_no_shared_budget() {
        let mut core = learned_and_spent(8);
        let first = START + ms(3_100);
        for ticket in open_window(&mut core, POST, first, 7) {
            core.report(&ticket, SERVED, first + RTT * 2, 0.5);
        }
        let second = first + ms(3_100);
        let tickets = open_window(&mut core, POST, second, 7);
        for ticket in &tickets[..6] {
            core.report(ticket, SERVED, second + RTT * 2, 0.5);
        }
        core.report(&tickets[6], THROTTLED, second + RTT * 2, 0.5);
        assert_eq!(core.scope, BudgetScope::Route, "{:?}", core.buckets);
    }

    /// Per-route budgets, and a client this process does not see spends 2 of
    /// `delete`'s window while `list` was served once in it: `delete` sends
    /// its whole budget (8) and 2 are refused, the first of them answered
    /// first. Its own 6 and `list`'s 1 fall short of 8: no evidence that the
    /// endpoints share one budget. (Counting every request it sent in the
    /// window as served would take it for evidence, and pace `list` and
    /// `delete` together from then on.)
    #[test]
    fn an_unseen_client_on_one_route_shows_no_shared_budget() {
        let mut core = learned_and_spent(1);
        let now = START + RTT * 2;
        let tickets = open_window(&mut core, DELETE, now, 7);
        for ticket in &tickets[..2] {
            core.report(ticket, THROTTLED, now + RTT * 2, 0.5);
        }
        for ticket in &tickets[2..] {
            core.report(ticket, SERVED, now + RTT * 3, 0.5);
        }
        assert_eq!(core.scope, BudgetScope::Route, "{:?}", core.buckets);
    }

    /// A batch of other processes' successes, dated as late as they may have
    /// been sent, opens no run: they may have come one by one since long before.
    /// The same successes sent then by this process do; and a run of its own
    /// after a pause that follows the others' starts the window, unless they
    /// were more (an equally long stretch before the pause served more).
    #[test]
    fn only_successes_known_to_be_sent_then_start_a_run() {
        let own = |at: u64| Sent::at(START + ms(at));
        let others = |at: u64, count| Sent {
            at: START + ms(at),
            count,
            exact: false,
        };
        let at = START + ms(30_500);
        let batch = [own(0), own(20), own(40), others(30_000, 30)];
        assert_eq!(run_start(&batch, START, at), None);
        let exact = Sent {
            exact: true,
            ..others(30_000, 30)
        };
        let run = [own(0), own(20), own(40), exact];
        assert_eq!(run_start(&run, START, at), Some(exact.at));
        // Behind a pause, the others' count weighs against the run after it.
        for (count, start) in [(8, Some(START + ms(20_000))), (9, None)] {
            let mut after = vec![others(80, count)];
            after.extend((20_000..20_008).map(own));
            assert_eq!(run_start(&after, START, START + ms(20_008)), start);
        }
    }

    /// When the endpoints are found to share one budget, the key's window
    /// holds their successes and when the latest was sent (by which other
    /// processes date them).
    #[test]
    fn a_budget_found_shared_keeps_when_its_latest_success_was_sent() {
        let mut core = Core::new(None, BudgetScope::Route);
        for (endpoint, at) in [(POST, START + ms(40)), (GET, START)] {
            let Decision::Send(ticket) = core.acquire(endpoint, at) else {
                panic!("{endpoint} waits");
            };
            core.report(&ticket, SERVED, at + RTT, 0.5);
        }
        core.share(Some(GET), None);
        let window = core.buckets[&BucketId::Key].window;
        assert_eq!(
            window.map(|w| (w.served, w.last_success)),
            Some((2, Some(START + ms(40)))),
            "{window:?}"
        );
    }

    /// Counts no process could have written (a corrupt state file) saturate
    /// instead of overflowing: merged, sent, served, and added up when the
    /// endpoints are found to share one budget.
    #[test]
    fn counts_at_their_largest_saturate() {
        let mut core = Core::new(None, BudgetScope::Route);
        let huge = Shared {
            window: Some(SharedWindow {
                opened: START,
                sent: u32::MAX,
                served: u32::MAX,
                throttled_at: None,
                last_success: Some(START),
            }),
            ..Shared::default()
        };
        let now = START + RTT;
        for endpoint in [DELETE, POST] {
            core.merge(BucketId::Endpoint(endpoint), huge, now);
            let Decision::Send(ticket) = core.acquire(endpoint, now) else {
                panic!("{endpoint} waits");
            };
            core.merge(BucketId::Endpoint(endpoint), huge, now);
            core.report(&ticket, SERVED, now + RTT, 0.5);
        }
        core.share(Some(DELETE), None);
        let window = core.buckets[&BucketId::Key].window;
        assert_eq!(
            window.map(|w| (w.sent, w.served)),
            Some((u32::MAX, u32::MAX)),
            "{window:?}"
        );
    }

    /// A pause another process recorded, however far ahead it ends (and
    /// whenever it says it was decided: a corrupt state file), holds this one
    /// back for at most [`TAKEN_PAUSE`].
    #[test]
    fn another_process_pause_holds_for_at_most_a_bounded_time() {
        let mut core = Core::new(None, BudgetScope::Route);
        let far = START + Duration::from_secs(10 * 365 * 24 * 3600);
        let shared = Shared {
            paused_until: Some((far, true, far)),
            ..Shared::default()
        };
        core.merge(BucketId::Endpoint(DELETE), shared, START);
        match core.acquire(DELETE, START) {
            Decision::Wait {
                until: Some(until), ..
            } => assert!(until <= START + TAKEN_PAUSE, "{until:?}"),
            other => panic!("{other:?}"),
        }
        // Its decision is taken as made by now: later ones still win.
        assert!(core.buckets[&BucketId::Endpoint(DELETE)].phase_at <= START);
        assert!(matches!(
            core.acquire(DELETE, START + TAKEN_PAUSE),
            Decision::Send(_)
        ));
    }

    /// A steady stream, every request served, for longer than any admin window
    /// lasts: the window never rolled (no length known), and a 429 then speaks
    /// of one opened since, at a time unknown. It bounds nothing, and the probe
    /// goes soon. (The time since the stream began, 70 s, was taken for a lower
    /// bound, which every process of the key shares and nothing lowers.)
    #[test]
    fn a_429_after_a_stream_longer_than_any_window_bounds_nothing() {
        let mut core = Core::new(None, BudgetScope::Route);
        let mut now = START;
        for _ in 0..350 {
            let Decision::Send(ticket) = core.acquire(DELETE, now) else {
                panic!("waits at {now:?}: {:?}", core.buckets);
            };
            core.report(&ticket, SERVED, now + RTT, 0.5);
            now += ms(200);
        }
        let Decision::Send(ticket) = core.acquire(DELETE, now) else {
            panic!("waits at {now:?}: {:?}", core.buckets);
        };
        let pause = core.report(&ticket, THROTTLED, now + RTT, 0.5);
        let bucket = &core.buckets[&BucketId::Endpoint(DELETE)];
        assert!(bucket.bounds.lower < Duration::from_secs(1), "{bucket:?}");
        assert!(pause < Duration::from_secs(1), "{pause:?}");
    }

    /// Requests far apart, then many: the windows the sparse ones opened closed
    /// long ago, and must not be taken for one long window.
    #[test]
    fn sparse_requests_then_a_burst_learn_the_real_window() {
        let length = Duration::from_secs(3);
        let mut sim = Sim::new(None);
        let mut server = Server::new(8, length, false);
        for _ in 0..5 {
            sim.run(&mut server, &[(DELETE, 1, 1)]);
            sim.now += Duration::from_secs(10);
        }
        let run = sim.run(&mut server, &[(DELETE, 80, 4)]);
        let minimum = minimum(80, 8, length);
        let bucket = &sim.core.buckets[&BucketId::Endpoint(DELETE)];
        assert!(
            run.wall < minimum.mul_f64(1.3),
            "{:?} against {minimum:?}: {run:?}",
            run.wall
        );
        let limit = bucket.limit.expect("learned");
        assert!(
            limit.period >= ms(2_900) && limit.period < ms(3_400),
            "{limit:?} {:?}",
            bucket.bounds
        );
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// A request to endpoint `0..3`, `ms` later.
        Acquire { endpoint: usize, ms: u64 },
        /// The answer to the `index`-th request in flight, `ms` later.
        Answer {
            index: usize,
            answer: u8,
            told_ms: u64,
            ms: u64,
        },
        /// The `index`-th request in flight is dropped.
        Drop { index: usize },
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (0..3usize, 0..3_000u64).prop_map(|(endpoint, ms)| Op::Acquire { endpoint, ms }),
            (0..8usize, 0..4u8, 0..5_000u64, 0..3_000u64).prop_map(
                |(index, answer, told_ms, ms)| {
                    Op::Answer {
                        index,
                        answer,
                        told_ms,
                        ms,
                    }
                }
            ),
            (0..8usize).prop_map(|index| Op::Drop { index }),
        ]
    }

    proptest::proptest! {
        /// Whatever arrives and whatever the server answers: a paused budget
        /// sends nothing before its pause ends (after a 429 in a window of known
        /// length, the window is known to have refilled by then, but for one
        /// probe that tests halfway between the bounds, alone); a gated one
        /// sends nothing but the one request; a request beyond the known budget
        /// goes only once this process's requests of its window were answered;
        /// no window holds more than the burst in force; and once the answers
        /// are in and time has passed, a request always goes.
        #[test]
        fn the_core_keeps_its_promises(
            configured in proptest::option::of((1..10u32, 100..5_000u64)),
            key_scope in proptest::bool::ANY,
            ops in proptest::collection::vec(op(), 1..200),
        ) {
            const ENDPOINTS: [&str; 3] = [GET, POST, DELETE];
            let scope = if key_scope { BudgetScope::Key } else { BudgetScope::Route };
            let mut core = Core::new(configured.map(|(b, p)| (b, ms(p))), scope);
            let mut now = START;
            let mut flight: Vec<Ticket> = Vec::new();
            for op in ops {
                match op {
                    Op::Acquire { endpoint, ms: dt } => {
                        now += ms(dt);
                        let endpoint = ENDPOINTS[endpoint];
                        let id = core.bucket_of(endpoint);
                        let before = core.buckets.get(&id).map(|b| (b.phase, b.limit, b.window));
                        let decision = core.acquire(endpoint, now);
                        if let Decision::Send(ticket) = decision {
                            match before {
                                Some((Phase::Paused { until, .. }, _, _)) => {
                                    proptest::prop_assert!(now >= until, "sent during a pause");
                                }
                                Some((Phase::Gated { .. }, _, _)) => {
                                    proptest::prop_assert!(false, "sent while another went alone");
                                }
                                _ => {}
                            }
                            if ticket.role == Some(Role::Scout) {
                                let id = core.bucket_of(endpoint);
                                let out = flight
                                    .iter()
                                    .filter(|t| core.bucket_of(t.endpoint) == id && t.sent_at >= ticket.window)
                                    .count();
                                proptest::prop_assert!(out == 0, "beyond the budget with {} of its window unanswered", out);
                            }
                            let bucket = &core.buckets[&core.bucket_of(endpoint)];
                            if let (Some(limit), Some(window)) = (before.and_then(|b| b.1), bucket.window) {
                                proptest::prop_assert!(
                                    window.sent <= limit.burst.max(1),
                                    "{} sent in a window of {}", window.sent, limit.burst
                                );
                            }
                            flight.push(ticket);
                        }
                    }
                    Op::Answer { index, answer, told_ms, ms: dt } => {
                        if flight.is_empty() {
                            continue;
                        }
                        now += ms(dt);
                        let ticket = flight.remove(index % flight.len());
                        let answer = match answer {
                            0 => Answer::Served { exhausted: None },
                            1 => Answer::Throttled { retry_after: None },
                            2 => Answer::Throttled { retry_after: Some(ms(told_ms)) },
                            _ => Answer::Lost,
                        };
                        let upper = core.buckets.get(&ticket.bucket).and_then(|b| b.bounds.upper);
                        let held_gate = core
                            .buckets
                            .get(&ticket.bucket)
                            .is_some_and(|b| b.gate_role(&ticket).is_some());
                        let pause = core.report(&ticket, answer, now, 0.5);
                        // The window the 429 speaks of: the ticket's, or, for a
                        // request that opened a new one, the one before.
                        if answer == (Answer::Throttled { retry_after: None })
                            && let Some(upper) = upper
                            && let Some(bucket) = core.buckets.get(&core.bucket_of(ticket.endpoint))
                            && let (Phase::Paused { until, .. }, Some(window)) = (bucket.phase, bucket.window)
                            && bucket.bounds.upper == Some(upper)
                        {
                            // (A window merged from other budgets opened earlier.)
                            let spoken = match ticket.role {
                                Some(Role::Probe | Role::Opener) if held_gate => window.opened,
                                _ if window.opened <= ticket.window => window.opened,
                                _ => ticket.window,
                            };
                            // Only a probe testing halfway between the bounds (alone:
                            // the pause ends with a gate) may go before the refill.
                            let known = if bucket.bisecting {
                                (upper + bucket.bounds.lower) / 2
                            } else {
                                upper
                            };
                            proptest::prop_assert!(until >= spoken + stretched(known), "a pause ends before the known refill");
                            proptest::prop_assert!(until > spoken + bucket.bounds.lower, "a pause ends inside the known window");
                        }
                        // Every pause ends: at most a minute past the 429 unless the
                        // server asked for more or the window is known to be longer.
                        let known = core
                            .buckets
                            .get(&core.bucket_of(ticket.endpoint))
                            .map(|b| b.bounds.upper.into_iter().chain(b.limit.map(|l| l.period)).max())
                            .unwrap_or_default()
                            .map_or(Duration::ZERO, stretched);
                        proptest::prop_assert!(
                            pause <= Duration::from_secs(61) + ms(told_ms) + known,
                            "pause {pause:?} after {answer:?} to {ticket:?} at {now:?}: {:?}",
                            core.buckets
                        );
                    }
                    Op::Drop { index } => {
                        if !flight.is_empty() {
                            let ticket = flight.remove(index % flight.len());
                            core.release(&ticket, now);
                        }
                    }
                }
            }
            // Progress: the answers come in, time passes, and a request goes.
            for ticket in flight.drain(..) {
                core.report(&ticket, Answer::Served { exhausted: None }, now, 0.5);
            }
            now += Duration::from_secs(600);
            let mut sent = false;
            for _ in 0..3 {
                match core.acquire(GET, now) {
                    Decision::Send(_) => {
                        sent = true;
                        break;
                    }
                    Decision::Wait { until: Some(until), .. } => now = now.max(until),
                    Decision::Wait { until: None, .. } => break,
                }
            }
            proptest::prop_assert!(sent, "no progress: {:?}", core.buckets);
        }
    }
}
