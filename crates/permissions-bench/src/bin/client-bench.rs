//! One client measurement, in its own process so that its peak memory is its own
//! (flags: `client-bench --help`). Prints one JSON line: `{"client", "task",
//! "concurrency", "items", "requests", "wall_ms", "us_per_request", "cpu_ms",
//! "cpu_us_per_request", "peak_rss_kib", "verified"}`.
//!
//! - `list`: every permission of the listing at limit 100, following the cursor
//!   (`ours`: the item stream `list`; `ours-pages`: the page stream `list_pages`).
//! - `call`: `count` requests for the first page (`--limit`, default 100),
//!   `concurrency` at a time (`ours`: the deprecated one-page `retrieve`).
//! - `grant`: create permissions for `projects` new projects in batches of `batch`
//!   ids per request, `concurrency` requests at a time; then list the checkpoint and
//!   count how many of those projects are present (`verified`, outside the timing).
//!
//! The clients: ours (`permissions-api`), a hand-written `reqwest` + serde loop (the
//! ideal), and raw hyper 1 (hyper-util's legacy pooled client, HTTP/1 only).

use std::collections::HashSet;
use std::time::Instant;

use bytes::Bytes;
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::{Client as HyperClient, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use permissions_api::{Client, ListParams};
use permissions_bench::{CHECKPOINT, cpu_time_ms, peak_rss_kib};
use permissions_types::PermissionList;

const KEY: &str = "sk-admin-bench";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The project ids of a grant run: 24 characters after `proj_`, like real ones.
fn project_id(i: usize) -> String {
    format!("proj_g{i:023}")
}

/// Follows the cursor through every page that `page` fetches, up to `max_items`.
async fn list_all<F, Fut>(max_items: usize, page: F) -> Result<(usize, usize), BoxError>
where
    F: Fn(Option<String>) -> Fut,
    Fut: Future<Output = Result<PermissionList, BoxError>>,
{
    let (mut items, mut requests) = (0, 0);
    let mut after: Option<String> = None;
    loop {
        let page = page(after.take()).await?;
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

/// The hand-written ideal: reqwest + serde, following `after` by hand.
struct Manual {
    http: reqwest::Client,
    url: String,
}

impl Manual {
    fn new(base_url: &str, checkpoint: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: format!("{base_url}/fine_tuning/checkpoints/{checkpoint}/permissions"),
        }
    }

    async fn page(&self, limit: usize, after: Option<String>) -> Result<PermissionList, BoxError> {
        let limit = limit.to_string();
        let mut query: Vec<(&str, &str)> = vec![("limit", &limit)];
        if let Some(after) = &after {
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

    async fn create(&self, project_ids: &[String]) -> Result<PermissionList, BoxError> {
        let body = serde_json::to_vec(&serde_json::json!({ "project_ids": project_ids }))?;
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(KEY)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?
            .error_for_status()?;
        Ok(serde_json::from_slice(&response.bytes().await?)?)
    }
}

/// Raw hyper 1: the pooled legacy client of hyper-util, HTTP/1 only.
struct Raw {
    http: HyperClient<HttpConnector, Empty<Bytes>>,
    post: HyperClient<HttpConnector, Full<Bytes>>,
    url: String,
    auth: String,
}

impl Raw {
    fn new(base_url: &str, checkpoint: &str) -> Self {
        Self {
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
            post: HyperClient::builder(TokioExecutor::new()).build_http(),
            url: format!("{base_url}/fine_tuning/checkpoints/{checkpoint}/permissions"),
            auth: format!("Bearer {KEY}"),
        }
    }

    async fn body(
        response: hyper::Response<hyper::body::Incoming>,
    ) -> Result<PermissionList, BoxError> {
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)).into());
        }
        Ok(serde_json::from_slice(&body)?)
    }

    async fn page(&self, limit: usize, after: Option<String>) -> Result<PermissionList, BoxError> {
        // Cursors are ASCII alphanumerics and `_`: nothing to escape.
        let uri = match after {
            Some(after) => format!("{}?limit={limit}&after={after}", self.url),
            None => format!("{}?limit={limit}", self.url),
        };
        let request = hyper::Request::get(uri)
            .header(hyper::header::AUTHORIZATION, &self.auth)
            .body(Empty::new())?;
        Self::body(self.http.request(request).await?).await
    }

    async fn create(&self, project_ids: &[String]) -> Result<PermissionList, BoxError> {
        let body = serde_json::to_vec(&serde_json::json!({ "project_ids": project_ids }))?;
        let request = hyper::Request::post(&self.url)
            .header(hyper::header::AUTHORIZATION, &self.auth)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))?;
        Self::body(self.post.request(request).await?).await
    }
}

/// Sums the page sizes of `call` on each input, `concurrency` calls at a time.
async fn repeat<I, F, Fut>(inputs: I, concurrency: usize, call: F) -> Result<usize, BoxError>
where
    I: IntoIterator,
    F: Fn(I::Item) -> Fut,
    Fut: Future<Output = Result<PermissionList, BoxError>>,
{
    futures::stream::iter(inputs)
        .map(call)
        .buffer_unordered(concurrency.max(1))
        .try_fold(0, |sum, page| async move { Ok(sum + page.data.len()) })
        .await
}

