//! The throttled admin job through our library, for `bench-suite`'s throttle
//! section: what the official SDKs' scripts (`sdk/throttle_job.*`) do, in Rust
//! (flags: `throttle-job --help`).
//!
//! Lists every permission of the checkpoint (pages of 100), grants `grants` new
//! projects in batches of 100, then revokes the first `revokes` permissions it
//! listed, one request each, in sequence; stops at the first error. The pacing
//! comes from the environment (`OPENAI_ADMIN_MAX_RPM`, `OPENAI_ADMIN_BURST`), as
//! in any program that uses `ClientBuilder::from_env`. Prints one JSON line:
//! `{"client", "completed", "listed", "granted", "revoked", "wall_ms", "error"}`.
//! With `RUST_LOG` set (`permissions_api=debug`), the client's logs go to
//! standard error, to see what the pacer decided.

use std::time::Instant;

use clap::Parser;
use futures::TryStreamExt;
use permissions_api::{ClientBuilder, ListParams};
use permissions_bench::CHECKPOINT;

/// The throttled admin job through our library.
#[derive(Debug, Parser)]
struct Args {
    /// The API base URL (the throttled emulator).
    #[arg(long)]
    base_url: String,
    /// The checkpoint to list, grant and revoke on.
    #[arg(long, default_value = CHECKPOINT)]
    checkpoint: String,
    /// Projects to grant, in batches of 100.
    #[arg(long, default_value_t = 2000)]
    grants: usize,
    /// Permissions to revoke, one request each.
    #[arg(long, default_value_t = 30)]
    revokes: usize,
}

/// The key the emulator accepts as an admin key.
const KEY: &str = "sk-admin-bench";

#[derive(Default)]
struct Done {
    listed: usize,
    granted: usize,
    revoked: usize,
}

async fn job(args: &Args, done: &mut Done) -> permissions_api::Result<()> {
    let builder = ClientBuilder::from_env().api_key(KEY);
    let client = builder.base_url(args.base_url.as_str()).build()?;
    let checkpoint = args.checkpoint.as_str();
    let permissions = client.fine_tuning().checkpoints().permissions();
    let mut listed = Vec::new();
    let mut stream = permissions.list(checkpoint, ListParams::new().limit(100));
    while let Some(permission) = stream.try_next().await? {
        listed.push(permission.id);
        done.listed += 1;
    }
    let projects: Vec<String> = (0..args.grants)
        .map(|i| format!("proj_bench_{i:06}"))
        .collect();
    for batch in projects.chunks(100) {
        done.granted += permissions.create(checkpoint, batch).await?.data.len();
    }
    for id in listed.iter().take(args.revokes) {
        permissions.delete(checkpoint, id).await?;
        done.revoked += 1;
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .with_target(false)
            .init();
    }
    let started = Instant::now();
    let mut done = Done::default();
    let outcome = job(&args, &mut done).await;
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;
    println!(
        "{}",
        serde_json::json!({
            "client": "ours",
            "completed": outcome.is_ok(),
            "listed": done.listed,
            "granted": done.granted,
            "revoked": done.revoked,
            "wall_ms": wall_ms,
            "error": outcome.err().map(|e| e.to_string()),
        })
    );
    std::process::ExitCode::SUCCESS
}
