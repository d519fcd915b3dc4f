//! The command line: verbs, flags, environment variables and help texts.
//!
//! Help texts name the client's environment variables but never show their values
//! (a key among them): the client reads them (`ClientBuilder::from_env`), not clap.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use permissions_api::ApiKey;
use permissions_api::permissions_types::ListOrder;

use crate::output::Format;

/// `--format`, resolved while the command line is parsed: `auto` is already
/// `table` or `jsonl` here, so no later code meets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputFormat {
    /// The format to print in.
    pub format: Format,
    /// Whether `--format` named it (`plan` prints text unless it did).
    pub explicit: bool,
}

impl OutputFormat {
    /// `auto`: `table` when standard output is a terminal, `jsonl` otherwise.
    pub fn auto(stdout_is_terminal: bool) -> Self {
        Self {
            format: if stdout_is_terminal {
                Format::Table
            } else {
                Format::Jsonl
            },
            explicit: false,
        }
    }
}

/// The values of `--format`: `auto` and every [`Format`], as `--help` lists them.
fn format_parser() -> impl clap::builder::TypedValueParser<Value = OutputFormat> {
    let values = std::iter::once(clap::builder::PossibleValue::new("auto")).chain(
        Format::value_variants()
            .iter()
            .filter_map(ValueEnum::to_possible_value),
    );
    clap::builder::TypedValueParser::map(
        clap::builder::PossibleValuesParser::new(values),
        |name: String| match Format::from_str(&name, true) {
            Ok(format) => OutputFormat {
                format,
                explicit: true,
            },
            Err(_) => OutputFormat::auto(std::io::IsTerminal::is_terminal(&std::io::stdout())),
        },
    )
}

/// Exit code of a successful run.
pub const EXIT_OK: u8 = 0;
/// Exit code of an API error (an error status from the server), a network error,
/// an unreadable response or a failure to write the output (for a closed pipe,
/// only when the verb grants or revokes).
pub const EXIT_API: u8 = 1;
/// Exit code of a usage error: bad flags or values (clap's message), no API key,
/// bad standard input, an invalid base URL. Nothing was sent.
pub const EXIT_USAGE: u8 = 2;
/// Exit code of a run stopped by Ctrl-C (SIGINT), after saying what was done.
pub const EXIT_INTERRUPTED: u8 = 130;
/// Exit code of `plan --detailed-exitcode` when changes are pending (`terraform
/// plan -detailed-exitcode`); 0 means none, and every error is 1.
pub const EXIT_CHANGES: u8 = 2;

const ABOUT: &str = "Manage OpenAI fine-tuned checkpoint permissions: share a checkpoint with projects, list, and revoke.";

const AFTER_HELP: &str = "\
Examples:
  ckpt-perms list ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd
  ckpt-perms create ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd --project-id proj_abGMw1llN8IrBb6SvvY5A1iH
  ckpt-perms delete ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd cp_zc4Q7MP6XxulcVzj4MZdwsAB
  ckpt-perms --format jsonl list ft:... --max-items 500 | jq -r .project_id

