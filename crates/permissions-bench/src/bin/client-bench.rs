//! One client measurement, in its own process so that its peak memory is its own.
//!
//! `client-bench --base-url URL --client ours|reqwest --task list|call [--count N]
//! [--concurrency C]` prints one JSON line:
//! `{"client", "task", "items", "requests", "wall_ms", "us_per_request", "peak_rss_kib"}`.
//!
//! - `list`: every permission of the listing at limit 100, following the cursor.
//! - `call`: `count` requests for the first page (limit 100), `concurrency` at a time.

use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use permissions_api::{Client, ListParams};
use permissions_bench::{CHECKPOINT, cpu_time_ms, peak_rss_kib};
use permissions_types::PermissionList;

const KEY: &str = "sk-admin-bench";

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

/// The hand-written ideal: reqwest + serde, following `after` by hand.
struct Manual {
    http: reqwest::Client,
    url: String,
}

impl Manual {
    fn new(base_url: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: format!("{base_url}/fine_tuning/checkpoints/{CHECKPOINT}/permissions"),
        }
    }

    async fn page(
        &self,
        after: Option<&str>,
    ) -> Result<PermissionList, Box<dyn std::error::Error>> {
        let mut query: Vec<(&str, &str)> = vec![("limit", "100")];
        if let Some(after) = after {
            query.push(("after", after));
        }
        let response = self
            .http
            .get(&self.url)
            .bearer_auth(KEY)
            .query(&query)
            .send()
            .await?
            .error_for_status()?;
        Ok(serde_json::from_slice(&response.bytes().await?)?)
    }

    async fn list_all(
        &self,
        max_items: usize,
    ) -> Result<(usize, usize), Box<dyn std::error::Error>> {
        let (mut items, mut requests) = (0, 0);
        let mut after: Option<String> = None;
        loop {
            let page = self.page(after.as_deref()).await?;
            requests += 1;
            items += page.data.len().min(max_items - items);
            match page.last_id {
                Some(last) if page.has_more && !page.data.is_empty() && items < max_items => {
                    after = Some(last)
                }
                _ => return Ok((items, requests)),
            }
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let base_url = arg(&args, "--base-url", "http://127.0.0.1:8089/v1");
    let which = arg(&args, "--client", "ours");
    let task = arg(&args, "--task", "list");
    let count: usize = arg(&args, "--count", "2000").parse()?;
    let concurrency: usize = arg(&args, "--concurrency", "1").parse()?;
    let max_items: usize = arg(&args, "--max-items", &usize::MAX.to_string()).parse()?;

    let ours = Client::builder().api_key(KEY).base_url(&base_url).build()?;
    let manual = Manual::new(&base_url);
    let started = Instant::now();
    let (items, requests) = match (which.as_str(), task.as_str()) {
        ("ours", "list") => {
            let mut pages = ours.fine_tuning().checkpoints().permissions().list_pages(
                CHECKPOINT,
                ListParams::new().limit(100).max_items(max_items as u64),
            );
            let (mut items, mut requests) = (0, 0);
            while let Some(page) = pages.try_next().await? {
                items += page.data.len();
                requests += 1;
            }
            (items, requests)
        }
        ("reqwest", "list") => manual.list_all(max_items).await?,
        ("ours", "call") => {
            let permissions = ours.fine_tuning().checkpoints().permissions();
            let params = ListParams::new().limit(100);
            let items: usize = futures::stream::iter(0..count)
                .map(|_| {
                    #[allow(deprecated)]
                    permissions.retrieve(CHECKPOINT, &params)
                })
                .buffer_unordered(concurrency)
                .map_ok(|page| page.data.len())
                .try_fold(0, |sum, n| async move { Ok(sum + n) })
                .await?;
            (items, count)
        }
        ("reqwest", "call") => {
            let items: usize = futures::stream::iter(0..count)
                .map(|_| manual.page(None))
                .buffer_unordered(concurrency)
                .map_ok(|page| page.data.len())
                .try_fold(0, |sum, n| async move { Ok(sum + n) })
                .await?;
            (items, count)
        }
        other => return Err(format!("unknown --client/--task {other:?}").into()),
    };
    let wall = started.elapsed();
    let cpu_ms = cpu_time_ms();
    println!(
        "{}",
        serde_json::json!({
            "client": which,
            "task": task,
            "concurrency": concurrency,
            "items": items,
            "requests": requests,
            "wall_ms": wall.as_secs_f64() * 1e3,
            "us_per_request": wall.as_secs_f64() * 1e6 / requests.max(1) as f64,
            "peak_rss_kib": peak_rss_kib(),
            "cpu_ms": cpu_ms,
            "cpu_us_per_request": cpu_ms.map(|ms| ms * 1e3 / requests.max(1) as f64),
        })
    );
    Ok(())
}
