//! The client against the admin API's throttle, time-compressed: an emulator that
//! allows 8 requests per endpoint every 2 s and answers 429 without headers (as
//! the real API does at 8 per minute), on 127.0.0.1.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use permissions_api::{BudgetScope, Client, ClientBuilder, Error, ListParams, StatusKind};
use permissions_emulator::{Emulator, EndpointCounters, RateLimit, RateLimitScope, SeedPermission};

const KEY: &str = "sk-admin-throttle-test-0123456789";
const CHECKPOINT: &str = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd";
/// The emulator's rate, and the same as requests per minute.
const RATE: &str = "8/2s";
const RATE_RPM: &str = "240";

async fn throttled_emulator(headers: bool, seeds: usize) -> Emulator {
    let limit: RateLimit = RATE.parse().unwrap();
    Emulator::builder()
        .rate_limit(limit.with_headers(headers))
        .seed((0..seeds).map(|i| SeedPermission::new(CHECKPOINT, format!("proj_seed_{i:05}"))))
        .start()
        .await
        .unwrap()
}

fn builder(emulator: &Emulator) -> ClientBuilder {
    Client::builder().api_key(KEY).base_url(emulator.base_url())
}

fn counters(emulator: &Emulator, method: &str) -> EndpointCounters {
    emulator
        .endpoint_counters()
        .into_iter()
        .find(|c| c.method == method)
        .unwrap_or_default()
}

/// `total` creates of one project each, shared out over `tasks` concurrent tasks
/// on clones of one client; returns the granted project ids.
async fn concurrent_creates(client: &Client, tasks: usize, total: usize) -> Vec<String> {
    let next = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let client = client.clone();
            let next = next.clone();
            tokio::spawn(async move {
                let mut granted = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= total {
                        return Ok::<_, Error>(granted);
                    }
                    let page = client
                        .fine_tuning()
                        .checkpoints()
                        .permissions()
                        .create(CHECKPOINT, [format!("proj_task_{n:04}")])
                        .await?;
                    granted.extend(page.into_inner().data.into_iter().map(|p| p.project_id));
                }
            })
        })
        .collect();
    let mut granted = Vec::new();
    for handle in handles {
        granted.extend(
            handle
                .await
                .expect("task ran")
                .expect("every create succeeds"),
        );
    }
    granted.sort();
    granted
}

