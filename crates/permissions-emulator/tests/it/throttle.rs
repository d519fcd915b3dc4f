//! The emulator's throttle (`RateLimit`), against an in-process emulator on
//! 127.0.0.1:0: fixed windows per key and endpoint, the rate-limit envelope, no
//! headers unless asked, and the counters tests read.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::{Api, CHECKPOINT};
use permissions_emulator::{Emulator, RateLimit};
use reqwest::StatusCode;

async fn start(limit: RateLimit) -> (Emulator, Api) {
    let emulator = Emulator::builder()
        .rate_limit(limit)
        .start()
        .await
        .expect("emulator starts");
    let api = Api::new(emulator.base_url());
    (emulator, api)
}

fn limit(text: &str) -> RateLimit {
    text.parse().expect("a valid rate limit")
}

#[tokio::test]
async fn the_window_serves_its_requests_then_answers_429_without_headers() {
    // A long window, so that it cannot refill while the test runs.
    let (emulator, api) = start(limit("3/60s")).await;
    for _ in 0..3 {
        assert_eq!(api.list(CHECKPOINT, &[]).await.status, StatusCode::OK);
    }
    let refused = api.list(CHECKPOINT, &[]).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let error = refused.error();
    assert_eq!(error["type"], "requests");
    assert_eq!(error["code"], "rate_limit_exceeded");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Rate limit reached for requests")),
        "{error}"
    );
    for name in [
        "retry-after",
        "retry-after-ms",
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
    ] {
        assert!(refused.headers.get(name).is_none(), "{name} sent");
    }
    // Other endpoints, and other keys, have windows of their own.
    assert_eq!(
        api.create(CHECKPOINT, &["proj_a"]).await.status,
        StatusCode::OK
    );
    let other_key = api.with_key(Some("sk-admin-another-key"));
    assert_eq!(other_key.list(CHECKPOINT, &[]).await.status, StatusCode::OK);

    let counters = emulator.endpoint_counters();
    let get = counters
        .iter()
        .find(|c| c.method == "GET")
        .expect("GET counted");
    assert_eq!(
        get.path,
        "/v1/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions"
    );
    assert_eq!((get.requests, get.throttled), (5, 1));
    let post = counters
        .iter()
        .find(|c| c.method == "POST")
        .expect("POST counted");
    assert_eq!((post.requests, post.throttled), (1, 0));
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_window_refills_after_its_duration() {
    let (emulator, api) = start(limit("2/300ms")).await;
    let opened = Instant::now();
    assert_eq!(api.list(CHECKPOINT, &[]).await.status, StatusCode::OK);
    assert_eq!(api.list(CHECKPOINT, &[]).await.status, StatusCode::OK);
    let third = api.list(CHECKPOINT, &[]).await;
    if opened.elapsed() < Duration::from_millis(300) {
        assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    }
    tokio::time::sleep(Duration::from_millis(320).saturating_sub(opened.elapsed())).await;
    assert_eq!(api.list(CHECKPOINT, &[]).await.status, StatusCode::OK);
    emulator.shutdown().await;
}

#[tokio::test]
async fn headers_say_how_long_to_wait_when_asked_for() {
    let (emulator, api) = start(limit("2/60s").with_headers(true)).await;
    let first = api.list(CHECKPOINT, &[]).await;
    assert_eq!(first.status, StatusCode::OK);
    let header = |reply: &common::Reply, name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(header(&first, "x-ratelimit-limit-requests"), "2");
    assert_eq!(header(&first, "x-ratelimit-remaining-requests"), "1");
    api.list(CHECKPOINT, &[]).await;
    let refused = api.list(CHECKPOINT, &[]).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused, "x-ratelimit-remaining-requests"), "0");
    let ms: u64 = header(&refused, "retry-after-ms").parse().expect("ms");
    assert!((50_000..=60_000).contains(&ms), "{ms}");
    let seconds: u64 = header(&refused, "retry-after").parse().expect("seconds");
    assert_eq!(seconds, ms.div_ceil(1000));
    assert!(header(&refused, "x-ratelimit-reset-requests").ends_with('s'));
    emulator.shutdown().await;
}

#[tokio::test]
async fn unauthenticated_and_unrouted_requests_are_not_throttled() {
    let (emulator, api) = start(limit("1/60s")).await;
    let anonymous = api.with_key(None);
    for _ in 0..3 {
        assert_eq!(
            anonymous.list(CHECKPOINT, &[]).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(api.list(CHECKPOINT, &[]).await.status, StatusCode::OK);
    emulator.shutdown().await;
}
