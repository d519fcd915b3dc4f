//! The HTTP face of the emulator: the routes, and the layers in front of them.
//!
//! - `paths`: the route templates;
//! - `envelope`: the error envelope of every refusal;
//! - `extract`: path, query and body into checked values;
//! - `auth`: the bearer key, the admin prefix, the scopes;
//! - `front`: the first middleware (head limits, faults, key, throttle), which
//!   hands a page-anomaly fault on to `handlers`;
//! - `handlers`: the four operations.
//!
//! Which of them uses which is not listed here: `tests/architecture.rs` keeps them
//! free of cycles.

mod auth;
mod envelope;
mod extract;
mod front;
mod handlers;
mod paths;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{delete, get};

use crate::rules::MAX_BODY_BYTES;
use crate::state::EmulatorState;

/// The emulator's routes under `/v1`, with authentication, the error envelope,
/// `x-request-id` headers, the body limit and fault injection, ready to serve.
///
/// ```
/// # fn main() -> Result<(), permissions_emulator::Error> {
/// let state = permissions_emulator::Emulator::builder().build_state()?;
/// let app: axum::Router = permissions_emulator::router(state);
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
///
/// Served by [`Emulator`](crate::Emulator) or with `axum::serve`, it answers the same.
pub fn router(state: EmulatorState) -> Router {
    Router::new()
        .route(
            paths::PERMISSIONS,
            get(handlers::list).post(handlers::create),
        )
        .route(paths::PERMISSION, delete(handlers::delete_permission))
        .route(paths::PROJECTS, get(handlers::list_projects))
        .fallback(handlers::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), front::front))
        .with_state(state)
}
