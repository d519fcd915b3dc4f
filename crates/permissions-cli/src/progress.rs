//! Long jobs: the progress line on a terminal, the count of what was done, and
//! Ctrl-C.
//!
//! A job runs inside [`drive`], which redraws the progress line on standard error
//! every [`TICK`] while the job runs and stops the job when Ctrl-C (SIGINT)
//! arrives. Whatever ends it, the job's [`Tally`] says how much was done, so that
//! the caller can say exactly what was and what was not: permissions listed and
//! the `--after` cursor to continue from, projects granted and not confirmed,
//! permissions revoked and the ids that were not.
//!
//! The line shows done / total where known, the requests, the rate, and `waiting
//! for the rate limit (N s)` while paused; it is erased before rows are printed
//! and at the end. It is drawn only when standard error is a terminal (and
//! `--debug` is off); otherwise the pauses are logged as lines instead.

use std::cell::Cell;
use std::future::Future;
use std::io::{self, Write};
use std::pin::pin;
use std::time::{Duration, Instant};

use permissions_api::{Client, PacingStatus};

/// How often the progress line is redrawn.
pub(crate) const TICK: Duration = Duration::from_millis(250);
/// Waits for a request slot shorter than this are not shown (evenly paced requests
/// wait a little all the time); pauses after a 429 always are.
const SHOWN_WAIT: Duration = Duration::from_secs(1);

/// How much of a job is done: `done` of `total` (when known) `unit`s.
#[derive(Debug)]
pub(crate) struct Tally {
    /// What is counted, in the plural and with its verb: "permissions listed".
    pub(crate) unit: &'static str,
    pub(crate) total: Option<u64>,
    pub(crate) done: Cell<u64>,
}

impl Tally {
    pub(crate) fn new(unit: &'static str, total: Option<u64>) -> Self {
        Self {
            unit,
            total,
            done: Cell::new(0),
        }
    }

    pub(crate) fn add(&self, count: u64) {
        self.done.set(self.done.get() + count);
    }

    pub(crate) fn done(&self) -> u64 {
        self.done.get()
    }
}

/// The job was stopped by Ctrl-C.
#[derive(Debug)]
pub(crate) struct Interrupted;

/// The progress line on standard error; drawn only when `enabled` (standard error
/// is a terminal and `--debug` is off).
#[derive(Debug)]
pub(crate) struct Progress<'a> {
    enabled: bool,
    shown: Cell<bool>,
    client: &'a Client,
    started: Instant,
}

impl<'a> Progress<'a> {
    pub(crate) fn new(enabled: bool, client: &'a Client) -> Self {
        Self {
            enabled,
            shown: Cell::new(false),
            client,
            started: Instant::now(),
        }
    }

    /// Erases the line, before anything else is printed on the terminal.
    pub(crate) fn clear(&self) {
        if self.shown.replace(false) {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }

    fn draw(&self, tally: &Tally) {
        if !self.enabled {
            return;
        }
        let text = line(tally, self.client.pacing_status(), self.started.elapsed());
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{text}");
        let _ = err.flush();
        self.shown.set(true);
    }
}

/// The progress line: `300/1000 projects granted · 4 requests · 38 req/min`,
/// then `· waiting for the rate limit (12 s)` while the pacer holds requests back.
pub(crate) fn line(tally: &Tally, status: PacingStatus, elapsed: Duration) -> String {
    let mut text = match tally.total {
        Some(total) => format!("{}/{total} {}", tally.done(), tally.unit),
        None => format!("{} {}", tally.done(), tally.unit),
    };
    let plural = if status.responses == 1 { "" } else { "s" };
    text.push_str(&format!(" · {} request{plural}", status.responses));
    if status.throttled > 0 {
        text.push_str(&format!(" ({} throttled)", status.throttled));
    }
    if elapsed >= Duration::from_secs(1) && status.responses > 0 {
        let per_minute = status.responses as f64 * 60.0 / elapsed.as_secs_f64();
        text.push_str(&format!(" · {per_minute:.0} req/min"));
    }
    let wait = status.waiting.unwrap_or_default();
    if status.throttled_now || wait >= SHOWN_WAIT {
        text.push_str(&format!(
            " · waiting for the rate limit ({} s)",
            wait.as_secs_f64().ceil().max(1.0)
        ));
    }
    text
}

/// Runs `job`, redrawing the progress line, until it ends or Ctrl-C arrives; the
/// line is erased either way.
pub(crate) async fn drive<F: Future>(
    job: F,
    progress: &Progress<'_>,
    tally: &Tally,
) -> Result<F::Output, Interrupted> {
    let mut job = pin!(job);
    let mut interrupt = pin!(async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handler could be installed: never interrupted here.
            std::future::pending::<()>().await;
        }
    });
    // The first line after one tick: a job that ends sooner draws nothing.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + TICK, TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let outcome = loop {
        tokio::select! {
            output = &mut job => break Ok(output),
            () = &mut interrupt => break Err(Interrupted),
            _ = tick.tick() => progress.draw(tally),
        }
    };
    progress.clear();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_what_is_done_the_rate_and_the_wait() {
        let tally = Tally::new("projects granted", Some(1000));
        tally.add(300);
        let mut status = PacingStatus::default();
        status.responses = 4;
        assert_eq!(
            line(&tally, status, Duration::from_millis(500)),
            "300/1000 projects granted · 4 requests"
        );
        status.throttled = 1;
        status.waiting = Some(Duration::from_millis(11_200));
        assert_eq!(
            line(&tally, status, Duration::from_secs(6)),
            "300/1000 projects granted · 4 requests (1 throttled) · 40 req/min · waiting for the rate limit (12 s)"
        );
        // Short waits of evenly paced requests are not shown, those after a 429 are.
        status.waiting = Some(Duration::from_millis(300));
        status.throttled_now = true;
        assert!(
            line(&tally, status, Duration::from_secs(6))
                .ends_with("waiting for the rate limit (1 s)")
        );
        status.throttled_now = false;
        let listed = Tally::new("permissions listed", None);
        assert_eq!(
            line(&listed, status, Duration::from_secs(60)),
            "0 permissions listed · 4 requests (1 throttled) · 4 req/min"
        );
    }
}
