//! `explain`: why a captured request's signature fails, step by step.
//!
//! The steps are those of a receiver: the header format, the timestamp window, and the
//! HMAC. When no configured secret matches, the signature is compared with what the
//! usual mistakes would have produced. These are a secret with surrounding whitespace
//! or a line break, a hex-decoded secret as the key, a signature over the body alone,
//! a trailing line break, and the same JSON serialised another way. Only whether a candidate
//! matches is printed, never a computed signature, so the output gives nobody a valid
//! signature for a body they choose.

use std::io::Write;

use anyhow::Result;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use webhook_contract::escaped_form;
use webhook_contract::verify::{parse_signature, parse_timestamp};
use webhook_contract::{SignatureProblem, TimestampProblem};

use super::output::{BOLD, FAIL, Out, PASS};
use super::{EXIT_FAILED, EXIT_PASSED, NamedSecret};

/// A request as captured by the receiver.
#[derive(Debug)]
pub struct Captured {
    /// The `X-Timestamp` value.
    pub timestamp: String,
    /// The `X-Signature` value.
    pub signature: String,
    /// The body, byte for byte.
    pub body: Vec<u8>,
    /// The unix time at which it was received.
    pub now: u64,
    /// The allowed clock distance, in seconds.
    pub tolerance_secs: u64,
}

/// The result of one verification step.
#[derive(Debug, PartialEq, Eq)]
struct Step {
    name: &'static str,
    passed: bool,
    detail: String,
}

impl Step {
    fn new(name: &'static str, passed: bool, detail: impl Into<String>) -> Self {
        Self {
            name,
            passed,
            detail: detail.into(),
        }
    }
}

/// Prints the steps and returns the exit code: 0 when every step passes.
pub fn run(
    out: &mut Out,
    request: &Captured,
    current: &NamedSecret,
    previous: Option<&NamedSecret>,
) -> Result<u8> {
    let steps = diagnose(request, current, previous);
    for step in &steps {
        let mark = if step.passed {
            format!("{PASS}PASS{PASS:#}")
        } else {
            format!("{FAIL}FAIL{FAIL:#}")
        };
        writeln!(out, "{mark}  {:<9}  {}", step.name, step.detail)?;
    }
    match steps.iter().find(|step| !step.passed) {
        Some(failed) => {
            writeln!(
                out,
                "{BOLD}The first step that fails: {}.{BOLD:#}",
                failed.name
            )?;
            Ok(EXIT_FAILED)
        }
        None => {
            writeln!(
                out,
                "{BOLD}The request is valid: a receiver with this secret accepts it.{BOLD:#}"
            )?;
            Ok(EXIT_PASSED)
        }
    }
}

/// Runs every step that applies and returns them in order. A malformed header stops
/// the run, because nothing after it can be checked.
fn diagnose(
    request: &Captured,
    current: &NamedSecret,
    previous: Option<&NamedSecret>,
) -> Vec<Step> {
    let timestamp = parse_timestamp(request.timestamp.as_bytes());
    let signature = parse_signature(request.signature.as_bytes());
    let (timestamp, digest) = match (timestamp, signature) {
        (Ok(timestamp), Ok(digest)) => (timestamp, digest),
        (Err(problem), _) => {
            return vec![Step::new(
                "headers",
                false,
                timestamp_problem(problem, &request.timestamp),
            )];
        }
        (_, Err(problem)) => {
            return vec![Step::new(
                "headers",
                false,
                signature_problem(problem, &request.signature),
            )];
        }
    };
    let mut steps = vec![Step::new(
        "headers",
        true,
        "X-Timestamp is unix seconds and X-Signature is sha256= with 64 hex digits",
    )];
    steps.push(window_step(timestamp, request.now, request.tolerance_secs));

    let secrets: Vec<&NamedSecret> = std::iter::once(current).chain(previous).collect();
    let signed = Signed {
        timestamp: &request.timestamp,
        body: &request.body,
        digest,
    };
    steps.push(signature_step(&signed, &secrets));
    steps
}