Environment:
  OPENAI_ADMIN_KEY   admin API key (sk-admin-...); preferred over OPENAI_API_KEY
  OPENAI_API_KEY     API key used when no admin key is set
  OPENAI_BASE_URL    base URL (default https://api.openai.com/v1)
  OPENAI_ORG_ID      sent as OpenAI-Organization
  OPENAI_PROJECT_ID  sent as OpenAI-Project
  OPENAI_ADMIN_MAX_RPM, OPENAI_ADMIN_BURST   as --max-rpm and --burst
  CKPT_PERMS_NO_PACING_STATE=1               as --no-pacing-state
  Flags win over variables; --admin-api-key wins over --api-key.

Rate limits:
  The admin endpoints allow a few requests per minute. Without --max-rpm the
  client learns the limit from the 429s it meets (and finds out when endpoints
  share one budget): every request waits for the pause together, and one goes
  first. Runs using the same base URL and key share what they learned and spent
  through a small state file in the user's cache directory (never the key), so a
  run started in a spent window waits instead of meeting 429s; --no-pacing-state
  turns that off. A 429 is retried for up to --rate-limit-budget (5 minutes by
  default); on a terminal the progress line says \"waiting for the rate limit
  (N s)\". Ctrl-C stops and says what was done.

Formats (--format):
  auto   table when standard output is a terminal, jsonl otherwise
  table  aligned columns of fixed widths, printed as pages arrive
  jsonl  one compact JSON object per line (list: one permission per line)
  json   one compact JSON document (list: an array of permissions)
  pretty one indented JSON document
  yaml   one YAML document (list: a sequence of permissions)
  raw    each response body as the server's JSON object, one per line

Exit codes:
  0  success
  1  API error (error status), network error or timeout; the failed request is
     printed as METHOD \"URL\": <status> <reason> followed by the error JSON.
     For `plan` and `apply`, every error (a bad file or flag too), as terraform
     does. For `create`, `delete` and `apply`, a closed output pipe too (a verb
     that only reads ends quietly with 0)
  2  usage error: bad flags, a malformed id, no API key, bad standard input;
     nothing was sent. For `plan --detailed-exitcode`: changes are pending
  130  stopped by Ctrl-C; standard error says what was done and what was not

--debug logs each request and response on standard error; the key is never logged.";

/// `ckpt-perms`: the whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "ckpt-perms",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Options every verb accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The verb.
    #[command(subcommand)]
    pub command: Command,
}

/// A key given as a flag, held as [`ApiKey`] so that `Debug` never shows it.
fn key(text: &str) -> Result<ApiKey, std::convert::Infallible> {
    Ok(ApiKey::new(text))
}

/// Options every verb accepts, before or after the verb.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// API key [env: OPENAI_API_KEY]; used when no admin key is given.
    // The environment is read once, by the client's `ClientBuilder::from_env`, not
    // by clap's `env`: a flag wins over a variable, and help never shows a value.
    #[arg(long, global = true, value_name = "KEY", value_parser = key)]
    pub api_key: Option<ApiKey>,
    /// Admin API key, sk-admin-... [env: OPENAI_ADMIN_KEY].
    #[arg(long, global = true, value_name = "KEY", value_parser = key)]
    pub admin_api_key: Option<ApiKey>,
    /// Base URL of the API (default: the official API's).
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help = "Base URL of the API [env: OPENAI_BASE_URL] [default: https://api.openai.com/v1]"
    )]
    pub base_url: Option<String>,
    /// Organization id, sent as OpenAI-Organization [env: OPENAI_ORG_ID].
    #[arg(long, global = true, value_name = "ORG")]
    pub organization: Option<String>,
    /// Project id, sent as OpenAI-Project [env: OPENAI_PROJECT_ID].
    #[arg(long, global = true, value_name = "PROJECT")]
    pub project: Option<String>,
    /// Output format (see "Formats" below).
    #[arg(long, global = true, value_name = "FORMAT", default_value = "auto",
          value_parser = format_parser())]
    pub format: OutputFormat,
    /// Retries of a failed request (connection errors, 408, 409, 5xx; a 429 is
    /// retried for --rate-limit-budget) [default: 2].
    #[arg(long, global = true, value_name = "N")]
    pub max_retries: Option<u32>,
    /// Time limit of each request attempt, in seconds [default: 600].
    #[arg(long, global = true, value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Requests per minute to each budget [env: OPENAI_ADMIN_MAX_RPM] (default: learned from the server's 429s).
    #[arg(long, global = true, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_rpm: Option<u32>,
    /// With --max-rpm: requests that may go at once [env: OPENAI_ADMIN_BURST] [default: 1].
    #[arg(long, global = true, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub burst: Option<u32>,
    /// How long one request keeps retrying 429s, in seconds, or `none` for no limit [default: 300].
    #[arg(long, global = true, value_name = "SECONDS|none", value_parser = parse_budget)]
    pub rate_limit_budget: Option<Budget>,
    /// Do not share what the pacer learns and spends with other runs through the
    /// state file in the user's cache directory.
    #[arg(long, global = true, env = "CKPT_PERMS_NO_PACING_STATE",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub no_pacing_state: bool,
    /// A GJSON path applied to each JSON output value, as in the official CLI
    /// (e.g. `project_id`, `data.#.id`); not with --format table.
    #[arg(long, global = true, value_name = "GJSON_PATH")]
    pub transform: Option<String>,
    /// Log requests and responses on standard error (never the key).
    #[arg(long, global = true)]
    pub debug: bool,
}

