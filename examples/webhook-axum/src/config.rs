//! Settings, from command-line flags or environment variables.
//!
//! Each setting has a flag and a variable, and the flag wins. The two secrets are read
//! from the environment only, so they never show up in a process list. A variable set
//! to the empty string counts as unset. A bad value stops start-up with one line:
//! `error: invalid value '80a' for PORT: expected a port number from 0 to 65535`.

use std::env;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches, Parser};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use webhook_contract::{DEFAULT_MAX_BODY_BYTES, DEFAULT_TOLERANCE, Secret, Verifier};

use crate::app::{AppState, Clock};

const AFTER_HELP: &str = "\
Read from the environment only:
  WEBHOOK_SECRET           The App's signing secret. When set, every request must carry a
                           valid X-Timestamp and X-Signature; when unset, unsigned requests
                           are accepted.
  WEBHOOK_SECRET_PREVIOUS  The secret before a rotation, accepted as well until the App
                           has switched to the new one.
  RUST_LOG                 Log filter, such as info or webhook_axum=debug [default: info]

Exit status: 0 after a clean shutdown on SIGINT or SIGTERM, 1 when the address cannot
be bound, 2 for an invalid setting.";

/// The server's settings.
#[derive(Debug, Parser)]
#[command(name = "webhook-axum", version, after_help = AFTER_HELP)]
#[command(
    about = "Partner webhook on axum: verifies each delivery and replies with \
                   Echo: <content>, as JSON on / and as server-sent events on /stream."
)]
pub struct Config {
    /// TCP port to listen on; 0 picks a free port
    #[arg(long, env = "PORT", hide_env_values = true, default_value_t = 8080, value_parser = parse_port)]
    pub port: u16,

    /// IP address to listen on; :: accepts IPv6 and IPv4 alike
    #[arg(long, env = "HOST", hide_env_values = true, default_value = "::", value_parser = parse_host)]
    pub host: IpAddr,

    /// Allowed distance of X-Timestamp from this server's clock, in seconds
    #[arg(long, env = "WEBHOOK_TOLERANCE_SECS", hide_env_values = true,
          default_value_t = DEFAULT_TOLERANCE.as_secs(), value_parser = parse_tolerance)]
    pub tolerance_secs: u64,

    /// Largest accepted request body, in bytes
    #[arg(long, env = "MAX_BODY_BYTES", hide_env_values = true,
          default_value_t = DEFAULT_MAX_BODY_BYTES, value_parser = parse_max_body_bytes)]
    pub max_body_bytes: usize,

    /// Pause between two events of a streamed reply, in milliseconds
    #[arg(long, env = "STREAM_DELAY_MS", hide_env_values = true, default_value_t = 30,
          value_parser = parse_stream_delay)]
    pub stream_delay_ms: u64,

    /// The App's current secret, from `WEBHOOK_SECRET`; `None` turns verification off.
    #[arg(skip)]
    pub secret: Option<Secret>,

    /// The secret before a rotation, from `WEBHOOK_SECRET_PREVIOUS`.
    #[arg(skip)]
    pub previous_secret: Option<Secret>,
}

/// An error in the settings.
#[derive(Debug)]
pub enum ConfigError {
    /// `--help`, `--version`, or a command line clap rejects itself, such as an
    /// unknown flag. [`clap::Error::exit`] prints it and exits.
    Clap(clap::Error),
    /// A setting has a value outside what it allows.
    Invalid {
        /// The environment variable of the setting, such as `PORT`.
        variable: String,
        /// The value as given.
        value: String,
        /// The values the setting allows, as a phrase.
        expected: String,
    },
    /// A secret variable is not valid UTF-8. Its value is never shown.
    SecretNotUtf8 {
        /// `WEBHOOK_SECRET` or `WEBHOOK_SECRET_PREVIOUS`.
        variable: &'static str,
    },
    /// `WEBHOOK_SECRET_PREVIOUS` is set without `WEBHOOK_SECRET`. Starting without
    /// verification would surprise the operator who set it, so this stops start-up.
    PreviousWithoutCurrent,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Clap(error) => write!(f, "{error}"),
            ConfigError::Invalid {
                variable,
                value,
                expected,
            } => write!(f, "invalid value '{value}' for {variable}: {expected}"),
            ConfigError::SecretNotUtf8 { variable } => {
                write!(f, "invalid value for {variable}: expected UTF-8 text")
            }
            ConfigError::PreviousWithoutCurrent => f.write_str(
                "WEBHOOK_SECRET_PREVIOUS is set but WEBHOOK_SECRET is not; \
                 set WEBHOOK_SECRET to the App's current secret",
            ),
        }
    }
}

impl Config {
    /// Reads the settings from the command line and the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let mut command = Self::command();

