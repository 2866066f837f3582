//! The `webhook-probe` command: plays the platform against a partner webhook.
//!
//! Run it with `cargo run -p webhook-probe -- check http://127.0.0.1:8080/`; `--help`
//! lists the subcommands and the exit codes. Everything but the exit code lives in
//! [`cli`].

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}
