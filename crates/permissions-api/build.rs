//! Generates the client from the OpenAPI fragment on every build where it changed.

use std::{env, fs, path::PathBuf, process::ExitCode};

fn main() -> ExitCode {
    let spec_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.yaml");
    println!("cargo::rerun-if-changed={}", spec_path.display());

    let text = match fs::read_to_string(&spec_path) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("cannot read the spec {}: {err}", spec_path.display());
            return ExitCode::FAILURE;
        }
    };
    let source = match permissions_codegen::generate_from_str(&text) {
        Ok(source) => source,
        Err(err) => {
            eprintln!(
                "cannot generate the client from {}:\n{err}",
                spec_path.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let out =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("generated.rs");
    if let Err(err) = fs::write(&out, source) {
        eprintln!("cannot write {}: {err}", out.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
