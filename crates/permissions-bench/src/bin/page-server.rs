//! Serves a listing of pre-serialized pages on 127.0.0.1: the fastest possible
//! server, so that client benchmarks measure the client.
//!
//! `page-server --listen 127.0.0.1:0 --total 100000 --limit 100` prints
//! `listening on http://ADDR/v1` and serves until killed.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Router,
    extract::{Query, State},
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
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

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let listen = arg(&args, "--listen", "127.0.0.1:0");
    let total: usize = arg(&args, "--total", "100000").parse()?;
    let limit: usize = arg(&args, "--limit", "100").parse()?;
    let pages: Pages = Arc::new(
        serialized_pages(total, limit)
            .into_iter()
            .map(|(k, v)| (k, v.into()))
            .collect(),
    );
    let app = Router::new()
        .route(
            "/v1/fine_tuning/checkpoints/{checkpoint}/permissions",
            get(list),
        )
        .with_state(pages);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on http://{}/v1", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
