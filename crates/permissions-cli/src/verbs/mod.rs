//! The four verbs of the official CLI, one module each: `parse` reads a verb's
//! arguments into a job (refusing what it can before anything is sent), `run`
//! does it.

pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod list;
pub(crate) mod projects;
pub(crate) mod retrieve;
