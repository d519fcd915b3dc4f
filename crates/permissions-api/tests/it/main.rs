//! Integration tests of the client, one binary: each module a concern,
//! `common` the recording test server they share.

mod client;
mod common;
mod hostile;
mod throttle;
mod wire;
