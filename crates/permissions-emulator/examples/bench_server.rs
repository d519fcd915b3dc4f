//! A server for the benchmark (`bench/run.sh`), in one of three modes:
//!
//! ```text
//! bench_server ceiling ADDR        # one pre-serialized 100-permission page, minimal axum
//! bench_server memory ADDR         # the emulator's router, in memory
//! bench_server sqlite ADDR DBFILE  # the emulator's router, SQLite in WAL mode
//! ```
//!
//! The emulator modes start with 150 permissions on checkpoint `ft:bench`, so a
//! `limit=100` list returns a full page. Stops on Ctrl-C or SIGTERM.

use std::net::SocketAddr;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use permissions_emulator::{Emulator, SeedPermission, router};
use permissions_types::{CheckpointPermission, PermissionList, PermissionObject};

const PATH: &str = "/v1/fine_tuning/checkpoints/{checkpoint}/permissions";

fn alnum(i: usize, salt: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = i
        .wrapping_mul(2_654_435_761)
        .wrapping_add(salt.wrapping_mul(40_503))
        | 1;
    (0..24)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            CHARS[x % CHARS.len()] as char
        })
        .collect()
}

fn seeds() -> Vec<SeedPermission> {
    (0..150)
        .map(|i| SeedPermission {
            id: Some(format!("cp_{}", alnum(i, 1))),
            created_at: Some(1_712_211_699 + i as i64),
            ..SeedPermission::new("ft:bench", format!("proj_{}", alnum(i, 2)))
        })
        .collect()
}

fn ceiling() -> Router {
    let data = seeds()
        .into_iter()
        .take(100)
        .map(|s| CheckpointPermission {
            id: s.id.unwrap_or_default(),
            created_at: s.created_at.unwrap_or_default(),
            project_id: s.project_id,
            object: PermissionObject::CheckpointPermission,
        })
        .collect();
    let page: &'static [u8] = serde_json::to_vec(&PermissionList::new(data, true))
        .expect("serializes")
        .leak();
    Router::new().route(
        PATH,
        get(move || async move { ([(header::CONTENT_TYPE, "application/json")], page) }),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (mode, addr) = match (args.get(1), args.get(2)) {
        (Some(mode), Some(addr)) => (mode.as_str(), addr.parse::<SocketAddr>()?),
        _ => return Err("usage: bench_server ceiling|memory|sqlite ADDR [DBFILE]".into()),
    };
    let app = match mode {
        "ceiling" => ceiling(),
        "memory" => router(Emulator::builder().seed(seeds()).build_state()?),
        "sqlite" => {
            let db = args.get(3).ok_or("sqlite needs a DBFILE")?;
            router(
                Emulator::builder()
                    .database(db)
                    .seed(seeds())
                    .build_state()?,
            )
        }
        other => return Err(format!("unknown mode {other}").into()),
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("{mode} listening on http://{}/v1", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        })
        .await?;
    Ok(())
}
