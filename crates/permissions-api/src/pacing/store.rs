//! The pacing state file: what runs using the same base URL and key have learned
//! and spent, shared so that a new process does not rediscover a spent window
//! with 429s.
//!
//! One small JSON file per base URL and key, named by a SHA-256 fingerprint of
//! both (the key itself is never written), in a directory the caller chooses
//! ([`default_dir`]: the user's cache directory). Per budget it holds the current
//! window (when it opened, what was sent and served in it, when its latest
//! success was sent, whether it met a 429),
//! a pause after a 429, the learned bounds of the window's length, the budget a
//! window last held and the largest one held (and how long to wait before
//! trying more, up to it and beyond it), and the learned limit; and which
//! requests share a budget.
//!
//! Every acquire and every answer merges the file into the pacer and writes the
//! pacer back, under an exclusive lock held for the merge only; so does a poll
//! every tenth of a wait, about once per process however many requests wait
//! (see [`gate`](super::gate)), so that a process learns that another's probe
//! was served, or that a window opened sooner. Nothing here may stop a
//! request: a file that is corrupt, foreign (another format, base URL or key),
//! stale (untouched for an hour) or locked for long by another process is
//! skipped, with one warning per process; what a file dates ahead of the clock
//! (a clock set back since it was written) is not read ([`AHEAD`]).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::core::{
    BEYOND_HOLD, BEYOND_HOLD_MAX, BucketId, BudgetScope, Core, HOLD_MAX, LONGEST_RECORDED, Shared,
    SharedWindow, Time,
};

/// The format of the file.
const FORMAT: u32 = 1;
/// A file untouched for this long is ignored: its windows and pauses are over,
/// and what it learned may be out of date.
pub(crate) const STALE: Duration = Duration::from_secs(3600);
/// How long a sync waits for another process's lock before giving up this time.
const LOCK_WAIT: Duration = Duration::from_millis(250);
/// How far ahead of this process's clock a time in the file may be. A process
/// reads the clock before it waits for its pacer and for the file's lock, so a
/// write dated after its reading may be another's, made meanwhile; and clocks
/// that processes read at different times (or hosts sharing the directory) may
/// differ by seconds. A time further ahead than this was written by a clock set
/// back since, or the file is corrupt: what it dates is not taken (nor kept in
/// the file), or it would hold every process until then. What is taken holds a
/// process back this much longer at most.
const AHEAD: Duration = Duration::from_secs(60);
/// The largest file read.
const MAX_BYTES: u64 = 1 << 20;

/// The directory a program keeps its pacing state in by default:
/// `ckpt-perms/pacing` in the user's cache directory (`$XDG_CACHE_HOME`, else
/// `~/.cache` on Linux).
pub fn default_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|dir| dir.join("ckpt-perms").join("pacing"))
}

/// The state file of one base URL and key.
#[derive(Debug)]
pub(crate) struct Store {
    path: PathBuf,
    base_url: String,
    key: String,
    /// Whether this process already warned about the file.
    warned: AtomicBool,
    /// Whether it stopped using the file (another process held its lock too long).
    given_up: AtomicBool,
    /// The syncs tried, for the tests of how often the gate reads the file.
    #[cfg(test)]
    pub(crate) syncs: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Serialize, Deserialize)]
