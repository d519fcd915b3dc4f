//! `ckpt-perms`: see the `permissions_cli` library docs or `ckpt-perms --help`.

fn main() -> std::process::ExitCode {
    permissions_cli::main()
}
