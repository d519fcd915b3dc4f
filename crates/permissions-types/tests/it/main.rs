//! Integration tests of the wire types, one binary.

mod decode;
mod never_panics;
