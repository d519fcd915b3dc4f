//! Integration tests of the wire types, one binary.

mod decode;
mod properties;
