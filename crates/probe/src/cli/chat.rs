//! `chat`: an interactive chat in one thread, like the platform's chat screen.
//!
//! Each line read from standard input is one user message. Every message goes to the
//! same thread with the next `seq`, and its `history_tail` contains the latest earlier
//! user and assistant turns followed by the message itself, 10 entries at most. A
//! reply the platform would reject is not added to the history, as the platform
//! stores no assistant turn for it. When standard input is not a terminal, each
//! message is echoed after `> `, so a piped session prints a readable transcript.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result};
use reqwest::Url;
use webhook_contract::HistoryEntry;
use webhook_probe::payload::{PayloadFactory, history_entry};

use super::deliver::{Progress, Sender, Verdict};
use super::output::{FAIL, LABEL, Out};
use super::send::signing_note;
use super::{EXIT_FAILED, EXIT_PASSED, EXIT_USAGE, NamedSecret};

/// Runs the chat until `/quit` or the end of input and returns the exit code.
/// The code is 0 when every reply was accepted, 1 when the platform would have
/// rejected one, and 2 when the webhook could not be reached for a message.
pub fn run(
    out: &mut Out,
    runtime: &tokio::runtime::Runtime,
    url: Url,
    stream: bool,
    secret: Option<NamedSecret>,
    secret_variable: &str,
) -> Result<u8> {
    let sender = Sender::new(url.clone(), secret.as_ref())?;
    let mut payloads = PayloadFactory::new();
    let mut history: Vec<HistoryEntry> = Vec::new();
    let interactive = std::io::stdin().is_terminal();
    let mut code = EXIT_PASSED;

    writeln!(
        out,
        "{LABEL}Chatting with {url} in one thread ({}). Type a message and press Enter; /quit or end of input stops.{LABEL:#}",
        signing_note(secret.as_ref(), secret_variable)
    )?;

    let mut lines = std::io::stdin().lock().lines();
    loop {
        if interactive {
            write!(out, "> ")?;
            out.flush()?;
        }
        let Some(line) = lines.next() else {
            break;
        };
        let line = line.context("could not read a message from standard input")?;
        let content = line.trim_end_matches('\r');
        if content.trim() == "/quit" {
            break;
        }
        if content.trim().is_empty() {
            continue;
        }
        if !interactive {
            writeln!(out, "> {content}")?;
        }

        let message = payloads.message_after(content, &history);
        history.push(history_entry("user", content));
        let mut printed = Ok(());
        let delivery = runtime.block_on(sender.deliver(&message, stream, &mut |progress| {
            if let (Progress::Delta(text), Ok(())) = (progress, &printed) {
                printed = write!(out, "{text}").and_then(|()| out.flush());
            }
        }));
        printed?;

        let delivery = match delivery {
            Ok(delivery) => delivery,
            Err(error) => {
                writeln!(out, "{FAIL}!{FAIL:#} {error:#}")?;
                code = EXIT_USAGE;
                continue;
            }
        };
        match (&delivery.verdict, &delivery.reply) {
            (Verdict::Accepted, Some(reply)) => {
                if !stream {
                    write!(out, "{reply}")?;
                }
                writeln!(out)?;
                history.push(history_entry("assistant", reply));
            }
            (verdict, _) => {
                if stream
                    && delivery
                        .reply
                        .as_ref()
                        .is_some_and(|reply| !reply.is_empty())
                {
                    writeln!(out)?;
                }
                let reason = match verdict {
                    Verdict::Rejected(reason) => reason.as_str(),
                    Verdict::Accepted => "no reply",
                };
                writeln!(
                    out,
                    "{FAIL}!{FAIL:#} the platform would reject this reply: {reason}"
                )?;
                // The platform shows the App owner the start of a body it rejects.
                if let Some(body) = &delivery.body_start {
                    writeln!(out, "  {LABEL}body{LABEL:#} {body}")?;
                }
                if code == EXIT_PASSED {
                    code = EXIT_FAILED;
                }
            }
        }
    }
    Ok(code)
}
