//! `send`: one realistic message, the reply, and the platform's verdict.

use std::io::Write;

use anyhow::Result;
use reqwest::Url;
use webhook_probe::payload::PayloadFactory;

use super::deliver::{Delivery, Progress, Sender, Verdict};
use super::output::{BOLD, FAIL, LABEL, Out, PASS, millis};
use super::{EXIT_FAILED, EXIT_PASSED, NamedSecret};

/// Sends `message` to `url`, prints the response and returns the exit code.
pub async fn run(
    out: &mut Out,
    url: Url,
    message: &str,
    stream: bool,
    secret: Option<NamedSecret>,
    secret_variable: &str,
) -> Result<u8> {
    let sender = Sender::new(url.clone(), secret.as_ref())?;
    let mut payloads = PayloadFactory::new();
    let payload = payloads.message(message);

    let signing = signing_note(secret.as_ref(), secret_variable);
    writeln!(out, "{LABEL}sent{LABEL:#}     POST {url} ({signing})")?;
    writeln!(out, "{LABEL}message{LABEL:#}  {message}")?;
    out.flush()?;

    let delivery = if stream {
        let mut printed = Ok(());
        let mut reply_started = false;
        let delivery = sender
            .deliver(&payload, true, &mut |progress| {
                if printed.is_ok() {
                    printed = print_progress(out, progress, &mut reply_started);
                }
            })
            .await?;
        printed?;
        if reply_started {
            writeln!(out)?;
        }
        delivery
    } else {
        sender.deliver(&payload, false, &mut |_| {}).await?
    };
    print_delivery(out, &delivery, stream)?;

    Ok(match delivery.verdict {
        Verdict::Accepted => EXIT_PASSED,
        Verdict::Rejected(_) => EXIT_FAILED,
    })
}

/// Describes how requests are signed: `signed with WEBHOOK_SECRET`, or why not.
pub fn signing_note(secret: Option<&NamedSecret>, secret_variable: &str) -> String {
    match secret {
        Some(secret) => format!("signed with {}", secret.variable),
        None => format!("unsigned, because {secret_variable} is not set"),
    }
}

/// Prints the status line when a stream's headers arrive, then each delta at once.
fn print_progress(
    out: &mut Out,
    progress: Progress<'_>,
    reply_started: &mut bool,
) -> std::io::Result<()> {
    match progress {
        Progress::Headers(status, content_type) => {
            writeln!(out, "{LABEL}status{LABEL:#}   {status} {content_type}")?;
        }
        Progress::Delta(text) => {
            if !*reply_started {
                write!(out, "{LABEL}reply{LABEL:#}    ")?;
                *reply_started = true;
            }
            write!(out, "{BOLD}{text}{BOLD:#}")?;
        }
    }
    out.flush()
}

fn print_delivery(out: &mut Out, delivery: &Delivery, stream: bool) -> Result<()> {
    let status = delivery
        .status
        .map_or_else(|| "none".to_owned(), |status| status.to_string());
    // A stream's status line was printed when its headers arrived.
    if !stream || delivery.status.is_none() {
        writeln!(
            out,
            "{LABEL}status{LABEL:#}   {status} {}",
            delivery.content_type
        )?;
    }
    if let Some((deltas, dones, first_event)) = delivery.events {
        let first = first_event.map_or_else(|| "never".to_owned(), millis);
        writeln!(
            out,
            "{LABEL}events{LABEL:#}   {deltas} {}, {dones} done, the first after {first}",
            if deltas == 1 { "delta" } else { "deltas" }
        )?;
    }
    writeln!(out, "{LABEL}latency{LABEL:#}  {}", millis(delivery.latency))?;
    if !stream && let Some(reply) = &delivery.reply {
        writeln!(out, "{LABEL}reply{LABEL:#}    {BOLD}{reply}{BOLD:#}")?;
    }
    if let Some(body) = &delivery.body_start {
        writeln!(out, "{LABEL}body{LABEL:#}     {body}")?;
    }
    match &delivery.verdict {
        Verdict::Accepted => writeln!(out, "{LABEL}verdict{LABEL:#}  {PASS}accepted{PASS:#}")?,
        Verdict::Rejected(reason) => writeln!(
            out,
            "{LABEL}verdict{LABEL:#}  {FAIL}rejected{FAIL:#}: {reason}"
        )?,
    }
    Ok(())
}
