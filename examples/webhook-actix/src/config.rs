//! Configuration: command-line flags and environment variables, read with clap.
//!
//! Every setting has a flag and an environment variable, except the two secrets and
//! `RUST_LOG`, which come from the environment only so that a secret never shows in a
//! process list. A variable set to the empty string counts as unset: clap would pass
//! the empty string to the value parser, so each parser maps it to the default.
//! An invalid value stops start-up with one line naming the variable, the value and
//! what is allowed.

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use tracing_subscriber::EnvFilter;
use webhook_contract::{DEFAULT_MAX_BODY_BYTES, DEFAULT_TOLERANCE, Secret, Verifier};

use crate::{BODY_READ_TIMEOUT, Clock, Settings};

const DEFAULT_PORT: u16 = 8081;
const DEFAULT_HOST: &str = "::";
const DEFAULT_TOLERANCE_SECS: u64 = DEFAULT_TOLERANCE.as_secs();
const DEFAULT_STREAM_DELAY_MS: u64 = 30;

/// Log filter when `RUST_LOG` is unset: this server's lines at `info`, and actix-server's
/// own worker start and stop lines only from `warn`, because this server logs its own
/// start and stop lines.
const DEFAULT_LOG_FILTER: &str = "info,actix_server=warn";

const ENV_ONLY_HELP: &str = "\
Read from the environment only:
  WEBHOOK_SECRET           Secret the platform signs requests with; when set, every request must be signed
  WEBHOOK_SECRET_PREVIOUS  Previous secret, also accepted while the secret is being rotated
  RUST_LOG                 Log filter, such as debug or webhook_actix=debug [default: info]

A variable set to the empty string counts as unset.
Exit status: 0 after a clean stop, 1 when the address cannot be bound, 2 for an invalid setting.";

/// Reference partner webhook on actix-web: verifies each request and replies `Echo: <content>`.
#[derive(Debug, Parser)]
#[command(name = "webhook-actix", version, after_help = ENV_ONLY_HELP)]
pub struct Config {
    /// TCP port to listen on; 0 picks a free port, named in the start log line
    #[arg(long, env = "PORT", hide_env_values = true, default_value_t = DEFAULT_PORT, value_parser = parse_port)]
    pub port: u16,

    /// IP address to listen on; `::` listens on IPv6 and IPv4 alike
    #[arg(long, env = "HOST", hide_env_values = true, default_value = DEFAULT_HOST, value_parser = parse_host)]
    pub host: IpAddr,

    /// Allowed distance of X-Timestamp from this server's clock, in seconds (0 to 86400)
    #[arg(long, env = "WEBHOOK_TOLERANCE_SECS", hide_env_values = true, default_value_t = DEFAULT_TOLERANCE_SECS, value_parser = parse_tolerance)]
    pub tolerance_secs: u64,

    /// Largest request body in bytes (1 to 1073741824); a larger body gets 413
    #[arg(long, env = "MAX_BODY_BYTES", hide_env_values = true, default_value_t = DEFAULT_MAX_BODY_BYTES, value_parser = parse_max_body_bytes)]
    pub max_body_bytes: usize,

    /// Pause between streamed events, in milliseconds (0 to 10000)
    #[arg(long, env = "STREAM_DELAY_MS", hide_env_values = true, default_value_t = DEFAULT_STREAM_DELAY_MS, value_parser = parse_stream_delay)]
    pub stream_delay_ms: u64,

    /// `WEBHOOK_SECRET`; `None` when unset.
    #[arg(skip)]
    pub secret: Option<Secret>,

    /// `WEBHOOK_SECRET_PREVIOUS`; `None` when unset.
    #[arg(skip)]
    pub previous_secret: Option<Secret>,

    /// The filter built from `RUST_LOG`.
    #[arg(skip)]
    pub log_filter: EnvFilter,
}

/// Error that stops start-up before the server runs.
#[derive(Debug)]
pub enum ConfigError {
    /// `--help` or `--version`: clap prints it and exits with status 0.
    Info(clap::Error),
    /// An invalid setting, described in one line.
    Invalid(String),
}

