//! Requests that broke real webhook receivers elsewhere, each sent over a raw socket
//! exactly as written (header names in their case, repeated headers kept) with the
//! answer both example servers must give.
//!
//! Header values may hold placeholders, filled in when the case is sent: `{ts}` is
//! the current unix time plus the case's offset, `{sig}` is `sha256=` and the HMAC of
//! `"{T}.{B}"` where T is the first `X-Timestamp` value sent (empty when there is
//! none) and B is the body or, for a sender that signed other bytes than it sent, the
//! case's `signed_body`; `{sig_hex}` is the digest alone.

use std::time::{Duration, Instant};

use webhook_contract::{ErrorCode, Secret, sign};
use webhook_probe::payload::unix_now;
use webhook_probe::{Answer, Check, Outcome, SentRequest};

use crate::raw::{self, RawResponse};

/// How long one case may take from connect to the end of the answer.
const CASE_TIMEOUT: Duration = Duration::from_secs(8);

/// The body most cases send or vary: a compact `message_received` with content `hello`.
pub const BASE_BODY: &str = r#"{"version":"1.0","event":"message_received","app":{"id":"app_test_01","name":"Test App"},"thread":{"id":"thr_test_01","customer_id":"cust_test_01"},"message":{"id":"msg_test_01","seq":3,"role":"user","content":"hello","content_json":{}},"history_tail":[{"role":"user","content":"earlier question","content_json":{}}],"timestamp":"2026-12-04T10:00:00Z"}"#;

/// Returns a body that differs from [`BASE_BODY`] only in the message content.
pub fn body_with_content(content: &str) -> String {
    BASE_BODY.replacen(
        r#""content":"hello""#,
        &format!(r#""content":"{content}""#),
        1,
    )
}

/// The server instance a case needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instance {
    /// The server started with the test secret.
    Signed,
    /// The server started without a secret.
    Unsigned,
}

/// The answer a case expects.
#[derive(Clone, Debug)]
pub enum Expected {
    /// 200 with exactly this `reply`.
    Reply(&'static str),
    /// This error code, with its status.
    Rejected(ErrorCode),
}

/// One request and the answer it must get.
#[derive(Clone, Debug)]
pub struct FieldCase {
    pub name: &'static str,
    /// A description of the request, for the report line.
    pub sent: &'static str,
    pub instance: Instance,
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: String,
    /// The bytes the sender signed, when they differ from the body.
    pub signed_body: Option<String>,
    /// Seconds added to the current time for `{ts}`.
    pub timestamp_offset: i64,
    pub expected: Expected,
    /// After the case, a baseline request on a fresh connection must still get 200.
    pub check_alive_after: bool,
}

impl FieldCase {
    fn signed(name: &'static str, sent: &'static str, body: String, expected: Expected) -> Self {
        Self {
            name,
            sent,
            instance: Instance::Signed,
            headers: platform_headers(),
            body,
            signed_body: None,
            timestamp_offset: 0,
            expected,
            check_alive_after: false,
        }
    }

    fn with_headers(mut self, headers: Vec<(&'static str, &'static str)>) -> Self {
        self.headers = headers;
        self
    }

    fn alive_after(mut self) -> Self {
        self.check_alive_after = true;
        self
    }
}

/// Returns the headers the platform sends, names in the case its client writes them.
fn platform_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Content-Type", "application/json"),
        ("X-App-Id", "app_test_01"),
        ("X-Thread-Id", "thr_test_01"),
        ("X-Timestamp", "{ts}"),
        ("X-Signature", "{sig}"),
    ]
}

/// Returns [`platform_headers`] with `name` replaced by `value`, or removed when
/// `value` is `None`.
fn headers_with(name: &str, value: Option<&'static str>) -> Vec<(&'static str, &'static str)> {
    platform_headers()
        .into_iter()
        .filter_map(|(header, current)| match header == name {
            true => value.map(|value| (header, value)),
            false => Some((header, current)),
        })
        .collect()
}

/// Returns the baseline: what the platform sends for a plain message. Every other case is a
/// variation of it, and it is the request that shows a server is still alive.
pub fn baseline() -> FieldCase {
    FieldCase::signed(
        "baseline_message",
        "the baseline signed message with content hello",
        BASE_BODY.to_owned(),
        Expected::Reply("Echo: hello"),
    )
}

