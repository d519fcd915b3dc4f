//! Integration tests of sharing files, one binary.

mod apply;
mod plan;
mod schema;