/// The value of `--rate-limit-budget`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// Give up on 429s after this long.
    Limited(Duration),
    /// Retry 429s for as long as it takes.
    Unlimited,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every permission of a checkpoint, following pages (GET .../permissions).
    #[command(after_help = LIST_EXAMPLES)]
    List(ListArgs),
    /// Deprecated: one page of permissions, as the server returns it; use `list`.
    #[command(after_help = RETRIEVE_EXAMPLES)]
    Retrieve(RetrieveArgs),
    /// Grant a checkpoint to projects (POST .../permissions).
    #[command(after_help = CREATE_EXAMPLES)]
    Create(CreateArgs),
    /// Revoke permissions (DELETE .../permissions/{permission_id}, one request each).
    #[command(after_help = DELETE_EXAMPLES)]
    Delete(DeleteArgs),
    /// Write the current sharing of checkpoints as a sharing file (YAML, sorted).
    #[command(after_help = EXPORT_EXAMPLES)]
    Export(ExportArgs),
    /// Show what `apply` would change to make the checkpoints match a sharing file.
    #[command(after_help = PLAN_EXAMPLES)]
    Plan(PlanArgs),
    /// Make the checkpoints of a sharing file match it.
    #[command(after_help = APPLY_EXAMPLES)]
    Apply(ApplyArgs),
    /// List the organization's projects (GET /organization/projects): id, name, status.
    #[command(after_help = PROJECTS_EXAMPLES)]
    Projects(ProjectsArgs),
    /// Print the JSON Schema of the sharing file, for editors.
    #[command(after_help = SCHEMA_EXAMPLES)]
    Schema,
    /// The official CLI's form of the four verbs: `fine-tuning:checkpoints:permissions list ...`.
    #[command(name = "fine-tuning:checkpoints:permissions")]
    Official {
        /// The verb.
        #[command(subcommand)]
        verb: OfficialVerb,
    },
    /// Print a shell completion script.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: CompletionShell,
    },
}

/// The verbs under the official CLI's `fine-tuning:checkpoints:permissions`.
#[derive(Debug, Subcommand)]
pub enum OfficialVerb {
    /// Same as `ckpt-perms list`.
    List(ListArgs),
    /// Same as `ckpt-perms retrieve` (deprecated).
    Retrieve(RetrieveArgs),
    /// Same as `ckpt-perms create`.
    Create(CreateArgs),
    /// Same as `ckpt-perms delete`.
    Delete(DeleteArgs),
}

const SHARING_FILE: &str = "\
The sharing file (YAML; the same structure as JSON is accepted):

  version: 1
  checkpoints:
    ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd:
      - proj_abGMw1llN8IrBb6SvvY5A1iH                 # by id
      - name: Research                                # by name
      - {id: proj_iqGMw1llN8IrBb6SvvY5A1oF, name: Support}   # both: the id decides
    ft:gpt-4o-mini-2024-07-18:org:support:Q2x8LmPa: []   # shared with no project

Checkpoints absent from the file are never touched. `plan` and `apply` read the
organization's projects once (pages of 100) and refuse, with the key path and line,
exit 1 and nothing sent: a bad file, a name that no project or several projects
have, an archived project that does not hold access already (one that does keeps
it), a project the organization does not have. A name beside
an id that no longer matches is a warning. `ckpt-perms schema` prints the file's
JSON Schema for editors.";

