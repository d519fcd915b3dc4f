//! Runs a parsed command line: configuration, the four verbs, error reports.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use clap::CommandFactory;
use futures::{StreamExt, TryStreamExt};
use permissions_api::DEFAULT_RATE_LIMIT_BUDGET;
use permissions_api::permissions_types::{ApiError, ErrorResponse, PermissionList};
use permissions_api::{
    Client, Error, ListParams, Permissions, RETRIEVE_DEPRECATION, StatusError, env,
};
use tracing::debug;

use crate::cli::{
    Budget, CheckpointArgs, Cli, Command, CompletionShell, CreateArgs, DeleteArgs, EXIT_API,
    EXIT_CHANGES, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, GlobalArgs, ListArgs, OfficialVerb,
    PageArgs, RetrieveArgs,
};
use crate::input;
use crate::output::{Format, ItemWriter, Transform, write_deleted, write_page};
use crate::progress::{Interrupted, Progress, Tally, drive};
use crate::sharing;

/// Why a run failed; each maps to an exit code.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Refused before any request: printed as `error: ...`, exit 2.
    Usage(String),
    /// A bad combination of arguments, reported the way clap reports its own.
    Clap(clap::Error),
    /// A request failed: `METHOD "URL": ...` (the client names the request), exit 1
    /// (or 2 when the client refused an argument before sending).
    Request(Error),
    /// Standard output could not be written (a closed pipe ends the run quietly).
    Output(io::Error),
    /// Ctrl-C: what was done has been said, exit 130.
    Interrupted,
    /// `plan` found changes to make: exit 2, as `terraform plan -detailed-exitcode`.
    ChangesPending,
    /// The API's answer was not what was asked (printed as `error: ...`), exit 1.
    Unexpected(String),
}

impl From<Interrupted> for Failure {
    fn from(_: Interrupted) -> Self {
        Self::Interrupted
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        Self::Output(error)
    }
}

/// Runs `cli` and returns the exit code; see [`crate::cli::EXIT_API`] and
/// [`crate::cli::EXIT_USAGE`].
pub fn run(cli: Cli) -> ExitCode {
    let code = match execute(cli) {
        Ok(()) => EXIT_OK,
        Err(failure) => report(failure),
    };
    ExitCode::from(code)
}

fn execute(cli: Cli) -> Result<(), Failure> {
    let Cli { global, command } = cli;
    if let Command::Completions { shell } = command {
        return completions(shell);
    }
    init_logging(global.debug, io::stderr().is_terminal());
    let format = global.format.resolve(io::stdout().is_terminal());
    let transform = global.transform.clone().map(Transform::new);
    if transform.is_some() && format == Format::Table {
        return Err(Failure::Usage(
            "--transform selects from JSON output: pick --format json, jsonl, pretty, raw or yaml"
                .into(),
        ));
    }
    // Everything that can be refused is refused before anything is sent.
    let command = match command {
        Command::Official { verb } => match verb {
            OfficialVerb::List(args) => Command::List(args),
            OfficialVerb::Retrieve(args) => Command::Retrieve(args),
            OfficialVerb::Create(args) => Command::Create(args),
            OfficialVerb::Delete(args) => Command::Delete(args),
        },
        other => other,
    };
    let job = match command {
        Command::List(args) => Job::List(list_job(args)?),
        Command::Retrieve(args) => Job::Retrieve(retrieve_job(args)?),
        Command::Create(args) => Job::Create(create_job(args)?),
        Command::Delete(args) => Job::Delete(delete_job(args)?),
        Command::Export(args) => Job::Sharing(sharing::export_job(args)?),
        Command::Plan(args) => Job::Sharing(sharing::plan_job(args)?),
        Command::Apply(args) => Job::Sharing(sharing::apply_job(args)?),
        Command::Official { .. } | Command::Completions { .. } => return Ok(()),
    };
    let client = build_client(&global)?;
    let ctx = Context {
        client,
        format,
        transform,
        format_given: global.format != Format::Auto,
        stderr_is_terminal: io::stderr().is_terminal(),
        debug: global.debug,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Usage(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        match job {
            Job::List((checkpoint, params)) => ctx.list(&checkpoint, params).await,
            Job::Retrieve((checkpoint, params)) => ctx.retrieve(&checkpoint, params).await,
            Job::Create(job) => ctx.create(job).await,
            Job::Delete(job) => ctx.delete(job).await,
            Job::Sharing(job) => sharing::run(&ctx, job).await,
        }
    })
}