/// Returns every one-request case, in the order they run.
pub fn all() -> Vec<FieldCase> {
    use ErrorCode::*;
    use Expected::{Rejected, Reply};

    let pretty_body = "{\n  \"timestamp\": \"2026-12-04T10:00:00Z\",\n  \"history_tail\": [ { \"content_json\": {}, \"content\": \"earlier question\", \"role\": \"user\" } ],\n  \"message\": {\n    \"content_json\": {\"zeta\": 1, \"alpha\": {\"b\": 2, \"a\": 1}, \"price\": 1.50, \"big\": 1e2},\n    \"content\": \"Where is order 42?\",\n    \"role\": \"user\",\n    \"seq\": 3,\n    \"id\": \"msg_test_01\"\n  },\n  \"thread\": {\"customer_id\": \"cust_test_01\", \"id\": \"thr_test_01\"},\n  \"app\": {\"name\": \"Test App\", \"id\": \"app_test_01\"},\n  \"event\": \"message_received\",\n  \"version\": \"1.0\"\n}\n";
    let only_content_body = r#"{"version":"1.0","event":"message_received","app":{"id":"app_test_01","name":"Test App"},"thread":{"id":"thr_test_01","customer_id":null},"message":{"content":"only content path"},"timestamp":"2026-12-04T12:00:00.000000+00:00","locale":"de-DE"}"#;
    let zeros = "sha256=0000000000000000000000000000000000000000000000000000000000000000";

    let mut stale = FieldCase::signed(
        "timestamp_301_seconds_old",
        "a signed message whose X-Timestamp is 301 s old",
        BASE_BODY.to_owned(),
        Rejected(TimestampOutOfTolerance),
    );
    stale.timestamp_offset = -301;
    let mut nearly_stale = FieldCase::signed(
        "timestamp_280_seconds_old",
        "a signed message whose X-Timestamp is 280 s old",
        BASE_BODY.to_owned(),
        Reply("Echo: hello"),
    );
    nearly_stale.timestamp_offset = -280;
    let mut slightly_ahead = FieldCase::signed(
        "timestamp_30_seconds_ahead",
        "a signed message whose X-Timestamp is 30 s ahead",
        BASE_BODY.to_owned(),
        Reply("Echo: hello"),
    );
    slightly_ahead.timestamp_offset = 30;
    let mut hour_ahead = FieldCase::signed(
        "timestamp_one_hour_ahead",
        "a signed message whose X-Timestamp is 3600 s ahead",
        BASE_BODY.to_owned(),
        Rejected(TimestampOutOfTolerance),
    );
    hour_ahead.timestamp_offset = 3600;

    let mut tampered = FieldCase::signed(
        "body_changed_by_one_byte",
        "a body changed from hello to hellp after signing",
        body_with_content("hellp"),
        Rejected(SignatureMismatch),
    );
    tampered.signed_body = Some(BASE_BODY.to_owned());
    let mut escaped = FieldCase::signed(
        "signed_over_escaped_form",
        "raw UTF-8 content signed over its \\u-escaped form",
        body_with_content("café / 10€ 😀"),
        Reply("Echo: café / 10€ 😀"),
    );
    escaped.signed_body = Some(body_with_content(r"caf\u00e9 / 10\u20ac \ud83d\ude00"));

    let mut unsigned = FieldCase::signed(
        "unsigned_message_without_secret",
        "an unsigned message to a server without a secret",
        BASE_BODY.to_owned(),
        Reply("Echo: hello"),
    )
    .with_headers(platform_headers()[..3].to_vec());
    unsigned.instance = Instance::Unsigned;
    let mut empty_unsigned = FieldCase::signed(
        "empty_body_without_secret",
        "an empty body to a server without a secret",
        String::new(),
        Rejected(InvalidJson),
    )
    .with_headers(platform_headers()[..3].to_vec())
    .alive_after();
    empty_unsigned.instance = Instance::Unsigned;

    vec![
        baseline(),
        FieldCase::signed(
            "pretty_printed_reordered_body",
            "a signed pretty-printed body with keys in reverse order and 1.50, 1e2 numbers",
            pretty_body.to_owned(),
            Reply("Echo: Where is order 42?"),
        ),
        FieldCase::signed(
            "truncated_json_wrong_signature",
            "truncated JSON with an all-zero signature",
            r#"{"version":"1.0","event":"#.to_owned(),
            Rejected(SignatureMismatch),
        )
        .with_headers(headers_with("X-Signature", Some(zeros))),
        tampered,
        FieldCase::signed(
            "signed_over_raw_utf8",
            "raw UTF-8 content signed over the raw bytes",
            body_with_content("Grüße 👋 — café ñ 中文"),
            Reply("Echo: Grüße 👋 — café ñ 中文"),
        ),
        escaped,
        FieldCase::signed(
            "content_type_with_charset",
            "Content-Type: application/json; charset=utf-8",
            BASE_BODY.to_owned(),
            Reply("Echo: hello"),
        )
        .with_headers(headers_with(
            "Content-Type",
            Some("application/json; charset=utf-8"),
        )),
        FieldCase::signed(
            "no_content_type",
            "a signed message without Content-Type",
            BASE_BODY.to_owned(),
            Rejected(UnsupportedMediaType),
        )
        .with_headers(headers_with("Content-Type", None)),
        FieldCase::signed(
            "text_plain_content_type",
            "a signed message with Content-Type: text/plain",
            BASE_BODY.to_owned(),
            Rejected(UnsupportedMediaType),
        )
        .with_headers(headers_with("Content-Type", Some("text/plain"))),
        FieldCase::signed(
            "signature_with_other_prefix",
            "X-Signature: bogus= and the right digest",
            BASE_BODY.to_owned(),
            Rejected(MalformedSignature),
        )
        .with_headers(headers_with("X-Signature", Some("bogus={sig_hex}")))
        .alive_after(),
        FieldCase::signed(
            "signature_without_prefix",
            "X-Signature: the right digest without sha256=",
            BASE_BODY.to_owned(),
            Rejected(MalformedSignature),
        )
        .with_headers(headers_with("X-Signature", Some("{sig_hex}"))),
        FieldCase::signed(
            "signature_not_hex",
            "X-Signature: sha256=zz and the right digest",
            BASE_BODY.to_owned(),
            Rejected(MalformedSignature),
        )
        .with_headers(headers_with("X-Signature", Some("sha256=zz{sig_hex}")))
        .alive_after(),
        FieldCase::signed(
            "duplicate_signature_headers",
            "two X-Signature headers, the first all zeros and the second right",
            BASE_BODY.to_owned(),
            Rejected(MalformedSignature),
        )
        .with_headers(
            [
                &headers_with("X-Signature", Some(zeros))[..],
                &[("X-Signature", "{sig}")],
            ]
            .concat(),
        ),
        FieldCase::signed(
            "duplicate_identical_signature_headers",
            "the right X-Signature sent twice",
            BASE_BODY.to_owned(),
            Rejected(MalformedSignature),
        )
        .with_headers([&platform_headers()[..], &[("X-Signature", "{sig}")]].concat()),
        FieldCase::signed(
            "duplicate_timestamp_headers",
            "X-Timestamp sent twice with the same value",
            BASE_BODY.to_owned(),
            Rejected(MalformedTimestamp),
        )
        .with_headers([&platform_headers()[..], &[("X-Timestamp", "{ts}")]].concat()),
        stale,
        nearly_stale,
        slightly_ahead,
        hour_ahead,
        FieldCase::signed(
            "timestamp_with_letters",
            "X-Timestamp: the current time followed by abc, signed over that value",
            BASE_BODY.to_owned(),
            Rejected(MalformedTimestamp),
        )
        .with_headers(headers_with("X-Timestamp", Some("{ts}abc"))),
        FieldCase::signed(
            "missing_timestamp_header",
            "X-Signature without X-Timestamp",
            BASE_BODY.to_owned(),
            Rejected(MissingSignature),
        )
        .with_headers(headers_with("X-Timestamp", None)),
        FieldCase::signed(
            "missing_signature_header",
            "X-Timestamp without X-Signature",
            BASE_BODY.to_owned(),
            Rejected(MissingSignature),
        )
        .with_headers(headers_with("X-Signature", None)),
        FieldCase::signed(
            "lowercase_header_names",
            "the baseline with every header name in lowercase",
            BASE_BODY.to_owned(),
            Reply("Echo: hello"),
        )
        .with_headers(vec![
            ("content-type", "application/json"),
            ("x-app-id", "app_test_01"),
            ("x-thread-id", "thr_test_01"),
            ("x-timestamp", "{ts}"),
            ("x-signature", "{sig}"),
        ]),
        FieldCase::signed(
            "uppercase_header_names",
            "the baseline with every header name in uppercase",
            BASE_BODY.to_owned(),
            Reply("Echo: hello"),
        )
        .with_headers(vec![
            ("CONTENT-TYPE", "application/json"),
            ("X-APP-ID", "app_test_01"),
            ("X-THREAD-ID", "thr_test_01"),
            ("X-TIMESTAMP", "{ts}"),
            ("X-SIGNATURE", "{sig}"),
        ]),
        FieldCase::signed(
            "only_message_content",
            "null customer_id, message with only content, no history_tail, an unknown field",
            only_content_body.to_owned(),
            Reply("Echo: only content path"),
        ),
        FieldCase::signed(
            "message_without_content",
            "a signed message without message.content",
            BASE_BODY.replacen(r#""content":"hello","#, "", 1),
            Rejected(InvalidPayload),
        ),
        FieldCase::signed(
            "empty_content_string",
            "a signed message with content \"\"",
            body_with_content(""),
            Reply("Echo: "),
        ),
        FieldCase::signed(
            "empty_body_signed",
            "an empty body with a valid signature over it",
            String::new(),
            Rejected(InvalidJson),
        )
        .alive_after(),
        unsigned,
        empty_unsigned,
    ]
}

/// Fills in the placeholders of `case` and returns the request as it goes out.
pub fn materialize(case: &FieldCase, secret: &Secret, url: &str) -> SentRequest {
    let timestamp = (unix_now() + case.timestamp_offset).to_string();
    let with_timestamp: Vec<(String, String)> = case
        .headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.replace("{ts}", &timestamp)))
        .collect();
    let signed_timestamp = with_timestamp
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-timestamp"))
        .map(|(_, value)| value.clone())
        .unwrap_or_default();
    let signed_bytes = case.signed_body.as_deref().unwrap_or(&case.body);
    let signature = sign(secret, &signed_timestamp, signed_bytes.as_bytes());
    let digest = signature.trim_start_matches("sha256=").to_owned();
    let headers = with_timestamp
        .into_iter()
        .map(|(name, value)| {
            let value = value
                .replace("{sig_hex}", &digest)
                .replace("{sig}", &signature);
            (name, value)
        })
        .collect();
    SentRequest {
        method: "POST".to_owned(),
        url: url.to_owned(),
        headers,
        body: case.body.clone().into_bytes(),
    }
}

