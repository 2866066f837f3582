//! The command line: arguments, the secret from the environment, and the exit codes.
//!
//! Each subcommand lives in its own module and returns its exit code. An `Err` from
//! [`run`] is a usage or connection error, which `main` prints and turns into exit
//! code 2.

mod chat;
mod check;
mod deliver;
mod explain;
mod output;
mod send;
mod sign;

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use reqwest::Url;

/// Exit code when the webhook passed.
pub const EXIT_PASSED: u8 = 0;
/// Exit code when the webhook failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code for a usage error or a webhook that could not be reached.
pub const EXIT_USAGE: u8 = 2;

const AFTER_HELP: &str = "\
Exit status:
  0  the webhook passed: every check passed, the reply was accepted, or the signature matches
  1  the webhook failed: a check failed, the platform would reject the reply, or a step of the signature failed
  2  usage error, a missing secret, or the webhook could not be reached

The App's secret is read from the environment, never from the command line:
WEBHOOK_SECRET, or the variable named by --secret-env. An empty variable counts as
unset. Without a secret, send, chat and check send unsigned requests, as the platform
does for an App without a secret.";

/// Plays the chat platform against a partner webhook: sends signed messages as the
/// platform does, checks the replies against the contract, and explains signature
/// failures.
#[derive(Debug, Parser)]
#[command(name = "webhook-probe", version, after_help = AFTER_HELP)]
struct Cli {
    /// Name of the environment variable that contains the App's secret.
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        default_value = "WEBHOOK_SECRET",
        value_parser = parse_variable_name
    )]
    secret_env: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send one signed message exactly as the platform sends it, and print the reply and
    /// the platform's verdict.
    Send {
        /// The webhook URL: the JSON URL, or the streaming URL with --stream.
        #[arg(value_parser = parse_url)]
        url: Url,
        /// The message text, sent as `message.content`.
        #[arg(long, value_name = "TEXT", default_value = "Hello from webhook-probe")]
        message: String,
        /// Expect a stream of server-sent events, as the platform's chat screen does,
        /// and print each delta as it arrives.
        #[arg(long)]
        stream: bool,
    },
    /// Chat with the webhook in one thread, one line per message, as the platform's
    /// chat screen does; /quit or end of input stops.
    Chat {
        /// The webhook URL: the JSON URL, or the streaming URL with --stream.
        #[arg(value_parser = parse_url)]
        url: Url,
        /// Expect streamed replies and print each delta as it arrives.
        #[arg(long)]
        stream: bool,
    },
    /// Run the conformance suite: realistic messages, forged and replayed requests, and
    /// bad bodies; print a line per check and a curl command for each failure.
    Check {
        /// The URL that returns a JSON reply.
        #[arg(value_parser = parse_url)]
        url: Url,
        /// The URL that returns a streamed reply; without it the stream checks are
        /// skipped.
        #[arg(long, value_name = "URL", value_parser = parse_url)]
        stream_url: Option<Url>,
        /// platform: only what the platform relies on, so any correct webhook passes.
        /// reference: also the exact statuses, error codes and routes of this
        /// project's example servers.
        #[arg(long, value_enum, default_value_t = LevelArg::Platform)]
        level: LevelArg,
        /// Output format: a table, one JSON document, or a JUnit XML report for CI.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Sign a body read from standard input and print the X-Timestamp and X-Signature
    /// headers, or a curl command that sends it.
    Sign {
        /// The timestamp to sign, in unix seconds; the current time when absent.
        #[arg(long, value_name = "UNIX_SECONDS")]
        timestamp: Option<u64>,
        /// Sign the escaped form of the body, as the platform does: every character from
        /// U+007F up written as \uXXXX. Without it the raw bytes are signed; the two
        /// differ only for non-ASCII bodies.
        #[arg(long)]
        escaped: bool,
        /// Print a curl command that POSTs the body to URL with the two headers.
        #[arg(long, value_name = "URL", value_parser = parse_url)]
        curl: Option<Url>,
    },
    /// Explain why a captured request's signature fails: reads the body from standard
    /// input and names the first step that fails, without printing the expected
    /// signature.
    Explain {
        /// The X-Timestamp value as received.
        #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
        timestamp: String,
        /// The X-Signature value as received.
        #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
        signature: String,
        /// The unix time at which the request was received; the current time when
        /// absent.
        #[arg(long, value_name = "UNIX_SECONDS")]
        now: Option<u64>,
        /// The allowed distance between X-Timestamp and --now, in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 300)]
        tolerance_secs: u64,
        /// Name of the environment variable that contains the previous secret, which a
        /// receiver accepts while a rotation is under way.
        #[arg(
            long,
            value_name = "NAME",
            default_value = "WEBHOOK_SECRET_PREVIOUS",
            value_parser = parse_variable_name
        )]
        previous_secret_env: String,
    },
}

