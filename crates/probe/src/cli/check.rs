//! `check`: the conformance suite, printed as a table, JSON or JUnit XML.
//!
//! Before the suite runs, one TCP connection to each URL's host and port separates a
//! webhook that is not running (exit code 2) from one that fails its checks (exit
//! code 1). Each failure comes with shell lines that send the same request again; they
//! compute a fresh `X-Timestamp` and the signature with `openssl` from the secret in
//! the environment, so the secret never appears in the output. When every message that
//! expects a reply gets the same 401, a line under the table names the likely cause.

use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

use anyhow::{Result, anyhow};
use reqwest::Url;
use serde_json::json;
use webhook_contract::PLATFORM_TIMEOUT;
use webhook_probe::{Check, Level, Outcome, Report, Target};

use super::output::{BOLD, FAIL, LABEL, Out, PASS, SKIP};
use super::send::signing_note;
use super::{EXIT_FAILED, EXIT_PASSED, Format, NamedSecret};

/// Settings of one `check` run.
#[derive(Debug)]
pub struct Options {
    pub url: Url,
    pub stream_url: Option<Url>,
    pub level: Level,
    pub format: Format,
    pub secret: Option<NamedSecret>,
    pub secret_variable: String,
}

/// Runs the suite and prints the report; returns the exit code.
pub async fn run(out: &mut Out, options: Options) -> Result<u8> {
    for url in std::iter::once(&options.url).chain(options.stream_url.as_ref()) {
        ensure_reachable(url).await?;
    }
    let target = Target {
        url: options.url.to_string(),
        stream_url: options.stream_url.as_ref().map(Url::to_string),
        secret: options.secret.as_ref().map(|secret| secret.value.clone()),
    };
    let report = webhook_probe::run(&target, options.level).await;

    match options.format {
        Format::Text => print_text(out, &options, &report)?,
        Format::Json => writeln!(out, "{}", to_json(&options, &report))?,
        Format::Junit => write!(out, "{}", to_junit(&options, &report))?,
    }
    Ok(if report.passed() {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    })
}

/// Opens and closes one TCP connection to the URL's host and port.
async fn ensure_reachable(url: &Url) -> Result<()> {
    let host = url.host_str().unwrap_or_default();
    // The URL parser keeps the brackets of an IPv6 host; connecting needs the bare address.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(80);
    let connect = tokio::net::TcpStream::connect((host, port));
    match tokio::time::timeout(PLATFORM_TIMEOUT, connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(anyhow!(
            "cannot connect to {url}: {error}; is the webhook running?"
        )),
        Err(_) => Err(anyhow!(
            "cannot connect to {url}: no connection within {} s; is the webhook running?",
            PLATFORM_TIMEOUT.as_secs()
        )),
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Platform => "platform",
        Level::Reference => "reference",
    }
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Skip => "skip",
    }
}

/// Counts the checks with `outcome`.
fn count(report: &Report, outcome: Outcome) -> usize {
    report
        .checks
        .iter()
        .filter(|check| check.outcome == outcome)
        .count()
}

/// Names the one cause behind the failures when every message that expected a reply
/// got the same 401: a secret that differs from the webhook's, or a webhook that
/// requires signatures while no secret is set.
fn diagnose(options: &Options, report: &Report) -> Option<String> {
    let answer = report.rejection_of_every_reply()?;
    let variable = &options.secret_variable;
    match (&options.secret, answer.error_code.as_deref()) {
        (Some(_), None | Some("signature_mismatch")) => Some(format!(
            "Every signed request was rejected with {answer}: the webhook's secret differs from {variable} (check both for surrounding whitespace), or it verifies other bytes than it receives; `webhook-probe explain` shows which step fails."
        )),
        (None, None | Some("missing_signature")) => Some(format!(
            "The webhook requires signatures: export {variable} with the App's secret and run again."
        )),
        _ => None,
    }
}

