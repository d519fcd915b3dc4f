//! `ckpt-perms`: manage OpenAI fine-tuned checkpoint permissions from a terminal
//! or a script, with the official CLI's verbs, flags and output formats
//! (`openai fine-tuning:checkpoints:permissions list|retrieve|create|delete`).
//!
//! ```text
//! ckpt-perms [GLOBAL OPTIONS] list     CHECKPOINT [--after ID] [--limit N] [--order ascending|descending] [--project-id P] [--max-items N]
//! ckpt-perms [GLOBAL OPTIONS] retrieve CHECKPOINT [--after ID] [--limit N] [--order ...] [--project-id P]   (deprecated)
//! ckpt-perms [GLOBAL OPTIONS] create   CHECKPOINT --project-id P [--project-id P ...]   (or ids on standard input)
//! ckpt-perms [GLOBAL OPTIONS] delete   CHECKPOINT PERMISSION_ID [PERMISSION_ID ...|-] [--concurrency N]
//! ckpt-perms [GLOBAL OPTIONS] projects [--include-archived] [--after ID] [--limit N] [--max-items N]
//! ckpt-perms [GLOBAL OPTIONS] export   CHECKPOINT... [-o FILE] [--names]
//! ckpt-perms [GLOBAL OPTIONS] plan     FILE [--prune] [--detailed-exitcode]
//! ckpt-perms [GLOBAL OPTIONS] apply    FILE [--prune] [--yes] [--concurrency N]
//! ckpt-perms schema
//! ckpt-perms completions bash|zsh|fish
//!
//! GLOBAL OPTIONS: --api-key --admin-api-key --base-url --organization --project
//!                 --format auto|json|jsonl|pretty|table|raw|yaml --max-retries --timeout
//!                 --max-rpm N --burst N --rate-limit-budget SECONDS|none
//!                 --no-pacing-state --debug
//! ```
//!
//! The checkpoint is `--fine-tuned-model-checkpoint` or the first positional
//! argument; the permission id of `delete` is `--permission-id` or the next one.
//! Positional arguments fill the path flags that are not given, in order, as in
//! the official CLI. Global options go before or after the verb.
//!
//! The binary is built on the `permissions-api` client layer; this library holds
//! its parts so that they are documented and tested: [`cli`] (the clap
//! definitions and help texts), [`output`] (the formats), [`input`] (project ids
//! on standard input).
//!
//! # Decisions
//!
//! - **`--format auto`** is `table` when standard output is a terminal and `jsonl`
//!   when it is piped: readable by people, and line by line by `jq`, `grep` or
//!   `while read`. The official CLI's docs name `auto` without defining it; this is
//!   the common convention.
//! - **Few requests.** The admin endpoints allow a few requests per minute, so
//!   `list` asks for pages of 100 (the API's maximum) unless `--limit` is given:
//!   the same output for a tenth of the requests. Bulk `create` sends batches of
//!   100, and `delete` takes many ids in one run, so that one client, with one
//!   pacer, spends them.
//! - **Rate limits** are the client layer's ([`permissions_api::Pacing`]): learned
//!   from the 429s met unless `--max-rpm` (or `OPENAI_ADMIN_MAX_RPM`) and
//!   `--burst` (`OPENAI_ADMIN_BURST`) are given; a 429 is retried for
//!   `--rate-limit-budget` seconds (300 by default, `none` for ever). Runs share
//!   what they learned and spent through the client's pacing state file in the
//!   user's cache directory (`--no-pacing-state`, `CKPT_PERMS_NO_PACING_STATE=1`
//!   turn it off), so that a loop of single-verb processes does not rediscover a
//!   spent window with 429s each time.
//! - **Long jobs** show a progress line on standard error when it is a terminal:
//!   done / total where known, requests, the rate, and `waiting for the rate
//!   limit (N s)` while paused. When standard error is not a terminal, the pauses
//!   are logged as lines instead. When a job fails or is stopped by Ctrl-C (exit
//!   130), standard error says what was done and what was not: permissions listed
//!   and the `--after` cursor to continue from, projects granted and not
//!   confirmed, permissions revoked and the ids that were not.
//! - **`list` streams.** Pages are printed as they arrive (one page in memory):
//!   `jsonl` a permission per line, `table` rows, `json`/`pretty` an array whose
//!   elements are written as they come, `yaml` a sequence, `raw` each page object
//!   on its own line (the only format that keeps `has_more` and the cursors).
//!   The progress line is erased before rows are printed and at the end.
//! - **The table has fixed column widths** (see [`output`]): aligned across pages
//!   without waiting for the last one; ids have known shapes, and a longer id is
//!   printed whole. Times are RFC 3339 UTC.
//! - **`retrieve`** prints one page (json, pretty, yaml, raw: the page object;
//!   table, jsonl: its permissions) and warns on standard error that it is
//!   deprecated, with the official SDKs' message.
//! - **`create` from standard input** (see [`input`]): when no `--project-id` is
//!   given and standard input is not a terminal, or when one of them is `-`; one
//!   id per line or a JSON array of strings; repeats are granted once. Ids are
//!   sent in batches of `--batch-size` (default 100, the API's maximum per request)
//!   with `--concurrency` requests in flight (default 4, at most 16), answers kept
//!   in input order. `jsonl`, `table` and `raw` print each batch when it is
//!   answered; `json`, `pretty` and `yaml` print one list object with every grant.
//!   Standard error gets `granted N project(s) ...`; after a failed batch, how many
//!   were granted before it, and the error (exit 1).
//! - **Errors** print `METHOD "URL": <status> <reason>`, then the error JSON
//!   (`{"error": {...}}`) and the request id on standard error; the method and URL
//!   are the ones the client recorded for the request it sent
//!   ([`permissions_api::Error::request`]). Network errors print
//!   `METHOD "URL": <what failed>`.
//! - **Exit codes**: [`0`](cli::EXIT_OK) success; [`1`](cli::EXIT_API) an API error,
//!   a network error or timeout, an unreadable response, unwritable output;
//!   [`2`](cli::EXIT_USAGE) a usage error: clap's own (bad flag or value), a
//!   missing path parameter, a malformed id, no API key, bad standard input, an
//!   invalid base URL. With exit code 2 nothing was sent.
//!   [`130`](cli::EXIT_INTERRUPTED): stopped by Ctrl-C, after saying what was done.
//!   A closed output pipe (`| head`) ends the run quietly with 0. `plan` and
//!   `apply` follow terraform instead, so that a CI job can trust them: 1 on any
//!   error (a bad file or flag included); `plan --detailed-exitcode` exits
//!   [`2`](cli::EXIT_CHANGES) when changes are pending, 0 when there are none;
//!   `apply` exits 0 only when the checkpoints match the file. A pending change is
//!   an outcome a verb returns, not a failure.
//! - **Keys**: `--admin-api-key`, `--api-key`, `OPENAI_ADMIN_KEY`,
//!   `OPENAI_API_KEY`, the first one set. Without any, the run stops before any
//!   request and names the variables. Help texts never show a key's value, and
//!   `--debug` logs methods, URLs, bodies, statuses and request ids, never headers.
//! - **Logging** goes through `tracing` on standard error: warnings (the client's
//!   retries) always, rate-limit pauses when standard error is not a terminal,
//!   requests and responses with `--debug`.

mod args;
pub mod cli;
mod config;
mod context;
mod failure;
pub mod input;
pub mod output;
mod progress;
mod run;
mod sharing;
mod verbs;

use std::process::ExitCode;

use clap::Parser;

/// Parses the process's arguments and runs them: the whole `ckpt-perms` binary.
///
/// Bad flags print clap's message and exit with 2; `--help` and `--version` exit
/// with 0.
pub fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                refused_verb_exit_code(std::env::args_os())
            } else {
                cli::EXIT_OK
            });
        }
    };
    run::run(cli)
}

/// The exit code of a command line clap refused: that of a usage error of its
/// verb, found by parsing it again leniently (`plan` and `apply` exit 1 on any
/// error, the other verbs 2).
fn refused_verb_exit_code(args: impl IntoIterator<Item = std::ffi::OsString>) -> u8 {
    let lenient = <cli::Cli as clap::CommandFactory>::command().ignore_errors(true);
    match lenient.try_get_matches_from(args) {
        Ok(matches) if matches!(matches.subcommand_name(), Some("plan" | "apply")) => cli::EXIT_API,
        _ => cli::EXIT_USAGE,
    }
}
