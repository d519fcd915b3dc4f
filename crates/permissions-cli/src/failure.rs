//! How a run ends: the [`Outcome`] of a verb that did its job, or its [`Failure`],
//! with the exit code and the report on standard error.
//!
//! A failed request prints `METHOD "URL": <status> <reason>`, then the error JSON
//! (`{"error": {...}}`) and the request id; the method and URL are the ones the
//! client recorded for the request it sent ([`Error::request`]). A network error
//! prints `METHOD "URL": <what failed>`.
//!
//! The exit codes are the `EXIT_*` constants of [`cli`](crate::cli). With 2, a
//! usage error, nothing was sent. A closed output pipe (`| head`) ends a run
//! that only reads quietly with 0 (`plan` with its own code). A run that changes
//! something (`create`, `delete`, `apply`) says what it did and exits 1: its
//! output was lost. It stops sending when it writes as it goes (`create` with a
//! document format writes once, at the end); `apply`'s last line, once the
//! checkpoints match, goes to standard error instead. `plan` and `apply` exit 1
//! on any error (a bad file or flag
//! included), as terraform does, so that `plan --detailed-exitcode`'s 2 means only
//! "changes pending"; `apply` exits 0 only when the checkpoints match the file. A
//! pending change is an [`Outcome`] a verb returns, not a failure.

use std::io;

use permissions_api::permissions_types::{ApiError, ErrorResponse, IdError};
use permissions_api::{Error, StatusError};
use permissions_sharing::{FileError, Refused};

use crate::cli::{EXIT_API, EXIT_INTERRUPTED, EXIT_OK};
use crate::progress::Interrupted;

/// How a run that did not fail ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It did what was asked.
    Done,
    /// `plan` found changes to make; exit 2 with `--detailed-exitcode`, else 0.
    ChangesPending {
        /// Whether `--detailed-exitcode` was given.
        detailed: bool,
    },
}

/// Why a run failed; each maps to an exit code.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Refused before any request: printed as `error: ...`, a usage error.
    Usage(String),
    /// A malformed id in an argument or on standard input (`argument` names the
    /// flag, or the line): refused before any request, as a usage error.
    InvalidId { argument: String, source: IdError },
    /// A sharing file that cannot be read or is not of the format: a usage error.
    File(FileError),
    /// Entries of a sharing file that name no usable project of the organization:
    /// nothing was sent, exit 1.
    Refused(Refused),
    /// A bad combination of arguments, reported the way clap reports its own.
    Clap(clap::Error),
    /// A request failed: `METHOD "URL": ...` (the client names the request), exit 1
    /// (or 2 when the client refused an argument before sending).
    Request(Error),
    /// Standard output could not be written (a closed pipe ends a run that only
    /// reads quietly).
    Output(io::Error),
    /// Ctrl-C: what was done has been said, exit 130.
    Interrupted,
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

/// Ends a job run by [`drive`](crate::progress::drive): after a failure or Ctrl-C, `unfinished` first
/// says what was done and what was not (given "stopped by the error below" or
/// "interrupted").
pub(crate) fn conclude(
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

impl Failure {
    /// The failure of an id `argument` (a flag, or where on standard input).
    pub(crate) fn invalid_id(argument: impl Into<String>, source: IdError) -> Self {
        Self::InvalidId {
            argument: argument.into(),
            source,
        }
    }

    /// Whether standard output was closed (`| head`): a broken pipe.
    pub(crate) fn is_closed_output(&self) -> bool {
        matches!(self, Self::Output(error) if error.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// `written`, except that a closed standard output is no failure: for output
/// whose loss changes nothing the run decides (`plan`'s exit code, an `apply`
/// with nothing to do).
pub(crate) fn unless_closed(written: Result<(), Failure>) -> Result<(), Failure> {
    match written {
        Err(failure) if failure.is_closed_output() => Ok(()),
        other => other,
    }
}

/// Prints clap's message (help and version on standard output, errors on
/// standard error), without a key it quotes: an error that quotes an argument
/// may quote a key given in the wrong place. Such a message is printed plain.
pub(crate) fn print_clap(error: &clap::Error) {
    let plain = error.render().to_string();
    let clean = permissions_api::redact_keys(&plain);
    if clean == plain {
        let _ = error.print();
    } else {
        eprint!("{clean}");
    }
}

/// `eprintln!`, without a key the text quotes: a message may quote an
/// argument, a path or a URL, where a key may have been given by mistake.
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!("{}", permissions_api::redact_keys(&format!($($arg)*)))
    };
}

/// Prints a failure on standard error and returns its exit code; a usage error
/// (nothing sent) exits with `usage`: [`EXIT_USAGE`](crate::cli::EXIT_USAGE) for most verbs, [`EXIT_API`]
/// for `plan` and `apply`, which exit 1 on any error as terraform does. A closed
/// output pipe is a failure only for a verb that `changes` something.
pub(crate) fn report(failure: Failure, usage: u8, changes: bool) -> u8 {
    if failure.is_closed_output() {
        if !changes {
            return EXIT_OK;
        }
        say!("error: standard output was closed before the end; its output is lost");
        return EXIT_API;
    }
    match failure {
        Failure::Usage(message) => {
            say!("error: {message}");
            usage
        }
        Failure::InvalidId { argument, source } => {
            say!("error: {argument}: {source}");
            usage
        }
        Failure::File(error) => {
            say!("error: {error}");
            usage
        }
        Failure::Refused(refused) => {
            say!("error: {refused}");
            say!("nothing was sent");
            EXIT_API
        }
        Failure::Clap(error) => {
            print_clap(&error);
            usage
        }
        Failure::Interrupted => EXIT_INTERRUPTED,
        Failure::Unexpected(message) => {
            say!("error: {message}");
            EXIT_API
        }
        Failure::Output(error) => {
            say!("error: cannot write the output: {error}");
            EXIT_API
        }
        Failure::Request(error) => report_request(&error, usage),
    }
}

fn report_request(error: &Error, usage: u8) -> u8 {
    // `METHOD "URL"`, as the client recorded the request it sent.
    let request = error
        .request()
        .map_or_else(|| "request".to_owned(), ToString::to_string);
    match error {
        Error::Status(status) => {
            say!("{request}: {} {}", status.status, status.reason());
            say!("{}", error_json(status));
            if let Some(id) = &status.request_id {
                say!("request id: {id}");
            }
            EXIT_API
        }
        Error::InvalidArgument(message) => {
            say!("error: {message}");
            usage
        }
        Error::Config(error) => {
            say!("error: {error}");
            usage
        }
        Error::InvalidId {
            argument, source, ..
        } => {
            say!("error: `{argument}`: {source}");
            usage
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
            say!("{request}: {what}: {cause}");
            EXIT_API
        }
        other => {
            say!("{request}: {other}");
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
