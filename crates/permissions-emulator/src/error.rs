//! The errors of starting and running an emulator.

/// What can go wrong when building, starting or stopping an [`Emulator`](crate::Emulator).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Binding the listening socket, or serving on it, failed.
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
    /// The SQLite database could not be opened, read or written.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// A seed file could not be read or holds an invalid permission.
    #[error("invalid seed: {0}")]
    Seed(String),
    /// A key file could not be read or holds an invalid entry (the message never
    /// quotes a key).
    #[error("invalid key file: {0}")]
    Keys(String),
    /// A setting of the builder is out of range, or the database is not usable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A value could not be turned into JSON.
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
}
