//! The result of a suite run: one [`Check`] per named check, with what was
//! sent, what came back, and a curl command that sends the same request again.

use std::fmt;
use std::time::Duration;

use webhook_contract::escaped_form;

/// Whether a check passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The webhook did what the contract requires.
    Pass,
    /// The webhook did something else; the check's detail describes it.
    Fail,
    /// The check does not apply to this target, such as a signature check when no
    /// secret was given.
    Skip,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        })
    }
}

/// One request exactly as the suite sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentRequest {
    /// The HTTP method, such as `POST`.
    pub method: String,
    /// The whole URL.
    pub url: String,
    /// Headers in the order sent, names as written.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl SentRequest {
    /// Renders a shell command that sends the same request with curl.
    ///
    /// The command repeats the original `X-Timestamp`, so against a webhook with a
    /// replay window it reproduces the original response only within that window
    /// (5 minutes by default). A body that is not UTF-8 is shown with replacement
    /// characters, so such a command does not send the same bytes.
    ///
    /// A URL whose path ends in `/stream` gets `-N`, so curl prints each event of a
    /// stream as it arrives instead of buffering them.
    pub fn to_curl(&self) -> String {
        let mut command = self.curl_start();
        for (name, value) in &self.headers {
            command.push_str(" -H ");
            command.push_str(&shell_quote(&format!("{name}: {value}")));
        }
        if !self.body.is_empty() || self.method == "POST" {
            command.push_str(" --data-binary ");
            command.push_str(&shell_quote(&String::from_utf8_lossy(&self.body)));
        }
        command
    }

    /// Renders the start of the curl command: options, method and URL.
    fn curl_start(&self) -> String {
        // `-X HEAD` would make curl wait for a body that never comes, so HEAD uses `-I`.
        let method = if self.method == "HEAD" {
            "-I".to_owned()
        } else {
            format!("-i -X {}", shell_quote(&self.method))
        };
        let no_buffer = if is_stream_url(&self.url) { " -N" } else { "" };
        format!("curl -sS{no_buffer} {method} {}", shell_quote(&self.url))
    }
}

/// Returns whether the path of `url` ends in `/stream`, the streaming URL of the
/// example servers.
fn is_stream_url(url: &str) -> bool {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url[..end].trim_end_matches('/').ends_with("/stream")
}

/// The source of a signed request's `X-Timestamp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimestampSource {
    /// The clock at sending, plus this many seconds (negative for the past).
    Now(i64),
    /// This value, whatever the clock read.
    Literal(String),
}

/// The recipe by which the suite computed a request's `X-Timestamp` and `X-Signature`
/// from the App's secret. A reproduction follows it to compute them again later,
/// without the secret appearing in the command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureRecipe {
    /// The timestamp that was signed and sent.
    pub timestamp: TimestampSource,
    /// Text appended to the App's secret before signing; empty for the secret itself.
    pub secret_suffix: String,
    /// The body that was signed, when it differs from the body sent.
    pub signed_body: Option<Vec<u8>>,
    /// Number of hex digits cut off the end of the signature.
    pub truncated_digits: usize,
}

impl SignatureRecipe {
    /// Returns the recipe of the real platform: the App's secret, the current time, and
    /// the escaped form of the body that is sent.
    pub fn platform() -> Self {
        Self {
            timestamp: TimestampSource::Now(0),
            secret_suffix: String::new(),
            signed_body: None,
            truncated_digits: 0,
        }
    }
}