enum Job {
    List((String, ListParams)),
    Retrieve((String, ListParams)),
    Create(CreateJob),
    Delete(DeleteJob),
    Sharing(sharing::Job),
}

struct DeleteJob {
    checkpoint: String,
    permission_ids: Vec<String>,
    concurrency: usize,
}

struct CreateJob {
    checkpoint: String,
    project_ids: Vec<String>,
    batch_size: usize,
    concurrency: usize,
}

fn completions(shell: CompletionShell) -> Result<(), Failure> {
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = BufWriter::new(io::stdout().lock());
    clap_complete::generate(shell, &mut Cli::command(), "ckpt-perms", &mut out);
    out.flush()?;
    Ok(())
}

/// Logs go to standard error: warnings (such as retries) always, requests and
/// responses with `--debug`, and the rate limit's pauses when standard error is
/// not a terminal (on a terminal the progress line shows them). Only this crate
/// and the client layer log; the HTTP stack below them, which sees the headers,
/// never does.
fn init_logging(debug: bool, stderr_is_terminal: bool) {
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

/// A variable of the environment, with empty values counting as unset (as in the
/// client layer).
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The key: `--admin-api-key`, `--api-key`, `OPENAI_ADMIN_KEY`, `OPENAI_API_KEY`,
/// the first one set.
fn api_key(global: &GlobalArgs) -> Option<String> {
    let given = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    given(&global.admin_api_key)
        .or_else(|| given(&global.api_key))
        .or_else(|| env_var(env::ADMIN_KEY))
        .or_else(|| env_var(env::API_KEY))
}

fn build_client(global: &GlobalArgs) -> Result<Client, Failure> {
    let key = api_key(global).ok_or_else(|| {
        Failure::Usage(format!(
            "no API key: set {} to an admin key (sk-admin-...), or {}; or pass --admin-api-key",
            env::ADMIN_KEY,
            env::API_KEY
        ))
    })?;
    let mut builder = Client::builder().api_key(key).user_agent(format!(
        "ckpt-perms/{} {}",
        env!("CARGO_PKG_VERSION"),
        permissions_api::USER_AGENT
    ));
    let given = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
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
    builder.build().map_err(|error| match error {
        Error::Config(message) => Failure::Usage(message),
        other => Failure::Usage(other.to_string()),
    })
}

/// The clap command of `verb`, for errors whose usage line names the verb.
fn verb_command(verb: &str) -> clap::Command {
    let mut command = Cli::command();
    command.build();
    command.find_subcommand(verb).cloned().unwrap_or(command)
}

/// Fills the path parameters: each flag that is not given takes the next
/// positional argument, in order, as the official CLI does.
fn path_args(
    verb: &str,
    positional: Vec<String>,
    flags: Vec<(&'static str, Option<String>)>,
) -> Result<Vec<String>, Failure> {
    let mut positional = positional.into_iter();
    let mut values = Vec::with_capacity(flags.len());
    let mut missing = Vec::new();
    for (flag, value) in flags {
        match value.or_else(|| positional.next()) {
            Some(value) => values.push(value),
            None => missing.push(flag),
        }
    }
    let mut command = verb_command(verb);
    if let Some(extra) = positional.next() {
        return Err(Failure::Clap(command.error(
            clap::error::ErrorKind::UnknownArgument,
            format!("unexpected argument '{extra}': every path parameter is already given"),
        )));
    }
    if !missing.is_empty() {
        return Err(Failure::Clap(command.error(
            clap::error::ErrorKind::MissingRequiredArgument,
            format!(
                "missing {} (or give it as a positional argument)",
                missing.join(" and ")
            ),
        )));
    }
    Ok(values)
}

fn checkpoint(
    verb: &str,
    positional: Vec<String>,
    args: CheckpointArgs,
) -> Result<String, Failure> {
    let mut values = path_args(
        verb,
        positional,
        vec![(
            "--fine-tuned-model-checkpoint <CHECKPOINT>",
            args.fine_tuned_model_checkpoint,
        )],
    )?;
    Ok(values.remove(0))
}

fn list_params(page: PageArgs) -> ListParams {
    let mut params = ListParams::new();
    params.after = page.after;
    params.limit = page.limit;
    params.order = page.order.map(Into::into);
    params.project_id = page.project_id;
    params
}

/// Pages `list` asks for unless `--limit` is given: the API's maximum, so that a
/// listing spends the fewest requests of the throttled endpoint.
const LIST_PAGE: u32 = 100;

fn list_job(args: ListArgs) -> Result<(String, ListParams), Failure> {
    let checkpoint = checkpoint("list", args.positional, args.checkpoint)?;
    let mut params = list_params(args.page);
    params.limit = params.limit.or(Some(LIST_PAGE));
    params.max_items = args.max_items;
    Ok((checkpoint, params))
}

fn retrieve_job(args: RetrieveArgs) -> Result<(String, ListParams), Failure> {
    Ok((
        checkpoint("retrieve", args.positional, args.checkpoint)?,
        list_params(args.page),
    ))
}

/// The permission ids of `delete`: after the checkpoint (flag or first
/// positional), the `--permission-id` flags and the other positionals; `-` reads
/// standard input too.
fn delete_job(args: DeleteArgs) -> Result<DeleteJob, Failure> {
    let mut positional = args.positional.into_iter();
    let checkpoint = match args.checkpoint.fine_tuned_model_checkpoint {
        Some(checkpoint) => checkpoint,
        None => positional
            .next()
            .ok_or_else(|| missing("delete", "--fine-tuned-model-checkpoint <CHECKPOINT>"))?,
    };
    let mut ids: Vec<String> = args.permission_id.into_iter().chain(positional).collect();
    let read_stdin = ids.iter().any(|id| id == "-");
    ids.retain(|id| id != "-");
    if read_stdin {
        let from_stdin = input::read_ids(io::stdin().lock(), "permission id")
            .map_err(|e| Failure::Usage(format!("standard input: {e}")))?;
        ids.extend(from_stdin);
    }
    if ids.is_empty() {
        return Err(missing(
            "delete",
            "--permission-id <PERMISSION_ID> (or give it as a positional argument, or - to read ids from standard input)",
        ));
    }
    Ok(DeleteJob {
        checkpoint,
        permission_ids: input::dedup(ids),
        concurrency: args.concurrency as usize,
    })
}

/// A missing argument, reported the way clap reports its own.
fn missing(verb: &str, what: &str) -> Failure {
    Failure::Clap(verb_command(verb).error(
        clap::error::ErrorKind::MissingRequiredArgument,
        format!("missing {what}"),
    ))
}

/// The project ids of `create`: the `--project-id` flags, and standard input when
/// a flag is `-` or when there is no flag and standard input is not a terminal.
fn create_job(args: CreateArgs) -> Result<CreateJob, Failure> {
    let checkpoint = checkpoint("create", args.positional, args.checkpoint)?;
    let stdin = io::stdin();
    let read_stdin = args.project_ids.iter().any(|id| id == "-")
        || (args.project_ids.is_empty() && !stdin.is_terminal());
    let mut ids: Vec<String> = args
        .project_ids
        .into_iter()
        .filter(|id| id != "-")
        .collect();
    if ids.is_empty() && !read_stdin {
        return Err(Failure::Clap(verb_command("create").error(
            clap::error::ErrorKind::MissingRequiredArgument,
            "missing --project-id <PROJECT_ID> (repeatable), or project ids on standard input",
        )));
    }
    if read_stdin {
        let from_stdin = input::read_project_ids(stdin.lock())
            .map_err(|e| Failure::Usage(format!("standard input: {e}")))?;
        if from_stdin.is_empty() && ids.is_empty() {
            return Err(Failure::Usage(
                "standard input holds no project ids (one per line, or a JSON array of strings)"
                    .into(),
            ));
        }
        ids.extend(from_stdin);
    }
    Ok(CreateJob {
        checkpoint,
        project_ids: input::dedup(ids),
        batch_size: args.batch_size as usize,
        concurrency: args.concurrency as usize,
    })
}

/// What the verbs share.
pub(crate) struct Context {
    pub(crate) client: Client,
    /// The resolved output format (never `auto`).
    pub(crate) format: Format,
    pub(crate) transform: Option<Transform>,
    /// Whether `--format` was given (`plan` prints text unless it was).
    pub(crate) format_given: bool,
    pub(crate) stderr_is_terminal: bool,
    pub(crate) debug: bool,
}

impl Context {
    pub(crate) fn permissions(&self) -> Permissions<'_> {
        self.client.fine_tuning().checkpoints().permissions()
    }

    /// A writer of listings to standard output, in the run's format.
    fn item_writer(&self) -> ItemWriter<BufWriter<io::Stdout>> {
        ItemWriter::new(BufWriter::new(io::stdout()), self.format)
            .with_transform(self.transform.clone())
    }

    /// The progress line of a long job: on a terminal, unless `--debug` logs there.
    pub(crate) fn progress(&self) -> Progress<'_> {
        Progress::new(self.stderr_is_terminal && !self.debug, &self.client)
    }

    async fn list(&self, checkpoint: &str, params: ListParams) -> Result<(), Failure> {
        let tally = Tally::new("permissions listed", params.max_items);
        let progress = self.progress();
        // Outside the job, so that what was printed is closed (a JSON array stays
        // valid) however the job ends.
        let writer = RefCell::new(self.item_writer());
        let cursor = RefCell::new(params.after.clone());
        let job = async {
            // `list_pages` applies the stop rules and `max_items`.
            let mut pages = self.permissions().list_pages(checkpoint, params.clone());
            while let Some(page) = pages.next().await {
                let page = page.map_err(Failure::Request)?;
                log_response(page.status().as_u16(), page.request_id(), &*page);
                progress.clear();
                writer.borrow_mut().page(&page)?;
                tally.add(page.data.len() as u64);
                cursor.borrow_mut().clone_from(&page.last_id);
            }
            Ok::<(), Failure>(())
        };
        let outcome = drive(job, &progress, &tally).await;
        writer.into_inner().finish()?;
        let unfinished = |what: &str| {
            // Nothing listed: the error alone says it.
            if tally.done() == 0 {
                return;
            }
            let resume = cursor
                .borrow()
                .as_ref()
                .map(|last| format!(" (continue with --after {last})"))
                .unwrap_or_default();
            eprintln!(
                "{what}: listed {} permission(s); the rest were not listed{resume}",
                tally.done()
            );
        };
        conclude(outcome, unfinished)
    }

    async fn retrieve(&self, checkpoint: &str, params: ListParams) -> Result<(), Failure> {
        eprintln!("warning: `retrieve` is deprecated: {RETRIEVE_DEPRECATION}");
        #[allow(deprecated)] // The official CLI keeps the verb; so do we.
        let page = self
            .permissions()
            .retrieve(checkpoint, params)
            .await
            .map_err(Failure::Request)?;
        log_response(page.status().as_u16(), page.request_id(), &*page);
        write_page(
            BufWriter::new(io::stdout()),
            self.format,
            self.transform.as_ref(),
            &page,
        )?;
        if page.has_more
            && self.stderr_is_terminal
            && matches!(self.format, Format::Table | Format::Jsonl)
            && let Some(last) = &page.last_id
        {
            eprintln!("note: more permissions follow: --after {last}");
        }
        Ok(())
    }

    async fn create(&self, job: CreateJob) -> Result<(), Failure> {
        let CreateJob {
            checkpoint,
            project_ids,
            batch_size,
            concurrency,
        } = job;
        let total = project_ids.len();
        let batches: Vec<Vec<String>> = project_ids
            .chunks(batch_size.max(1))
            .map(<[String]>::to_vec)
            .collect();
        let requests = batches.len();
        let tally = Tally::new("projects granted", Some(total as u64));
        let progress = self.progress();
        // Streamed formats print each batch as it is answered; documents gather
        // the batches into one page, printed however the job ends.
        let streamed = matches!(self.format, Format::Table | Format::Jsonl | Format::Raw);
        let writer = RefCell::new(self.item_writer());
        let gathered = RefCell::new(Vec::new());
        let confirmed = Cell::new(0usize);
        let permissions = self.permissions();
        let checkpoint_ref = checkpoint.as_str();
        let job = async {
            let mut results = futures::stream::iter(batches)
                .map(|batch| async move {
                    debug!(body = %serde_json::json!({ "project_ids": &batch }), "request body");
                    let count = batch.len();
                    permissions
                        .create(checkpoint_ref, batch)
                        .await
                        .map(|page| (count, page))
                })
                .buffered(concurrency.max(1));
            while let Some((count, page)) = results.try_next().await.map_err(Failure::Request)? {
                log_response(page.status().as_u16(), page.request_id(), &*page);
                confirmed.set(confirmed.get() + count);
                tally.add(page.data.len() as u64);
                if streamed {
                    progress.clear();
                    writer.borrow_mut().page(&page)?;
                } else {
                    gathered.borrow_mut().extend(page.into_inner().data);
                }
            }
            Ok::<(), Failure>(())
        };
        let outcome = drive(job, &progress, &tally).await;
        if streamed {
            writer.into_inner().finish()?;
        }
        let gathered = gathered.into_inner();
        let finished = matches!(outcome, Ok(Ok(())));
        if !streamed && (finished || !gathered.is_empty()) {
            write_page(
                BufWriter::new(io::stdout()),
                self.format,
                self.transform.as_ref(),
                &PermissionList::new(gathered, false),
            )?;
        }
        let granted = tally.done();
        if matches!(outcome, Ok(Ok(()))) {
            eprintln!(
                "granted {granted} project(s) access to {checkpoint} ({requests} request(s))"
            );
        }
        conclude(outcome, |what| {
            eprintln!(
                "{what}: granted {granted} of {total} project(s); {} project id(s) were not \
                 confirmed",
                total - confirmed.get()
            );
        })
    }

    async fn delete(&self, job: DeleteJob) -> Result<(), Failure> {
        let DeleteJob {
            checkpoint,
            permission_ids,
            concurrency,
        } = job;
        let total = permission_ids.len();
        let tally = Tally::new("permissions revoked", Some(total as u64));
        let progress = self.progress();
        let revoked = RefCell::new(HashSet::new());
        let permissions = self.permissions();
        let checkpoint_ref = checkpoint.as_str();
        let job = async {
            let mut results = futures::stream::iter(permission_ids.iter())
                .map(|id| async move {
                    permissions
                        .delete(checkpoint_ref, id)
                        .await
                        .map(|response| (id, response))
                })
                .buffered(concurrency.max(1));
            while let Some((id, response)) = results.try_next().await.map_err(Failure::Request)? {
                log_response(
                    response.status().as_u16(),
                    response.request_id(),
                    &*response,
                );
                progress.clear();
                write_deleted(
                    BufWriter::new(io::stdout()),
                    self.format,
                    self.transform.as_ref(),
                    &response,
                )?;
                revoked.borrow_mut().insert(id.as_str());
                tally.add(1);
            }
            Ok::<(), Failure>(())
        };
        let outcome = drive(job, &progress, &tally).await;
        let revoked = revoked.into_inner();
        let unfinished = |what: &str| {
            let left: Vec<&str> = permission_ids
                .iter()
                .map(String::as_str)
                .filter(|id| !revoked.contains(id))
                .collect();
            eprintln!(
                "{what}: revoked {} of {total} permission(s); not revoked: {}",
                revoked.len(),
                left.join(" ")
            );
        };
        // The error of a single delete says it all.
        if total == 1 && matches!(outcome, Ok(Err(_))) {
            return outcome.unwrap_or(Ok(()));
        }
        conclude(outcome, unfinished)
    }
}

