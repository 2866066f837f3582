//! The checks, and how each request is sent and judged.
//!
//! Every check builds one request (or two, for the stream), sends it with the
//! platform's headers and timeout, and compares the answer with an [`Expect`]. The
//! level decides how strictly: at [`Level::Platform`] a rejection only has to be a
//! 4xx and a reply only a 200 with a string `reply`; at [`Level::Reference`] the
//! status, error code, `Content-Type` and reply text must be exact.

mod stream;

use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Method, Url};
use serde_json::Value;
use webhook_contract::{
    APP_ID_HEADER, ErrorCode, PLATFORM_TIMEOUT, Rejection, SIGNATURE_HEADER, Secret,
    THREAD_ID_HEADER, TIMESTAMP_HEADER,
};

use crate::payload::{PayloadFactory, platform_signature, unix_now, with_unknown_fields};
use crate::report::{
    Answer, Check, Outcome, Report, SentRequest, SignatureRecipe, TimestampSource,
};
use crate::{Level, Target};

/// How far outside the 5-minute replay window the stale and future timestamps are.
const OUTSIDE_WINDOW_SECS: i64 = 600;

/// Runs the suite; see [`crate::run`].
pub(crate) async fn run(target: &Target, level: Level) -> Report {
    let client = match Client::builder().timeout(PLATFORM_TIMEOUT).build() {
        Ok(client) => client,
        Err(error) => {
            let check = Check::new(
                "http_client",
                Outcome::Fail,
                format!(
                    "could not create the HTTP client: {}",
                    describe_error(&error)
                ),
            );
            return Report {
                checks: vec![check],
            };
        }
    };
    let mut suite = Suite {
        client,
        target: target.clone(),
        secret: target.secret.as_deref().map(Secret::new),
        level,
        payloads: PayloadFactory::new(),
        checks: Vec::new(),
    };

    suite.run_platform_checks().await;
    if level == Level::Reference {
        suite.run_reference_checks().await;
    }
    Report {
        checks: suite.checks,
    }
}

/// The answer a check expects.
#[derive(Clone, Debug)]
enum Expect {
    /// 200 with a JSON string `reply`; at the reference level also this exact text.
    Reply(String),
    /// 204 with an empty body (reference level only).
    NoContent,
    /// A 4xx; at the reference level exactly this code and its status.
    Rejected(ErrorCode),
    /// Exactly this status, these headers and this body (reference level only).
    Exact {
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        body: Option<String>,
    },
}

/// The signing mode of a POST.
#[derive(Clone, Debug)]
enum Signing {
    /// Signed from this recipe with the target's secret, when the target has one.
    Recipe(SignatureRecipe),
    /// These header values, whatever they are (`None` leaves the header out).
    Headers {
        timestamp: Option<String>,
        signature: Option<String>,
    },
}

impl Signing {
    /// Signed as the platform signs.
    fn platform() -> Self {
        Self::Recipe(SignatureRecipe::platform())
    }

    /// Signed as the platform signs, with a timestamp `offset` seconds from now.
    fn shifted(offset: i64) -> Self {
        Self::Recipe(SignatureRecipe {
            timestamp: TimestampSource::Now(offset),
            ..SignatureRecipe::platform()
        })
    }
}

/// A request ready to send, and how its signature was made.
struct Prepared {
    request: SentRequest,
    signing: Option<SignatureRecipe>,
}

/// A response as received: status, headers, body and latency.
struct Exchange {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
    latency: Duration,
}

struct Suite {
    client: Client,
    target: Target,
    secret: Option<Secret>,
    level: Level,
    payloads: PayloadFactory,
    checks: Vec<Check>,
}