fn timestamp_problem(problem: TimestampProblem, value: &str) -> String {
    let shape = "the platform sends whole seconds since 1970 in decimal, such as 1796400000";
    match problem {
        TimestampProblem::Repeated => "X-Timestamp occurs more than once".to_owned(),
        TimestampProblem::Empty => format!("X-Timestamp is empty; {shape}"),
        TimestampProblem::NotVisibleAscii => format!(
            "X-Timestamp {value:?} has a space, a line break or a non-ASCII character; {shape}"
        ),
        TimestampProblem::NotDigits => {
            format!("X-Timestamp {value:?} has characters other than the digits 0-9; {shape}")
        }
        TimestampProblem::OutOfRange if value.len() == 13 => format!(
            "X-Timestamp {value} is too large for unix seconds; it looks like milliseconds, so divide it by 1000"
        ),
        TimestampProblem::OutOfRange => {
            format!("X-Timestamp {value} is too large for unix seconds; {shape}")
        }
    }
}

fn signature_problem(problem: SignatureProblem, value: &str) -> String {
    let shape = "it must be sha256= followed by 64 hex digits";
    match problem {
        SignatureProblem::Repeated => "X-Signature occurs more than once".to_owned(),
        SignatureProblem::NotVisibleAscii => {
            format!("X-Signature has a space, a line break or a non-ASCII character; {shape}")
        }
        SignatureProblem::WrongPrefix
            if value.len() == 64 && value.bytes().all(|byte| byte.is_ascii_hexdigit()) =>
        {
            "X-Signature is 64 hex digits without the sha256= prefix; add the prefix".to_owned()
        }
        SignatureProblem::WrongPrefix => {
            format!("X-Signature does not start with sha256=; {shape}")
        }
        SignatureProblem::WrongLength(length) => {
            format!("X-Signature has {length} hex digits after sha256=, but {shape}")
        }
        SignatureProblem::NotHex => {
            format!("X-Signature has a character that is not a hex digit after sha256=; {shape}")
        }
    }
}

fn window_step(timestamp: u64, now: u64, tolerance: u64) -> Step {
    if timestamp <= now {
        let age = now - timestamp;
        if age <= tolerance {
            return Step::new(
                "timestamp",
                true,
                format!("{age} s old, within the {tolerance} s tolerance"),
            );
        }
        return Step::new(
            "timestamp",
            false,
            format!(
                "{age} s old, beyond the {tolerance} s tolerance, so a receiver rejects it as a possible replay; for a request captured earlier, pass --now with the unix time at which it was received"
            ),
        );
    }
    let ahead = timestamp - now;
    if ahead <= tolerance {
        return Step::new(
            "timestamp",
            true,
            format!("{ahead} s in the future, within the {tolerance} s tolerance"),
        );
    }
    Step::new(
        "timestamp",
        false,
        format!(
            "{ahead} s in the future, beyond the {tolerance} s tolerance: the sender's clock runs ahead of the receiver's, or --now is earlier than the time the request was received"
        ),
    )
}

/// The signed parts of a captured request.
struct Signed<'a> {
    timestamp: &'a str,
    body: &'a [u8],
    digest: [u8; 32],
}

impl Signed<'_> {
    /// Returns whether HMAC-SHA256 of `message` keyed with `key` is the digest sent.
    fn matches(&self, key: &[u8], message: &[&[u8]]) -> bool {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
            return false;
        };
        for part in message {
            mac.update(part);
        }
        mac.verify_slice(&self.digest).is_ok()
    }

    /// Returns whether `key` signed `"{timestamp}.{body}"`.
    fn signed_body(&self, key: &[u8], body: &[u8]) -> bool {
        self.matches(key, &[self.timestamp.as_bytes(), b".", body])
    }

    /// Returns which form of `body` `key` signed: raw or escaped.
    fn signed_form(&self, key: &[u8], body: &[u8]) -> Option<Form> {
        if self.signed_body(key, body) {
            return Some(Form::Raw);
        }
        let escaped = escaped_form(body)?;
        (escaped != body && self.signed_body(key, &escaped)).then_some(Form::Escaped)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Raw,
    Escaped,
}

fn describe_form(form: Form, body: &[u8]) -> &'static str {
    let ascii = escaped_form(body).is_some_and(|escaped| escaped == body);
    match form {
        Form::Raw if ascii => {
            "over the body as received (it is ASCII, so the raw and escaped forms are the same)"
        }
        Form::Raw => "over the raw bytes of the body",
        Form::Escaped => {
            "over the escaped form of the body (non-ASCII characters as \\uXXXX), as the platform signs; a receiver that checks only the raw bytes rejects it"
        }
    }
}