struct FileState {
    format: u32,
    base_url: String,
    /// The key's fingerprint (never the key).
    key: String,
    updated_ms: u64,
    scope: FileScope,
    buckets: BTreeMap<String, FileBucket>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum FileScope {
    Route,
    Key,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct FileBucket {
    window: Option<FileWindow>,
    paused_until_ms: Option<u64>,
    paused_at_ms: Option<u64>,
    probe: bool,
    lower_ms: u64,
    upper_ms: Option<u64>,
    confirmed: Option<u32>,
    measured_ms: Option<u64>,
    /// Absent from files older than it: at once.
    #[serde(default)]
    hold: u32,
    /// Absent from files older than it: the budget `confirmed`.
    #[serde(default)]
    ceiling: Option<u32>,
    /// Absent from files older than it: [`BEYOND_HOLD`].
    #[serde(default)]
    beyond: Option<u32>,
    burst: Option<u32>,
    period_ms: Option<u64>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct FileWindow {
    opened_ms: u64,
    sent: u32,
    served: u32,
    throttled_ms: Option<u64>,
    /// When its latest success was sent. Absent from files older than it: the
    /// successes are then dated by when this process read them.
    #[serde(default)]
    last_success_ms: Option<u64>,
}

fn ms(time: Duration) -> u64 {
    u64::try_from(time.as_millis()).unwrap_or(u64::MAX)
}

fn time(ms: u64) -> Time {
    Duration::from_millis(ms)
}

/// A window's length from the file: at most [`LONGEST_RECORDED`].
fn length(ms: u64) -> Duration {
    time(ms).min(LONGEST_RECORDED)
}

impl FileBucket {
    fn from_shared(shared: Shared) -> Self {
        Self {
            window: shared.window.map(|w| FileWindow {
                opened_ms: ms(w.opened),
                sent: w.sent,
                served: w.served,
                throttled_ms: w.throttled_at.map(ms),
                last_success_ms: w.last_success.map(ms),
            }),
            paused_until_ms: shared.paused_until.map(|(until, _, _)| ms(until)),
            paused_at_ms: shared.paused_until.map(|(_, _, at)| ms(at)),
            probe: shared.paused_until.is_some_and(|(_, probe, _)| probe),
            lower_ms: ms(shared.lower),
            upper_ms: shared.upper.map(ms),
            confirmed: shared.confirmed.map(|(c, _)| c),
            measured_ms: shared.confirmed.map(|(_, at)| ms(at)),
            hold: shared.hold,
            ceiling: shared.ceiling,
            beyond: Some(shared.beyond),
            burst: shared.learned.map(|(burst, _)| burst),
            period_ms: shared.learned.map(|(_, period)| ms(period)),
        }
    }

    /// What the bucket says, read at `now`: without what it dates after
    /// [`AHEAD`] of `now`, and without budgets of 0 (no window is measured to
    /// hold none).
    fn to_shared(&self, now: Time) -> Shared {
        let dated = |ms: u64| Some(time(ms)).filter(|&at| at <= now + AHEAD);
        // `None` when `ms` dates ahead; `Some(None)` when there is none.
        let maybe_dated = |ms: Option<u64>| ms.map_or(Some(None), |ms| dated(ms).map(Some));
        let budget = |count: Option<u32>| count.filter(|&c| c > 0);
        Shared {
            window: self.window.and_then(|w| {
                Some(SharedWindow {
                    opened: dated(w.opened_ms)?,
                    sent: w.sent,
                    served: w.served,
                    throttled_at: maybe_dated(w.throttled_ms)?,
                    last_success: maybe_dated(w.last_success_ms)?,
                })
            }),
            paused_until: self.paused_until_ms.and_then(|until| {
                let decided = dated(self.paused_at_ms.unwrap_or(0))?;
                Some((time(until), self.probe, decided))
            }),
            // Nor must a corrupt length stop the processes that read it.
            lower: length(self.lower_ms),
            upper: self.upper_ms.map(length),
            confirmed: budget(self.confirmed).zip(self.measured_ms.and_then(dated)),
            // A corrupt count must not stop the burst from ever growing.
            hold: self.hold.clamp(1, HOLD_MAX),
            ceiling: budget(self.ceiling),
            beyond: self
                .beyond
                .map_or(BEYOND_HOLD, |b| b.clamp(1, BEYOND_HOLD_MAX)),
            learned: budget(self.burst).zip(self.period_ms.map(length)),
        }
    }
}

/// What reading the file found.
enum Found {
    /// A file of ours, to merge.
    Ours(FileState),
    /// Nothing to merge (no file yet, or one to replace): write ours.
    Fresh,
    /// Another format, base URL or key: leave it alone.
    Foreign,
}

impl Store {
    /// The state file of `base_url` and `key` in `dir`.
    pub(crate) fn new(dir: &Path, base_url: &str, key: &str) -> Self {
        let fingerprint = |parts: &[&str]| {
            let mut hash = Sha256::new();
            for part in parts {
                hash.update(part.as_bytes());
                hash.update([0]);
            }
            hash.finalize()
                .iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let key = fingerprint(&["key", key]);
        Self {
            path: dir.join(format!("{}.json", fingerprint(&[base_url, &key]))),
            base_url: base_url.to_owned(),
            key,
            warned: AtomicBool::new(false),
            given_up: AtomicBool::new(false),
            #[cfg(test)]
            syncs: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Says once per process why the file is not used this time.
    fn warn(&self, why: impl std::fmt::Display) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                path = %self.path.display(),
                "pacing state file not used: {why}; pacing on this process's own knowledge"
            );
        }
    }

    /// Merges the file into `core` (for its buckets and `endpoint`'s), then writes
    /// `core` back. Never fails: a problem is said once and the sync is skipped.
    pub(crate) fn sync(&self, core: &mut Core, now: Time, endpoint: Option<&'static str>) {
        #[cfg(test)]
        self.syncs.fetch_add(1, Ordering::Relaxed);
        if self.given_up.load(Ordering::Relaxed) {
            return;
        }
        if let Err(why) = self.try_sync(core, now, endpoint) {
            self.warn(&why);
        }
    }

    fn try_sync(
        &self,
        core: &mut Core,
        now: Time,
        endpoint: Option<&'static str>,
    ) -> Result<(), String> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)
            .map_err(|e| format!("cannot open it: {e}"))?;
        if let Err(why) = lock(&file) {
            // Waiting on every request for a process that hangs would slow the
            // whole run: pace on this process's own knowledge from now on.
            self.given_up.store(true, Ordering::Relaxed);
            return Err(why);
        }
        let result = self.merge_and_write(&mut file, core, now, endpoint);
        let _ = fs4::fs_std::FileExt::unlock(&file);
        result
    }

    fn merge_and_write(
        &self,
        file: &mut File,
        core: &mut Core,
        now: Time,
        endpoint: Option<&'static str>,
    ) -> Result<(), String> {
        let mut text = String::new();
        file.take(MAX_BYTES)
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read it: {e}"))?;
        let mut state = match self.read(&text, now) {
            Found::Foreign => return Err("it belongs to another format, URL or key".into()),
            Found::Fresh => self.empty(),
            Found::Ours(state) => state,
        };
        if state.scope == FileScope::Key && core.scope == BudgetScope::Route {
            core.share(None, None);
        }
        let named = |name: &str| -> Option<BucketId> {
            if name == BucketId::Key.name() {
                return Some(BucketId::Key);
            }
            core.buckets
                .keys()
                .copied()
                .chain(endpoint.map(BucketId::Endpoint))
                .find(|id| id.name() == name)
        };
        // The buckets of the current scope only: per endpoint, or the key's.
        let scope = core.scope;
        let known: Vec<(BucketId, Shared)> = state
            .buckets
            .iter()
            .filter_map(|(name, bucket)| Some((named(name)?, bucket.to_shared(now))))
            .filter(|(id, _)| (*id == BucketId::Key) == (scope == BudgetScope::Key))
            .collect();
        // Endpoints only other processes used: evidence of a shared budget.
        let elsewhere = state
            .buckets
            .iter()
            .filter(|(name, _)| *name != BucketId::Key.name() && named(name).is_none())
            .map(|(name, bucket)| (name.clone(), bucket.to_shared(now)))
            .collect();
        for (id, shared) in known {
            core.merge(id, shared, now);
        }
        core.elsewhere = elsewhere;
        state.scope = match core.scope {
            BudgetScope::Key => FileScope::Key,
            _ => FileScope::Route,
        };
        for id in core.buckets.keys().copied().collect::<Vec<_>>() {
            if let Some(shared) = core.shared(id, now) {
                state
                    .buckets
                    .insert(id.name().to_owned(), FileBucket::from_shared(shared));
            }
        }
        state.updated_ms = ms(now);
        let json = serde_json::to_vec(&state).map_err(|e| format!("cannot encode it: {e}"))?;
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.set_len(0))
            .and_then(|()| file.write_all(&json))
            .and_then(|()| file.flush())
            .map_err(|e| format!("cannot write it: {e}"))?;
        core.mark_synced();
        Ok(())
    }

