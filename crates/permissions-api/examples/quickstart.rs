//! The four operations, end to end, against an emulator started in this process:
//! no API key and no network needed.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Against the real API, build the client with `Client::from_env()` instead, with
//! `OPENAI_ADMIN_KEY` set to an organization admin key.

use futures::TryStreamExt;
use permissions_api::{Client, ListParams, permissions_types::ListOrder};
use permissions_emulator::{Emulator, SeedPermission};

const CHECKPOINT: &str = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local emulator on 127.0.0.1, seeded with 25 permissions.
    let seeds = (0..25).map(|i| SeedPermission::new(CHECKPOINT, format!("proj_seed{i:02}")));
    let emulator = Emulator::builder().seed(seeds).start().await?;
    println!("emulator listening at {}", emulator.base_url());

    let client = Client::builder()
        .api_key("sk-admin-quickstart")
        .base_url(emulator.base_url())
        .build()?;
    let permissions = client.fine_tuning().checkpoints().permissions();

    // create: share the checkpoint with two more projects.
    let granted = permissions
        .create(
            CHECKPOINT,
            [
                "proj_abGMw1llN8IrBb6SvvY5A1iH",
                "proj_iqGMw1llN8IrBb6SvvY5A1oF",
            ],
        )
        .await?;
    for p in &granted.data {
        println!("created  {} for {} at {}", p.id, p.project_id, p.created_at);
    }

    // list: every permission, oldest first, 10 per request, pages fetched as needed.
    let all: Vec<_> = permissions
        .list(
            CHECKPOINT,
            ListParams::new().limit(10).order(ListOrder::Ascending),
        )
        .try_collect()
        .await?;
    println!("listed   {} permissions in pages of 10", all.len());

    // retrieve (deprecated, like in the official SDKs): one raw page.
    #[allow(deprecated)]
    let page = permissions
        .retrieve(CHECKPOINT, ListParams::new().limit(5))
        .await?;
    println!(
        "retrieve {} permissions, has_more = {}, last_id = {}",
        page.data.len(),
        page.has_more,
        page.last_id.as_deref().unwrap_or("-")
    );

    // delete: revoke the first grant.
    let deleted = permissions.delete(CHECKPOINT, &granted.data[0].id).await?;
    println!("deleted  {} (deleted = {})", deleted.id, deleted.deleted);

    let remaining = permissions
        .list(CHECKPOINT, ListParams::new().limit(100))
        .try_collect::<Vec<_>>()
        .await?
        .len();
    println!("remaining {remaining} permissions");
    assert_eq!(remaining, all.len() - 1);

    emulator.shutdown().await;
    Ok(())
}
