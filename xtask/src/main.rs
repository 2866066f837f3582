//! Project tasks, run from anywhere in the workspace as `cargo xtask <task>` (the alias
//! lives in `.cargo/config.toml`).
//!
//! - `cargo xtask smoke` builds both example servers, starts them as real processes
//!   and runs the black-box suite and the field cases against each, then compares
//!   their answers case by case.
//! - `cargo xtask bench` measures both example servers and a bare server of each
//!   framework under the same load and checks the performance targets.
//! - `cargo xtask stress` runs both example servers through heavy mixed traffic, slow
//!   clients, SIGTERM with work in flight and a restart, and checks each limit.

mod bench;
mod process;
mod raw;
mod smoke;
mod stress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Project tasks for the webhook workspace.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Start both example servers and run the conformance suite and the field cases
    /// against each; fails on any failed check or any difference between the two.
    Smoke,
    /// Measure both example servers and a bare server of each framework under load,
    /// and compare them with the performance targets.
    Bench(bench::Args),
    /// Run both example servers through mixed traffic, slow clients, SIGTERM with work
    /// in flight and a restart; fails when any reliability limit is breached.
    Stress(stress::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let task = async {
            match cli.task {
                Task::Smoke => smoke::run().await,
                Task::Bench(args) => bench::run(args).await,
                Task::Stress(args) => stress::run(args).await,
            }
        };
        // Returning on Ctrl-C drops the task, and with it every server process it
        // started: each one is killed when its handle is dropped.
        tokio::select! {
            result = task => result,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted; the servers were stopped")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