fn signature_step(signed: &Signed<'_>, secrets: &[&NamedSecret]) -> Step {
    for (index, secret) in secrets.iter().enumerate() {
        if let Some(form) = signed.signed_form(secret.value.as_bytes(), signed.body) {
            let form = describe_form(form, signed.body);
            let detail = if index == 0 {
                format!("matches {} {form}", secret.variable)
            } else {
                format!(
                    "matches the previous secret ({}) {form}. A receiver accepts it only while that secret is still configured.",
                    secret.variable
                )
            };
            return Step::new("signature", true, detail);
        }
    }

    let names: Vec<&str> = secrets
        .iter()
        .map(|secret| secret.variable.as_str())
        .collect();
    let detail = secrets
        .iter()
        .find_map(|secret| explain_mismatch(signed, secret))
        .unwrap_or_else(|| {
            format!(
                "does not match {} over the raw body or its escaped form, and no common mistake explains it: the request was signed with another secret, or its body or X-Timestamp changed after signing; check that {} holds the App's current secret from the dashboard",
                names.join(" or "),
                names.first().copied().unwrap_or("WEBHOOK_SECRET")
            )
        });
    Step::new("signature", false, detail)
}

/// Tries the usual mistakes with one secret and describes the first that reproduces
/// the signature.
fn explain_mismatch(signed: &Signed<'_>, secret: &NamedSecret) -> Option<String> {
    let name = &secret.variable;
    let key = secret.value.as_str();
    let no_match = format!("does not match {name}");

    let trimmed = key.trim();
    if trimmed != key
        && !trimmed.is_empty()
        && signed
            .signed_form(trimmed.as_bytes(), signed.body)
            .is_some()
    {
        return Some(format!(
            "{no_match}, but matches it with its surrounding whitespace removed: {name} has a space or line break at its start or end that the signer did not use; remove it (a secret read from a file or written with echo often ends with a line break)"
        ));
    }
    for suffix in ["\n", "\r\n", " "] {
        let padded = format!("{key}{suffix}");
        if signed.signed_form(padded.as_bytes(), signed.body).is_some() {
            return Some(format!(
                "{no_match}, but matches it followed by {suffix:?}: the signer's copy of the secret ends with whitespace; remove it there"
            ));
        }
    }
    if key.len().is_multiple_of(2)
        && let Ok(decoded) = hex::decode(key)
        && signed.signed_form(&decoded, signed.body).is_some()
    {
        return Some(format!(
            "{no_match}, but matches it hex-decoded to {} bytes as the HMAC key: the key is the secret's text as written (its UTF-8 bytes), not the bytes it decodes to",
            decoded.len()
        ));
    }

    let body = signed.body;
    let escaped = escaped_form(body).unwrap_or_else(|| body.to_vec());
    if signed.matches(key.as_bytes(), &[body]) || signed.matches(key.as_bytes(), &[&escaped]) {
        return Some(format!(
            "{no_match}, but matches an HMAC of the body alone: the signer left out the \"{{X-Timestamp}}.\" prefix, and the signed message must be the timestamp, a dot, then the body"
        ));
    }
    let timestamp = signed.timestamp.as_bytes();
    if signed.matches(key.as_bytes(), &[timestamp, body])
        || signed.matches(key.as_bytes(), &[timestamp, &escaped])
    {
        return Some(format!(
            "{no_match}, but matches the timestamp and the body without the dot between them: the signed message must be the timestamp, a dot, then the body"
        ));
    }

    let with_newline = [body, b"\n"].concat();
    if signed.signed_form(key.as_bytes(), &with_newline).is_some() {
        return Some(format!(
            "{no_match}, but matches the body followed by a line break: the signer signed a line break that was not sent"
        ));
    }
    let trimmed_body = body.trim_ascii_end();
    if trimmed_body.len() < body.len() && signed.signed_form(key.as_bytes(), trimmed_body).is_some()
    {
        return Some(format!(
            "{no_match}, but matches the body without its trailing whitespace: the body given ends with a line break or space that was not signed (echo adds a line break; use printf '%s' or a file without one)"
        ));
    }

    for (description, variant) in reserialisations(body) {
        if variant != body && signed.signed_form(key.as_bytes(), &variant).is_some() {
            return Some(format!(
                "{no_match} over these bytes, but matches the same JSON re-serialised {description}: the signer signed different bytes than it sent, or this body was re-serialised after it arrived; sign the exact bytes you send, and verify the raw bytes you receive before parsing them"
            ));
        }
    }
    None
}