        // clap passes an empty variable to the value parser; drop such variables so
        // that the default applies, as if they were unset.
        let empty: Vec<_> = command
            .get_arguments()
            .filter(|arg| {
                arg.get_env()
                    .is_some_and(|name| env::var_os(name).is_some_and(|value| value.is_empty()))
            })
            .map(|arg| arg.get_id().clone())
            .collect();
        for id in empty {
            command = command.mut_arg(id, |arg| arg.env(None));
        }

        // Building resolves each argument's display name, which the error mapping reads.
        command.build();
        let matches = command
            .clone()
            .try_get_matches()
            .map_err(|error| one_line_error(error, &command))?;
        let mut config = Self::from_arg_matches(&matches).map_err(ConfigError::Clap)?;
        config.secret = secret_from_env("WEBHOOK_SECRET")?;
        config.previous_secret = secret_from_env("WEBHOOK_SECRET_PREVIOUS")?;
        if config.previous_secret.is_some() && config.secret.is_none() {
            return Err(ConfigError::PreviousWithoutCurrent);
        }
        Ok(config)
    }

    /// Builds the state the handlers share.
    pub fn app_state(&self) -> AppState {
        let verifier = self.secret.clone().map(|secret| {
            let verifier =
                Verifier::new(secret).with_tolerance(Duration::from_secs(self.tolerance_secs));
            let verifier = match self.previous_secret.clone() {
                Some(previous) => verifier.with_previous(previous),
                None => verifier,
            };
            Arc::new(verifier)
        });
        AppState {
            verifier,
            max_body_bytes: self.max_body_bytes,
            stream_delay: Duration::from_millis(self.stream_delay_ms),
            clock: Clock::System,
        }
    }
}

/// Builds the log filter from `RUST_LOG`, `info` when it is unset or empty.
pub fn log_filter() -> Result<EnvFilter, ConfigError> {
    let directives = env::var("RUST_LOG").unwrap_or_default();
    let builder = EnvFilter::builder().with_default_directive(LevelFilter::INFO.into());
    if directives.is_empty() {
        return Ok(builder.parse_lossy(""));
    }
    builder
        .parse(&directives)
        .map_err(|_| ConfigError::Invalid {
            variable: "RUST_LOG".to_owned(),
            value: directives,
            expected: "expected a log filter such as info, debug or webhook_axum=debug".to_owned(),
        })
}

fn secret_from_env(variable: &'static str) -> Result<Option<Secret>, ConfigError> {
    match env::var(variable) {
        Ok(value) if value.is_empty() => Ok(None),
        Ok(value) => Ok(Some(Secret::new(value))),
        Err(env::VarError::NotPresent) => Ok(None),
        Err(env::VarError::NotUnicode(_)) => Err(ConfigError::SecretNotUtf8 { variable }),
    }
}

/// Turns clap's report of a bad value into the one-line [`ConfigError::Invalid`],
/// naming the environment variable of the setting.
fn one_line_error(error: clap::Error, command: &clap::Command) -> ConfigError {
    if error.kind() != ErrorKind::ValueValidation {
        return ConfigError::Clap(error);
    }
    let (Some(ContextValue::String(arg)), Some(ContextValue::String(value)), Some(expected)) = (
        error.get(ContextKind::InvalidArg),
        error.get(ContextKind::InvalidValue),
        std::error::Error::source(&error),
    ) else {
        return ConfigError::Clap(error);
    };
    let variable = command
        .get_arguments()
        .find(|candidate| candidate.to_string() == *arg)
        .and_then(|candidate| candidate.get_env())
        .map_or_else(|| arg.clone(), |name| name.to_string_lossy().into_owned());
    ConfigError::Invalid {
        variable,
        value: value.clone(),
        expected: expected.to_string(),
    }
}

fn parse_port(value: &str) -> Result<u16, String> {
    value
        .parse()
        .map_err(|_| "expected a port number from 0 to 65535".to_owned())
}

fn parse_host(value: &str) -> Result<IpAddr, String> {
    value
        .parse()
        .map_err(|_| "expected an IP address such as ::, 0.0.0.0 or 127.0.0.1".to_owned())
}

fn parse_tolerance(value: &str) -> Result<u64, String> {
    parse_in_range(value, 0, 86_400, "whole seconds")
}

fn parse_max_body_bytes(value: &str) -> Result<usize, String> {
    let bytes = parse_in_range(value, 1, 1_073_741_824, "a number of bytes")?;
    usize::try_from(bytes).map_err(|error| error.to_string())
}

fn parse_stream_delay(value: &str) -> Result<u64, String> {
    parse_in_range(value, 0, 10_000, "milliseconds")
}

fn parse_in_range(value: &str, min: u64, max: u64, unit: &str) -> Result<u64, String> {
    value
        .parse()
        .ok()
        .filter(|number| (min..=max).contains(number))
        .ok_or_else(|| format!("expected {unit} from {min} to {max}"))
}
