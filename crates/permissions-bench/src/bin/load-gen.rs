//! HTTP/1 load on one URL, with a latency distribution; prints one JSON line
//! (flags: `load-gen --help`).
//!
//! - Without `--rate`: closed loop. Each connection sends its next request as soon
//!   as the previous answer arrives; the result is the server's throughput (as with
//!   `wrk`).
//! - With `--rate R`: open loop at a constant rate (like `wrk2`). Request `k` is due
//!   at `start + k / R`; the connections take the due requests in turn. When a
//!   request goes out late because every connection was busy waiting for the server,
//!   its latency counts from when it was due, so a stalled server cannot hide its
//!   queue (coordinated omission). When a connection was idle and slept until the
//!   request was due, latency counts from its wake-up: the 1 ms granularity of the
//!   timer is the load generator's delay, not the server's.
//!
//! `POST` sends a create body naming one new project per request (unique per run),
//! so every request writes. The key is `sk-admin-bench`. Runs on one thread, leaving
//! the other core(s) to the server; requests that fail or answer non-2xx are
//! counted as errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use permissions_bench::quantile;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Plan {
    uri: hyper::Uri,
    post: bool,
    /// Requests per second in open-loop mode.
    rate: Option<f64>,
    start: Instant,
    end: Instant,
    /// Measurement starts here: earlier answers warm up and are not recorded.
    record_from: Instant,
    next: AtomicU64,
    run_id: u64,
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors: u64,
}

async fn connection(plan: Arc<Plan>) -> Result<Tally, BoxError> {
    let authority = plan.uri.authority().ok_or("URL without host")?.clone();
    let stream = tokio::net::TcpStream::connect(authority.as_str()).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut tally = Tally::default();
    loop {
        let k = plan.next.fetch_add(1, Ordering::Relaxed);
        let mut sent_from = Instant::now();
        if let Some(rate) = plan.rate {
            let due = plan.start + Duration::from_secs_f64(k as f64 / rate);
            if due >= plan.end {
                break;
            }
            if due > sent_from {
                tokio::time::sleep_until(due.into()).await;
                sent_from = Instant::now();
            } else {
                sent_from = due;
            }
        } else if sent_from >= plan.end {
            break;
        }
        let body = if plan.post {
            Bytes::from(format!(
                r#"{{"project_ids":["proj_l{:08x}{:015}"]}}"#,
                plan.run_id as u32, k
            ))
        } else {
            Bytes::new()
        };
        let method = if plan.post {
            hyper::Method::POST
        } else {
            hyper::Method::GET
        };
        let request = hyper::Request::builder()
            .method(method)
            .uri(plan.uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(hyper::header::HOST, authority.as_str())
            .header(hyper::header::AUTHORIZATION, "Bearer sk-admin-bench")
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        sender.ready().await?;
        let ok = match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                response.into_body().collect().await.is_ok() && status.is_success()
            }
            Err(_) => false,
        };
        let done = Instant::now();
        if sent_from >= plan.record_from {
            if ok {
                tally
                    .latencies_us
                    .push(done.duration_since(sent_from).as_micros() as u64);
            } else {
                tally.errors += 1;
            }
        }
        if !ok && sender.is_closed() {
            break;
        }
    }
    Ok(tally)
}

/// HTTP/1 load on one URL: closed loop, or a constant rate with `--rate`.
#[derive(Debug, Parser)]
struct Args {
    /// The URL every request goes to.
    #[arg(long)]
    url: String,
    /// GET, or POST (a create with a new project each).
    #[arg(long, default_value = "GET")]
    method: String,
    /// Connections, each one request in flight.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 10.0)]
    duration_s: f64,
    /// Seconds of warm-up, not measured.
    #[arg(long, default_value_t = 1.0)]
    warmup_s: f64,
    /// Requests per second of an open loop; without it, a closed loop.
    #[arg(long)]
    rate: Option<f64>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let (rate, start) = (args.rate, Instant::now());
    let warmup = Duration::from_secs_f64(args.warmup_s);
    let plan = Arc::new(Plan {
        uri: args.url.parse()?,
        post: args.method.eq_ignore_ascii_case("POST"),
        rate,
        start,
        end: start + warmup + Duration::from_secs_f64(args.duration_s),
        record_from: start + warmup,
        next: AtomicU64::new(0),
        run_id: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos() as u64
            ^ u64::from(std::process::id()),
    });
    let workers: Vec<_> = (0..args.connections.max(1))
        .map(|_| tokio::spawn(connection(plan.clone())))
        .collect();
    let mut all = Tally::default();
    for worker in workers {
        let tally = worker.await??;
        all.latencies_us.extend(tally.latencies_us);
        all.errors += tally.errors;
    }
    let measured = Instant::now()
        .min(plan.end)
        .duration_since(plan.record_from)
        .as_secs_f64();
    all.latencies_us.sort_unstable();
    let q = |q: f64| quantile(&all.latencies_us, q) as f64 / 1e3;
    println!(
        "{}",
        serde_json::json!({
            "mode": if rate.is_some() { "rate" } else { "closed" },
            "target_rps": rate,
            "connections": args.connections,
            "ok": all.latencies_us.len(),
            "errors": all.errors,
            "rps": all.latencies_us.len() as f64 / measured,
            "p50_ms": q(0.50),
            "p90_ms": q(0.90),
            "p99_ms": q(0.99),
            "p999_ms": q(0.999),
            "max_ms": q(1.0),
        })
    );
    Ok(())
}