/// The strictness of `check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LevelArg {
    Platform,
    Reference,
}

/// The output format of `check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Junit,
}

/// A secret read from the environment, with the name of its variable for messages.
#[derive(Clone)]
struct NamedSecret {
    variable: String,
    value: String,
}

impl std::fmt::Debug for NamedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedSecret")
            .field("variable", &self.variable)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// Parses the arguments and runs the subcommand.
pub fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    let secret = read_secret(&cli.secret_env)?;
    let mut out = anstream::stdout();

    let code = match cli.command {
        Command::Send {
            url,
            message,
            stream,
        } => runtime()?.block_on(send::run(
            &mut out,
            url,
            &message,
            stream,
            secret,
            &cli.secret_env,
        ))?,
        Command::Chat { url, stream } => {
            chat::run(&mut out, &runtime()?, url, stream, secret, &cli.secret_env)?
        }
        Command::Check {
            url,
            stream_url,
            level,
            format,
        } => {
            let level = match level {
                LevelArg::Platform => webhook_probe::Level::Platform,
                LevelArg::Reference => webhook_probe::Level::Reference,
            };
            let options = check::Options {
                url,
                stream_url,
                level,
                format,
                secret,
                secret_variable: cli.secret_env,
            };
            runtime()?.block_on(check::run(&mut out, options))?
        }
        Command::Sign {
            timestamp,
            escaped,
            curl,
        } => {
            let secret = require_secret(secret, &cli.secret_env)?;
            sign::run(&mut out, &secret, timestamp, escaped, curl)?
        }
        Command::Explain {
            timestamp,
            signature,
            now,
            tolerance_secs,
            previous_secret_env,
        } => {
            let current = require_secret(secret, &cli.secret_env)?;
            let previous = read_secret(&previous_secret_env)?;
            let request = explain::Captured {
                timestamp,
                signature,
                body: read_stdin()?,
                now: now.unwrap_or_else(unix_now),
                tolerance_secs,
            };
            explain::run(&mut out, &request, &current, previous.as_ref())?
        }
    };
    Ok(ExitCode::from(code))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")
}

/// Reads the secret from `variable`; unset and empty both give `None`.
fn read_secret(variable: &str) -> Result<Option<NamedSecret>> {
    match std::env::var(variable) {
        Ok(value) if value.is_empty() => Ok(None),
        Ok(value) => Ok(Some(NamedSecret {
            variable: variable.to_owned(),
            value,
        })),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            bail!(
                "{variable} is not valid UTF-8; set it to the App's secret as shown in the dashboard"
            )
        }
    }
}

fn require_secret(secret: Option<NamedSecret>, variable: &str) -> Result<NamedSecret> {
    secret.with_context(|| {
        format!("{variable} is not set; export the App's secret first, for example `export {variable}=...`")
    })
}

/// Reads standard input to its end, byte for byte: a trailing newline stays part of
/// the body.
fn read_stdin() -> Result<Vec<u8>> {
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut body)
        .context("could not read the body from standard input")?;
    Ok(body)
}

fn unix_now() -> u64 {
    u64::try_from(webhook_probe::payload::unix_now()).unwrap_or_default()
}

/// Accepts an `http` or `https` URL with a host.
fn parse_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text)
        .map_err(|error| format!("{error}; expected a URL such as http://127.0.0.1:8080/"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("expected an http:// or https:// URL with a host".to_owned());
    }
    Ok(url)
}

/// Accepts a shell variable name, because the reproduction commands write `$NAME`.
fn parse_variable_name(text: &str) -> Result<String, String> {
    let mut chars = text.chars();
    let starts_well = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_');
    if !starts_well || !chars.all(|rest| rest.is_ascii_alphanumeric() || rest == '_') {
        return Err(
            "expected a variable name of letters, digits and _, such as WEBHOOK_SECRET".to_owned(),
        );
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn variable_name_rejects_shell_syntax() {
        assert!(parse_variable_name("MY_SECRET_2").is_ok());
        assert!(parse_variable_name("2SECRET").is_err());
        assert!(parse_variable_name("SECRET;rm").is_err());
        assert!(parse_variable_name("").is_err());
    }

    #[test]
    fn url_must_be_http() {
        assert!(parse_url("http://127.0.0.1:8080/").is_ok());
        assert!(parse_url("ftp://example.test/").is_err());
        assert!(parse_url("127.0.0.1:8080").is_err());
    }
}
