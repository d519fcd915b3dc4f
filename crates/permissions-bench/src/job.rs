//! The admin job of section 6, against the admin API's throttle time-compressed:
//! the emulator at 8 requests per endpoint every 3 s (`--rate-limit 8/3s`, 429
//! without headers, as the real API at about 8 a minute).

use serde_json::Value;

/// The emulator's limit: `REQUESTS` per `WINDOW_S` seconds, per endpoint.
pub const REQUESTS: u32 = 8;
/// The window of the limit, in seconds.
pub const WINDOW_S: f64 = 3.0;
/// Permissions the job lists, in pages of 100.
pub const LISTED: usize = 3_000;
/// Projects granted, in batches of 100.
pub const GRANTS: usize = 2_000;
/// Permissions revoked, one request each.
pub const REVOKES: usize = 30;
/// `OPENAI_ADMIN_MAX_RPM` of the configured runs: the emulator's own rate.
pub const MAX_RPM: &str = "160";

/// The contenders, in the order of even rounds.
pub const CONTENDERS: [&str; 6] = [
    "ours-lib",
    "ours-lib-rpm",
    "ours-cli",
    "ours-cli-rpm",
    "python",
    "node",
];

/// The emulator's `--rate-limit` value for this limit: `8/3s`.
pub fn rate_limit() -> String {
    format!("{REQUESTS}/{WINDOW_S}s")
}

/// The fewest requests the job needs: pages of 100, batches of 100, one revoke each.
pub fn requests_needed() -> usize {
    LISTED.div_ceil(100) + GRANTS.div_ceil(100) + REVOKES
}

/// The shortest wall time the throttle allows, in ms: requests needed / allowed rate.
pub fn minimum_ms() -> f64 {
    requests_needed() as f64 * WINDOW_S * 1e3 / f64::from(REQUESTS)
}

/// Whether a sample of the job did all of it.
pub fn completed(value: &Value) -> bool {
    let count = |f: &str| value.get(f).and_then(Value::as_u64).unwrap_or(0) as usize;
    value.get("completed").and_then(Value::as_bool) == Some(true)
        && count("listed") == LISTED
        && count("granted") == GRANTS
        && count("revoked") == REVOKES
}
