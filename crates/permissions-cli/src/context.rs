//! What every verb works with: the client, the resolved output settings, the
//! progress line, and the debug log of responses.

use std::io::{self, BufWriter};

use permissions_api::{Client, Permissions};
use tracing::debug;

use crate::output::{Format, ItemWriter, Row, Transform};
use crate::progress::Progress;

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

    /// A writer of listings of `T` to standard output, in the run's format.
    pub(crate) fn item_writer<T: Row>(&self) -> ItemWriter<BufWriter<io::Stdout>, T> {
        ItemWriter::new(BufWriter::new(io::stdout()), self.format)
            .with_transform(self.transform.clone())
    }

    /// The progress line of a long job: on a terminal, unless `--debug` logs there.
    pub(crate) fn progress(&self) -> Progress<'_> {
        Progress::new(self.stderr_is_terminal && !self.debug, &self.client)
    }
}

/// Logs a response's body at debug level (`--debug`), with the key masked. Its
/// status and request id are on the client's own `response` line, masked as well.
pub(crate) fn log_response<T: serde::Serialize>(client: &Client, body: &T) {
    debug!(
        body = %client.redact(&serde_json::to_string(body).unwrap_or_default()),
        "response body"
    );
}