/// Ends a job run by [`drive`]: after a failure or Ctrl-C, `unfinished` first
/// says what was done and what was not (given "stopped by the error below" or
/// "interrupted").
fn conclude(
    outcome: Result<Result<(), Failure>, Interrupted>,
    unfinished: impl Fn(&str),
) -> Result<(), Failure> {
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(failure)) => {
            unfinished("stopped by the error below");
            Err(failure)
        }
        Err(interrupted) => {
            unfinished("interrupted");
            Err(interrupted.into())
        }
    }
}

pub(crate) fn log_response<T: serde::Serialize>(status: u16, request_id: Option<&str>, body: &T) {
    debug!(
        status,
        request_id = request_id.unwrap_or("-"),
        body = %serde_json::to_string(body).unwrap_or_default(),
        "response"
    );
}

/// Prints a failure on standard error and returns its exit code.
fn report(failure: Failure) -> u8 {
    match failure {
        Failure::Usage(message) => {
            eprintln!("error: {message}");
            EXIT_USAGE
        }
        Failure::Clap(error) => {
            let _ = error.print();
            EXIT_USAGE
        }
        Failure::Output(error) if error.kind() == io::ErrorKind::BrokenPipe => EXIT_OK,
        Failure::Interrupted => EXIT_INTERRUPTED,
        Failure::ChangesPending => EXIT_CHANGES,
        Failure::Unexpected(message) => {
            eprintln!("error: {message}");
            EXIT_API
        }
        Failure::Output(error) => {
            eprintln!("error: cannot write the output: {error}");
            EXIT_API
        }
        Failure::Request(error) => report_request(&error),
    }
}

