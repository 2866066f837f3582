//! What a run of the suite returns: one [`Check`] per named check, with what was
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
    pub fn to_curl(&self) -> String {
        // `-X HEAD` would make curl wait for a body that never comes, so HEAD uses `-I`.
        let method = if self.method == "HEAD" {
            "-I".to_owned()
        } else {
            format!("-i -X {}", shell_quote(&self.method))
        };
        let mut command = format!("curl -sS {method} {}", shell_quote(&self.url));
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
    /// time, so the lines reproduce the check whenever they run. Without a recipe this
    /// is [`SentRequest::to_curl`]. `secret_variable` must be a shell variable name.
    pub fn to_shell(&self, recipe: Option<&SignatureRecipe>, secret_variable: &str) -> String {
        let Some(recipe) = recipe else {
            return self.to_curl();
        };
        let body = String::from_utf8_lossy(&self.body);
        let mut lines = vec![format!("body={}", shell_quote(&body))];

        // The platform signs the escaped form of the signed bytes, so the shell gets
        // that form. For an ASCII body it equals the body itself.
        let signed = recipe.signed_body.as_deref().unwrap_or(&self.body);
        let signed = escaped_form(signed).unwrap_or_else(|| signed.to_vec());
        let signed_variable = if signed == self.body {
            "$body"
        } else {
            lines.push(format!(
                "signed={}",
                shell_quote(&String::from_utf8_lossy(&signed))
            ));
            "$signed"
        };

        lines.push(match &recipe.timestamp {
            TimestampSource::Now(0) => "ts=$(date +%s)".to_owned(),
            TimestampSource::Now(offset) if *offset < 0 => {
                format!("ts=$(( $(date +%s) - {} ))", offset.unsigned_abs())
            }
            TimestampSource::Now(offset) => format!("ts=$(( $(date +%s) + {offset} ))"),
            TimestampSource::Literal(value) => format!("ts={}", shell_quote(value)),
        });

        let mut key = format!("\"${secret_variable}\"");
        if !recipe.secret_suffix.is_empty() {
            key.push_str(&shell_quote(&recipe.secret_suffix));
        }
        let digits = 64_usize.saturating_sub(recipe.truncated_digits);
        lines.push(format!(
            "sig=$(printf '%s.%s' \"$ts\" \"{signed_variable}\" | openssl dgst -sha256 -hmac {key} -r | cut -c1-{digits})"
        ));

        let mut command = format!(
            "curl -sS -i -X {} {}",
            shell_quote(&self.method),
            shell_quote(&self.url)
        );
        for (name, value) in &self.headers {
            command.push_str(" -H ");
            if name.eq_ignore_ascii_case("x-timestamp") {
                command.push_str(&format!("\"{name}: $ts\""));
            } else if name.eq_ignore_ascii_case("x-signature") {
                command.push_str(&format!("\"{name}: sha256=$sig\""));
            } else {
                command.push_str(&shell_quote(&format!("{name}: {value}")));
            }
        }
        command.push_str(" --data-binary \"$body\"");
        lines.push(command);
        lines.join("\n")
    }
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
