//! `ckpt-perms`: manage OpenAI fine-tuned checkpoint permissions from a terminal
//! or a script, with the official CLI's verbs, flags and output formats
//! (`openai fine-tuning:checkpoints:permissions list|retrieve|create|delete`).
//!
//! ```text
//! $ export OPENAI_ADMIN_KEY=sk-admin-...
//! $ ckpt-perms --format table list ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd
//! ID                           PROJECT_ID                     CREATED_AT
//! cp_zc4Q7MP6XxulcVzj4MZdwsAB  proj_abGMw1llN8IrBb6SvvY5A1iH  2024-07-23T20:01:07Z
//! cp_enQCFmOTGj3syEpYVhBRLTSy  proj_iqGMw1llN8IrBb6SvvY5A1oF  2024-07-23T20:00:00Z
//! $ ckpt-perms --format table create ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd --project-id proj_K3dLz9QmWv0aRt7Yx2NcBe5H
//! ID                           PROJECT_ID                     CREATED_AT
//! cp_gSk8FEIjN097PfA0NADlV7gI  proj_K3dLz9QmWv0aRt7Yx2NcBe5H  2026-11-26T13:40:40Z
//! granted 1 project(s) access to ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd (1 request(s))
//! $ ckpt-perms delete ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd cp_zc4Q7MP6XxulcVzj4MZdwsAB
//! {"id":"cp_zc4Q7MP6XxulcVzj4MZdwsAB","object":"checkpoint.permission","deleted":true}
//! ```
//!
//! The workspace README has whole sessions against the emulator, of the verbs and
//! of a sharing file (`export`, `plan`, `apply`). Every command:
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
//!                 --no-pacing-state --transform GJSON_PATH --debug
//! ```
//!
//! The checkpoint is `--fine-tuned-model-checkpoint` or the first positional
//! argument; the permission id of `delete` is `--permission-id` or the next one.
//! Positional arguments fill the path flags that are not given, in order, as in
//! the official CLI. Global options go before or after the verb. The exit codes are
//! the `EXIT_*` constants of [`cli`].
//!
//! # Where the decisions are
//!
//! The binary is built on the `permissions-api` client layer, whose rules it keeps
//! (keys, the environment, pagination, pacing). This library holds its parts, and
//! each module's docs give the decisions it owns:
//!
//! - [`cli`]: the command line, its help texts and the exit codes;
//! - [`output`]: the formats (`--format auto` too), streamed as pages arrive;
//! - [`input`]: ids on standard input;
//! - `config`: the client of a run (keys, the pacing flags, the shared state
//!   file) and logging;
//! - `verbs`: one module per verb, each spending as few requests as it can;
//! - `sharing`: `export`, `plan` and `apply` on `permissions-sharing`;
//! - `progress`: the progress line of long jobs, and Ctrl-C;
//! - `failure`: how a run ends: the error report and the exit code.

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
            failure::print_clap(&error);
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
