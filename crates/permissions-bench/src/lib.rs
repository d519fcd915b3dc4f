//! Shared pieces of the benchmark programs.
//!
//! - `page-server`: serves a listing of N permissions as pre-serialized pages, so
//!   the server costs next to nothing and the client's own cost shows.
//! - `client-bench`: lists everything (or repeats one call) through our client or
//!   through a hand-written `reqwest` + serde loop, and reports wall time and the
//!   process's peak memory.

use std::collections::HashMap;

use permissions_types::{CheckpointPermission, PermissionList, PermissionObject};

/// The checkpoint every benchmark lists.
pub const CHECKPOINT: &str = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd";

/// The listing of `total` permissions, newest first, cut in pages of `limit`,
/// serialized once: the key is the `after` cursor that asks for the page (`None`
/// for the first).
pub fn serialized_pages(total: usize, limit: usize) -> HashMap<Option<String>, Vec<u8>> {
    let all: Vec<CheckpointPermission> = (0..total)
        .rev()
        .map(|i| CheckpointPermission {
            id: format!("cp_{i:024}"),
            created_at: 1_700_000_000 + i as i64,
            project_id: format!("proj_{i:024}"),
            object: PermissionObject::CheckpointPermission,
        })
        .collect();
    let mut pages = HashMap::new();
    let mut after: Option<String> = None;
    for (index, chunk) in all.chunks(limit.max(1)).enumerate() {
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

/// CPU time (user + system) this process has used so far, in milliseconds, on Linux
/// (`/proc/self/stat`, in clock ticks of 10 ms).
pub fn cpu_time_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at state (3rd).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 10.0)
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
}
