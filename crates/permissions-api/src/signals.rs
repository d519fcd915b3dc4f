//! What a response's headers say about waiting: `x-should-retry`, `retry-after-ms`,
//! `retry-after` (seconds or an HTTP date) and `x-ratelimit-*-requests`. Parsed
//! here only; [`retry`](crate::retry) and the pacer decide what to do with them.

use std::time::{Duration, SystemTime};

use reqwest::{StatusCode, header::HeaderMap};

/// The longest wait believed from a response: a window reset from
/// `x-ratelimit-reset-requests` (a longer one is ignored), or the delay of a 429
/// (a longer one is waited for this long: the pacer's `Core::told`).
pub(crate) const LONGEST_RESET: Duration = Duration::from_secs(600);

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Whether a response with this status and headers is worth retrying, as the
/// official SDKs decide: `x-should-retry: true|false` first, then 408, 409, 429
/// and 5xx.
pub(crate) fn is_retryable_response(status: StatusCode, headers: &HeaderMap) -> bool {
    match headers.get("x-should-retry").map(|v| v.as_bytes()) {
        Some(b"true") => return true,
        Some(b"false") => return false,
        _ => {}
    }
    matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error()
}

/// The delay the server asked for: `retry-after-ms` first, then `retry-after` in
/// seconds or as an HTTP date.
pub(crate) fn server_delay(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let seconds = |value: f64| {
        (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value.min(1e9)))
    };
    if let Some(ms) = text(headers, "retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return seconds(ms / 1000.0);
    }
    let value = text(headers, "retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return seconds(secs);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// When a response says the window is used up (`x-ratelimit-remaining-requests:
/// 0`), how long until it resets (`x-ratelimit-reset-requests`).
pub(crate) fn exhausted_for(headers: &HeaderMap) -> Option<Duration> {
    if text(headers, "x-ratelimit-remaining-requests")? != "0" {
        return None;
    }
    parse_go_duration(text(headers, "x-ratelimit-reset-requests")?).filter(|d| *d <= LONGEST_RESET)
}

/// A duration as OpenAI's `x-ratelimit-reset-*` headers write it (Go's format):
/// `20ms`, `1.5s`, `6m0s`, `1h2m3s`.
pub(crate) fn parse_go_duration(text: &str) -> Option<Duration> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retryable_statuses_follow_the_sdks() {
        let none = HeaderMap::new();
        for code in [408, 409, 429, 500, 502, 503, 504, 599] {
            assert!(
                is_retryable_response(StatusCode::from_u16(code).unwrap(), &none),
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 413, 422] {
            assert!(
                !is_retryable_response(StatusCode::from_u16(code).unwrap(), &none),
                "{code}"
            );
        }
    }

    #[test]
    fn x_should_retry_overrides_the_status() {
        let yes = headers(&[("x-should-retry", "true")]);
        let no = headers(&[("x-should-retry", "false")]);
        assert!(is_retryable_response(StatusCode::BAD_REQUEST, &yes));
        assert!(!is_retryable_response(StatusCode::SERVICE_UNAVAILABLE, &no));
    }

    #[test]
    fn retry_after_ms_wins_over_retry_after() {
        let now = SystemTime::now();
        let h = headers(&[("retry-after-ms", "250"), ("retry-after", "7")]);
        assert_eq!(server_delay(&h, now), Some(Duration::from_millis(250)));
        let h = headers(&[("retry-after", "1.5")]);
        assert_eq!(server_delay(&h, now), Some(Duration::from_millis(1500)));
        let h = headers(&[("retry-after", "soon")]);
        assert_eq!(server_delay(&h, now), None);
        let h = headers(&[("retry-after-ms", "-5")]);
        assert_eq!(server_delay(&h, now), None);
    }

    #[test]
    fn retry_after_accepts_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(3));
        let h = headers(&[("retry-after", &later)]);
        assert_eq!(server_delay(&h, now), Some(Duration::from_secs(3)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(3));
        let h = headers(&[("retry-after", &earlier)]);
        assert_eq!(server_delay(&h, now), Some(Duration::ZERO));
    }

    #[test]
    fn reset_headers_parse_in_go_format() {
        assert_eq!(parse_go_duration("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(parse_go_duration("1h2m3s"), Some(Duration::from_secs(3723)));
        for bad in ["", "s", "5", "5x", "-1s", "1.2.3s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad:?}");
        }
        let mut h = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "2.5s"),
        ]);
        assert_eq!(exhausted_for(&h), Some(Duration::from_millis(2500)));
        h.insert("x-ratelimit-remaining-requests", HeaderValue::from(3));
        assert_eq!(exhausted_for(&h), None);
    }
}
