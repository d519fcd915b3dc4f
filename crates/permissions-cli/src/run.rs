//! Runs a parsed command line: configuration, the four verbs, error reports.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use clap::CommandFactory;
use futures::{StreamExt, TryStreamExt};
use permissions_api::permissions_types::{ApiError, ErrorResponse, PermissionList};
use permissions_api::{
    Client, Error, ListParams, Permissions, RETRIEVE_DEPRECATION, StatusError, env,
};
use tracing::debug;

use crate::cli::{
    CheckpointArgs, Cli, Command, CompletionShell, CreateArgs, DeleteArgs, EXIT_API, EXIT_OK,
    EXIT_USAGE, GlobalArgs, ListArgs, PageArgs, RetrieveArgs,
};
use crate::input;
use crate::output::{Format, ItemWriter, write_deleted, write_page};

/// Why a run failed; each maps to an exit code.
#[derive(Debug)]
enum Failure {
    /// Refused before any request: printed as `error: ...`, exit 2.
    Usage(String),
    /// A bad combination of arguments, reported the way clap reports its own.
    Clap(clap::Error),
    /// A request failed: `METHOD "URL": ...` (the client names the request), exit 1
    /// (or 2 when the client refused an argument before sending).
    Request(Error),
    /// Standard output could not be written (a closed pipe ends the run quietly).
    Output(io::Error),
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
    init_logging(global.debug);
    let client = build_client(&global)?;
    let format = global.format.resolve(io::stdout().is_terminal());
    let ctx = Context {
        client,
        format,
        stderr_is_terminal: io::stderr().is_terminal(),
        debug: global.debug,
    };
    // Everything that can be refused is refused before the runtime starts.
    let job = match command {
        Command::List(args) => Job::List(list_job(args)?),
        Command::Retrieve(args) => Job::Retrieve(retrieve_job(args)?),
        Command::Create(args) => Job::Create(create_job(args)?),
        Command::Delete(args) => Job::Delete(delete_job(args)?),
        Command::Completions { .. } => return Ok(()),
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
            Job::Delete((checkpoint, id)) => ctx.delete(&checkpoint, &id).await,
        }
    })
}

