//! Users depend on `permissions-api` from outside this workspace: a crate made in a
//! temporary folder depends on it by path, builds, and calls a server with it.

use std::process::Command;

use axum::{Router, routing::get};
use workspace_tests::workspace_root;

const MAIN_RS: &str = r#"
use permissions_api::{Client, permissions_types::ListOrder};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let base_url = std::env::args().nth(1).expect("base URL argument");
    let client = Client::builder()
        .api_key("sk-admin-consumer")
        .base_url(base_url)
        .build()
        .expect("valid settings");
    // The generated operation, through the hand-written client's transport.
    let page = client
        .raw()
        .list_fine_tuning_checkpoint_permissions()
        .fine_tuned_model_checkpoint("ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd")
        .order(ListOrder::Ascending)
        .send()
        .await
        .expect("list succeeds")
        .into_inner();
    println!("{} {}", page.data.len(), page.data[0].project_id);
}
"#;

const PAGE: &str = r#"{"object": "list", "data": [{"object": "checkpoint.permission",
  "id": "cp_zc4Q7MP6XxulcVzj4MZdwsAB", "created_at": 1721764867,
  "project_id": "proj_abGMw1llN8IrBb6SvvY5A1iH"}],
  "first_id": "cp_zc4Q7MP6XxulcVzj4MZdwsAB", "last_id": "cp_zc4Q7MP6XxulcVzj4MZdwsAB",
  "has_more": false}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crate_outside_the_workspace_builds_and_calls_the_client() {
    let root = workspace_root();
    let dir = tempfile::tempdir().unwrap();
    let api_path = root.join("crates/permissions-api");
    std::fs::write(
        dir.path().join("Cargo.toml"),
        format!(
            r#"[package]
name = "outside-consumer"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
permissions-api = {{ path = {api_path:?} }}
tokio = {{ version = "1", features = ["rt", "macros"] }}

# Not a member of any workspace above the temporary folder.
[workspace]
"#
        ),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/main.rs"), MAIN_RS).unwrap();
    // The workspace's lock file pins the same versions, so the build needs no
    // registry index and reuses what `target/consumer` already holds.
    std::fs::copy(root.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();

    let app = Router::new().route(
        "/v1/fine_tuning/checkpoints/{checkpoint}/permissions",
        get(|| async { ([("content-type", "application/json")], PAGE) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let manifest = dir.path().join("Cargo.toml");
    let target = root.join("target/consumer");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO"))
            .args(["run", "--quiet", "--offline", "--manifest-path"])
            .arg(&manifest)
            .arg("--")
            .arg(&base_url)
            .env("CARGO_TARGET_DIR", target)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    server.abort();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the outside crate failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(stdout.trim(), "1 proj_abGMw1llN8IrBb6SvvY5A1iH");
}
