//! The streaming checks: the same message to the JSON URL and to the streaming URL,
//! and the stream read event by event as the platform's chat screen reads it.
//!
//! `stream` judges the status, headers and events. `stream_incremental` judges their
//! timing: a stream counts as buffered when its first event took at least
//! [`BUFFERED_FIRST_EVENT`] and every later event arrived within [`BURST`] of the
//! first, so the whole reply appeared at once after a wait. A webhook that streams
//! with no pause between events and answers at once cannot be told apart from one
//! that buffers, and it passes, because the chat screen shows the same thing for both.

use std::time::{Duration, Instant};

use reqwest::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE};
use webhook_contract::SseEvent;

use super::{Prepared, Signing, Suite, build, describe_error, header_text, send};
use crate::Level;
use crate::report::{Answer, Check, Outcome};
use crate::sse::SseParser;

const NAME: &str = "stream";
const INCREMENTAL_NAME: &str = "stream_incremental";

/// A first event later than this, followed by the rest in one burst, marks a buffered
/// stream. The suite's reply has nine chunks, so a buffering webhook that spends 20 ms
/// on each holds its first event back longer than this.
const BUFFERED_FIRST_EVENT: Duration = Duration::from_millis(150);

/// Events that arrive closer together than this after the first came in one burst.
const BURST: Duration = Duration::from_millis(15);

/// The events a stream delivered, and the framing problems found in it.
#[derive(Debug, Default)]
struct StreamRead {
    deltas: Vec<String>,
    done_count: usize,
    first_event: Option<Duration>,
    last_event: Option<Duration>,
    problems: Vec<String>,
}

impl Suite {
    pub(super) async fn run_stream_check(&mut self) {
        let Some(stream_url) = self.target.stream_url.clone() else {
            for name in [NAME, INCREMENTAL_NAME] {
                self.checks
                    .push(Check::new(name, Outcome::Skip, "no streaming URL given"));
            }
            return;
        };
        let content = "Stream this reply, word by word: café ☕.";
        let body = self.payloads.message(content).to_json();
        let sent =
            self.describe_sent("the same signed message to the JSON URL and the streaming URL");

        // The deltas must join to the JSON reply for the same message, so that reply
        // comes first.
        let json_request =
            self.signed_post(&self.target.url.clone(), body.clone(), &Signing::platform());
        let json_reply = match send(&self.client, &json_request.request).await {
            Ok(exchange) if exchange.status == 200 => super::answer_of(&exchange).reply,
            _ => None,
        };
        let Some(json_reply) = json_reply else {
            let mut check = Check::new(
                NAME,
                Outcome::Fail,
                format!("sent {sent}; the JSON URL gave no 200 reply to compare the stream with"),
            );
            check.request = Some(json_request.request);
            check.signing = json_request.signing;
            self.checks.push(check);
            self.skip_incremental();
            return;
        };

        let Prepared { request, signing } =
            self.signed_post(&stream_url, body, &Signing::platform());
        let mut check = Check::new(NAME, Outcome::Fail, String::new());
        check.signing = signing;
        let started = Instant::now();
        let response = match build(&self.client, &request) {
            Ok(builder) => builder.send().await.map_err(|error| describe_error(&error)),
            Err(error) => Err(error),
        };
        let mut response = match response {
            Ok(response) => response,
            Err(error) => {
                check.detail =
                    format!("sent {sent}; expected a 200 event stream, got no answer: {error}");
                check.request = Some(request);
                self.checks.push(check);
                self.skip_incremental();
                return;
            }
        };

        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut problems = Vec::new();
        if status != 200 {
            problems.push(format!("status {status}, not 200"));
        }
        let content_type = header_text(&headers, CONTENT_TYPE.as_str()).unwrap_or("none");
        if !content_type
            .to_ascii_lowercase()
            .starts_with("text/event-stream")
        {
            problems.push(format!(
                "Content-Type {content_type}, not text/event-stream"
            ));
        }
        if let Some(encoding) = header_text(&headers, CONTENT_ENCODING.as_str()) {
            problems.push(format!(
                "Content-Encoding {encoding}: the platform forwards the bytes unchanged, so the stream must not be compressed"
            ));
        }
        if self.level == Level::Reference {
            let cache = header_text(&headers, CACHE_CONTROL.as_str()).unwrap_or("none");
            if !cache.contains("no-cache") {
                problems.push(format!("Cache-Control {cache}, not no-cache"));
            }
            let buffering = header_text(&headers, "x-accel-buffering").unwrap_or("none");
            if buffering != "no" {
                problems.push(format!("X-Accel-Buffering {buffering}, not no"));
            }
        }

        let mut read = StreamRead::default();
        if status == 200 {
            read = read_stream(&mut response, started).await;
        }
        let latency = started.elapsed();
        let joined: String = read.deltas.concat();
        problems.append(&mut read.problems);
        if status == 200 {
            if read.deltas.is_empty() {
                problems.push("no delta event".to_owned());
            }
            if read.done_count != 1 {
                problems.push(format!("{} done events, not exactly one", read.done_count));
            }
            if joined != json_reply {
                problems.push(format!(
                    "the deltas join to {joined:?}, but the JSON reply is {json_reply:?}"
                ));
            }
        }

        let first_event = read
            .first_event
            .map(|elapsed| format!("{:.1} ms", elapsed.as_secs_f64() * 1000.0))
            .unwrap_or_else(|| "never".to_owned());
        let got = format!(
            "{status} {content_type}, {} deltas joining to {joined:?}, {} done, first event after {first_event}, end after {:.1} ms",
            read.deltas.len(),
            read.done_count,
            latency.as_secs_f64() * 1000.0,
        );
        if problems.is_empty() {
            check.outcome = Outcome::Pass;
            check.detail = format!("sent {sent}; got {got}");
        } else {
            check.detail = format!("sent {sent}; got {got}: {}", problems.join("; "));
        }
        check.latency = Some(latency);
        check.first_event = read.first_event;
        check.answer = Some(Answer {
            status,
            error_code: None,
            reply: (status == 200).then_some(joined),
        });
        check.request = Some(request);
        let sent = self.describe_sent("the signed message to the streaming URL");
        let incremental = judge_timing(&read, status, &check, &sent);
        self.checks.push(check);
        self.checks.push(incremental);
    }