impl SentRequest {
    /// Renders shell lines that send the same request with curl, computing
    /// `X-Timestamp` and `X-Signature` again from `recipe` with `openssl`, the secret
    /// read from the environment variable `secret_variable`.
    ///
    /// The secret never appears in the output, and a fresh timestamp is computed at run
    /// time, so the lines reproduce the check whenever they run. A body longer than
    /// [`LONG_BODY_BYTES`] is not written out: the lines rebuild it in a temporary file
    /// with `printf`, repeating each run of repeated text with `seq`. Without a recipe
    /// and with a shorter body this is [`SentRequest::to_curl`]. `secret_variable` must
    /// be a shell variable name.
    pub fn to_shell(&self, recipe: Option<&SignatureRecipe>, secret_variable: &str) -> String {
        // The platform signs the escaped form of the signed bytes, so the shell gets
        // that form. For an ASCII body it equals the body itself.
        let signed = recipe.map(|recipe| {
            let signed = recipe.signed_body.as_deref().unwrap_or(&self.body);
            escaped_form(signed).unwrap_or_else(|| signed.to_vec())
        });
        let long = self.body.len() > LONG_BODY_BYTES
            || signed
                .as_ref()
                .is_some_and(|signed| signed.len() > LONG_BODY_BYTES);
        if recipe.is_none() && !long {
            return self.to_curl();
        }

        let mut lines = Vec::new();
        let body = ShellBody::define(&mut lines, "body", &self.body, long);
        let (Some(recipe), Some(signed)) = (recipe, signed) else {
            lines.push(self.shell_curl(&body, false));
            lines.push(body.cleanup());
            return lines.concat().trim_end().to_owned();
        };
        let separate_signed = signed != self.body;
        let signed = if separate_signed {
            ShellBody::define(&mut lines, "signed", &signed, long)
        } else {
            body.clone()
        };

        lines.push(match &recipe.timestamp {
            TimestampSource::Now(0) => "ts=$(date +%s)\n".to_owned(),
            TimestampSource::Now(offset) if *offset < 0 => {
                format!("ts=$(( $(date +%s) - {} ))\n", offset.unsigned_abs())
            }
            TimestampSource::Now(offset) => format!("ts=$(( $(date +%s) + {offset} ))\n"),
            TimestampSource::Literal(value) => format!("ts={}\n", shell_quote(value)),
        });

        let mut key = format!("\"${secret_variable}\"");
        if !recipe.secret_suffix.is_empty() {
            key.push_str(&shell_quote(&recipe.secret_suffix));
        }
        let digits = 64_usize.saturating_sub(recipe.truncated_digits);
        lines.push(format!(
            "sig=$({} | openssl dgst -sha256 -hmac {key} -r | cut -c1-{digits})\n",
            signed.signing_input()
        ));
        lines.push(self.shell_curl(&body, true));
        lines.push(body.cleanup());
        if separate_signed {
            lines.push(signed.cleanup());
        }
        lines.concat().trim_end().to_owned()
    }

    /// Renders the curl command of [`SentRequest::to_shell`], which takes the body
    /// from `body` and, when `resigned`, the signature headers from `$ts` and `$sig`.
    fn shell_curl(&self, body: &ShellBody, resigned: bool) -> String {
        let mut command = self.curl_start();
        for (name, value) in &self.headers {
            command.push_str(" -H ");
            if resigned && name.eq_ignore_ascii_case("x-timestamp") {
                command.push_str(&format!("\"{name}: $ts\""));
            } else if resigned && name.eq_ignore_ascii_case("x-signature") {
                command.push_str(&format!("\"{name}: sha256=$sig\""));
            } else {
                command.push_str(&shell_quote(&format!("{name}: {value}")));
            }
        }
        command.push_str(" --data-binary ");
        command.push_str(&body.curl_data());
        command.push('\n');
        command
    }
}

/// Bodies longer than this many bytes are rebuilt by the reproduction lines instead of
/// being written out whole.
pub const LONG_BODY_BYTES: usize = 2048;

/// A run of repeated text shorter than this many bytes is written out as it is.
const MIN_RUN_BYTES: usize = 64;

/// The longest repeated unit that a rebuilt body repeats with `seq`.
const MAX_UNIT_BYTES: usize = 32;