fn report_request(error: &Error) -> u8 {
    // `METHOD "URL"`, as the client recorded the request it sent.
    let request = error
        .request()
        .map_or_else(|| "request".to_owned(), ToString::to_string);
    match error {
        Error::Status(status) => {
            eprintln!("{request}: {} {}", status.status, reason(status.status));
            eprintln!("{}", error_json(status));
            if let Some(id) = &status.request_id {
                eprintln!("request id: {id}");
            }
            EXIT_API
        }
        Error::InvalidArgument(message) | Error::Config(message) => {
            eprintln!("error: {message}");
            EXIT_USAGE
        }
        Error::Connection { source, .. } | Error::Timeout { source, .. } => {
            let what = if matches!(error, Error::Timeout { .. }) {
                "request timed out"
            } else {
                "connection error"
            };
            // reqwest's own message repeats the URL; its innermost cause says why.
            let mut cause: &dyn std::error::Error = source;
            while let Some(next) = cause.source() {
                cause = next;
            }
            eprintln!("{request}: {what}: {cause}");
            EXIT_API
        }
        other => {
            eprintln!("{request}: {other}");
            EXIT_API
        }
    }
}

/// The error envelope of a failed response, as the API sent it (the message with
/// any key masked by the client layer).
fn error_json(status: &StatusError) -> String {
    let mut error = ApiError::new(
        status.error_type.clone().unwrap_or_default(),
        status.message.clone(),
    );
    error.code.clone_from(&status.code);
    error.param.clone_from(&status.param);
    let envelope = ErrorResponse::new(error);
    serde_json::to_string_pretty(&envelope).unwrap_or_else(|_| status.message.clone())
}

fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positionals_fill_the_missing_flags_in_order() {
        let flags = |a: Option<&str>, b: Option<&str>| {
            vec![("--a", a.map(String::from)), ("--b", b.map(String::from))]
        };
        let pos = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ok = |p, f| path_args("delete", p, f).ok();
        assert_eq!(
            ok(pos(&["x", "y"]), flags(None, None)),
            Some(pos(&["x", "y"]))
        );
        assert_eq!(
            ok(pos(&["y"]), flags(Some("x"), None)),
            Some(pos(&["x", "y"]))
        );
        assert_eq!(
            ok(pos(&["x"]), flags(None, Some("y"))),
            Some(pos(&["x", "y"]))
        );
        assert!(path_args("delete", pos(&["x"]), flags(None, None)).is_err());
        assert!(path_args("delete", pos(&["x", "y", "z"]), flags(None, None)).is_err());
        assert!(path_args("delete", pos(&["z"]), flags(Some("x"), Some("y"))).is_err());
    }

    #[test]
    fn reasons_are_the_canonical_ones() {
        assert_eq!(reason(404), "Not Found");
        assert_eq!(reason(429), "Too Many Requests");
        assert_eq!(reason(599), "");
    }
}