    fn skip_incremental(&mut self) {
        self.checks.push(Check::new(
            INCREMENTAL_NAME,
            Outcome::Skip,
            "needs a 200 stream, which the stream check did not get",
        ));
    }
}

/// Judges whether the events of `read` arrived one by one; see the module docs.
fn judge_timing(read: &StreamRead, status: u16, stream_check: &Check, sent: &str) -> Check {
    let millis = |duration: Duration| duration.as_secs_f64() * 1000.0;
    let (Some(first), Some(last)) = (read.first_event, read.last_event) else {
        return Check::new(
            INCREMENTAL_NAME,
            Outcome::Skip,
            format!("needs a 200 stream with events, got status {status} and no event"),
        );
    };
    if read.deltas.len() < 2 {
        return Check::new(
            INCREMENTAL_NAME,
            Outcome::Skip,
            format!(
                "needs at least two delta events to time, got {}",
                read.deltas.len()
            ),
        );
    }
    let spread = last.saturating_sub(first);
    let events = read.deltas.len() + read.done_count;
    let mut check = if first >= BUFFERED_FIRST_EVENT && spread < BURST {
        Check::new(
            INCREMENTAL_NAME,
            Outcome::Fail,
            format!(
                "sent {sent}; the first event came after {:.1} ms and all {events} events within {:.1} ms of it: the reply was held back and sent at once, so the chat screen shows nothing until it is complete (write and flush each event as soon as it is ready, and turn off proxy buffering with X-Accel-Buffering: no)",
                millis(first),
                millis(spread),
            ),
        )
    } else {
        Check::new(
            INCREMENTAL_NAME,
            Outcome::Pass,
            format!(
                "sent {sent}; got {events} events over {:.1} ms, the first after {:.1} ms",
                millis(spread),
                millis(first),
            ),
        )
    };
    check.latency = stream_check.latency;
    check.first_event = Some(first);
    check.request = stream_check.request.clone();
    check.signing = stream_check.signing.clone();
    check
}

/// Reads the stream to its end (or to the platform's timeout) and collects what
/// arrived, with a problem for each event that breaks the framing rules.
async fn read_stream(response: &mut reqwest::Response, started: Instant) -> StreamRead {
    let mut read = StreamRead::default();
    let mut parser = SseParser::new();
    // The client's timeout bounds the whole request, so this loop ends within 8 s.
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(error) => {
                read.problems
                    .push(format!("the stream broke: {}", describe_error(&error)));
                break;
            }
        };
        for frame in parser.push(&chunk) {
            let arrived = started.elapsed();
            read.first_event.get_or_insert(arrived);
            read.last_event = Some(arrived);
            if read.done_count > 0 {
                read.problems
                    .push(format!("a {} event after done", frame.event));
                continue;
            }
            match SseEvent::from_parts(&frame.event, &frame.data) {
                Some(SseEvent::Delta(text)) => read.deltas.push(text),
                Some(SseEvent::Done) => read.done_count += 1,
                Some(SseEvent::Error(message)) => {
                    read.problems.push(format!("an error event: {message:?}"));
                }
                None => read.problems.push(format!(
                    "an event that is not a delta, done or error of the contract's shape: event {:?} data {:?}",
                    frame.event, frame.data
                )),
            }
        }
    }
    if parser.has_unfinished_event() {
        read.problems
            .push("bytes after the last complete event (no blank line after them)".to_owned());
    }
    read
}
