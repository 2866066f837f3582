//! `webhook-axum`: the partner webhook reference server on axum.
//!
//! Run it from the workspace root with `cargo run -p webhook-axum`, or
//! `WEBHOOK_SECRET=<the App's secret> cargo run -p webhook-axum` to require signed
//! requests. `cargo run -p webhook-axum -- --help` lists every setting.
//!
//! This file only reads the settings, sets up logging and binds the socket; the
//! server itself is in the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use tracing::{info, warn};
use webhook_axum::config::{self, ConfigError};
use webhook_axum::{Config, app, bind, run, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    let (config, filter) =
        match Config::load().and_then(|config| Ok((config, config::log_filter()?))) {
            Ok(loaded) => loaded,
            Err(ConfigError::Clap(error)) => error.exit(),
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let shutdown = match shutdown_signal() {
        Ok(shutdown) => shutdown,
        Err(error) => {
            eprintln!("error: cannot install the SIGINT and SIGTERM handlers: {error}");
            return ExitCode::from(1);
        }
    };
    let (listener, stack) = match bind(config.host, config.port) {
        Ok(bound) => bound,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(1);
        }
    };
    let address = listener
        .local_addr()
        .map_or_else(|_| "unknown".to_owned(), |address| address.to_string());
    info!(
        %address,
        stack = %stack.as_str(),
        verification = %if config.secret.is_some() { "on" } else { "off" },
        previous_secret = config.previous_secret.is_some(),
        tolerance_secs = config.tolerance_secs,
        max_body_bytes = config.max_body_bytes,
        stream_delay_ms = config.stream_delay_ms,
        "listening"
    );
    if config.secret.is_none() {
        warn!(
            "WEBHOOK_SECRET is not set, so unsigned requests are accepted; set it to the App's secret before production"
        );
    }

    run(listener, app(config.app_state()), shutdown).await;
    ExitCode::SUCCESS
}
