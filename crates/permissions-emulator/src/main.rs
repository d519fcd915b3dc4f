//! `permissions-emulator`: serves the checkpoint permissions API (and the
//! organization's projects) locally.
//!
//! ```text
//! permissions-emulator --listen 127.0.0.1:8089 [--db FILE] [--seed FILE] [--keys FILE]
//!     [--rate-limit 8/60s [--rate-limit-headers] [--rate-limit-scope route|key]]
//!     [--counters-out FILE]
//! ```
//!
//! Prints `listening on http://ADDR/v1` on standard output once it accepts
//! connections; logs go to standard error (filter with `RUST_LOG`). Stops gracefully
//! on SIGINT and SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use permissions_emulator::{
    DEFAULT_ADMIN_KEY_PREFIX, Emulator, FaultConfig, RateLimit, RateLimitScope,
};
use tracing_subscriber::EnvFilter;

/// A local emulator of the OpenAI fine-tuned checkpoint permissions API.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(
        long,
        default_value = "127.0.0.1:8089",
        env = "PERMISSIONS_EMULATOR_LISTEN"
    )]
    listen: SocketAddr,
    /// Keep permissions in this SQLite file (WAL mode) instead of in memory.
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// Start from the projects, checkpoints and permissions of this JSON file
    /// (repeatable): {"projects": [...], "checkpoints": [...], "permissions": [...]},
    /// or a list of permissions. Projects describe the whole organization.
    #[arg(long, value_name = "FILE")]
    seed: Vec<PathBuf>,
    /// Accept only the keys of this JSON file, each with its scopes:
    /// {"keys": [{"key": "sk-admin-...", "scopes": ["api.fine_tuning.checkpoints.read"]}]}
    /// (`api.fine_tuning.checkpoints.read` lists permissions, `...write` creates and
    /// deletes them, `api.organization.projects.read` lists projects). Without it
    /// any admin key has every scope.
    #[arg(long, value_name = "FILE")]
    keys: Option<PathBuf>,
    /// Keys starting with this prefix are admin keys; others get 403.
    #[arg(long, default_value = DEFAULT_ADMIN_KEY_PREFIX)]
    admin_key_prefix: String,
    /// Share (0..=1) of requests answered 429.
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    fault_429: f64,
    /// Share (0..=1) of requests answered 500.
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    fault_500: f64,
    /// Share (0..=1) of requests answered 503.
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    fault_503: f64,
    /// Share (0..=1) of requests delayed by --fault-delay-ms.
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    fault_delay: f64,
    /// Delay of delayed requests, in milliseconds.
    #[arg(long, default_value_t = 100, value_name = "MS")]
    fault_delay_ms: u64,
    /// `retry-after-ms` of injected 429s (`retry-after` is its ceiling in seconds).
    #[arg(long, default_value_t = 100, value_name = "MS")]
    fault_retry_after_ms: u64,
    /// Seed of the random fault draws, for repeatable runs.
    #[arg(long, value_name = "N")]
    fault_seed: Option<u64>,
    /// Throttle each key's requests per endpoint as the real admin API does, in
    /// fixed windows: REQUESTS/DURATION, such as 8/60s (or 8/3s for fast tests).
    #[arg(long, value_name = "REQUESTS/DURATION")]
    rate_limit: Option<RateLimit>,
    /// With --rate-limit, send retry-after, retry-after-ms and x-ratelimit-* headers
    /// (the real admin endpoints send none).
    #[arg(long, requires = "rate_limit")]
    rate_limit_headers: bool,
    /// With --rate-limit, which requests of a key share one budget: `route` (one
    /// per method and path template) or `key` (one for all admin routes).
    #[arg(
        long,
        requires = "rate_limit",
        value_name = "route|key",
        default_value = "route"
    )]
    rate_limit_scope: RateLimitScope,
    /// When stopping, write the requests and 429s counted per endpoint to this
    /// file, as JSON (`{"endpoints": [{"method", "path", "requests", "throttled"}]}`).
    #[arg(long, value_name = "FILE")]
    counters_out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "emulator failed");
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), permissions_emulator::Error> {
    let mut builder = Emulator::builder()
        .listen(args.listen)
        .admin_key_prefix(args.admin_key_prefix)
        .faults(FaultConfig {
            rate_limited: args.fault_429,
            server_error: args.fault_500,
            unavailable: args.fault_503,
            delayed: args.fault_delay,
            delay: Duration::from_millis(args.fault_delay_ms),
            retry_after_ms: Some(args.fault_retry_after_ms),
            rng_seed: args.fault_seed,
        });
    if let Some(limit) = args.rate_limit {
        builder = builder.rate_limit(
            limit
                .with_headers(args.rate_limit_headers)
                .with_scope(args.rate_limit_scope),
        );
    }
    if let Some(db) = args.db {
        builder = builder.database(db);
    }
    if let Some(keys) = args.keys {
        builder = builder.keys_file(keys);
    }
    for seed in args.seed {
        builder = builder.seed_file(seed);
    }
    let emulator = builder.start().await?;
    // Said for whoever started it (scripts read the URL); with standard output
    // closed, the server runs on all the same.
    let _ = writeln!(std::io::stdout(), "listening on {}", emulator.base_url());
    let state = emulator.state().clone();
    shutdown_signal().await;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    if let Some(path) = args.counters_out {
        let counters = serde_json::json!({ "endpoints": state.endpoint_counters() });
        std::fs::write(&path, serde_json::to_vec_pretty(&counters)?)?;
    }
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
