//! Integration tests of the emulator, one binary (the SDK conformance run is
//! `tests/conformance.rs`, apart: it needs Python and Node); `common` is the raw
//! HTTP client they share.

mod api;
mod binary;
mod common;
mod organization;
mod refusals;
mod throttle;