/// The place the reproduction lines keep a body in: a shell variable, or a temporary
/// file for a long body.
#[derive(Clone, Debug)]
enum ShellBody {
    Variable(&'static str),
    File(String),
}

impl ShellBody {
    /// Appends the lines that set `name` to `bytes`, in a temporary file when `long`.
    fn define(lines: &mut Vec<String>, name: &'static str, bytes: &[u8], long: bool) -> Self {
        let text = String::from_utf8_lossy(bytes);
        if !long {
            lines.push(format!("{name}={}\n", shell_quote(&text)));
            return Self::Variable(name);
        }
        let file = format!("{name}_file");
        lines.push(format!("{file}=$(mktemp)\n{{\n"));
        for segment in segments(&text) {
            lines.push(match segment {
                Segment::Literal(literal) => format!("  printf '%s' {}\n", shell_quote(literal)),
                Segment::Repeat { unit, count } => {
                    let format = unit.replace('\\', r"\\").replace('%', "%%");
                    format!(
                        "  printf {} $(seq {count})\n",
                        shell_quote(&format!("{format}%.0s"))
                    )
                }
            });
        }
        lines.push(format!("}} > \"${file}\"\n"));
        Self::File(file)
    }

    /// Returns the shell words that write `"$ts."` and the body to standard output.
    fn signing_input(&self) -> String {
        match self {
            Self::Variable(name) => format!("printf '%s.%s' \"$ts\" \"${name}\""),
            Self::File(file) => format!("{{ printf '%s.' \"$ts\"; cat \"${file}\"; }}"),
        }
    }

    /// Returns the argument of curl's `--data-binary` that sends the body.
    fn curl_data(&self) -> String {
        match self {
            Self::Variable(name) => format!("\"${name}\""),
            Self::File(file) => format!("@\"${file}\""),
        }
    }

    /// Returns the line that removes the temporary file, if there is one.
    fn cleanup(&self) -> String {
        match self {
            Self::Variable(_) => String::new(),
            Self::File(file) => format!("rm -f \"${file}\"\n"),
        }
    }
}

/// A part of a body as the reproduction lines rebuild it.
#[derive(Debug, PartialEq, Eq)]
enum Segment<'a> {
    /// Text written as it is.
    Literal(&'a str),
    /// ASCII text `unit` written `count` times in a row.
    Repeat { unit: &'a str, count: usize },
}

/// Splits `text` into literal text and runs of a repeated ASCII unit that cover at
/// least [`MIN_RUN_BYTES`].
fn segments(text: &str) -> Vec<Segment<'_>> {
    let bytes = text.as_bytes();
    let mut segments = Vec::new();
    let mut literal_start = 0;
    let mut index = 0;
    while index < bytes.len() {
        let Some((unit_len, count)) = longest_run(bytes, index) else {
            index += 1;
            continue;
        };
        // A run starts and ends next to ASCII bytes, so both ends are char boundaries.
        if literal_start < index {
            segments.push(Segment::Literal(&text[literal_start..index]));
        }
        segments.push(Segment::Repeat {
            unit: &text[index..index + unit_len],
            count,
        });
        index += unit_len * count;
        literal_start = index;
    }
    if literal_start < bytes.len() {
        segments.push(Segment::Literal(&text[literal_start..]));
    }
    segments
}

/// Returns the unit length and count of the repeated ASCII unit at `start` that covers
/// the most bytes, when it covers at least [`MIN_RUN_BYTES`].
fn longest_run(bytes: &[u8], start: usize) -> Option<(usize, usize)> {
    let mut best = None;
    let mut best_cover = MIN_RUN_BYTES - 1;
    for unit_len in 1..=MAX_UNIT_BYTES {
        let Some(unit) = bytes.get(start..start + unit_len) else {
            break;
        };
        // A longer unit contains this one, so it is not ASCII either.
        if !unit.is_ascii() {
            break;
        }
        let mut count = 1;
        while bytes.get(start + count * unit_len..start + (count + 1) * unit_len) == Some(unit) {
            count += 1;
        }
        if count >= 2 && unit_len * count > best_cover {
            best = Some((unit_len, count));
            best_cover = unit_len * count;
        }
    }
    best
}

/// Quotes `text` for a POSIX shell: single quotes, with each `'` written as `'\''`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The parts of an answer that two correct servers must agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `error` field of a JSON error body.
    pub error_code: Option<String>,
    /// The `reply` of a JSON reply, or the joined `delta` texts of a stream.
    pub reply: Option<String>,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(code) = &self.error_code {
            write!(f, " {code}")?;
        }
        if let Some(reply) = &self.reply {
            write!(f, " reply {reply:?}")?;
        }
        Ok(())
    }
}