impl Suite {
    async fn run_platform_checks(&mut self) {
        let body = self.payloads.message("Hello, can you help me?").to_json();
        self.post(
            "json_reply",
            "a signed message",
            body,
            Signing::platform(),
            echo("Hello, can you help me?"),
        )
        .await;

        let content = "Grüße 👋 — café ñ 中文, ¿qué tal?";
        let body = self.payloads.message(content).to_json();
        self.post(
            "non_ascii_message",
            "a non-ASCII message signed over its escaped form",
            body,
            Signing::platform(),
            echo(content),
        )
        .await;

        let body = self.payloads.legacy_body("legacy sender");
        self.post(
            "legacy_payload",
            "a message with only message.content and no history_tail",
            body,
            Signing::platform(),
            echo("legacy sender"),
        )
        .await;

        let mut message = self.payloads.message("no customer");
        message.thread.customer_id = None;
        self.post(
            "null_customer_id",
            "a message with \"customer_id\":null",
            message.to_json(),
            Signing::platform(),
            echo("no customer"),
        )
        .await;

        let body = self.payloads.message("").to_json();
        self.post(
            "empty_content",
            "a message with empty content",
            body,
            Signing::platform(),
            echo(""),
        )
        .await;

        let body = with_unknown_fields(&self.payloads.message("extra fields").to_json());
        self.post(
            "unknown_fields",
            "a message with fields the contract does not define",
            body,
            Signing::platform(),
            echo("extra fields"),
        )
        .await;

        let mut message = self.payloads.message("long history");
        for (index, entry) in message.history_tail.iter_mut().enumerate() {
            entry.content = Some(format!("{index} {}", "lorem ipsum ".repeat(341)));
        }
        self.post(
            "long_history",
            "a message with 10 history entries of 4 KB each",
            message.to_json(),
            Signing::platform(),
            echo("long history"),
        )
        .await;

        self.run_signature_checks().await;

        self.post(
            "invalid_json",
            "a signed body that is not JSON",
            "{\"version\":\"1.0\",\"event\":".to_owned(),
            Signing::platform(),
            Expect::Rejected(ErrorCode::InvalidJson),
        )
        .await;

        self.run_stream_check().await;
    }

    async fn run_signature_checks(&mut self) {
        let names = [
            "missing_signature",
            "wrong_secret",
            "body_changed_after_signing",
            "stale_timestamp",
            "future_timestamp",
            "timestamp_not_a_number",
            "empty_signature",
            "truncated_signature",
        ];
        if self.secret.is_none() {
            for name in names {
                self.checks.push(Check::new(
                    name,
                    Outcome::Skip,
                    "no secret given, so the webhook is not expected to check signatures",
                ));
            }
            return;
        }
        let message = self.payloads.message("unsigned");
        self.post(
            "missing_signature",
            "a message without X-Timestamp and X-Signature",
            message.to_json(),
            Signing::Headers {
                timestamp: None,
                signature: None,
            },
            Expect::Rejected(ErrorCode::MissingSignature),
        )
        .await;

        let message = self.payloads.message("wrong secret");
        self.post(
            "wrong_secret",
            "a message signed with another secret",
            message.to_json(),
            Signing::Recipe(SignatureRecipe {
                secret_suffix: "-not-this-one".to_owned(),
                ..SignatureRecipe::platform()
            }),
            Expect::Rejected(ErrorCode::SignatureMismatch),
        )
        .await;

        let signed = self.payloads.message("transfer 10 EUR").to_json();
        self.post(
            "body_changed_after_signing",
            "a message whose content changed after signing",
            signed.replacen("transfer 10 EUR", "transfer 99 EUR", 1),
            Signing::Recipe(SignatureRecipe {
                signed_body: Some(signed.into_bytes()),
                ..SignatureRecipe::platform()
            }),
            Expect::Rejected(ErrorCode::SignatureMismatch),
        )
        .await;

        let message = self.payloads.message("replayed");
        self.post(
            "stale_timestamp",
            "a message signed with a timestamp 10 minutes old",
            message.to_json(),
            Signing::shifted(-OUTSIDE_WINDOW_SECS),
            Expect::Rejected(ErrorCode::TimestampOutOfTolerance),
        )
        .await;

        let message = self.payloads.message("from the future");
        self.post(
            "future_timestamp",
            "a message signed with a timestamp 10 minutes ahead",
            message.to_json(),
            Signing::shifted(OUTSIDE_WINDOW_SECS),
            Expect::Rejected(ErrorCode::TimestampOutOfTolerance),
        )
        .await;

        // An HTTP date instead of unix seconds, signed over that literal value, so
        // only the check that the timestamp is a number can reject it.
        let body = self.payloads.message("date header").to_json();
        self.post(
            "timestamp_not_a_number",
            "X-Timestamp as an HTTP date, signed over that value",
            body,
            Signing::Recipe(SignatureRecipe {
                timestamp: TimestampSource::Literal("Fri, 04 Dec 2026 12:00:00 GMT".to_owned()),
                ..SignatureRecipe::platform()
            }),
            Expect::Rejected(ErrorCode::MalformedTimestamp),
        )
        .await;

        let body = self.payloads.message("empty signature").to_json();
        self.post(
            "empty_signature",
            "X-Signature: sha256= with no digest",
            body,
            Signing::Headers {
                timestamp: Some(unix_now().to_string()),
                signature: Some("sha256=".to_owned()),
            },
            Expect::Rejected(ErrorCode::MalformedSignature),
        )
        .await;

        let body = self.payloads.message("truncated signature").to_json();
        self.post(
            "truncated_signature",
            "X-Signature with the last 8 hex digits cut off",
            body,
            Signing::Recipe(SignatureRecipe {
                truncated_digits: 8,
                ..SignatureRecipe::platform()
            }),
            Expect::Rejected(ErrorCode::MalformedSignature),
        )
        .await;
    }

