//! The verbs of the official CLI, and `projects`, one module each: `parse` reads a
//! verb's arguments into a job (refusing what it can before anything is sent),
//! `run` does it.
//!
//! They spend few requests, since the admin endpoints allow only a few a minute
//! (`permissions-api`'s pacing module says what is known of it): `list` and
//! `projects` ask for pages of 100, the API's maximum, unless `--limit` is given
//! (the same output for a tenth of the requests); `create` sends batches of 100;
//! `delete` takes many ids in one run, so that one client, with one pacer, spends
//! them.

pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod list;
pub(crate) mod projects;
pub(crate) mod retrieve;
