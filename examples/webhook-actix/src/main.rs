//! The `webhook-actix` binary: reads the configuration, binds the port and serves
//! until SIGINT or SIGTERM.
//!
//! Run it with `cargo run -p webhook-actix` (port 8081), or with a secret:
//! `WEBHOOK_SECRET=... cargo run -p webhook-actix`. `--help` lists every setting.

use std::io::IsTerminal;
use std::process::ExitCode;

use webhook_actix::config::{Config, ConfigError};

#[actix_web::main]
async fn main() -> ExitCode {
    let config = match Config::load() {
        Ok(config) => config,
        Err(ConfigError::Info(info)) => info.exit(),
        Err(ConfigError::Invalid(message)) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };

    let settings = config.settings();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(config.log_filter)
        .init();

    let listener = match webhook_actix::bind(config.host, config.port) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(1);
        }
    };

    let server = match webhook_actix::run(listener, settings, webhook_actix::stop_signal()) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("error: cannot start the server: {error}");
            return ExitCode::from(1);
        }
    };
    if let Err(error) = server.await {
        eprintln!("error: the server stopped with an error: {error}");
        return ExitCode::from(1);
    }
    tracing::info!("stopped");
    ExitCode::SUCCESS
}