    async fn run_reference_checks(&mut self) {
        let healthz = self.join_url("/healthz");
        self.request(
            "healthz_get",
            "GET /healthz",
            self.plain_request("GET", &healthz),
            Expect::Exact {
                status: 200,
                headers: vec![("content-type", "application/json")],
                body: Some(r#"{"status":"ok"}"#.to_owned()),
            },
        )
        .await;
        self.request(
            "healthz_head",
            "HEAD /healthz",
            self.plain_request("HEAD", &healthz),
            Expect::Exact {
                status: 200,
                headers: vec![("content-type", "application/json")],
                body: Some(String::new()),
            },
        )
        .await;

        let url = self.target.url.clone();
        self.method_not_allowed("method_not_allowed_json_url", "GET", &url, "POST", "POST")
            .await;
        if let Some(stream_url) = self.target.stream_url.clone() {
            self.method_not_allowed(
                "method_not_allowed_stream_url",
                "PUT",
                &stream_url,
                "POST",
                "POST",
            )
            .await;
        }
        self.method_not_allowed(
            "method_not_allowed_healthz",
            "POST",
            &healthz,
            "GET, HEAD",
            "GET or HEAD",
        )
        .await;

        let missing = self.join_url("/no-such-route");
        self.request(
            "not_found",
            "GET /no-such-route",
            self.plain_request("GET", &missing),
            Expect::Exact {
                status: 404,
                headers: vec![("content-type", "application/json")],
                body: Some(Rejection::not_found("/no-such-route").to_json()),
            },
        )
        .await;

        let body = self.payloads.message("plain text").to_json();
        let mut request = self.signed_post(&self.target.url.clone(), body, &Signing::platform());
        set_header(&mut request.request, "Content-Type", "text/plain");
        self.request(
            "unsupported_media_type",
            "a signed message with Content-Type: text/plain",
            request,
            Expect::Rejected(ErrorCode::UnsupportedMediaType),
        )
        .await;

        let body = self
            .payloads
            .message("")
            .to_json()
            .replacen(r#""content":"","#, "", 1);
        self.post(
            "missing_content",
            "a signed message without message.content",
            body,
            Signing::platform(),
            Expect::Rejected(ErrorCode::InvalidPayload),
        )
        .await;

        let body =
            self.payloads
                .message("")
                .to_json()
                .replacen(r#""content":"""#, r#""content":42"#, 1);
        self.post(
            "content_not_a_string",
            "a signed message with \"content\":42",
            body,
            Signing::platform(),
            Expect::Rejected(ErrorCode::InvalidPayload),
        )
        .await;

        let mut message = self.payloads.message("version two");
        message.version = "2.0".to_owned();
        self.post(
            "unsupported_version",
            "a signed message with \"version\":\"2.0\"",
            message.to_json(),
            Signing::platform(),
            Expect::Rejected(ErrorCode::UnsupportedVersion),
        )
        .await;

        let body = self.payloads.message("closed").to_json().replacen(
            "\"message_received\"",
            "\"thread_closed\"",
            1,
        );
        self.post(
            "other_event",
            "a signed event named thread_closed",
            body,
            Signing::platform(),
            Expect::NoContent,
        )
        .await;
    }

    async fn method_not_allowed(
        &mut self,
        name: &str,
        method: &str,
        url: &str,
        allow_header: &'static str,
        allowed_in_message: &str,
    ) {
        let path = Url::parse(url)
            .map(|parsed| parsed.path().to_owned())
            .unwrap_or_else(|_| "/".to_owned());
        self.request(
            name,
            &format!("{method} {path}"),
            self.plain_request(method, url),
            Expect::Exact {
                status: 405,
                headers: vec![
                    ("allow", allow_header),
                    ("content-type", "application/json"),
                ],
                body: Some(
                    Rejection::method_not_allowed(method, &path, allowed_in_message).to_json(),
                ),
            },
        )
        .await;
    }

    /// Resolves an absolute path against the JSON URL's origin.
    fn join_url(&self, path: &str) -> String {
        Url::parse(&self.target.url)
            .and_then(|base| base.join(path))
            .map(String::from)
            .unwrap_or_else(|_| format!("{}{path}", self.target.url.trim_end_matches('/')))
    }

    /// Sends a POST of `body` to the JSON URL and records the check.
    async fn post(
        &mut self,
        name: &str,
        sent: &str,
        body: String,
        signing: Signing,
        expect: Expect,
    ) {
        let request = self.signed_post(&self.target.url.clone(), body, &signing);
        self.request(name, sent, request, expect).await;
    }

    /// Builds a POST with the platform's headers, signed according to `signing`.
    fn signed_post(&self, url: &str, body: String, signing: &Signing) -> Prepared {
        let mut headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("Accept".to_owned(), "*/*".to_owned()),
            ("Accept-Encoding".to_owned(), "gzip, deflate".to_owned()),
            ("User-Agent".to_owned(), user_agent()),
            (title_case(APP_ID_HEADER), self.payloads.app_id().to_owned()),
            (
                title_case(THREAD_ID_HEADER),
                self.payloads.thread_id().to_owned(),
            ),
        ];
        let (timestamp, signature, recipe) = match (signing, &self.target.secret) {
            (
                Signing::Headers {
                    timestamp,
                    signature,
                },
                _,
            ) => (timestamp.clone(), signature.clone(), None),
            (Signing::Recipe(recipe), Some(secret)) => {
                let (timestamp, signature) = sign_recipe(secret, recipe, body.as_bytes());
                (Some(timestamp), Some(signature), Some(recipe.clone()))
            }
            (Signing::Recipe(_), None) => (None, None, None),
        };
        if let Some(timestamp) = timestamp {
            headers.push((title_case(TIMESTAMP_HEADER), timestamp));
        }
        if let Some(signature) = signature {
            headers.push((title_case(SIGNATURE_HEADER), signature));
        }
        Prepared {
            request: SentRequest {
                method: "POST".to_owned(),
                url: url.to_owned(),
                headers,
                body: body.into_bytes(),
            },
            signing: recipe,
        }
    }

    fn plain_request(&self, method: &str, url: &str) -> Prepared {
        Prepared {
            request: SentRequest {
                method: method.to_owned(),
                url: url.to_owned(),
                headers: vec![
                    ("Accept".to_owned(), "*/*".to_owned()),
                    ("User-Agent".to_owned(), user_agent()),
                ],
                body: Vec::new(),
            },
            signing: None,
        }
    }

    /// Sends `request`, judges the answer against `expect` and records the check.
    async fn request(&mut self, name: &str, sent: &str, prepared: Prepared, expect: Expect) {
        let Prepared { request, signing } = prepared;
        let sent = self.describe_sent(sent);
        let mut check = Check::new(name, Outcome::Fail, String::new());
        check.signing = signing;
        check.expects_reply = matches!(expect, Expect::Reply(_));
        match send(&self.client, &request).await {
            Ok(exchange) => {
                let answer = answer_of(&exchange);
                let stopped = stopped_before_check(&answer, &expect);
                let problem = judge(&exchange, &expect, self.level);
                check.outcome = if stopped.is_some() || problem.is_some() {
                    Outcome::Fail
                } else {
                    Outcome::Pass
                };
                check.detail = match (stopped, problem) {
                    (Some(reason), _) => format!(
                        "sent {sent}; expected {}, got {answer}: {reason}",
                        describe_expect(&expect, self.level),
                    ),
                    (None, None) => format!("sent {sent}; got {}", describe_exchange(&exchange)),
                    (None, Some(problem)) => format!(
                        "sent {sent}; expected {}, got {} ({problem})",
                        describe_expect(&expect, self.level),
                        describe_exchange(&exchange)
                    ),
                };
                check.latency = Some(exchange.latency);
                check.answer = Some(answer);
            }
            Err(error) => {
                check.detail = format!(
                    "sent {sent}; expected {}, got no answer: {error}",
                    describe_expect(&expect, self.level)
                );
            }
        }
        check.request = Some(request);
        self.checks.push(check);
    }

    /// Describes a request for a check's detail line. Without a secret the requests
    /// described as signed go out unsigned, and the description says so.
    fn describe_sent(&self, sent: &str) -> String {
        if self.secret.is_some() {
            return sent.to_owned();
        }
        sent.replacen("a signed ", "an unsigned ", 1)
            .replacen("the same signed ", "the same unsigned ", 1)
            .replacen("the signed ", "the unsigned ", 1)
            .replacen(" signed over its escaped form", ", unsigned", 1)
    }
}

/// Returns the reason a 401 fails a check that expects the rejection of a fault in the
/// body or its `Content-Type`. A 401 comes from the signature check, which runs before
/// the step that the check tests.
fn stopped_before_check(answer: &Answer, expect: &Expect) -> Option<String> {
    let Expect::Rejected(code) = expect else {
        return None;
    };
    if answer.status != 401 || code.status() == 401 {
        return None;
    }
    let step = if *code == ErrorCode::UnsupportedMediaType {
        "the Content-Type check"
    } else {
        "the JSON parser"
    };
    Some(format!(
        "the request never reached {step}, so this check says nothing; fix the signature first"
    ))
}

fn echo(content: &str) -> Expect {
    Expect::Reply(format!("Echo: {content}"))
}

fn user_agent() -> String {
    concat!("webhook-probe/", env!("CARGO_PKG_VERSION")).to_owned()
}

/// Writes a lowercase header name as `X-App-Id`, the way the platform's client does.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Computes `X-Timestamp` and `X-Signature` from `recipe` with the App's `secret`.
fn sign_recipe(secret: &str, recipe: &SignatureRecipe, body: &[u8]) -> (String, String) {
    let timestamp = match &recipe.timestamp {
        TimestampSource::Now(offset) => (unix_now() + offset).to_string(),
        TimestampSource::Literal(value) => value.clone(),
    };
    let key = Secret::new(format!("{secret}{}", recipe.secret_suffix));
    let signed = recipe.signed_body.as_deref().unwrap_or(body);
    let mut signature = platform_signature(&key, &timestamp, signed);
    let kept = signature.len().saturating_sub(recipe.truncated_digits);
    signature.truncate(kept);
    (timestamp, signature)
}

fn set_header(request: &mut SentRequest, name: &str, value: &str) {
    for (header, current) in &mut request.headers {
        if header.eq_ignore_ascii_case(name) {
            *current = value.to_owned();
        }
    }
}

/// Builds the reqwest request for `request`.
fn build(client: &Client, request: &SentRequest) -> Result<reqwest::RequestBuilder, String> {
    let method = Method::from_bytes(request.method.as_bytes())
        .map_err(|_| format!("invalid method {:?}", request.method))?;
    let mut headers = HeaderMap::new();
    for (name, value) in &request.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        let value =
            HeaderValue::from_str(value).map_err(|_| format!("invalid value for header {name}"))?;
        headers.append(name, value);
    }
    Ok(client
        .request(method, &request.url)
        .headers(headers)
        .body(request.body.clone()))
}

async fn send(client: &Client, request: &SentRequest) -> Result<Exchange, String> {
    let builder = build(client, request)?;
    let started = Instant::now();
    let response = builder
        .send()
        .await
        .map_err(|error| describe_error(&error))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|error| describe_error(&error))?;
    Ok(Exchange {
        status,
        headers,
        body: body.to_vec(),
        latency: started.elapsed(),
    })
}