/// One client, one task: list everything, repeat one call, or grant many projects.
#[derive(Debug, Parser)]
struct Args {
    /// The API base URL.
    #[arg(long, default_value = "http://127.0.0.1:8089/v1")]
    base_url: String,
    /// ours, ours-pages, reqwest or hyper.
    #[arg(long, default_value = "ours")]
    client: String,
    /// list, call or grant.
    #[arg(long, default_value = "list")]
    task: String,
    /// Requests of `call`.
    #[arg(long, default_value_t = 2000)]
    count: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Page size.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Stop `list` after this many permissions.
    #[arg(long, default_value_t = usize::MAX)]
    max_items: usize,
    /// The checkpoint.
    #[arg(long, default_value = CHECKPOINT)]
    checkpoint: String,
    /// Projects granted by `grant`.
    #[arg(long, default_value_t = 10000)]
    projects: usize,
    /// Project ids per create request of `grant`.
    #[arg(long, default_value_t = 100)]
    batch: usize,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let (checkpoint, max_items, limit) = (&args.checkpoint, args.max_items, args.limit);
    let ours = Client::builder()
        .api_key(KEY)
        .base_url(&args.base_url)
        .build()?;
    let permissions = ours.fine_tuning().checkpoints().permissions();
    let manual = Manual::new(&args.base_url, checkpoint);
    let raw = Raw::new(&args.base_url, checkpoint);
    let projects: Vec<String> = (0..args.projects).map(project_id).collect();
    let batches: Vec<&[String]> = projects.chunks(args.batch.max(1)).collect();
    let (count, concurrency) = (args.count, args.concurrency);

    let started = Instant::now();
    let cpu_started = cpu_time_ms();
    let (items, requests) = match (args.client.as_str(), args.task.as_str()) {
        ("ours", "list") => {
            let items = permissions
                .list(
                    checkpoint,
                    ListParams::new().limit(100).max_items(max_items as u64),
                )
                .try_fold(0usize, |n, _| async move { Ok(n + 1) })
                .await?;
            (items, items.div_ceil(100).max(1))
        }
        ("ours-pages", "list") => {
            let mut pages = permissions.list_pages(
                checkpoint,
                ListParams::new().limit(100).max_items(max_items as u64),
            );
            let (mut items, mut requests) = (0, 0);
            while let Some(page) = pages.try_next().await? {
                items += page.data.len();
                requests += 1;
            }
            (items, requests)
        }
        ("reqwest", "list") => list_all(max_items, |after| manual.page(100, after)).await?,
        ("hyper", "list") => list_all(max_items, |after| raw.page(100, after)).await?,
        ("ours", "call") => {
            let params = ListParams::new().limit(limit as u32);
            let items = repeat(0..count, concurrency, |_| async {
                #[allow(deprecated)]
                Ok(permissions
                    .retrieve(checkpoint, params.clone())
                    .await?
                    .into_inner())
            })
            .await?;
            (items, count)
        }
        ("reqwest", "call") => {
            let items = repeat(0..count, concurrency, |_| manual.page(limit, None)).await?;
            (items, count)
        }
        ("hyper", "call") => {
            let items = repeat(0..count, concurrency, |_| raw.page(limit, None)).await?;
            (items, count)
        }
        (client, "grant") => {
            let (manual, raw) = (&manual, &raw);
            let items = repeat(batches.iter().copied(), concurrency, |ids| async move {
                match client {
                    "ours" => Ok(permissions.create(checkpoint, ids).await?.into_inner()),
                    "reqwest" => manual.create(ids).await,
                    "hyper" => raw.create(ids).await,
                    other => Err(format!("unknown --client {other}").into()),
                }
            })
            .await?;
            (items, batches.len())
        }
        other => return Err(format!("unknown --client/--task {other:?}").into()),
    };
    let wall = started.elapsed();
    let cpu_ms = cpu_time_ms()
        .zip(cpu_started)
        .map(|(end, start)| end - start);
    let peak = peak_rss_kib();

    // After the measurement: every granted project must be listed.
    let verified = if args.task == "grant" {
        let wanted: HashSet<&String> = projects.iter().collect();
        let present = permissions
            .list(checkpoint, ListParams::new().limit(100))
            .try_fold(0usize, |n, permission| {
                let hit = wanted.contains(&permission.project_id);
                async move { Ok(n + usize::from(hit)) }
            })
            .await?;
        Some(present)
    } else {
        None
    };
    println!(
        "{}",
        serde_json::json!({
            "client": args.client,
            "task": args.task,
            "concurrency": concurrency,
            "items": items,
            "requests": requests,
            "wall_ms": wall.as_secs_f64() * 1e3,
            "us_per_request": wall.as_secs_f64() * 1e6 / requests.max(1) as f64,
            "peak_rss_kib": peak,
            "cpu_ms": cpu_ms,
            "cpu_us_per_request": cpu_ms.map(|ms| ms * 1e3 / requests.max(1) as f64),
            "verified": verified,
        })
    );
    Ok(())
}