/// The result of one named check.
#[derive(Clone, Debug)]
pub struct Check {
    /// A stable name, such as `stale_timestamp`, for tables and comparisons.
    pub name: String,
    /// Pass, fail or skip.
    pub outcome: Outcome,
    /// One line: what was sent and what came back (and, on failure, what was
    /// expected).
    pub detail: String,
    /// Time from sending the request to the end of the answer.
    pub latency: Option<Duration>,
    /// For a streamed reply, the time from sending the request to the first event.
    pub first_event: Option<Duration>,
    /// The request that decided the check, for reproducing it.
    pub request: Option<SentRequest>,
    /// The answer, when one came.
    pub answer: Option<Answer>,
    /// The recipe of the request's signature headers, when they came from the App's
    /// secret. See [`SentRequest::to_shell`].
    pub signing: Option<SignatureRecipe>,
    /// Whether the check sent a message signed as the platform signs it (unsigned when
    /// the target has no secret) and expected a 200 reply. See
    /// [`Report::rejection_of_every_reply`].
    pub expects_reply: bool,
}

impl Check {
    /// Creates a check with only a name, an outcome and a detail line.
    pub fn new(name: impl Into<String>, outcome: Outcome, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            outcome,
            detail: detail.into(),
            latency: None,
            first_event: None,
            request: None,
            answer: None,
            signing: None,
            expects_reply: false,
        }
    }

    /// Renders the shell lines that reproduce the check's request, reading the secret
    /// from `secret_variable`; see [`SentRequest::to_shell`].
    pub fn reproduction(&self, secret_variable: &str) -> Option<String> {
        let request = self.request.as_ref()?;
        Some(request.to_shell(self.signing.as_ref(), secret_variable))
    }

    /// Returns whether the check failed.
    pub fn failed(&self) -> bool {
        self.outcome == Outcome::Fail
    }
}

/// Every check of one run, in the order they ran.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
}