/// Describes a transport error with its causes, naming the 8 s budget on a timeout.
pub(crate) fn describe_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return format!(
            "no complete answer within the platform's {} s timeout",
            PLATFORM_TIMEOUT.as_secs()
        );
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn answer_of(exchange: &Exchange) -> Answer {
    let json: Option<Value> = serde_json::from_slice(&exchange.body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|value| value.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Answer {
        status: exchange.status,
        error_code: field("error"),
        reply: field("reply"),
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    header_text(headers, CONTENT_TYPE.as_str()).is_some_and(|value| {
        value
            .split(';')
            .next()
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
    })
}

/// Returns what is wrong with the answer, or `None` when it meets `expect`.
fn judge(exchange: &Exchange, expect: &Expect, level: Level) -> Option<String> {
    let strict = level == Level::Reference;
    let answer = answer_of(exchange);
    match expect {
        Expect::Reply(text) => {
            if exchange.status != 200 {
                return Some("the platform accepts only status 200".to_owned());
            }
            let json: Value = match serde_json::from_slice(&exchange.body) {
                Ok(json) => json,
                Err(_) => return Some("the body is not JSON".to_owned()),
            };
            match json.get("reply") {
                Some(Value::String(_)) => {}
                Some(Value::Null) | None => {
                    return Some("the body has no \"reply\"".to_owned());
                }
                Some(_) => return Some("\"reply\" is not a string".to_owned()),
            }
            if strict && !is_json_content_type(&exchange.headers) {
                return Some("Content-Type is not application/json".to_owned());
            }
            if strict && answer.reply.as_deref() != Some(text.as_str()) {
                return Some("the reply is not the exact echo".to_owned());
            }
            None
        }
        Expect::NoContent => {
            if strict && exchange.status != 204 {
                return Some("an event other than message_received gets 204".to_owned());
            }
            if strict && !exchange.body.is_empty() {
                return Some("a 204 has no body".to_owned());
            }
            None
        }
        Expect::Rejected(code) => {
            if !(400..500).contains(&exchange.status) {
                return Some("a client error must get a 4xx".to_owned());
            }
            if !strict {
                return None;
            }
            if exchange.status != code.status() {
                return Some(format!("{code} goes with status {}", code.status()));
            }
            if answer.error_code.as_deref() != Some(code.as_str()) {
                return Some("wrong or missing error code".to_owned());
            }
            if !is_json_content_type(&exchange.headers) {
                return Some("Content-Type is not application/json".to_owned());
            }
            None
        }
        Expect::Exact {
            status,
            headers,
            body,
        } => {
            if !strict {
                return None;
            }
            if exchange.status != *status {
                return Some("wrong status".to_owned());
            }
            for (name, value) in headers {
                let got = header_text(&exchange.headers, name);
                if got != Some(value) {
                    return Some(format!("header {name} is {got:?}, not {value:?}"));
                }
            }
            if let Some(body) = body
                && exchange.body != body.as_bytes()
            {
                return Some(format!("the body is not {body}"));
            }
            None
        }
    }
}

fn describe_expect(expect: &Expect, level: Level) -> String {
    let strict = level == Level::Reference;
    match expect {
        Expect::Reply(text) if strict => format!("200 reply {text:?}"),
        Expect::Reply(_) => "200 with a JSON string \"reply\"".to_owned(),
        Expect::NoContent => "204 with an empty body".to_owned(),
        Expect::Rejected(code) if strict => format!("{} {code}", code.status()),
        Expect::Rejected(_) => "a 4xx".to_owned(),
        Expect::Exact {
            status, headers, ..
        } => {
            let mut text = status.to_string();
            for (name, value) in headers {
                text.push_str(&format!(" {name}: {value}"));
            }
            text
        }
    }
}

/// Describes an answer in a few words: status, error code or reply, or the start of
/// an unexpected body.
fn describe_exchange(exchange: &Exchange) -> String {
    let answer = answer_of(exchange);
    let mut text = answer.to_string();
    if answer.error_code.is_none() && answer.reply.is_none() && !exchange.body.is_empty() {
        let body = String::from_utf8_lossy(&exchange.body);
        let start: String = body.chars().take(80).collect();
        let more = if body.chars().count() > 80 { "..." } else { "" };
        text.push_str(&format!(" body {start:?}{more}"));
    }
    text.push_str(&format!(
        " in {:.1} ms",
        exchange.latency.as_secs_f64() * 1000.0
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_case_matches_platform_headers() {
        assert_eq!(title_case("x-app-id"), "X-App-Id");
        assert_eq!(title_case("x-signature"), "X-Signature");
    }
}
