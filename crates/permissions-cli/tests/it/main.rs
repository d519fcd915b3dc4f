//! Integration tests of `ckpt-perms`, one binary: the binary run against an
//! in-process emulator; `common` starts it and reads the output.

mod cli;
mod common;
mod sharing;
