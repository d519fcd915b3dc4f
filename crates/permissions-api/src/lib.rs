//! Rust client for the OpenAI fine-tuned checkpoint permissions API.
//!
//! The client is generated at build time by progenitor from the workspace's OpenAPI
//! fragment (`openapi/permissions.yaml`, packaged here as `openapi.yaml`), with the
//! wire types taken from [`permissions_types`]. Every operation is a builder:
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use permissions_api::{Client, permissions_types::ListOrder};
//!
//! let http = reqwest::Client::builder()
//!     .default_headers(permissions_api::bearer_auth("sk-admin-...")?)
//!     .build()?;
//! let client = Client::new_with_client("https://api.openai.com/v1", http);
//! let page = client
//!     .list_fine_tuning_checkpoint_permissions()
//!     .fine_tuned_model_checkpoint("ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd")
//!     .limit(100)
//!     .order(ListOrder::Ascending)
//!     .send()
//!     .await?
//!     .into_inner();
//! for permission in &page.data {
//!     println!("{} -> {}", permission.id, permission.project_id);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The generated code is never edited by hand: change the spec or the generator
//! settings in `permissions-codegen`, then run `cargo xtask codegen`.

mod hooks;

/// The code progenitor generates from the spec, kept in its own module so that its
/// lint exceptions do not leak into the hand-written code.
mod generated {
    #![allow(
        missing_docs,
        unused_imports,
        unreachable_pub,
        clippy::all,
        clippy::pedantic,
        clippy::nursery,
        rustdoc::all
    )]
    include!(concat!(env!("OUT_DIR"), "/generated.rs"));
}

pub use generated::*;
pub use permissions_types;

/// Default headers that authenticate every request with `key` as a bearer token.
///
/// The header value is marked sensitive, so it is left out of `Debug` output.
/// Returns an error when `key` holds characters that cannot go in a header.
pub fn bearer_auth(
    key: &str,
) -> Result<reqwest::header::HeaderMap, reqwest::header::InvalidHeaderValue> {
    let mut value = reqwest::header::HeaderValue::try_from(format!("Bearer {key}"))?;
    value.set_sensitive(true);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, value);
    Ok(headers)
}
