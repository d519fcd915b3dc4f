//! The client and the logs of a run: the client layer's rules for keys and the
//! environment (`ClientBuilder::from_env`), with the command line's flags over them.
//!
//! - **Keys**: `--admin-api-key`, `--api-key`, `OPENAI_ADMIN_KEY`,
//!   `OPENAI_API_KEY`, the first one set. Without any, the run stops before any
//!   request and names the variables.
//! - **Rate limits** are the client's ([`permissions_api::Pacing`]): learned from
//!   the 429s met unless `--max-rpm` (or `OPENAI_ADMIN_MAX_RPM`) and `--burst`
//!   (`OPENAI_ADMIN_BURST`) are given; a 429 is retried for `--rate-limit-budget`
//!   seconds (300 by default, `none` for ever). Runs share what they learned and
//!   spent through the client's pacing state file in the user's cache directory
//!   (`--no-pacing-state`, `CKPT_PERMS_NO_PACING_STATE=1` turn it off), so that a
//!   loop of single-verb processes does not rediscover a spent window with 429s
//!   each time.
//! - **Logging** ([`init_logging`]) goes to standard error; `--debug` logs methods,
//!   URLs, bodies, statuses and request ids, never headers.

use std::io;

use permissions_api::{
    ApiKey, Client, ClientBuilder, ConfigError, DEFAULT_RATE_LIMIT_BUDGET, Error,
};

use crate::cli::{Budget, GlobalArgs};
use crate::failure::Failure;

/// Logs go to standard error: warnings (such as retries) always, requests and
/// responses with `--debug`, and the rate limit's pauses when standard error is
/// not a terminal (on a terminal the progress line shows them). Only this crate
/// and the client layer log; the HTTP stack below them, which sees the headers,
/// never does.
pub(crate) fn init_logging(debug: bool, stderr_is_terminal: bool) {
    let filter = if debug {
        "permissions_cli=debug,permissions_api=debug"
    } else if stderr_is_terminal {
        "permissions_cli=warn,permissions_api=warn"
    } else {
        "permissions_cli=warn,permissions_api=warn,permissions_api::pacing=info"
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(io::stderr)
        .with_ansi(stderr_is_terminal)
        .with_target(false)
        .try_init();
}

/// The client of a run: `ClientBuilder::from_env` (its key precedence,
/// `OPENAI_ADMIN_KEY` then `OPENAI_API_KEY`, empty values unset), then the flags,
/// which win: `--admin-api-key` over `--api-key` over the environment.
pub(crate) fn build_client(global: &GlobalArgs) -> Result<Client, Failure> {
    let given = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    let mut builder = ClientBuilder::from_env().user_agent(format!(
        "ckpt-perms/{} {}",
        env!("CARGO_PKG_VERSION"),
        permissions_api::USER_AGENT
    ));
    let given_key = |k: &Option<ApiKey>| k.clone().filter(|k| !k.expose().trim().is_empty());
    if let Some(key) = given_key(&global.admin_api_key).or_else(|| given_key(&global.api_key)) {
        builder = builder.api_key(key);
    }
    if let Some(url) = given(&global.base_url) {
        builder = builder.base_url(url);
    }
    if let Some(organization) = given(&global.organization) {
        builder = builder.organization(organization);
    }
    if let Some(project) = given(&global.project) {
        builder = builder.project(project);
    }
    if let Some(timeout) = global.timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(retries) = global.max_retries {
        builder = builder.max_retries(retries);
    }
    if let Some(max_rpm) = global.max_rpm {
        builder = builder.max_rpm(max_rpm);
    }
    if let Some(burst) = global.burst {
        builder = builder.burst(burst);
    }
    let budget = match global.rate_limit_budget {
        None => Some(DEFAULT_RATE_LIMIT_BUDGET),
        Some(Budget::Limited(budget)) => Some(budget),
        Some(Budget::Unlimited) => None,
    };
    builder = builder.rate_limit_budget(budget);
    if !global.no_pacing_state
        && let Some(dir) = permissions_api::default_pacing_state_dir()
    {
        builder = builder.pacing_state_dir(dir);
    }
    builder.build().map_err(|error| match error {
        Error::Config(error) => Failure::Usage(in_flags(error)),
        other => Failure::Usage(other.to_string()),
    })
}

/// A configuration error in the CLI's words: its flags beside the variables.
fn in_flags(error: ConfigError) -> String {
    match error {
        ConfigError::MissingKey => format!(
            "no API key: set {} to an admin key (sk-admin-...), or {}; or pass --admin-api-key",
            permissions_api::env::ADMIN_KEY,
            permissions_api::env::API_KEY
        ),
        ConfigError::InvalidVariable {
            variable,
            value,
            expected,
        } => {
            let flag = match variable {
                permissions_api::env::MAX_RPM => " (or pass --max-rpm)",
                permissions_api::env::BURST => " (or pass --burst)",
                _ => "",
            };
            format!("{variable}={value:?} is not {expected}{flag}")
        }
        ConfigError::InvalidBaseUrl { url, reason } => {
            format!("invalid base URL {url:?} (--base-url or OPENAI_BASE_URL): {reason}")
        }
        other => other.to_string(),
    }
}