const EXPORT_EXAMPLES: &str = "\
Examples:
  ckpt-perms export ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd > sharing.yaml
  ckpt-perms export ft:...:weather:B7R9VjQd ft:...:support:Q2x8LmPa -o sharing.yaml
  ckpt-perms export ft:... --names -o sharing.yaml   # {id, name} entries

Lists each checkpoint in pages of 100 and writes its projects, sorted: exporting the
same sharing twice gives the same file, and `plan` against it finds no changes. With
--names, the organization's projects are read too, and each project is written with
its name.";

const PLAN_EXAMPLES: &str = "\
Examples:
  ckpt-perms plan sharing.yaml
  ckpt-perms plan sharing.yaml --prune --format json | jq .totals
  ckpt-perms plan sharing.yaml --detailed-exitcode   # a drift check in CI

Prints, per checkpoint, `+ proj_... (Name)` to grant, `- proj_... (Name) (cp_...)` to
revoke (only with --prune) and the count of unchanged projects; then the totals and
the number of requests `apply` will send. Exit codes, as terraform's: 0 success, 1
any error (a refused file or flag too; standard error says why); with
--detailed-exitcode, 0 no changes, 2 changes pending, 1 any error.";

const APPLY_EXAMPLES: &str = "\
Examples:
  ckpt-perms apply sharing.yaml            # asks for confirmation on a terminal
  ckpt-perms apply sharing.yaml --prune --yes

Plans again (never trusts a saved plan), shows the plan, asks for `yes` on a terminal
unless --yes (without a terminal and without --yes it refuses, exit 1), then grants in
batches of 100 and revokes one request each, through the client's pacing. A revoke
answered 404 counts as done. Exit 0 only when the checkpoints match the file; after a
failure (1) or Ctrl-C (130) it says what was applied and what was not, and running it
again finishes the rest.";

const PROJECTS_EXAMPLES: &str = "\
Examples:
  ckpt-perms projects
  ckpt-perms projects --include-archived --format json
  ckpt-perms projects --format jsonl --transform name

Lists every project in pages of 100 (--limit to change it); the table shows ID, NAME
and STATUS. Names are not unique: a sharing file that names a project by a name
several projects have is refused.";

const SCHEMA_EXAMPLES: &str = "\
Examples:
  ckpt-perms schema > sharing.schema.json

