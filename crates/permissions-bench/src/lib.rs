//! Shared pieces of the benchmark programs.
//!
//! - `bench-suite` (run by `cargo xtask bench`): starts the servers, runs every
//!   measurement below as its own process, interleaved over several rounds, and
//!   writes `BENCHMARKS.md` with medians and ratios.
//! - `page-server`: serves a listing of N permissions as pre-serialized pages, so
//!   the server costs next to nothing and the client's own cost shows.
//! - `client-bench`: lists everything, repeats one call or grants many projects
//!   through our client, a hand-written `reqwest` + serde loop or raw hyper, and
//!   reports wall time, CPU time and the process's peak memory.
//! - `load-gen`: HTTP/1 load on one URL, closed-loop (as fast as the server
//!   answers) or at a constant rate (latency counted from each request's scheduled
//!   time), with a latency distribution.
//!
//! The library holds what the report needs: [`run`] (a run as data, saved as
//! `BENCHMARKS.json`), [`goals`] (every goal, declared once), [`job`] (the jobs
//! against the throttle, and the least time each scope allows them) and
//! [`report`] (`BENCHMARKS.md`, rendered from a run alone, so that the published
//! figures are the saved ones).

pub mod goals;
pub mod job;
pub mod report;
pub mod run;

use std::collections::HashMap;

use permissions_types::{CheckpointPermission, PermissionList};

/// The checkpoint every benchmark lists.
pub const CHECKPOINT: &str = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd";

/// Permission `i` of the benchmark listing. The page server serves these and the
/// emulator is seeded with them, so that both servers hold the same data.
pub fn permission(i: usize) -> CheckpointPermission {
    CheckpointPermission::new(
        format!("cp_{i:024}"),
        format!("proj_{i:024}"),
        1_700_000_000 + i as i64,
    )
}

/// The listing of `total` permissions, newest first, cut in pages of `limit`,
/// serialized once: the key is the `after` cursor that asks for the page (`None`
/// for the first).
pub fn serialized_pages(total: usize, limit: usize) -> HashMap<Option<String>, Vec<u8>> {
    let limit = limit.max(1);
    let all: Vec<CheckpointPermission> = (0..total).rev().map(permission).collect();
    let mut pages = HashMap::new();
    let mut after: Option<String> = None;
    for (index, chunk) in all.chunks(limit).enumerate() {
        let has_more = (index + 1) * limit < total;
        let page = PermissionList::new(chunk.to_vec(), has_more);
        let next = page.last_id.clone();
        pages.insert(after, serde_json::to_vec(&page).expect("pages serialize"));
        after = next;
    }
    if total == 0 {
        let empty = PermissionList::new(Vec::new(), false);
        pages.insert(None, serde_json::to_vec(&empty).expect("pages serialize"));
    }
    pages
}

/// The peak resident set size of this process in KiB (`VmHWM`), on Linux.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time (user + system) this process has used so far, in milliseconds, with
/// microsecond resolution (`getrusage(RUSAGE_SELF)`; `/proc/self/stat` counts 10 ms
/// ticks, too coarse for a thousand pages).
pub fn cpu_time_ms() -> Option<f64> {
    use nix::sys::resource::{UsageWho, getrusage};
    use nix::sys::time::TimeValLike;
    let usage = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let micros = usage.user_time().num_microseconds() + usage.system_time().num_microseconds();
    Some(micros as f64 / 1e3)
}

/// The median of `values` (the mean of the two middle ones for an even count), or
/// `None` when empty. NaNs sort last.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

/// The `q` quantile (0..=1) of sorted `values`, nearest rank; 0 when empty.
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_chain_through_their_cursors() {
        let pages = serialized_pages(250, 100);
        assert_eq!(pages.len(), 3);
        let mut after = None;
        let mut seen = 0;
        loop {
            let page: PermissionList = serde_json::from_slice(&pages[&after]).unwrap();
            seen += page.data.len();
            if !page.has_more {
                break;
            }
            after = page.last_id;
        }
        assert_eq!(seen, 250);
    }

    #[test]
    fn medians_and_quantiles() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        let sorted: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&sorted, 0.99), 99);
        assert_eq!(quantile(&sorted, 0.5), 50);
        assert_eq!(quantile(&sorted, 1.0), 100);
        assert_eq!(quantile(&[], 0.5), 0);
    }
}
