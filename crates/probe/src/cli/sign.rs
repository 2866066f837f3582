//! `sign`: the `X-Timestamp` and `X-Signature` headers for a body, or a curl command
//! that sends it.

use std::io::Write;

use anyhow::{Context, Result};
use reqwest::Url;
use webhook_contract::{Secret, sign, sign_escaped};
use webhook_probe::SentRequest;

use super::output::Out;
use super::{EXIT_PASSED, NamedSecret, read_stdin, unix_now};

/// Signs the body on standard input and prints the headers or the curl command.
pub fn run(
    out: &mut Out,
    secret: &NamedSecret,
    timestamp: Option<u64>,
    escaped: bool,
    curl: Option<Url>,
) -> Result<u8> {
    let body = read_stdin()?;
    let timestamp = timestamp.unwrap_or_else(unix_now).to_string();
    let key = Secret::new(&secret.value);
    let signature = if escaped {
        sign_escaped(&key, &timestamp, &body).context(
            "the body is not UTF-8, so it has no escaped form; sign it without --escaped",
        )?
    } else {
        sign(&key, &timestamp, &body)
    };

    let Some(url) = curl else {
        writeln!(out, "X-Timestamp: {timestamp}")?;
        writeln!(out, "X-Signature: {signature}")?;
        return Ok(EXIT_PASSED);
    };
    anyhow::ensure!(
        std::str::from_utf8(&body).is_ok(),
        "the body is not UTF-8, so it cannot be written into a shell command; print the headers without --curl and send the body with curl --data-binary @FILE"
    );
    let request = SentRequest {
        method: "POST".to_owned(),
        url: url.to_string(),
        headers: vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("X-Timestamp".to_owned(), timestamp),
            ("X-Signature".to_owned(), signature),
        ],
        body,
    };
    writeln!(out, "{}", request.to_curl())?;
    Ok(EXIT_PASSED)
}
