//! Serves a listing of pre-serialized pages on 127.0.0.1: the fastest possible
//! server, so that client benchmarks measure the client.
//!
//! `page-server --listen 127.0.0.1:0 --total 100000 --limit 100 [--workers 1]`
//! prints `listening on http://ADDR/v1` and serves until killed, on `--workers`
//! runtime threads (1 by default, leaving the other core to the client measured).

use std::{collections::HashMap, sync::Arc};

use axum::{
    Router,
    extract::{Query, State},
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use clap::Parser;
use permissions_bench::serialized_pages;

type Pages = Arc<HashMap<Option<String>, axum::body::Bytes>>;

#[derive(serde::Deserialize)]
struct ListQuery {
    after: Option<String>,
}

async fn list(State(pages): State<Pages>, Query(query): Query<ListQuery>) -> impl IntoResponse {
    match pages.get(&query.after) {
        Some(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body.clone(),
        ),
        None => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            axum::body::Bytes::from_static(
                br#"{"error":{"message":"unknown cursor","type":"invalid_request_error","param":"after","code":null}}"#,
            ),
        ),
    }
}

/// Serves a listing of `--total` permissions as pre-serialized pages.
#[derive(Debug, Parser)]
struct Args {
    /// Threads of the runtime.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Permissions in the listing.
    #[arg(long, default_value_t = 100_000)]
    total: usize,
    /// Permissions per page.
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()?
        .block_on(serve(args))
}

async fn serve(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let pages = serialized_pages(args.total, args.limit);
    let pages: Pages = Arc::new(pages.into_iter().map(|(k, v)| (k, v.into())).collect());
    let app = Router::new()
        .route(
            "/v1/fine_tuning/checkpoints/{checkpoint}/permissions",
            get(list),
        )
        .with_state(pages);
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    println!("listening on http://{}/v1", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