Then point the editor at it: a first line `# yaml-language-server: $schema=./sharing.schema.json`
in the YAML file (VS Code's YAML extension and other YAML language servers read it), or
`\"$schema\": \"./sharing.schema.json\"` in a JSON file.";

const LIST_EXAMPLES: &str = "\
Examples:
  ckpt-perms list ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd
  ckpt-perms list --fine-tuned-model-checkpoint ft:... --order ascending --limit 100
  ckpt-perms list ft:... --project-id proj_abGMw1llN8IrBb6SvvY5A1iH --format json
  ckpt-perms list ft:... --max-items 250 --format jsonl > permissions.jsonl

Pages of 100 are asked for unless --limit is given (the fewest requests). Items are
printed as their pages arrive. On a terminal, a progress line on standard error
counts the permissions and shows the rate; nothing extra is printed when piped.";

const RETRIEVE_EXAMPLES: &str = "\
Examples:
  ckpt-perms retrieve ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd --limit 20
  ckpt-perms retrieve ft:... --after cp_zc4Q7MP6XxulcVzj4MZdwsAB --format json

Prints one page (json, pretty, yaml, raw: the page object with has_more and
last_id; table, jsonl: its permissions) and a deprecation warning on standard error.";

const CREATE_EXAMPLES: &str = "\
Examples:
  ckpt-perms create ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd --project-id proj_a --project-id proj_b
  ckpt-perms create ft:... < project-ids.txt          # one id per line
  echo '[\"proj_a\", \"proj_b\"]' | ckpt-perms create ft:...   # or a JSON array
  ckpt-perms create ft:... --project-id - < ids.txt    # '-' reads standard input too

Without --project-id, ids are read from standard input when it is not a terminal:
one per line (blank lines and lines starting with # are skipped) or one JSON array
of strings. Repeated ids are granted once. Ids are sent in batches of --batch-size
(100 by default, the API's maximum per request), --concurrency requests at a time.
The number of granted projects is reported on standard error.";

const DELETE_EXAMPLES: &str = "\
Examples:
  ckpt-perms delete ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd cp_zc4Q7MP6XxulcVzj4MZdwsAB
  ckpt-perms delete --fine-tuned-model-checkpoint ft:... --permission-id cp_zc4Q7MP6XxulcVzj4MZdwsAB
  ckpt-perms delete ft:... cp_a cp_b cp_c                 # several permissions
  ckpt-perms list ft:... | jq -r .id | ckpt-perms delete ft:... -   # ids on standard input

Each permission is one request; --concurrency of them are in flight at once. After a
failure or Ctrl-C, standard error says how many were revoked and which were not.";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  ckpt-perms completions bash > /etc/bash_completion.d/ckpt-perms
  ckpt-perms completions zsh > \"${fpath[1]}/_ckpt-perms\"
  ckpt-perms completions fish > ~/.config/fish/completions/ckpt-perms.fish";

/// The checkpoint, as `--fine-tuned-model-checkpoint` or the first positional.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// The fine-tuned model checkpoint, such as ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd.
    #[arg(long, value_name = "CHECKPOINT")]
    pub fine_tuned_model_checkpoint: Option<String>,
}

/// The query parameters of `list` and `retrieve`.
#[derive(Debug, Args)]
pub struct PageArgs {
    /// Start after this permission id (the previous page's last_id).
    #[arg(long, value_name = "PERMISSION_ID")]
    pub after: Option<String>,
    /// Permissions per page (the API's default is 10).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
    /// Creation order (the API's default is descending).
    #[arg(long, value_name = "ORDER", value_parser = order_parser())]
    pub order: Option<ListOrder>,
    /// Only the permission of this project.
    #[arg(long, value_name = "PROJECT_ID")]
    pub project_id: Option<String>,
}

/// `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The checkpoint (same as --fine-tuned-model-checkpoint).
    #[arg(value_name = "CHECKPOINT")]
    pub positional: Vec<String>,
    /// The checkpoint flag.
    #[command(flatten)]
    pub checkpoint: CheckpointArgs,
    /// Query parameters.
    #[command(flatten)]
    pub page: PageArgs,
    /// Stop after this many permissions in all.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_items: Option<u64>,
}

/// `retrieve`.
#[derive(Debug, Args)]
pub struct RetrieveArgs {
    /// The checkpoint (same as --fine-tuned-model-checkpoint).
    #[arg(value_name = "CHECKPOINT")]
    pub positional: Vec<String>,
    /// The checkpoint flag.
    #[command(flatten)]
    pub checkpoint: CheckpointArgs,
    /// Query parameters.
    #[command(flatten)]
    pub page: PageArgs,
}

/// `create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The checkpoint (same as --fine-tuned-model-checkpoint).
    #[arg(value_name = "CHECKPOINT")]
    pub positional: Vec<String>,
    /// The checkpoint flag.
    #[command(flatten)]
    pub checkpoint: CheckpointArgs,
    /// A project to grant the checkpoint to (repeatable); `-` reads ids from standard input.
    #[arg(long = "project-id", value_name = "PROJECT_ID")]
    pub project_ids: Vec<String>,
    /// Project ids per request.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub batch_size: u32,
    /// Requests in flight at once when there are several batches.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=16))]
    pub concurrency: u32,
}

/// `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The checkpoint (unless the flag gives it), then permission ids; `-` reads ids
    /// from standard input.
    #[arg(value_name = "CHECKPOINT|PERMISSION_ID")]
    pub positional: Vec<String>,
    /// The checkpoint flag.
    #[command(flatten)]
    pub checkpoint: CheckpointArgs,
    /// A permission to delete, such as cp_zc4Q7MP6XxulcVzj4MZdwsAB (repeatable).
    #[arg(long, value_name = "PERMISSION_ID")]
    pub permission_id: Vec<String>,
    /// Requests in flight at once when there are several permissions.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=16))]
    pub concurrency: u32,
}