/// Sends `request` over a raw socket to `address` (`host:port`).
pub async fn send_raw(address: &str, request: &SentRequest) -> anyhow::Result<RawResponse> {
    let mut bytes = raw::request_head(
        &request.method,
        "/",
        address,
        &request.headers,
        request.body.len(),
    );
    bytes.extend_from_slice(&request.body);
    raw::exchange(address, &bytes, CASE_TIMEOUT).await
}

/// Returns the status, error code and reply of a raw response.
pub fn answer_of(response: &RawResponse) -> Answer {
    let json: Option<serde_json::Value> = serde_json::from_slice(&response.body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|value| value.get(name))
            .and_then(|value| value.as_str())
            .map(str::to_owned)
    };
    Answer {
        status: response.status,
        error_code: field("error"),
        reply: field("reply"),
    }
}

/// Returns what is wrong with `answer`, or `None` when it is `expected`.
pub fn judge(expected: &Expected, answer: &Answer, response: &RawResponse) -> Option<String> {
    let json_type = response
        .header("content-type")
        .is_some_and(|value| value.to_ascii_lowercase().starts_with("application/json"));
    match expected {
        Expected::Reply(text) => {
            if answer.status != 200 || answer.reply.as_deref() != Some(*text) {
                return Some("wrong status or reply".to_owned());
            }
        }
        Expected::Rejected(code) => {
            if answer.status != code.status() || answer.error_code.as_deref() != Some(code.as_str())
            {
                return Some("wrong status or error code".to_owned());
            }
        }
    }
    (!json_type).then(|| "Content-Type is not application/json".to_owned())
}