impl Report {
    /// Returns the checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|check| check.failed())
    }

    /// Returns whether no check failed.
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    /// Returns the answer that every check expecting a reply got, when each got a 401
    /// with the same error code or with a body that has none. Then the webhook rejected
    /// every message before reading it, and those failures have one cause: the
    /// signature. The returned error code is `None` only when no body had one.
    pub fn rejection_of_every_reply(&self) -> Option<Answer> {
        let mut common: Option<Answer> = None;
        for check in self.checks.iter().filter(|check| check.expects_reply) {
            let answer = check.answer.as_ref()?;
            if answer.status != 401 {
                return None;
            }
            match (&mut common, &answer.error_code) {
                (None, _) => common = Some(answer.clone()),
                (Some(_), None) => {}
                (Some(seen), Some(code)) => match &seen.error_code {
                    None => seen.error_code = Some(code.clone()),
                    Some(seen_code) if seen_code == code => {}
                    Some(_) => return None,
                },
            }
        }
        common.map(|answer| Answer {
            reply: None,
            ..answer
        })
    }

    /// Returns the check named `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|check| check.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_quotes_headers_and_body() {
        let request = SentRequest {
            method: "POST".to_owned(),
            url: "http://127.0.0.1:8080/".to_owned(),
            headers: vec![
                ("Content-Type".to_owned(), "application/json".to_owned()),
                ("X-Timestamp".to_owned(), "1796400000".to_owned()),
            ],
            body: br#"{"message":{"content":"it's"}}"#.to_vec(),
        };
        assert_eq!(
            request.to_curl(),
            r#"curl -sS -i -X 'POST' 'http://127.0.0.1:8080/' -H 'Content-Type: application/json' -H 'X-Timestamp: 1796400000' --data-binary '{"message":{"content":"it'\''s"}}'"#
        );
    }

    #[test]
    fn curl_omits_empty_body_of_get() {
        let request = SentRequest {
            method: "GET".to_owned(),
            url: "http://[::1]:8080/healthz".to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        assert_eq!(
            request.to_curl(),
            "curl -sS -i -X 'GET' 'http://[::1]:8080/healthz'"
        );
    }

    #[test]
    fn curl_uses_head_flag_for_head() {
        let request = SentRequest {
            method: "HEAD".to_owned(),
            url: "http://127.0.0.1:8080/healthz".to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        assert_eq!(
            request.to_curl(),
            "curl -sS -I 'http://127.0.0.1:8080/healthz'"
        );
    }

    fn signed_request(body: &str) -> SentRequest {
        SentRequest {
            method: "POST".to_owned(),
            url: "http://127.0.0.1:8080/".to_owned(),
            headers: vec![
                ("Content-Type".to_owned(), "application/json".to_owned()),
                ("X-Timestamp".to_owned(), "1796400000".to_owned()),
                (
                    "X-Signature".to_owned(),
                    format!("sha256={}", "a".repeat(64)),
                ),
            ],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn shell_recomputes_platform_signature() {
        let request = signed_request(r#"{"content":"café"}"#);
        assert_eq!(
            request.to_shell(Some(&SignatureRecipe::platform()), "WEBHOOK_SECRET"),
            [
                r#"body='{"content":"café"}'"#,
                r#"signed='{"content":"caf\u00e9"}'"#,
                "ts=$(date +%s)",
                r#"sig=$(printf '%s.%s' "$ts" "$signed" | openssl dgst -sha256 -hmac "$WEBHOOK_SECRET" -r | cut -c1-64)"#,
                r#"curl -sS -i -X 'POST' 'http://127.0.0.1:8080/' -H 'Content-Type: application/json' -H "X-Timestamp: $ts" -H "X-Signature: sha256=$sig" --data-binary "$body""#,
            ]
            .join("\n")
        );
    }

    #[test]
    fn shell_applies_every_recipe_part() {
        let request = signed_request(r#"{"n":2}"#);
        let recipe = SignatureRecipe {
            timestamp: TimestampSource::Now(-600),
            secret_suffix: "-other's".to_owned(),
            signed_body: Some(br#"{"n":1}"#.to_vec()),
            truncated_digits: 8,
        };
        let shell = request.to_shell(Some(&recipe), "MY_SECRET");
        let lines: Vec<&str> = shell.lines().collect();
        assert_eq!(lines[1], r#"signed='{"n":1}'"#);
        assert_eq!(lines[2], "ts=$(( $(date +%s) - 600 ))");
        assert_eq!(
            lines[3],
            r#"sig=$(printf '%s.%s' "$ts" "$signed" | openssl dgst -sha256 -hmac "$MY_SECRET"'-other'\''s' -r | cut -c1-56)"#
        );
    }

    #[test]
    fn shell_without_recipe_is_curl() {
        let request = signed_request("{}");
        assert_eq!(request.to_shell(None, "WEBHOOK_SECRET"), request.to_curl());
    }

    #[test]
    fn curl_adds_no_buffer_flag_for_stream_url() {
        let mut request = signed_request("{}");
        request.url = "http://127.0.0.1:8080/stream".to_owned();
        assert!(
            request.to_curl().starts_with("curl -sS -N -i -X 'POST' "),
            "{}",
            request.to_curl()
        );
        assert!(is_stream_url("http://127.0.0.1:8080/stream/?trace=1"));
        assert!(!is_stream_url("http://127.0.0.1:8080/streams"));
    }

    #[test]
    fn segments_rebuild_the_text() {
        let text = format!(
            "{{\"a\":\"0 {}\",\"b\":\"é {}\"}}",
            "lorem ipsum ".repeat(40),
            "x".repeat(70)
        );
        let segments = segments(&text);
        let rebuilt: String = segments
            .iter()
            .map(|segment| match segment {
                Segment::Literal(literal) => (*literal).to_owned(),
                Segment::Repeat { unit, count } => unit.repeat(*count),
            })
            .collect();
        assert_eq!(rebuilt, text);
        assert_eq!(
            segments,
            [
                Segment::Literal("{\"a\":\"0"),
                Segment::Repeat {
                    unit: " lorem ipsum",
                    count: 40
                },
                Segment::Literal(" \",\"b\":\"é "),
                Segment::Repeat {
                    unit: "x",
                    count: 70
                },
                Segment::Literal("\"}"),
            ]
        );
    }

    #[test]
    fn segments_keep_short_repeats_literal() {
        assert_eq!(segments("aaaa-bbbb"), [Segment::Literal("aaaa-bbbb")]);
        assert_eq!(segments(""), Vec::<Segment<'_>>::new());
    }

    #[test]
    fn shell_rebuilds_long_body_in_file() {
        let body = format!(r#"{{"content":"{}%\"}}"#, "ab".repeat(1100));
        let request = signed_request(&body);
        assert_eq!(
            request.to_shell(Some(&SignatureRecipe::platform()), "WEBHOOK_SECRET"),
            [
                "body_file=$(mktemp)",
                "{",
                r#"  printf '%s' '{"content":"'"#,
                "  printf 'ab%.0s' $(seq 1100)",
                r#"  printf '%s' '%\"}'"#,
                r#"} > "$body_file""#,
                "ts=$(date +%s)",
                r#"sig=$({ printf '%s.' "$ts"; cat "$body_file"; } | openssl dgst -sha256 -hmac "$WEBHOOK_SECRET" -r | cut -c1-64)"#,
                r#"curl -sS -i -X 'POST' 'http://127.0.0.1:8080/' -H 'Content-Type: application/json' -H "X-Timestamp: $ts" -H "X-Signature: sha256=$sig" --data-binary @"$body_file""#,
                r#"rm -f "$body_file""#,
            ]
            .join("\n")
        );
    }

    #[test]
    fn shell_without_recipe_rebuilds_long_body() {
        let request = signed_request(&"%".repeat(3000));
        assert_eq!(
            request.to_shell(None, "WEBHOOK_SECRET"),
            [
                "body_file=$(mktemp)",
                "{",
                "  printf '%%%.0s' $(seq 3000)",
                r#"} > "$body_file""#,
                r#"curl -sS -i -X 'POST' 'http://127.0.0.1:8080/' -H 'Content-Type: application/json' -H 'X-Timestamp: 1796400000' -H 'X-Signature: sha256=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' --data-binary @"$body_file""#,
                r#"rm -f "$body_file""#,
            ]
            .join("\n")
        );
    }

    #[test]
    fn answer_display_names_code_and_reply() {
        let rejected = Answer {
            status: 401,
            error_code: Some("signature_mismatch".to_owned()),
            reply: None,
        };
        assert_eq!(rejected.to_string(), "401 signature_mismatch");
        let replied = Answer {
            status: 200,
            error_code: None,
            reply: Some("Echo: hi".to_owned()),
        };
        assert_eq!(replied.to_string(), r#"200 reply "Echo: hi""#);
    }
}