/// `export`.
#[derive(Debug, Args)]
#[command(after_long_help = SHARING_FILE)]
pub struct ExportArgs {
    /// The checkpoints to export.
    #[arg(value_name = "CHECKPOINT", required = true)]
    pub checkpoints: Vec<String>,
    /// Write the file here (replaced whole, only once everything was read) instead
    /// of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Write each project with its name (`{id, name}` entries), read from the
    /// organization's projects.
    #[arg(long)]
    pub names: bool,
}

/// `plan`.
#[derive(Debug, Args)]
#[command(after_long_help = SHARING_FILE)]
pub struct PlanArgs {
    /// The sharing file.
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// Also revoke the permissions of projects the file does not list.
    #[arg(long)]
    pub prune: bool,
    /// Exit 2 when changes are pending, 0 when there are none (1 on any error).
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// `apply`.
#[derive(Debug, Args)]
#[command(after_long_help = SHARING_FILE)]
pub struct ApplyArgs {
    /// The sharing file.
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// Also revoke the permissions of projects the file does not list.
    #[arg(long)]
    pub prune: bool,
    /// Apply without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=16))]
    pub concurrency: u32,
}

/// `projects`.
#[derive(Debug, Args)]
pub struct ProjectsArgs {
    /// List archived projects too.
    #[arg(long)]
    pub include_archived: bool,
    /// Start after this project id.
    #[arg(long, value_name = "PROJECT_ID")]
    pub after: Option<String>,
    /// Projects per page [default: 100, the API's maximum].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: Option<u32>,
    /// Stop after this many projects in all.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_items: Option<u64>,
}

/// The values of `--order`: the API's own (`ListOrder`), with `asc` and `desc`.
fn order_parser() -> impl clap::builder::TypedValueParser<Value = ListOrder> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new([
        PossibleValue::new(ListOrder::Ascending.as_str())
            .alias("asc")
            .help("Oldest first"),
        PossibleValue::new(ListOrder::Descending.as_str())
            .alias("desc")
            .help("Newest first"),
    ])
    // The parser hands on the word as typed: an alias too.
    .try_map(|name: String| match name.as_str() {
        "asc" => Ok(ListOrder::Ascending),
        "desc" => Ok(ListOrder::Descending),
        other => other.parse::<ListOrder>(),
    })
}

/// The shells `completions` writes scripts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
}

/// Parses `--timeout`: a positive number of seconds, fractions allowed.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0) {
        return Err("expected a number of seconds above 0 and at most 86400".into());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses `--rate-limit-budget`: seconds (fractions allowed, 0 never retries a
/// 429), or `none`.
fn parse_budget(text: &str) -> Result<Budget, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") {
        return Ok(Budget::Unlimited);
    }
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is neither a number of seconds nor `none`"))?;
    if !(seconds.is_finite() && (0.0..=1e7).contains(&seconds)) {
        return Err("expected a number of seconds from 0 to 10000000, or `none`".into());
    }
    Ok(Budget::Limited(Duration::from_secs_f64(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn budgets_are_seconds_or_none() {
        assert_eq!(parse_budget("none"), Ok(Budget::Unlimited));
        assert_eq!(
            parse_budget("90"),
            Ok(Budget::Limited(Duration::from_secs(90)))
        );
        assert_eq!(parse_budget("0"), Ok(Budget::Limited(Duration::ZERO)));
        for bad in ["-1", "NaN", "soon", "", "1e9"] {
            assert!(parse_budget(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn timeouts_must_be_positive_seconds() {
        assert_eq!(parse_timeout("1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["0", "-1", "NaN", "inf", "abc", "", "1e9"] {
            assert!(parse_timeout(bad).is_err(), "{bad:?} accepted");
        }
    }
}