impl Config {
    /// Reads the flags and the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let mut config = Config::try_parse().map_err(|error| match error.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ConfigError::Info(error),
            _ => ConfigError::Invalid(one_line(&error)),
        })?;

        config.secret = secret_from_env("WEBHOOK_SECRET")?;
        config.previous_secret = secret_from_env("WEBHOOK_SECRET_PREVIOUS")?;
        if config.secret.is_none() && config.previous_secret.is_some() {
            return Err(ConfigError::Invalid(
                "WEBHOOK_SECRET_PREVIOUS is set but WEBHOOK_SECRET is not; \
                 set WEBHOOK_SECRET to the current secret"
                    .to_owned(),
            ));
        }
        config.log_filter = log_filter_from_env()?;
        Ok(config)
    }

    /// Builds the server settings; verification is on when `WEBHOOK_SECRET` is set.
    pub fn settings(&self) -> Settings {
        let verifier = self.secret.clone().map(|secret| {
            let verifier =
                Verifier::new(secret).with_tolerance(Duration::from_secs(self.tolerance_secs));
            match self.previous_secret.clone() {
                Some(previous) => verifier.with_previous(previous),
                None => verifier,
            }
        });
        Settings {
            verifier,
            max_body_bytes: self.max_body_bytes,
            stream_delay: Duration::from_millis(self.stream_delay_ms),
            body_read_timeout: BODY_READ_TIMEOUT,
            clock: Clock::System,
        }
    }
}

fn parse_port(value: &str) -> Result<u16, String> {
    parse_in_range(
        value,
        DEFAULT_PORT,
        0..=u16::MAX,
        "expected a port number from 0 to 65535",
    )
}

fn parse_host(value: &str) -> Result<IpAddr, String> {
    let value = if value.is_empty() {
        DEFAULT_HOST
    } else {
        value
    };
    value
        .parse()
        .map_err(|_| "expected an IP address such as :: or 127.0.0.1".to_owned())
}

fn parse_tolerance(value: &str) -> Result<u64, String> {
    parse_in_range(
        value,
        DEFAULT_TOLERANCE_SECS,
        0..=86_400,
        "expected whole seconds from 0 to 86400",
    )
}

fn parse_max_body_bytes(value: &str) -> Result<usize, String> {
    parse_in_range(
        value,
        DEFAULT_MAX_BODY_BYTES,
        1..=1_073_741_824,
        "expected a number of bytes from 1 to 1073741824",
    )
}

fn parse_stream_delay(value: &str) -> Result<u64, String> {
    parse_in_range(
        value,
        DEFAULT_STREAM_DELAY_MS,
        0..=10_000,
        "expected milliseconds from 0 to 10000",
    )
}

/// Parses a decimal number within `range`; the empty string gives `default`.
fn parse_in_range<T>(
    value: &str,
    default: T,
    range: RangeInclusive<T>,
    expected: &str,
) -> Result<T, String>
where
    T: FromStr + PartialOrd,
{
    if value.is_empty() {
        return Ok(default);
    }
    value
        .parse()
        .ok()
        .filter(|number| range.contains(number))
        .ok_or_else(|| expected.to_owned())
}

/// Turns a clap error into one line: `invalid value '80a' for PORT: expected ...`.
fn one_line(error: &clap::Error) -> String {
    let value = match error.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) => Some(value.as_str()),
        _ => None,
    };
    let variable = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => variable_of(arg),
        _ => None,
    };
    let expected = std::error::Error::source(error).map(ToString::to_string);

    if let (Some(value), Some(variable), Some(expected)) = (value, variable, expected) {
        return format!("invalid value '{value}' for {variable}: {expected}");
    }
    // Any other usage error: clap's first line, without its own `error: ` prefix.
    let rendered = error.to_string();
    let first_line = rendered.lines().next().unwrap_or_default();
    let reason = first_line.strip_prefix("error: ").unwrap_or(first_line);
    format!("{reason}; run with --help to see every setting")
}

/// Finds the environment variable of the argument clap names as `--port <PORT>`.
fn variable_of(arg: &str) -> Option<String> {
    let mut command = <Config as clap::CommandFactory>::command();
    // Rendering an argument as `--port <PORT>` needs the built command.
    command.build();
    command
        .get_arguments()
        .find(|candidate| candidate.to_string() == arg)
        .and_then(|candidate| candidate.get_env())
        .map(|variable| variable.to_string_lossy().into_owned())
}

fn secret_from_env(variable: &str) -> Result<Option<Secret>, ConfigError> {
    match std::env::var(variable) {
        Ok(value) if value.is_empty() => Ok(None),
        Ok(value) => Ok(Some(Secret::new(value))),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::Invalid(format!(
            "invalid value '<hidden>' for {variable}: expected UTF-8 text"
        ))),
    }
}

fn log_filter_from_env() -> Result<EnvFilter, ConfigError> {
    let directives = std::env::var("RUST_LOG").unwrap_or_default();
    if directives.is_empty() {
        return Ok(EnvFilter::new(DEFAULT_LOG_FILTER));
    }
    EnvFilter::try_new(&directives).map_err(|_| {
        ConfigError::Invalid(format!(
            "invalid value '{directives}' for RUST_LOG: expected a log filter such as info, debug or webhook_actix=debug"
        ))
    })
}