/// Describes what `expected` means on the wire.
pub fn describe_expected(expected: &Expected) -> String {
    match expected {
        Expected::Reply(text) => format!("200 reply {text:?}"),
        Expected::Rejected(code) => format!("{} {code}", code.status()),
    }
}

/// Runs `case` against the server at `address` and returns its check. The baseline
/// that proves the server alive afterwards is signed with `secret` when the case's
/// instance has one.
pub async fn run(case: &FieldCase, address: &str, secret: &Secret) -> Check {
    let url = format!("http://{address}/");
    let request = materialize(case, secret, &url);
    let started = Instant::now();
    let result = send_raw(address, &request).await;
    let latency = started.elapsed();
    let expected = describe_expected(&case.expected);

    let mut check = Check::new(case.name, Outcome::Fail, String::new());
    check.latency = Some(latency);
    match result {
        Ok(response) => {
            let answer = answer_of(&response);
            let problem = judge(&case.expected, &answer, &response);
            check.detail = match &problem {
                None => format!("sent {}; got {answer}", case.sent),
                Some(problem) => {
                    format!(
                        "sent {}; expected {expected}, got {answer} ({problem})",
                        case.sent
                    )
                }
            };
            if problem.is_none() {
                check.outcome = Outcome::Pass;
            }
            check.answer = Some(answer);
        }
        Err(error) => {
            check.detail = format!(
                "sent {}; expected {expected}, got no answer: {error:#}",
                case.sent
            );
        }
    }
    check.request = Some(request);

    if case.check_alive_after {
        let mut alive = baseline();
        if case.instance == Instance::Unsigned {
            alive.headers.truncate(3);
        }
        let alive_request = materialize(&alive, secret, &url);
        match send_raw(address, &alive_request).await {
            Ok(response) if response.status == 200 => {
                check
                    .detail
                    .push_str("; the baseline still gets 200 afterwards");
            }
            Ok(response) => {
                check.outcome = Outcome::Fail;
                check.detail.push_str(&format!(
                    "; afterwards the baseline got {} instead of 200",
                    answer_of(&response)
                ));
            }
            Err(error) => {
                check.outcome = Outcome::Fail;
                check.detail.push_str(&format!(
                    "; afterwards the baseline got no answer ({error:#}): the server may have died"
                ));
            }
        }
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_uses_first_timestamp_and_signed_body() {
        let secret = Secret::new("s");
        let mut case = baseline();
        case.signed_body = Some("other".to_owned());
        let request = materialize(&case, &secret, "http://127.0.0.1:1/");
        let timestamp = &request.headers[3].1;
        assert!(timestamp.bytes().all(|byte| byte.is_ascii_digit()));
        assert_eq!(request.headers[4].1, sign(&secret, timestamp, b"other"));
    }

    #[test]
    fn missing_timestamp_signs_with_empty_timestamp() {
        let secret = Secret::new("s");
        let case = all()
            .into_iter()
            .find(|case| case.name == "missing_timestamp_header")
            .unwrap();
        let request = materialize(&case, &secret, "http://127.0.0.1:1/");
        assert_eq!(
            request.headers.last().unwrap().1,
            sign(&secret, "", BASE_BODY.as_bytes())
        );
    }

    #[test]
    fn placeholders_are_filled() {
        let secret = Secret::new("s");
        for case in all() {
            let request = materialize(&case, &secret, "http://127.0.0.1:1/");
            for (name, value) in &request.headers {
                assert!(!value.contains('{'), "{}: {name}: {value}", case.name);
            }
        }
    }

    #[test]
    fn case_names_are_unique() {
        let cases = all();
        let mut names: Vec<&str> = cases.iter().map(|case| case.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), cases.len());
    }
}