fn print_text(out: &mut Out, options: &Options, report: &Report) -> Result<()> {
    let stream = options.stream_url.as_ref().map_or_else(
        || "no streaming URL".to_owned(),
        |url| format!("streaming URL {url}"),
    );
    writeln!(
        out,
        "{LABEL}Checked {} and {stream} at the {} level, {}.{LABEL:#}",
        options.url,
        level_name(options.level),
        signing_note(options.secret.as_ref(), &options.secret_variable)
    )?;
    if options.secret.is_none() {
        writeln!(
            out,
            "{LABEL}The signature checks are skipped; set {} to the App's secret to run them.{LABEL:#}",
            options.secret_variable
        )?;
    }
    writeln!(out)?;

    let width = report
        .checks
        .iter()
        .map(|check| check.name.len())
        .max()
        .unwrap_or(0);
    for check in &report.checks {
        let mark = match check.outcome {
            Outcome::Pass => format!("{PASS}PASS{PASS:#}"),
            Outcome::Fail => format!("{FAIL}FAIL{FAIL:#}"),
            Outcome::Skip => format!("{SKIP}SKIP{SKIP:#}"),
        };
        writeln!(out, "{mark}  {:<width$}  {}", check.name, check.detail)?;
    }
    if let Some(diagnosis) = diagnose(options, report) {
        writeln!(out)?;
        writeln!(out, "{BOLD}{diagnosis}{BOLD:#}")?;
    }

    let failures: Vec<&Check> = report.failures().collect();
    for check in &failures {
        writeln!(out)?;
        writeln!(out, "{FAIL}FAIL{FAIL:#} {}: {}", check.name, check.detail)?;
        if let Some(reproduction) = check.reproduction(&options.secret_variable) {
            let needs = if check.signing.is_some() {
                format!(" (needs {} and openssl)", options.secret_variable)
            } else {
                String::new()
            };
            writeln!(out, "  reproduce it{needs}:")?;
            for line in reproduction.lines() {
                writeln!(out, "    {line}")?;
            }
        }
    }

    writeln!(out)?;
    let summary = format!(
        "{} passed, {} failed, {} skipped",
        count(report, Outcome::Pass),
        count(report, Outcome::Fail),
        count(report, Outcome::Skip)
    );
    if failures.is_empty() {
        writeln!(out, "{PASS}{summary}: the webhook passed.{PASS:#}")?;
    } else {
        writeln!(out, "{FAIL}{summary}: the webhook failed.{FAIL:#}")?;
    }
    Ok(())
}

fn as_millis(duration: Option<Duration>) -> serde_json::Value {
    duration.map_or(serde_json::Value::Null, |duration| {
        json!((duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0)
    })
}

fn to_json(options: &Options, report: &Report) -> String {
    let checks: Vec<serde_json::Value> = report
        .checks
        .iter()
        .map(|check| {
            let reproduce = if check.failed() {
                check.reproduction(&options.secret_variable)
            } else {
                None
            };
            json!({
                "name": check.name,
                "outcome": outcome_name(check.outcome),
                "detail": check.detail,
                "latency_ms": as_millis(check.latency),
                "first_event_ms": as_millis(check.first_event),
                "reproduce": reproduce,
            })
        })
        .collect();
    let document = json!({
        "url": options.url.as_str(),
        "stream_url": options.stream_url.as_ref().map(Url::as_str),
        "level": level_name(options.level),
        "signed": options.secret.is_some(),
        "passed": report.passed(),
        "diagnosis": diagnose(options, report),
        "counts": {
            "pass": count(report, Outcome::Pass),
            "fail": count(report, Outcome::Fail),
            "skip": count(report, Outcome::Skip),
        },
        "checks": checks,
    });
    serde_json::to_string_pretty(&document).unwrap_or_else(|_| document.to_string())
}

/// Escapes `text` for XML text and attribute values, dropping the control characters
/// that XML 1.0 does not allow.
fn xml_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\t' | '\n' | '\r' => escaped.push(character),
            control if u32::from(control) < 0x20 => {}
            other => escaped.push(other),
        }
    }
    escaped
}

fn seconds(duration: Option<Duration>) -> String {
    format!("{:.3}", duration.unwrap_or_default().as_secs_f64())
}

fn to_junit(options: &Options, report: &Report) -> String {
    let level = level_name(options.level);
    let total: Duration = report.checks.iter().filter_map(|check| check.latency).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let attributes = format!(
        "tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\"",
        report.checks.len(),
        count(report, Outcome::Fail),
        count(report, Outcome::Skip),
        seconds(Some(total))
    );
    let _ = writeln!(xml, "<testsuites name=\"webhook-probe\" {attributes}>");
    let _ = writeln!(
        xml,
        "  <testsuite name=\"webhook-probe {level} {}\" {attributes}>",
        xml_escape(options.url.as_str())
    );
    for check in &report.checks {
        let _ = write!(
            xml,
            "    <testcase name=\"{}\" classname=\"webhook-probe.{level}\" time=\"{}\"",
            xml_escape(&check.name),
            seconds(check.latency)
        );
        match check.outcome {
            Outcome::Pass => xml.push_str("/>\n"),
            Outcome::Skip => {
                let _ = writeln!(
                    xml,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    xml_escape(&check.detail)
                );
            }
            Outcome::Fail => {
                let reproduction = check
                    .reproduction(&options.secret_variable)
                    .unwrap_or_default();
                let _ = writeln!(
                    xml,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                    xml_escape(&check.detail),
                    xml_escape(&check.name),
                    xml_escape(&reproduction)
                );
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::super::output::millis;
    use super::*;

    #[test]
    fn xml_escape_handles_markup_and_controls() {
        assert_eq!(
            xml_escape("a<b & \"c\" 'd'\u{1}\n"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;\n"
        );
    }

    #[test]
    fn millis_rounds_to_microseconds() {
        assert_eq!(
            as_millis(Some(Duration::from_micros(1_234_567))),
            json!(1234.567)
        );
        assert_eq!(as_millis(None), serde_json::Value::Null);
        assert_eq!(millis(Duration::from_micros(1_260)), "1.3 ms");
    }
}
