//! One message delivered as the platform delivers it, and the platform's verdict on
//! the response. `send` and `chat` share it.
//!
//! The verdict follows the platform's rules. A JSON reply is accepted only with status
//! 200, a JSON body and a non-null `reply`. A stream is accepted only with status 200,
//! `Content-Type: text/event-stream`, well-formed events and exactly one `done`. Both
//! must be complete within the platform's 8 s.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, Url};
use serde_json::Value;
use webhook_contract::{
    MessageReceived, PLATFORM_TIMEOUT, SIGNATURE_HEADER, Secret, SseEvent, TIMESTAMP_HEADER,
};
use webhook_probe::payload::{platform_signature, unix_now};
use webhook_probe::sse::SseParser;

use super::NamedSecret;

/// A step of reading a stream, reported as it happens.
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    /// The response headers arrived, with this status and `Content-Type`.
    Headers(u16, &'a str),
    /// A delta event arrived with this text.
    Delta(&'a str),
}

/// The platform's decision on a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The platform would show the reply.
    Accepted,
    /// The platform would count a webhook failure, for this reason.
    Rejected(String),
}

/// The response to one message, as the platform judges it.
#[derive(Debug)]
pub struct Delivery {
    /// The status, when response headers arrived.
    pub status: Option<u16>,
    /// The `Content-Type` of the response, or `none`.
    pub content_type: String,
    /// Time from sending to the end of the response (or to the failure).
    pub latency: Duration,
    /// The reply text: the JSON `reply`, or the joined deltas of a stream.
    pub reply: Option<String>,
    /// The start of the body, for a rejected JSON answer.
    pub body_start: Option<String>,
    /// For a stream: delta count, done count and the time to the first event.
    pub events: Option<(usize, usize, Option<Duration>)>,
    /// Accepted or rejected, and why.
    pub verdict: Verdict,
}

/// Sends messages to one URL with the platform's headers and signature.
#[derive(Debug)]
pub struct Sender {
    client: Client,
    url: Url,
    secret: Option<Secret>,
}

impl Sender {
    /// Creates a sender with the platform's 8 s timeout.
    pub fn new(url: Url, secret: Option<&NamedSecret>) -> Result<Self> {
        let client = Client::builder()
            .timeout(PLATFORM_TIMEOUT)
            .build()
            .map_err(|error| anyhow!("could not create the HTTP client: {error}"))?;
        Ok(Self {
            client,
            url,
            secret: secret.map(|secret| Secret::new(&secret.value)),
        })
    }

    /// Sends `message` and returns the response with the verdict; for a stream,
    /// `on_progress` gets the headers and then each delta as they arrive. Fails only
    /// when the webhook cannot be reached at all.
    pub async fn deliver(
        &self,
        message: &MessageReceived,
        stream: bool,
        on_progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Delivery> {
        let body = message.to_json();
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("Accept", "*/*")
            .header(
                "User-Agent",
                concat!("webhook-probe/", env!("CARGO_PKG_VERSION")),
            )
            .header("X-App-Id", message.app.id.clone().unwrap_or_default())
            .header("X-Thread-Id", message.thread.id.clone().unwrap_or_default());
        if let Some(secret) = &self.secret {
            let timestamp = unix_now().to_string();
            let signature = platform_signature(secret, &timestamp, body.as_bytes());
            request = request
                .header(TIMESTAMP_HEADER, timestamp)
                .header(SIGNATURE_HEADER, signature);
        }

        let started = Instant::now();
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(error) if error.is_connect() => {
                return Err(anyhow!(
                    "cannot connect to {}: {}; is the webhook running?",
                    self.url,
                    root_cause(&error)
                ));
            }
            Err(error) => return Ok(failed(&error, started)),
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        if stream {
            on_progress(Progress::Headers(status, &content_type));
            Ok(read_stream(response, status, content_type, started, on_progress).await)
        } else {
            Ok(read_json(response, status, content_type, started).await)
        }
    }
}

/// Reads and judges a JSON response.
async fn read_json(
    response: reqwest::Response,
    status: u16,
    content_type: String,
    started: Instant,
) -> Delivery {
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) => {
            let mut delivery = failed(&error, started);
            delivery.status = Some(status);
            delivery.content_type = content_type;
            return delivery;
        }
    };
    let latency = started.elapsed();
    let text = String::from_utf8_lossy(&body);
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let reply = json.as_ref().and_then(|json| match json.get("reply") {
        Some(Value::String(reply)) => Some(reply.clone()),
        // The platform turns any other non-null value into text.
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    });
    let error_code = error_code_suffix(json.as_ref());
    let streams = is_event_stream(&content_type);
    let verdict = if status != 200 {
        Verdict::Rejected(format!(
            "status {status}{error_code}, but the platform accepts only 200"
        ))
    } else if json.is_none() && streams {
        Verdict::Rejected("the body is not JSON; this URL streams: add --stream".to_owned())
    } else if json.is_none() {
        Verdict::Rejected("the body is not JSON".to_owned())
    } else if reply.is_none() {
        Verdict::Rejected("the JSON has no \"reply\" (or it is null)".to_owned())
    } else {
        Verdict::Accepted
    };
    // The platform logs the first 200 characters of a body it rejects.
    let body_start = (verdict != Verdict::Accepted && !text.is_empty())
        .then(|| super::output::start_of(&text, 200));
    Delivery {
        status: Some(status),
        content_type,
        latency,
        reply: if verdict == Verdict::Accepted {
            reply
        } else {
            None
        },
        body_start,
        events: None,
        verdict,
    }
}