/// Returns the same JSON value serialised in the ways common libraries write it, each
/// with a description; nothing when `body` is not JSON.
fn reserialisations(body: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Vec::new();
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let mut variants = vec![
        ("compact, with no spaces", reformat(text, Layout::Compact)),
        (
            "with a space after each comma and colon (Python's json.dumps default)",
            reformat(text, Layout::Spaced),
        ),
        ("indented by 2 spaces", reformat(text, Layout::Indented(2))),
        ("indented by 4 spaces", reformat(text, Layout::Indented(4))),
    ];
    // `serde_json::Value` keeps object keys in a sorted map.
    let sorted = value.to_string();
    variants.extend([
        ("compact with sorted keys", sorted.clone()),
        (
            "with sorted keys and a space after each comma and colon",
            reformat(&sorted, Layout::Spaced),
        ),
        (
            "indented by 2 spaces with sorted keys",
            reformat(&sorted, Layout::Indented(2)),
        ),
    ]);
    variants
        .into_iter()
        .map(|(description, variant)| (description, variant.into_bytes()))
        .collect()
}

/// A way to lay out JSON text.
#[derive(Clone, Copy, Debug)]
enum Layout {
    /// No whitespace at all.
    Compact,
    /// `, ` between items and `: ` after keys, on one line.
    Spaced,
    /// One item per line, indented by this many spaces per level, `: ` after keys.
    Indented(usize),
}

/// Lays out valid JSON `text` again, keeping its tokens (and so its key order and
/// string escapes) unchanged.
fn reformat(text: &str, layout: Layout) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut chars = text.chars().peekable();
    let newline = |out: &mut String, depth: usize, width: usize| {
        out.push('\n');
        out.push_str(&" ".repeat(depth * width));
    };
    while let Some(character) = chars.next() {
        match character {
            '"' => {
                out.push('"');
                while let Some(inner) = chars.next() {
                    out.push(inner);
                    if inner == '\\' {
                        if let Some(escaped) = chars.next() {
                            out.push(escaped);
                        }
                    } else if inner == '"' {
                        break;
                    }
                }
            }
            '{' | '[' => {
                out.push(character);
                while chars.peek().is_some_and(|next| next.is_ascii_whitespace()) {
                    chars.next();
                }
                let empty = chars.peek().is_some_and(|next| matches!(next, '}' | ']'));
                depth += 1;
                if let (Layout::Indented(width), false) = (layout, empty) {
                    newline(&mut out, depth, width);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                let empty = out.ends_with(['{', '[']);
                if let (Layout::Indented(width), false) = (layout, empty) {
                    newline(&mut out, depth, width);
                }
                out.push(character);
            }
            ',' => {
                out.push(',');
                match layout {
                    Layout::Compact => {}
                    Layout::Spaced => out.push(' '),
                    Layout::Indented(width) => newline(&mut out, depth, width),
                }
            }
            ':' => {
                out.push(':');
                if !matches!(layout, Layout::Compact) {
                    out.push(' ');
                }
            }
            whitespace if whitespace.is_ascii_whitespace() => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"b":[1,{}],"a":{"s":"x, \"y\": z"},"e":[]}"#;

    #[test]
    fn reformat_compact_removes_whitespace() {
        let pretty = reformat(BODY, Layout::Indented(2));
        assert_eq!(reformat(&pretty, Layout::Compact), BODY);
    }

    #[test]
    fn reformat_spaced_matches_python_default() {
        assert_eq!(
            reformat(BODY, Layout::Spaced),
            r#"{"b": [1, {}], "a": {"s": "x, \"y\": z"}, "e": []}"#
        );
    }

    #[test]
    fn reformat_indented_matches_serde_json_pretty() {
        let value: serde_json::Value = serde_json::from_str(BODY).unwrap();
        let sorted = value.to_string();
        assert_eq!(
            reformat(&sorted, Layout::Indented(2)),
            serde_json::to_string_pretty(&value).unwrap()
        );
    }

    #[test]
    fn reserialisations_sort_keys() {
        let variants = reserialisations(BODY.as_bytes());
        let (_, sorted) = variants
            .iter()
            .find(|(description, _)| *description == "compact with sorted keys")
            .unwrap();
        assert!(String::from_utf8_lossy(sorted).starts_with(r#"{"a":"#));
    }

    #[test]
    fn reserialisations_of_non_json_are_empty() {
        assert!(reserialisations(b"not json").is_empty());
    }
}