#[tokio::test]
async fn sixteen_tasks_finish_a_hundred_creates_without_configuration() {
    let emulator = throttled_emulator(false, 0).await;
    let client = builder(&emulator).build().unwrap();
    let granted = concurrent_creates(&client, 16, 100).await;
    let expected: Vec<String> = (0..100).map(|n| format!("proj_task_{n:04}")).collect();
    assert_eq!(granted, expected);

    let post = counters(&emulator, "POST");
    eprintln!("16 tasks, 100 creates, no configuration: {post:?}");
    // Without a shared pause and a single probe, the 16 tasks would meet a 429
    // each at every window (hundreds). The limit is learned in the first round;
    // later rounds only refine it.
    assert!(
        post.throttled <= 30,
        "{} of {} requests got 429",
        post.throttled,
        post.requests
    );
    assert_eq!(post.requests - post.throttled, 100);
    let status = client.pacing_status();
    assert_eq!(status.responses, post.requests);
    assert_eq!(status.throttled, post.throttled);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_configured_rate_meets_at_most_a_handful_of_429s() {
    let emulator = throttled_emulator(false, 0).await;
    let base_url = emulator.base_url();
    let client = ClientBuilder::from_lookup(|name| match name {
        "OPENAI_ADMIN_KEY" => Some(KEY.to_owned()),
        "OPENAI_BASE_URL" => Some(base_url.clone()),
        "OPENAI_ADMIN_MAX_RPM" => Some(RATE_RPM.to_owned()),
        _ => None,
    })
    .build()
    .unwrap();
    let granted = concurrent_creates(&client, 16, 40).await;
    assert_eq!(granted.len(), 40);
    let post = counters(&emulator, "POST");
    eprintln!("16 tasks, 40 creates, OPENAI_ADMIN_MAX_RPM={RATE_RPM}: {post:?}");
    assert!(post.throttled <= 2, "{post:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_listing_of_1500_finishes_and_headers_are_waited_for() {
    // With the headers, `x-ratelimit-remaining-requests: 0` pauses the endpoint
    // until `x-ratelimit-reset-requests`: the listing needs 15 requests, twice
    // the window's 8, and meets no 429.
    let emulator = throttled_emulator(true, 1500).await;
    let client = builder(&emulator).build().unwrap();
    let started = Instant::now();
    let all: Vec<_> = client
        .fine_tuning()
        .checkpoints()
        .permissions()
        .list(CHECKPOINT, ListParams::new().limit(100))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 1500);
    let get = counters(&emulator, "GET");
    assert_eq!((get.requests, get.throttled), (15, 0));
    // The 9th request waited for the window to reset.
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_budget_ends_the_retries_of_429() {
    let emulator = Emulator::builder()
        .rate_limit("1/60s".parse().unwrap())
        .start()
        .await
        .unwrap();
    let client = builder(&emulator)
        .rate_limit_budget(Some(Duration::from_secs(2)))
        .build()
        .unwrap();
    let permissions = client.fine_tuning().checkpoints().permissions();
    permissions
        .delete(CHECKPOINT, "cp_unknown")
        .await
        .unwrap_err();
    let started = Instant::now();
    let err = permissions
        .delete(CHECKPOINT, "cp_unknown")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some(StatusKind::RateLimit), "{err:?}");
    // It retried (0.5 s, then 1 s), and gave up before a wait past the budget.
    let delete = counters(&emulator, "DELETE");
    assert!(delete.throttled >= 2, "{delete:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // `RetryPolicy::none()` sends a 429 back at once.
    let impatient = builder(&emulator)
        .retry_policy(permissions_api::RetryPolicy::none())
        .build()
        .unwrap();
    let before = counters(&emulator, "DELETE").requests;
    impatient
        .fine_tuning()
        .checkpoints()
        .permissions()
        .delete(CHECKPOINT, "cp_unknown")
        .await
        .unwrap_err();
    assert_eq!(counters(&emulator, "DELETE").requests, before + 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_request_stops_waiting_and_blocks_nobody() {
    let emulator = Emulator::builder()
        .rate_limit("2/1s".parse().unwrap())
        .start()
        .await
        .unwrap();
    let client = builder(&emulator).build().unwrap();
    let permissions = client.fine_tuning().checkpoints().permissions();
    let started = Instant::now();
    // Two served, the third meets a 429 and waits: drop it while it waits, and
    // the next one, the probe, while it waits too.
    for _ in 0..2 {
        permissions.create(CHECKPOINT, ["proj_a"]).await.unwrap();
    }
    for _ in 0..2 {
        let waiting = tokio::time::timeout(
            Duration::from_millis(150),
            permissions.create(CHECKPOINT, ["proj_b"]),
        )
        .await;
        assert!(waiting.is_err(), "the request did not wait: {waiting:?}");
    }
    // Nothing stays blocked by the requests that were dropped.
    let granted = tokio::time::timeout(
        Duration::from_secs(10),
        permissions.create(CHECKPOINT, ["proj_c"]),
    )
    .await
    .expect("not blocked by a cancelled request")
    .unwrap();
    assert_eq!(granted.data[0].project_id, "proj_c");
    assert!(started.elapsed() >= Duration::from_millis(900));
    emulator.shutdown().await;
}

/// One budget for the whole key (`--rate-limit-scope key`): reads and grants at
/// once, unconfigured. The client finds out that the endpoints share it and
/// paces them together.
#[tokio::test]
async fn endpoints_that_share_one_budget_are_paced_together() {
    let limit: RateLimit = RATE.parse().unwrap();
    let emulator = Emulator::builder()
        .rate_limit(limit.with_scope(RateLimitScope::Key))
        .seed((0..400).map(|i| SeedPermission::new(CHECKPOINT, format!("proj_seed_{i:05}"))))
        .start()
        .await
        .unwrap();
    let client = builder(&emulator).build().unwrap();
    let permissions = client.fine_tuning().checkpoints().permissions();
    let started = Instant::now();
    // 8 pages of 50 and 24 grants, at once: 32 requests, 4 windows at best.
    let (listed, granted) = tokio::join!(
        permissions
            .list(CHECKPOINT, ListParams::new().limit(50))
            .try_collect::<Vec<_>>(),
        concurrent_creates(&client, 2, 24),
    );
    // (The grants land on the same checkpoint, some before the listing ends.)
    assert!(listed.unwrap().len() >= 400);
    assert_eq!(granted.len(), 24);
    assert_eq!(client.pacing_status().scope, BudgetScope::Key);
    let requests: u64 = emulator
        .endpoint_counters()
        .iter()
        .map(|c| c.requests)
        .sum();
    let throttled: u64 = emulator
        .endpoint_counters()
        .iter()
        .map(|c| c.throttled)
        .sum();
    eprintln!(
        "key scope: {requests} requests, {throttled} 429s, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        throttled * 4 <= requests,
        "{throttled} of {requests} requests got 429"
    );
    emulator.shutdown().await;
}