/// Reads and judges a stream, passing each delta to `on_progress` as it arrives.
async fn read_stream(
    mut response: reqwest::Response,
    status: u16,
    content_type: String,
    started: Instant,
    on_progress: &mut dyn FnMut(Progress<'_>),
) -> Delivery {
    let streams = is_event_stream(&content_type);
    if status != 200 || !streams {
        let body = response.text().await.unwrap_or_default();
        let mut problems = Vec::new();
        if status != 200 {
            let error_code = error_code_suffix(serde_json::from_str(&body).ok().as_ref());
            problems.push(format!(
                "status {status}{error_code}, but the chat screen accepts only 200"
            ));
        }
        if !streams {
            problems.push(format!(
                "Content-Type {content_type}, but the chat screen needs text/event-stream"
            ));
        }
        return Delivery {
            status: Some(status),
            content_type,
            latency: started.elapsed(),
            reply: None,
            body_start: (!body.is_empty()).then(|| super::output::start_of(&body, 200)),
            events: None,
            verdict: Verdict::Rejected(problems.join("; ")),
        };
    }

    let mut problems = Vec::new();
    let mut parser = SseParser::new();
    let mut reply = String::new();
    let (mut deltas, mut dones, mut first_event) = (0, 0, None);
    // The client's 8 s timeout bounds this loop.
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(error) => {
                problems.push(format!("the stream broke: {}", describe(&error)));
                break;
            }
        };
        for frame in parser.push(&chunk) {
            first_event.get_or_insert_with(|| started.elapsed());
            if dones > 0 {
                problems.push(format!("a {} event after done", frame.event));
                continue;
            }
            match SseEvent::from_parts(&frame.event, &frame.data) {
                Some(SseEvent::Delta(text)) => {
                    deltas += 1;
                    on_progress(Progress::Delta(&text));
                    reply.push_str(&text);
                }
                Some(SseEvent::Done) => dones += 1,
                Some(SseEvent::Error(message)) => {
                    problems.push(format!("an error event: {message:?}"));
                }
                None => problems.push(format!(
                    "an event that is not a delta, done or error of the contract's shape: event {:?} data {:?}",
                    frame.event, frame.data
                )),
            }
        }
    }
    if parser.has_unfinished_event() {
        problems.push("bytes after the last complete event (no blank line after them)".to_owned());
    }
    if dones == 0 {
        problems.push("the stream ended without a done event".to_owned());
    }
    Delivery {
        status: Some(status),
        content_type,
        latency: started.elapsed(),
        reply: Some(reply),
        body_start: None,
        events: Some((deltas, dones, first_event)),
        verdict: if problems.is_empty() {
            Verdict::Accepted
        } else {
            Verdict::Rejected(problems.join("; "))
        },
    }
}

/// Returns the `error` field of a JSON error body after a space, or an empty string.
fn error_code_suffix(json: Option<&Value>) -> String {
    json.and_then(|json| json.get("error"))
        .and_then(Value::as_str)
        .map_or_else(String::new, |code| format!(" {code}"))
}

/// Returns whether a `Content-Type` value announces server-sent events.
fn is_event_stream(content_type: &str) -> bool {
    content_type
        .to_ascii_lowercase()
        .starts_with("text/event-stream")
}

/// Builds the delivery of a request that broke off before a complete response.
fn failed(error: &reqwest::Error, started: Instant) -> Delivery {
    Delivery {
        status: None,
        content_type: "none".to_owned(),
        latency: started.elapsed(),
        reply: None,
        body_start: None,
        events: None,
        verdict: Verdict::Rejected(describe(error)),
    }
}

/// Describes a transport error, naming the 8 s budget on a timeout.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return format!(
            "no complete answer within the platform's {} s timeout",
            PLATFORM_TIMEOUT.as_secs()
        );
    }
    causes(error)
}

/// Returns the innermost cause of `error`, such as `Connection refused (os error 111)`.
fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// Returns the error and its causes, joined with `: `.
fn causes(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