enum Job {
    List((String, ListParams)),
    Retrieve((String, ListParams)),
    Create(CreateJob),
    Delete((String, String)),
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
/// responses with `--debug`. Only this crate and the client layer log; the HTTP
/// stack below them, which sees the headers, never does.
fn init_logging(debug: bool) {
    let filter = if debug {
        "permissions_cli=debug,permissions_api=debug"
    } else {
        "permissions_cli=warn,permissions_api=warn"
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
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
    ListParams {
        after: page.after,
        limit: page.limit,
        order: page.order.map(Into::into),
        project_id: page.project_id,
        max_items: None,
    }
}

fn list_job(args: ListArgs) -> Result<(String, ListParams), Failure> {
    let checkpoint = checkpoint("list", args.positional, args.checkpoint)?;
    let mut params = list_params(args.page);
    params.max_items = args.max_items;
    Ok((checkpoint, params))
}

fn retrieve_job(args: RetrieveArgs) -> Result<(String, ListParams), Failure> {
    Ok((
        checkpoint("retrieve", args.positional, args.checkpoint)?,
        list_params(args.page),
    ))
}

fn delete_job(args: DeleteArgs) -> Result<(String, String), Failure> {
    let mut values = path_args(
        "delete",
        args.positional,
        vec![
            (
                "--fine-tuned-model-checkpoint <CHECKPOINT>",
                args.checkpoint.fine_tuned_model_checkpoint,
            ),
            ("--permission-id <PERMISSION_ID>", args.permission_id),
        ],
    )?;
    let id = values.pop().unwrap_or_default();
    let checkpoint = values.pop().unwrap_or_default();
    Ok((checkpoint, id))
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
struct Context {
    client: Client,
    /// The resolved output format (never `auto`).
    format: Format,
    stderr_is_terminal: bool,
    debug: bool,
}

impl Context {
    fn permissions(&self) -> Permissions<'_> {
        self.client.fine_tuning().checkpoints().permissions()
    }

    async fn list(&self, checkpoint: &str, params: ListParams) -> Result<(), Failure> {
        let mut pages = self.permissions().list_pages(checkpoint, params.clone());
        let mut writer = ItemWriter::new(BufWriter::new(io::stdout()), self.format);
        let mut progress = Progress::new(self.stderr_is_terminal && !self.debug);
        let mut cursor = params.after.clone();
        let mut page_count = 0u64;
        loop {
            let page = match pages.next().await {
                None => break,
                Some(Ok(page)) => page,
                Some(Err(error)) => {
                    progress.clear();
                    // Close what was printed (a JSON array stays valid), then fail.
                    writer.finish()?;
                    return Err(Failure::Request(error));
                }
            };
            log_response(page.status().as_u16(), page.request_id(), &*page);
            page_count += 1;
            progress.clear();
            writer.page(&page)?;
            let capped = params.max_items.is_some_and(|max| writer.items() >= max);
            let more = page.has_more && !page.data.is_empty() && page.last_id.is_some();
            if !more || capped {
                break;
            }
            progress.show(writer.items(), page_count);
            cursor.clone_from(&page.last_id);
        }
        progress.clear();
        writer.finish()?;
        Ok(())
    }

    async fn retrieve(&self, checkpoint: &str, params: ListParams) -> Result<(), Failure> {
        eprintln!("warning: `retrieve` is deprecated: {RETRIEVE_DEPRECATION}");
        // The first page of `list_pages` is exactly the request `retrieve` sends,
        // with its status and request id for the log; no other page is fetched.
        let mut pages = self.permissions().list_pages(checkpoint, params);
        let page = match pages.next().await {
            Some(Ok(page)) => page,
            Some(Err(error)) => {
                return Err(Failure::Request(error));
            }
            None => return Ok(()),
        };
        log_response(page.status().as_u16(), page.request_id(), &*page);
        write_page(BufWriter::new(io::stdout()), self.format, &page)?;
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
        let permissions = self.permissions();
        let checkpoint_ref = checkpoint.as_str();
        let mut results = futures::stream::iter(batches)
            .map(|batch| async move {
                debug!(body = %serde_json::json!({ "project_ids": &batch }), "request body");
                let count = batch.len();
                permissions
                    .create_with_response(checkpoint_ref, batch)
                    .await
                    .map(|page| (count, page))
            })
            .buffered(concurrency.max(1));

        // Streamed formats print each batch as it is answered; documents gather
        // the batches into one page.
        let streamed = matches!(self.format, Format::Table | Format::Jsonl | Format::Raw);
        let mut writer = ItemWriter::new(BufWriter::new(io::stdout()), self.format);
        let mut gathered = Vec::new();
        let mut sent = 0usize;
        let mut granted = 0usize;
        let outcome = loop {
            match results.try_next().await {
                Ok(Some((count, page))) => {
                    log_response(page.status().as_u16(), page.request_id(), &*page);
                    sent += count;
                    granted += page.data.len();
                    if streamed {
                        writer.page(&page)?;
                    } else {
                        gathered.extend(page.into_inner().data);
                    }
                }
                Ok(None) => break Ok(()),
                Err(error) => break Err(error),
            }
        };
        drop(results);
        if streamed {
            writer.finish()?;
        } else if outcome.is_ok() || !gathered.is_empty() {
            write_page(
                BufWriter::new(io::stdout()),
                self.format,
                &PermissionList::new(gathered, false),
            )?;
        }
        match outcome {
            Ok(()) => {
                eprintln!(
                    "granted {granted} project(s) access to {checkpoint} ({requests} request(s))"
                );
                Ok(())
            }
            Err(error) => {
                eprintln!(
                    "granted {granted} of {total} project(s) before the error below; \
                     {} project id(s) were not confirmed",
                    total - sent
                );
                Err(Failure::Request(error))
            }
        }
    }

    async fn delete(&self, checkpoint: &str, permission_id: &str) -> Result<(), Failure> {
        match self
            .permissions()
            .delete_with_response(checkpoint, permission_id)
            .await
        {
            Ok(response) => {
                log_response(
                    response.status().as_u16(),
                    response.request_id(),
                    &*response,
                );
                write_deleted(BufWriter::new(io::stdout()), self.format, &response)?;
                Ok(())
            }
            Err(error) => Err(Failure::Request(error)),
        }
    }
}

fn log_response<T: serde::Serialize>(status: u16, request_id: Option<&str>, body: &T) {
    debug!(
        status,
        request_id = request_id.unwrap_or("-"),
        body = %serde_json::to_string(body).unwrap_or_default(),
        "response"
    );
}

/// A one-line count of a long listing on standard error, drawn only on a
/// terminal, and erased before rows are printed and at the end.
struct Progress {
    enabled: bool,
    shown: bool,
}

impl Progress {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            shown: false,
        }
    }

    fn show(&mut self, items: u64, pages: u64) {
        if self.enabled {
            let mut err = io::stderr().lock();
            let plural = if pages == 1 { "page" } else { "pages" };
            let _ = write!(
                err,
                "\r\x1b[2K{items} permissions from {pages} {plural}, fetching more…"
            );
            let _ = err.flush();
            self.shown = true;
        }
    }

    fn clear(&mut self) {
        if self.shown {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.shown = false;
        }
    }
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
    let envelope = ErrorResponse {
        error: ApiError {
            code: status.code.clone(),
            message: status.message.clone(),
            param: status.param.clone(),
            kind: status.error_type.clone().unwrap_or_default(),
        },
    };
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