    fn empty(&self) -> FileState {
        FileState {
            format: FORMAT,
            base_url: self.base_url.clone(),
            key: self.key.clone(),
            updated_ms: 0,
            scope: FileScope::Route,
            buckets: BTreeMap::new(),
        }
    }

    fn read(&self, text: &str, now: Time) -> Found {
        if text.trim().is_empty() {
            return Found::Fresh;
        }
        let state: FileState = match serde_json::from_str(text) {
            Ok(state) => state,
            Err(error) => {
                // Its content is never quoted: it is ours, but who knows.
                self.warn(format_args!(
                    "it is not a pacing state (line {}, column {}); replacing it",
                    error.line(),
                    error.column()
                ));
                return Found::Fresh;
            }
        };
        if state.format != FORMAT || state.base_url != self.base_url || state.key != self.key {
            return Found::Foreign;
        }
        let age = now.saturating_sub(time(state.updated_ms));
        if age > STALE {
            self.warn(format_args!(
                "it was last written {} min ago; starting afresh",
                age.as_secs() / 60
            ));
            return Found::Fresh;
        }
        Found::Ours(state)
    }
}

/// Takes the file's exclusive lock, waiting at most [`LOCK_WAIT`] for another
/// process to release it.
fn lock(file: &File) -> Result<(), String> {
    let started = Instant::now();
    loop {
        match fs4::fs_std::FileExt::try_lock_exclusive(file) {
            Ok(true) => return Ok(()),
            Ok(false) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Ok(false) => {
                return Err(format!(
                    "another process has held its lock for over {} ms",
                    LOCK_WAIT.as_millis()
                ));
            }
            Err(error) => return Err(format!("cannot lock it: {error}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::pacing::core::{
        Answer, BEYOND_HOLD, BEYOND_HOLD_MAX, Bucket, Capacity, Decision, HOLD_MAX, Limit, Origin,
        Ticket,
    };

    const DELETE: &str = "deleteFineTuningCheckpointPermission";
    const URL: &str = "http://127.0.0.1:9/v1";
    const KEY: &str = "sk-admin-store-test-SECRET-0123456789";

    fn wall() -> Time {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
    }

    /// A process: its pacer and its view of the shared file, sending to one
    /// endpoint.
    struct Process {
        core: Core,
        store: Store,
        endpoint: &'static str,
        /// The server's window, in [`Process::job`]: 8 requests per this long.
        length: Duration,
    }

    impl Process {
        fn new(dir: &Path) -> Self {
            Self::of(dir, DELETE)
        }

        fn of(dir: &Path, endpoint: &'static str) -> Self {
            Self::configured(dir, endpoint, None)
        }

        fn configured(
            dir: &Path,
            endpoint: &'static str,
            configured: Option<(u32, Duration)>,
        ) -> Self {
            Self {
                core: Core::new(configured, BudgetScope::Route),
                store: Store::new(dir, URL, KEY),
                endpoint,
                length: Duration::from_secs(3),
            }
        }

        fn acquire(&mut self, now: Time) -> Decision {
            self.store.sync(&mut self.core, now, Some(self.endpoint));
            let decision = self.core.acquire(self.endpoint, now);
            self.store.sync(&mut self.core, now, Some(self.endpoint));
            decision
        }

        fn report(&mut self, ticket: &Ticket, answer: Answer, now: Time) {
            self.store.sync(&mut self.core, now, Some(self.endpoint));
            self.core.report(ticket, answer, now, 0.5);
            self.store.sync(&mut self.core, now, Some(self.endpoint));
        }

        /// Sends `requests` one after another to a server that serves 8 requests
        /// of the key per window of [`Process::length`] (`window`: when it
        /// opened, how many it served); returns the time after and the 429s met.
        fn job(&mut self, requests: u32, window: &mut (Time, u32), mut now: Time) -> (Time, u32) {
            let (mut left, mut throttled) = (requests, 0);
            while left > 0 {
                match self.acquire(now) {
                    Decision::Wait { until, .. } => {
                        now = until.expect("one request at a time waits for a time");
                    }
                    Decision::Send(ticket) => {
                        if now >= window.0 + self.length {
                            *window = (now, 0);
                        }
                        let answer = if window.1 < 8 {
                            window.1 += 1;
                            left -= 1;
                            SERVED
                        } else {
                            throttled += 1;
                            THROTTLED
                        };
                        now += Duration::from_millis(20);
                        self.report(&ticket, answer, now);
                    }
                }
            }
            (now, throttled)
        }

        /// Sends one request, answered as `answer`.
        fn send(&mut self, now: Time, answer: Answer) -> Ticket {
            let decision = self.acquire(now);
            let Decision::Send(ticket) = decision else {
                panic!(
                    "expected to send at {now:?}: {decision:?} {:?}",
                    self.core.buckets
                );
            };
            self.report(&ticket, answer, now + Duration::from_millis(10));
            ticket
        }
    }

    const SERVED: Answer = Answer::Served { exhausted: None };
    const THROTTLED: Answer = Answer::Throttled { retry_after: None };

    /// One process after another, each sending one request (a shell loop of
    /// `ckpt-perms delete`): the ninth meets the 429 and learns, and once the
    /// window's length is known the later ones wait for the refill instead of
    /// meeting 429s.
    #[test]
    fn a_process_started_in_a_spent_window_waits_for_it_to_refill() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = wall();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        for i in 0..8 {
            Process::new(dir.path()).send(at(i * 20), SERVED);
            if std::env::var_os("STORE_TRACE").is_some() {
                for entry in std::fs::read_dir(dir.path()).unwrap() {
                    eprintln!(
                        "{}",
                        std::fs::read_to_string(entry.unwrap().path()).unwrap()
                    );
                }
            }
        }
        // The ninth: the window has 8 sends in it; it sends, meets the 429.
        let mut ninth = Process::new(dir.path());
        ninth.send(at(200), THROTTLED);
        let bucket = &ninth.core.buckets[&BucketId::Endpoint(DELETE)];
        assert_eq!(
            bucket.capacity.confirmed,
            Some(8),
            "the others' sends count"
        );
        // It probes until the window refilled (3 s here).
        let mut now = at(200);
        loop {
            match ninth.acquire(now) {
                Decision::Wait {
                    until: Some(until), ..
                } => now = until,
                Decision::Send(probe) => {
                    let refilled = now >= at(3_000);
                    ninth.report(&probe, if refilled { SERVED } else { THROTTLED }, now);
                    if refilled {
                        break;
                    }
                }
                other => panic!("{other:?}"),
            }
        }
        let opened = now;
        // Seven more processes share that window; the next one waits for the
        // refill the file knows of, without sending.
        for i in 1..8 {
            Process::new(dir.path()).send(opened + Duration::from_millis(i * 20), SERVED);
        }
        // (It waits at least as long as the window is known to last; it may then
        // try a period shorter than the longest measured, whose first request
        // goes alone.)
        let mut late = Process::new(dir.path());
        match late.acquire(opened + Duration::from_millis(200)) {
            Decision::Wait {
                until: Some(until), ..
            } => {
                let bounds = late.core.buckets[&BucketId::Endpoint(DELETE)].bounds;
                assert!(bounds.lower >= Duration::from_secs(2), "{bounds:?}");
                assert!(until > opened + bounds.lower, "{until:?} {bounds:?}");
            }
            other => panic!(
                "a process in a spent window sent: {other:?} {:?}",
                late.core.buckets
            ),
        }
        // And the file never holds the key.
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(!text.contains("SECRET"), "{text}");
        }
    }

    /// `list`, then `create`, then `delete` as processes one after another
    /// (a script), against one budget for the key: the later processes find the
    /// budget shared through the file, and pace together instead of discovering
    /// the window again with 429s.
    #[test]
    fn processes_of_different_endpoints_find_the_budget_they_share() {
        let dir = tempfile::tempdir().unwrap();
        let start = wall();
        let mut window = (start, 0);
        let (now, first) = Process::of(dir.path(), "list").job(30, &mut window, start);
        let mut create = Process::of(dir.path(), "create");
        let (now, second) = create.job(20, &mut window, now);
        let mut delete = Process::of(dir.path(), DELETE);
        let (end, third) = delete.job(30, &mut window, now);
        assert_eq!(create.core.scope, BudgetScope::Key, "the second finds it");
        assert_eq!(
            delete.core.scope,
            BudgetScope::Key,
            "the third starts with it"
        );
        // The first discovers the window alone (7 429s: 8 served, then probes).
        // The second finds the budget shared with one 429 (and its probe may
        // meet one); after that a larger burst is tried once in a few windows,
        // at one 429 a try.
        assert!(first <= 8, "{first} {second} {third}");
        assert!(second + third <= 4, "{first} {second} {third}");
        // 80 requests, 8 per 3 s: at least 27 s; within 1.2x of it.
        let minimum = Duration::from_secs(27);
        assert!(end - start < minimum.mul_f64(1.2), "{:?}", end - start);
    }

    /// The same script under a configured limit that the key's budget allows
    /// (`OPENAI_ADMIN_MAX_RPM=160` against 8 per 3 s): `create`, which starts
    /// in a window `list` used, finds the budget shared at its first 429 (the
    /// file shows `list` served then), and `delete` starts with it and meets
    /// none. (The file holds only the last window of each endpoint, one
    /// request long under this limit, and it was not counted: `create` never
    /// found the sharing, and each process met a 429 of its own.)
    #[test]
    fn processes_under_a_configured_limit_find_the_budget_they_share() {
        let dir = tempfile::tempdir().unwrap();
        let start = wall();
        let mut window = (start, 0);
        let limit = Some((1, Duration::from_millis(375)));
        let mut list = Process::configured(dir.path(), "list", limit);
        let (now, first) = list.job(30, &mut window, start);
        let mut create = Process::configured(dir.path(), "create", limit);
        let (now, second) = create.job(20, &mut window, now);
        let mut delete = Process::configured(dir.path(), DELETE, limit);
        let (_, third) = delete.job(30, &mut window, now);
        assert_eq!(create.core.scope, BudgetScope::Key, "{first} {second}");
        assert_eq!((first, second, third), (0, 1, 0));
    }

    /// One budget per route. `list` is served 9 times, 375 ms apart, in a
    /// process that never meets a 429 (so its window, of unknown length, never
    /// closes); `create` starts in another right after and meets the 429 of
    /// its own route's budget at its ninth request. That is no evidence of a
    /// shared budget: the 9 `list` successes of the file span the whole job,
    /// not `create`'s window. (Taking `list`'s window's opening for a send in
    /// `create`'s run, the pacer counted all 9 and switched every later
    /// process of the key to one budget.)
    #[test]
    fn a_window_of_unknown_length_elsewhere_shows_no_shared_budget() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = wall();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut list = Process::of(dir.path(), "list");
        for i in 0..9 {
            list.send(at(i * 375), SERVED);
        }
        let mut create = Process::of(dir.path(), "create");
        for i in 0..8 {
            create.send(at(3_400 + i * 250), SERVED);
        }
        create.send(at(5_400), THROTTLED);
        assert_eq!(
            create.core.scope,
            BudgetScope::Route,
            "{:?}",
            create.core.buckets
        );
    }

    /// A process alone with its file reads back its own windows. While the
    /// window's length is uncertain, an opener goes halfway between the bounds
    /// and, served, opens a new window there: the window the file still holds
    /// (the spent one before) is not the same, though it opened within the
    /// longest length measured. (Taken for one, it made a budget of 16 of 8 + 8
    /// and a lower bound past the real length.)
    #[test]
    fn a_process_alone_with_its_file_keeps_windows_apart() {
        let dir = tempfile::tempdir().unwrap();
        let start = wall();
        let mut window = (start, 0);
        let mut list = Process::of(dir.path(), "list");
        // A length that discovery overshoots (probes at 2.2 s and 3.1 s): the
        // next opener, halfway, is served.
        list.length = Duration::from_millis(2_300);
        let (end, throttled) = list.job(48, &mut window, start);
        let bucket = &list.core.buckets[&BucketId::Endpoint("list")];
        assert_eq!(bucket.capacity.confirmed, Some(8), "{bucket:?}");
        let windows = [bucket.previous, bucket.window];
        assert!(
            windows.iter().flatten().all(|w| w.served <= 8),
            "{bucket:?}"
        );
        assert!(bucket.bounds.lower < list.length, "{bucket:?}");
        // 48 requests, 8 per window: at least 5 windows; discovery costs one.
        let minimum = list.length * 5;
        assert!(
            end - start < minimum.mul_f64(1.3),
            "{:?} with {throttled} 429s",
            end - start
        );
    }

    /// A process that learned the budget on `list` (8 per 3 s), sharing the
    /// file in `dir`; with when it ended and what it measured.
    fn learned_on_list(dir: &Path) -> (Process, Time, Capacity) {
        let start = wall();
        let mut list = Process::of(dir, "list");
        let (end, _) = list.job(24, &mut (start, 0), start);
        let measured = list.core.buckets[&BucketId::Endpoint("list")].capacity;
        assert_eq!(measured.confirmed, Some(8), "{measured:?}");
        (list, end, measured)
    }

    /// What a process learned of the budget reaches the next ones, with how
    /// often trying more failed: neither the same endpoint nor another (that
    /// starts from it) spends a 429 to learn that again at once.
    #[test]
    fn how_often_trying_more_failed_reaches_the_next_process() {
        let dir = tempfile::tempdir().unwrap();
        let (mut list, end, _) = learned_on_list(dir.path());
        let id = BucketId::Endpoint("list");
        // Others spent part of a budget once seen larger; trying more failed.
        let capacity = &mut list.core.bucket_mut(id).capacity;
        capacity.hold = HOLD_MAX;
        capacity.ceiling = Some(12);
        capacity.beyond = BEYOND_HOLD_MAX;
        list.store.sync(&mut list.core, end, Some("list"));
        let read = |endpoint: &'static str, at: Time| {
            let mut next = Process::of(dir.path(), endpoint);
            next.acquire(at + next.length * 2);
            let capacity = next.core.buckets[&BucketId::Endpoint(endpoint)].capacity;
            (
                capacity.confirmed,
                capacity.hold,
                capacity.ceiling,
                capacity.beyond,
            )
        };
        for endpoint in ["list", "create"] {
            assert_eq!(
                read(endpoint, end),
                (Some(8), HOLD_MAX, Some(12), BEYOND_HOLD_MAX),
                "{endpoint}"
            );
        }
        // Counts no process wrote are read as the most there are.
        edit(&list.store.path, |state| {
            for bucket in state["buckets"].as_object_mut().unwrap().values_mut() {
                bucket["hold"] = u32::MAX.into();
                bucket["beyond"] = u32::MAX.into();
            }
        });
        assert_eq!(
            read("delete", end + Duration::from_secs(3)),
            (Some(8), HOLD_MAX, Some(12), BEYOND_HOLD_MAX)
        );
        // A file older than the largest budget seen: the one it confirmed, and
        // the first wait beyond it.
        edit(&list.store.path, |state| {
            for bucket in state["buckets"].as_object_mut().unwrap().values_mut() {
                let bucket = bucket.as_object_mut().unwrap();
                bucket.remove("ceiling");
                bucket.remove("beyond");
            }
        });
        assert_eq!(
            read("list", end + Duration::from_secs(6)),
            (Some(8), HOLD_MAX, Some(8), BEYOND_HOLD)
        );
    }

    /// A process that learned the budget on `list` and then used `delete`
    /// (which started from what `list` learned) passes that budget on for
    /// `delete` as the one known, not a larger burst it tries there: the next
    /// process on `delete` goes beyond it
    /// one request at a time when it tries a larger burst. (It passed on the
    /// limit alone, and with no budget known the next process took a burst it
    /// tried for the budget: requests up to it went together.)
    #[test]
    fn a_budget_an_endpoint_started_from_reaches_the_next_process() {
        let dir = tempfile::tempdir().unwrap();
        let (mut first, end, _) = learned_on_list(dir.path());
        first.endpoint = DELETE;
        let (end, _) = first.job(1, &mut (end, 0), end + first.length * 2);
        // Trying a larger burst there, it still passes on the budget it knows.
        let id = BucketId::Endpoint(DELETE);
        if let Some(limit) = first.core.bucket_mut(id).limit.as_mut() {
            limit.burst = 12;
        }
        first.store.sync(&mut first.core, end, Some(DELETE));
        let mut next = Process::new(dir.path());
        next.acquire(end + first.length * 2);
        let bucket = &next.core.buckets[&id];
        assert_eq!(
            (bucket.capacity.confirmed, bucket.limit.map(|l| l.burst)),
            (Some(8), Some(8)),
            "{bucket:?}"
        );
    }

    /// An endpoint started from another's budget takes the one measured on it
    /// from the file, even when older: its own answers correct what it
    /// started from (the admin endpoints are alike, but need not be).
    #[test]
    fn an_endpoint_own_budget_outweighs_the_one_it_started_from() {
        let dir = tempfile::tempdir().unwrap();
        let (mut first, end, measured) = learned_on_list(dir.path());
        // Another process measured 5 on `delete`, before `list` measured 8.
        let mut other = Process::new(dir.path());
        let bucket = other.core.bucket_mut(BucketId::Endpoint(DELETE));
        bucket.limit = Some(Limit {
            burst: 5,
            period: first.length,
            origin: Origin::Learned,
        });
        bucket.capacity.confirmed = Some(5);
        bucket.capacity.measured_at = measured.measured_at.map(|at| at - Duration::from_secs(1));
        other.store.sync(&mut other.core, end, Some(DELETE));
        first.endpoint = DELETE;
        first.job(1, &mut (end, 0), end + first.length * 2);
        let capacity = first.core.buckets[&BucketId::Endpoint(DELETE)].capacity;
        assert_eq!(capacity.confirmed, Some(5), "{capacity:?}");
    }

    /// A process paused after a 429 learns from the file that another one's probe
    /// was served, in a window opened after its pause began: its pause is over,
    /// and it goes with the limit the other learned.
    #[test]
    fn a_pause_ends_when_another_process_is_served_in_a_new_window() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = wall();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut first = Process::new(dir.path());
        for i in 0..8 {
            first.send(at(i * 20), SERVED);
        }
        first.send(at(200), THROTTLED);
        // The second starts in the spent window and meets its own 429.
        let mut second = Process::new(dir.path());
        let Decision::Wait {
            until: Some(paused),
            ..
        } = second.acquire(at(250))
        else {
            panic!("the second went in a spent window");
        };
        // The first probes when its pause ends, and keeps going until served.
        let mut now = paused;
        let probe = loop {
            match first.acquire(now) {
                Decision::Send(probe) if now >= at(3_000) => break probe,
                Decision::Send(probe) => first.report(&probe, THROTTLED, now),
                Decision::Wait {
                    until: Some(until), ..
                } => now = until,
                other => panic!("{other:?}"),
            }
        };
        let probed = now;
        // The second, meanwhile, waits for the probe (a short pause) ...
        let Decision::Wait {
            until: Some(until), ..
        } = second.acquire(probed + Duration::from_millis(5))
        else {
            panic!("the second went during the probe");
        };
        assert!(until > probed + Duration::from_millis(100), "{until:?}");
        // ... which is served: the second goes at once, paced by the limit.
        first.report(&probe, SERVED, probed + Duration::from_millis(10));
        let learned = first.core.buckets[&BucketId::Endpoint(DELETE)].limit;
        let now = probed + Duration::from_millis(20);
        assert!(
            matches!(second.acquire(now), Decision::Send(_)),
            "{:?}",
            second.core.buckets
        );
        // (The file keeps milliseconds.)
        let limit = |l: Option<Limit>| l.map(|l| (l.burst, l.period.as_millis()));
        let adopted = second.core.buckets[&BucketId::Endpoint(DELETE)].limit;
        assert_eq!(limit(adopted), limit(learned));
        assert!(learned.is_some());
    }

    /// Changes the state file at `path` as JSON, as no process would.
    fn edit(path: &Path, change: impl FnOnce(&mut serde_json::Value)) {
        let text = std::fs::read_to_string(path).unwrap();
        let mut state: serde_json::Value = serde_json::from_str(&text).unwrap();
        change(&mut state);
        std::fs::write(path, state.to_string()).unwrap();
    }

    /// Sends a request at each of `times` (ms after `t0`) and returns their
    /// tickets; panics if one would have to wait.
    fn burst(process: &mut Process, t0: Time, times: &[u64]) -> Vec<Ticket> {
        times
            .iter()
            .map(
                |ms| match process.acquire(t0 + Duration::from_millis(*ms)) {
                    Decision::Send(ticket) => ticket,
                    other => panic!("expected to send at {ms} ms: {other:?}"),
                },
            )
            .collect()
    }

    /// Two processes start together, 4 requests in flight each (a burst whose
    /// sends the file's lock spreads over a few milliseconds), in one window of
    /// 8. The second's first 429 comes after it was served 4 and the first was
    /// served 4: the window held 8. (A gap of 8 ms between its sends was taken
    /// for a pause in which a window closed, and the first's successes, whose
    /// times it does not know, were dropped with its own first one: it learned
    /// a budget of 3. Seen in 2 of 31 runs of three `ckpt-perms create` at
    /// once: a window lost.)
    #[test]
    fn processes_starting_together_measure_the_whole_first_window() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = wall();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let (mut first, mut second) = (Process::new(dir.path()), Process::new(dir.path()));
        let firsts = burst(&mut first, t0, &[0, 1, 2, 3]);
        let mut seconds = burst(&mut second, t0, &[1]);
        for ticket in &firsts {
            first.report(ticket, SERVED, at(6));
        }
        seconds.extend(burst(&mut second, t0, &[9, 10, 11]));
        for ticket in &seconds {
            second.report(ticket, SERVED, at(11));
        }
        let refused = burst(&mut second, t0, &[12]);
        second.report(&refused[0], THROTTLED, at(13));
        let confirmed = |p: &Process| {
            p.core.buckets[&BucketId::Endpoint(DELETE)]
                .capacity
                .confirmed
        };
        assert_eq!(confirmed(&second), Some(8), "{:?}", second.core.buckets);
        first.acquire(at(20));
        assert_eq!(confirmed(&first), Some(8), "{:?}", first.core.buckets);
    }

    /// A process served once, long ago in the window it knows of, then in a
    /// burst after a real pause: its first 429 takes the window to have opened
    /// at the burst (its own first success drops out), but the successes another
    /// process had in that window still count: the budget is theirs and its.
    #[test]
    fn a_window_moved_after_a_pause_keeps_the_others_successes() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = wall();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut first = Process::new(dir.path());
        first.send(t0, SERVED);
        let mut second = Process::new(dir.path());
        let seconds = burst(&mut second, t0, &[2_000, 2_001, 2_002, 2_003]);
        for ticket in &seconds {
            second.report(ticket, SERVED, at(2_006));
        }
        let firsts = burst(&mut first, t0, &[2_000, 2_002, 2_004, 2_010]);
        for ticket in &firsts[..3] {
            first.report(ticket, SERVED, at(2_008));
        }
        first.report(&firsts[3], THROTTLED, at(2_012));
        let bucket = &first.core.buckets[&BucketId::Endpoint(DELETE)];
        assert_eq!(bucket.capacity.confirmed, Some(7), "{bucket:?}");
    }

    /// One process is served `first` times, 20 ms apart, in a window that never
    /// closes for the pacer (no length known yet); another is served at
    /// `earlier` ms, if given, then in a burst of 9 from `start` ms whose last
    /// meets a 429. The second's bucket.
    fn served_then_a_burst(first: u64, earlier: Option<u64>, start: u64) -> Bucket {
        let dir = tempfile::tempdir().unwrap();
        let t0 = wall();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut process = Process::new(dir.path());
        for i in 0..first {
            process.send(at(i * 20), SERVED);
        }
        let mut second = Process::new(dir.path());
        if let Some(earlier) = earlier {
            second.send(at(earlier), SERVED);
        }
        let tickets = burst(&mut second, t0, &(start..start + 9).collect::<Vec<_>>());
        for ticket in &tickets[..8] {
            second.report(ticket, SERVED, at(start + 20));
        }
        second.report(&tickets[8], THROTTLED, at(start + 21));
        second.core.buckets[&BucketId::Endpoint(DELETE)].clone()
    }

    /// In [`served_then_a_burst`], the first process is served 5, and the
    /// second once at 20 s, then, after a real pause, in the burst. The window
    /// is taken to have opened at the burst, and the first process's
    /// successes, sent before the pause, drop out with the second's own.
    /// (Kept, they made a budget of 13 where the server's was 8.)
    #[test]
    fn a_window_moved_after_a_pause_drops_what_the_others_were_served_before() {
        let bucket = served_then_a_burst(5, Some(20_000), 23_500);
        assert_eq!(bucket.capacity.confirmed, Some(8), "{bucket:?}");
    }

    /// In [`served_then_a_burst`], the second process starts with the burst:
    /// 20 s after the first was served 5 (a window of unknown length may last
    /// that long), or ten minutes after it was served 10 (no admin window
    /// lasts that long). The first's successes were before a pause in
    /// everyone's sending, in a window that closed: the budget is 8, and the
    /// window no longer than the burst showed. (The second learned a budget of
    /// 13 or 18, and a window longer than the time since the first's opened:
    /// at 20 s, the first's successes were known only by when the file showed
    /// them, and counted; at ten minutes, the file's window was taken as open
    /// whatever its age.)
    #[test]
    fn successes_elsewhere_before_a_pause_count_neither_in_budget_nor_length() {
        for (first, start) in [(5, 20_000), (10, 600_000)] {
            let bucket = served_then_a_burst(first, None, start);
            assert_eq!(bucket.capacity.confirmed, Some(8), "{start}: {bucket:?}");
            assert!(
                bucket.bounds.lower < Duration::from_secs(1),
                "{start}: {bucket:?}"
            );
        }
    }

    /// A file written before windows recorded their latest success (by an older
    /// `ckpt-perms`) is read, not replaced: its window is taken as it is, its
    /// successes dated by when this process read them.
    #[test]
    fn a_window_recorded_without_its_latest_success_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = wall();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut first = Process::new(dir.path());
        for i in 0..5 {
            first.send(at(i * 20), SERVED);
        }
        edit(&first.store.path, |state| {
            let window = state["buckets"][DELETE]["window"].as_object_mut().unwrap();
            assert_eq!(window.remove("last_success_ms"), Some(ms(at(80)).into()));
        });
        let mut second = Process::new(dir.path());
        second.acquire(at(1_000));
        let window = second.core.buckets[&BucketId::Endpoint(DELETE)].window;
        assert_eq!(
            window.map(|w| (w.opened, w.served, w.last_success)),
            Some((time(ms(t0)), 5, Some(at(1_000)))),
            "{window:?}"
        );
    }

    /// A file whose lengths and pause no process could have written (a corrupt
    /// one) holds a process back for minutes at most (the pause, one the
    /// server asked for, ten), not for years.
    #[test]
    fn a_file_of_endless_lengths_and_pauses_holds_a_process_for_minutes() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = wall();
        let mut first = Process::new(dir.path());
        let (end, _) = first.job(24, &mut (t0, 0), t0);
        let far = ms(end + Duration::from_secs(10 * 365 * 24 * 3600));
        edit(&first.store.path, |state| {
            let bucket = state["buckets"][DELETE].as_object_mut().unwrap();
            for field in [
                "lower_ms",
                "upper_ms",
                "period_ms",
                "paused_until_ms",
                "paused_at_ms",
            ] {
                bucket.insert(field.into(), far.into());
            }
            bucket.insert("measured_ms".into(), ms(end).into());
        });
        let mut second = Process::new(dir.path());
        let mut now = end;
        while let Decision::Wait { until, .. } = second.acquire(now) {
            now = until.expect("one request waits for a time");
            assert!(now < end + Duration::from_secs(900), "{:?}", now - end);
        }
    }

    /// A file written by a clock ahead of this process's (set back since, or
    /// corrupt): its window and its budget are not taken, so they stop no one;
    /// nor does a budget of 0, which no window is measured to hold.
    #[test]
    fn a_file_dated_ahead_of_the_clock_holds_no_process() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = wall();
        let mut first = Process::new(dir.path());
        let (end, _) = first.job(24, &mut (t0, 0), t0);
        let ahead = ms(end + Duration::from_secs(24 * 3600));
        edit(&first.store.path, |state| {
            let bucket = state["buckets"][DELETE].as_object_mut().unwrap();
            let window = serde_json::json!({"opened_ms": ahead, "sent": u32::MAX, "served": 0});
            bucket.insert("window".into(), window);
            bucket.insert("measured_ms".into(), ms(end).into());
            bucket.insert("confirmed".into(), 0.into());
            bucket.insert("ceiling".into(), 0.into());
            bucket.insert("burst".into(), 0.into());
        });
        let mut second = Process::new(dir.path());
        let mut now = end + Duration::from_secs(5);
        second.store.sync(&mut second.core, now, Some(DELETE));
        let read = &second.core.buckets[&BucketId::Endpoint(DELETE)];
        assert!(read.capacity.confirmed != Some(0) && read.capacity.ceiling != Some(0));
        assert!(read.limit.is_none_or(|l| l.burst > 0), "{:?}", read.limit);
        let mut sent = 0;
        while sent < 8 {
            match second.acquire(now) {
                Decision::Wait { until, .. } => {
                    now = until.expect("one request at a time waits for a time");
                }
                Decision::Send(ticket) => {
                    sent += 1;
                    now += Duration::from_millis(20);
                    second.report(&ticket, SERVED, now);
                }
            }
            assert!(now < end + Duration::from_secs(60), "held {:?}", now - end);
        }
    }

    /// What a bucket dates after [`AHEAD`] of the reader's clock is not read;
    /// what it dates before is.
    #[test]
    fn times_ahead_of_the_clock_are_not_read() {
        let now = wall();
        let ahead = ms(now + AHEAD + Duration::from_millis(1));
        let within = ms(now + AHEAD);
        let bucket = |at: u64| FileBucket {
            window: Some(FileWindow {
                opened_ms: ms(now),
                sent: 3,
                served: 3,
                throttled_ms: Some(at),
                last_success_ms: None,
            }),
            paused_until_ms: Some(at + 500),
            paused_at_ms: Some(at),
            confirmed: Some(3),
            measured_ms: Some(at),
            ..FileBucket::default()
        };
        let read = bucket(ahead).to_shared(now);
        assert!(read.window.is_none() && read.paused_until.is_none() && read.confirmed.is_none());
        let read = bucket(within).to_shared(now);
        assert!(read.window.is_some() && read.paused_until.is_some() && read.confirmed.is_some());
        let mut opened_ahead = bucket(within);
        opened_ahead.window.as_mut().unwrap().opened_ms = ahead;
        assert!(opened_ahead.to_shared(now).window.is_none());
    }

    #[test]
    fn a_corrupt_foreign_or_stale_file_is_ignored_and_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), URL, KEY);
        let now = wall();
        // Corrupt: replaced, and pacing goes on.
        std::fs::write(&store.path, "{not json").unwrap();
        let mut core = Core::new(None, BudgetScope::Route);
        store.sync(&mut core, now, Some(DELETE));
        assert!(matches!(core.acquire(DELETE, now), Decision::Send(_)));
        store.sync(&mut core, now, Some(DELETE));
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&store.path).unwrap()).unwrap();
        assert_eq!(written["buckets"][DELETE]["window"]["sent"], 1);
        // Stale: its spent window is forgotten.
        let mut stale: FileState = serde_json::from_value(written).unwrap();
        stale.updated_ms = ms(now - STALE - Duration::from_secs(1));
        if let Some(window) = stale
            .buckets
            .get_mut(DELETE)
            .and_then(|b| b.window.as_mut())
        {
            window.sent = 100;
        }
        std::fs::write(&store.path, serde_json::to_vec(&stale).unwrap()).unwrap();
        let mut fresh = Core::new(None, BudgetScope::Route);
        Store::new(dir.path(), URL, KEY).sync(&mut fresh, now, Some(DELETE));
        assert!(
            fresh
                .buckets
                .get(&BucketId::Endpoint(DELETE))
                .is_none_or(|b| b.window.is_none())
        );
        // Foreign (another key's, say): left as it is.
        let mut foreign = stale;
        foreign.key = "somebody else".into();
        let text = serde_json::to_string(&foreign).unwrap();
        std::fs::write(&store.path, &text).unwrap();
        Store::new(dir.path(), URL, KEY).sync(
            &mut Core::new(None, BudgetScope::Route),
            now,
            Some(DELETE),
        );
        assert_eq!(std::fs::read_to_string(&store.path).unwrap(), text);
        // Locked by a process that hangs: the sync gives up in a bounded time.
        let held = File::open(&store.path).unwrap();
        assert!(fs4::fs_std::FileExt::try_lock_exclusive(&held).unwrap());
        let started = Instant::now();
        let mut core = Core::new(None, BudgetScope::Route);
        Store::new(dir.path(), URL, KEY).sync(&mut core, now, Some(DELETE));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(matches!(core.acquire(DELETE, now), Decision::Send(_)));
    }

    #[test]
    fn a_file_is_named_by_url_and_key_without_them() {
        let dir = Path::new("/nowhere");
        let a = Store::new(dir, URL, KEY);
        let b = Store::new(dir, URL, "sk-admin-another-key-0123456789");
        let c = Store::new(dir, "https://api.openai.com/v1", KEY);
        assert_ne!(a.path, b.path);
        assert_ne!(a.path, c.path);
        let name = a.path.display().to_string();
        assert!(
            !name.contains("SECRET") && !name.contains("127.0.0.1"),
            "{name}"
        );
        assert!(!format!("{a:?}").contains("SECRET"));
    }
}
