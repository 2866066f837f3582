//! Runs the suite against a small receiver started inside the test on 127.0.0.1,
//! once as the contract asks and once with each of a few deliberate faults, to show
//! that the suite passes a correct webhook and names the check a faulty one fails.

// The helpers below are test code too: a panic there fails the test with a line
// number. The receiver's error path returns a whole `Response`, as handlers do.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use common::{healthz, not_allowed_get, not_allowed_post, not_found, rejection};
use webhook_contract::{
    Event, JsonReply, Rejection, SIGNATURE_HEADER, Secret, SseEvent, TIMESTAMP_HEADER, Verifier,
    check_content_type, parse_event, reply_chunks, sign,
};
use webhook_probe::{Level, Outcome, Report, Target, run};

const SECRET: &str = "probe-test-secret-3c9e";

/// A deliberate departure from the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    /// Accepts any timestamp, so a captured request could be replayed forever.
    SkipsTimestampWindow,
    /// Checks the signature over the raw bytes only, so every non-ASCII message from
    /// the real platform is rejected.
    VerifiesRawBytesOnly,
    /// Sends a delta after the done event.
    EventAfterDone,
}

#[derive(Clone)]
struct Receiver {
    verifier: Option<Verifier>,
    fault: Fault,
}

async fn start(secret: Option<&str>, fault: Fault) -> String {
    let tolerance = match fault {
        Fault::SkipsTimestampWindow => Duration::from_secs(100 * 365 * 86_400),
        _ => webhook_contract::DEFAULT_TOLERANCE,
    };
    let receiver = Receiver {
        verifier: secret.map(|secret| Verifier::new(Secret::new(secret)).with_tolerance(tolerance)),
        fault,
    };
    let app = Router::new()
        .route("/", post(json_reply).fallback(not_allowed_post))
        .route("/stream", post(stream_reply).fallback(not_allowed_post))
        .route("/healthz", get(healthz).fallback(not_allowed_get))
        .fallback(not_found)
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

fn target(base: &str, secret: Option<&str>) -> Target {
    Target {
        url: format!("{base}/"),
        stream_url: Some(format!("{base}/stream")),
        secret: secret.map(str::to_owned),
    }
}

/// Runs the receiver's pipeline and returns the reply text, or the response to send
/// instead.
fn reply_text(receiver: &Receiver, headers: &HeaderMap, body: &Bytes) -> Result<String, Response> {
    if let Some(verifier) = &receiver.verifier {
        let values = |name: &str| {
            headers
                .get_all(name)
                .iter()
                .map(|value| value.as_bytes())
                .collect::<Vec<_>>()
        };
        verifier
            .verify(values(TIMESTAMP_HEADER), values(SIGNATURE_HEADER), body)
            .map_err(|error| rejection(error.into()))?;
        if receiver.fault == Fault::VerifiesRawBytesOnly {
            let timestamp = headers[TIMESTAMP_HEADER].to_str().unwrap();
            let raw = sign(&Secret::new(SECRET), timestamp, body);
            if headers[SIGNATURE_HEADER].as_bytes() != raw.as_bytes() {
                return Err(rejection(Rejection::from(
                    webhook_contract::VerifyError::Mismatch,
                )));
            }
        }
    }
    check_content_type(
        headers
            .get(header::CONTENT_TYPE)
            .map(|value| value.as_bytes()),
    )
    .map_err(rejection)?;
    match parse_event(body).map_err(|error| rejection(error.into()))? {
        Event::MessageReceived(event) => Ok(format!("Echo: {}", event.message.content)),
        Event::Other(_) => Err(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn json_reply(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    match reply_text(&receiver, &headers, &body) {
        Ok(text) => (
            [(header::CONTENT_TYPE, "application/json")],
            JsonReply::new(text).to_json(),
        )
            .into_response(),
        Err(response) => response,
    }
}

async fn stream_reply(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = match reply_text(&receiver, &headers, &body) {
        Ok(text) => text,
        Err(response) => return response,
    };
    let mut frames: String = reply_chunks(&text)
        .map(|chunk| SseEvent::Delta(chunk.to_owned()).to_frame())
        .collect();
    frames.push_str(&SseEvent::Done.to_frame());
    if receiver.fault == Fault::EventAfterDone {
        frames.push_str(&SseEvent::Delta("late".to_owned()).to_frame());
    }
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        frames,
    )
        .into_response()
}

fn failed_names(report: &Report) -> Vec<&str> {
    report.failures().map(|check| check.name.as_str()).collect()
}

fn outcome(report: &Report, name: &str) -> Outcome {
    report.check(name).unwrap().outcome
}

#[tokio::test]
async fn correct_receiver_passes_reference_level() {
    let base = start(Some(SECRET), Fault::None).await;
    let report = run(&target(&base, Some(SECRET)), Level::Reference).await;

    for check in &report.checks {
        assert_eq!(
            check.outcome,
            Outcome::Pass,
            "{}: {}",
            check.name,
            check.detail
        );
        assert!(check.request.is_some(), "{} records no request", check.name);
    }
    for name in [
        "json_reply",
        "non_ascii_message",
        "legacy_payload",
        "null_customer_id",
        "empty_content",
        "unknown_fields",
        "long_history",
        "missing_signature",
        "wrong_secret",
        "body_changed_after_signing",
        "stale_timestamp",
        "future_timestamp",
        "timestamp_not_a_number",
        "empty_signature",
        "truncated_signature",
        "invalid_json",
        "stream",
        "healthz_get",
        "healthz_head",
        "method_not_allowed_json_url",
        "method_not_allowed_stream_url",
        "method_not_allowed_healthz",
        "not_found",
        "unsupported_media_type",
        "missing_content",
        "content_not_a_string",
        "unsupported_version",
        "other_event",
    ] {
        assert!(report.check(name).is_some(), "no check named {name}");
    }
}

#[tokio::test]
async fn passing_checks_record_answers_and_timings() {
    let base = start(Some(SECRET), Fault::None).await;
    let report = run(&target(&base, Some(SECRET)), Level::Platform).await;

    let reply = report.check("json_reply").unwrap();
    assert_eq!(
        reply.answer.as_ref().unwrap().reply.as_deref(),
        Some("Echo: Hello, can you help me?")
    );
    assert!(reply.latency.is_some());
    assert!(
        reply.detail.starts_with("sent a signed message; got 200"),
        "{}",
        reply.detail
    );

    let stale = report.check("stale_timestamp").unwrap();
    let answer = stale.answer.as_ref().unwrap();
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.error_code.as_deref(),
        Some("timestamp_out_of_tolerance")
    );

    let stream = report.check("stream").unwrap();
    assert!(stream.first_event.is_some());
    assert!(
        stream.detail.contains("first event after"),
        "{}",
        stream.detail
    );
}

#[tokio::test]
async fn unsigned_receiver_skips_signature_checks() {
    let base = start(None, Fault::None).await;
    let report = run(&target(&base, None), Level::Reference).await;

    assert!(report.passed(), "failed: {:?}", failed_names(&report));
    assert_eq!(outcome(&report, "stale_timestamp"), Outcome::Skip);
    assert_eq!(outcome(&report, "missing_signature"), Outcome::Skip);
    assert_eq!(outcome(&report, "json_reply"), Outcome::Pass);
}

#[tokio::test]
async fn skipped_timestamp_window_fails_stale_check() {
    let base = start(Some(SECRET), Fault::SkipsTimestampWindow).await;
    let report = run(&target(&base, Some(SECRET)), Level::Platform).await;

    assert_eq!(
        failed_names(&report),
        ["stale_timestamp", "future_timestamp"]
    );
    let stale = report.check("stale_timestamp").unwrap();
    assert!(
        stale.detail.contains("10 minutes old") && stale.detail.contains("got 200"),
        "{}",
        stale.detail
    );
}

#[tokio::test]
async fn raw_only_verifier_fails_non_ascii_check() {
    let base = start(Some(SECRET), Fault::VerifiesRawBytesOnly).await;
    let report = run(&target(&base, Some(SECRET)), Level::Platform).await;

    // The stream check's message has non-ASCII text too, so its JSON reply fails.
    assert_eq!(failed_names(&report), ["non_ascii_message", "stream"]);
    let check = report.check("non_ascii_message").unwrap();
    assert!(check.detail.contains("got 401"), "{}", check.detail);
}

#[tokio::test]
async fn event_after_done_fails_stream_check() {
    let base = start(Some(SECRET), Fault::EventAfterDone).await;
    let report = run(&target(&base, Some(SECRET)), Level::Reference).await;

    assert_eq!(failed_names(&report), ["stream"]);
    let check = report.check("stream").unwrap();
    assert!(
        check.detail.contains("a delta event after done"),
        "{}",
        check.detail
    );
}

#[tokio::test]
async fn wrong_secret_fails_with_curl() {
    let base = start(Some(SECRET), Fault::None).await;
    let report = run(&target(&base, Some("not-the-secret")), Level::Reference).await;

    let check = report.check("json_reply").unwrap();
    assert_eq!(check.outcome, Outcome::Fail);
    assert!(
        check.detail.contains("expected 200 reply")
            && check.detail.contains("401 signature_mismatch"),
        "{}",
        check.detail
    );
    let curl = check.request.as_ref().unwrap().to_curl();
    assert!(
        curl.starts_with(&format!("curl -sS -i -X 'POST' '{base}/'")),
        "{curl}"
    );
    assert!(curl.contains("-H 'X-Signature: sha256="), "{curl}");
}

#[tokio::test]
async fn unreachable_target_reports_no_answer() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let report = run(&target(&base, Some(SECRET)), Level::Platform).await;

    let check = report.check("json_reply").unwrap();
    assert_eq!(check.outcome, Outcome::Fail);
    assert!(check.detail.contains("got no answer"), "{}", check.detail);
    assert!(check.answer.is_none());
}

const NEVER_PARSED: &str = "the request never reached the JSON parser, so this check says nothing; fix the signature first";

#[tokio::test]
async fn body_checks_fail_on_401_at_platform_level() {
    let base = start(Some(SECRET), Fault::None).await;
    let report = run(&target(&base, Some("not-the-secret")), Level::Platform).await;

    let check = report.check("invalid_json").unwrap();
    assert_eq!(check.outcome, Outcome::Fail);
    assert_eq!(
        check.detail,
        format!(
            "sent a signed body that is not JSON; expected a 4xx, got 401 signature_mismatch: {NEVER_PARSED}"
        )
    );
}

#[tokio::test]
async fn body_checks_fail_on_401_at_reference_level() {
    let base = start(Some(SECRET), Fault::None).await;
    let report = run(&target(&base, None), Level::Reference).await;

    let expected = [
        (
            "invalid_json",
            "an unsigned body that is not JSON",
            "400 invalid_json",
            NEVER_PARSED.to_owned(),
        ),
        (
            "unsupported_media_type",
            "an unsigned message with Content-Type: text/plain",
            "415 unsupported_media_type",
            NEVER_PARSED.replace("the JSON parser", "the Content-Type check"),
        ),
        (
            "missing_content",
            "an unsigned message without message.content",
            "400 invalid_payload",
            NEVER_PARSED.to_owned(),
        ),
        (
            "content_not_a_string",
            "an unsigned message with \"content\":42",
            "400 invalid_payload",
            NEVER_PARSED.to_owned(),
        ),
        (
            "unsupported_version",
            "an unsigned message with \"version\":\"2.0\"",
            "400 unsupported_version",
            NEVER_PARSED.to_owned(),
        ),
    ];
    for (name, sent, expect, reason) in expected {
        let check = report.check(name).unwrap();
        assert_eq!(check.outcome, Outcome::Fail, "{name}");
        assert_eq!(
            check.detail,
            format!("sent {sent}; expected {expect}, got 401 missing_signature: {reason}")
        );
    }
}

#[tokio::test]
async fn wrong_secret_rejects_every_reply_alike() {
    let base = start(Some(SECRET), Fault::None).await;
    let report = run(&target(&base, Some("not-the-secret")), Level::Platform).await;

    let answer = report.rejection_of_every_reply().unwrap();
    assert_eq!(answer.to_string(), "401 signature_mismatch");
    let replies: Vec<&str> = report
        .checks
        .iter()
        .filter(|check| check.expects_reply)
        .map(|check| check.name.as_str())
        .collect();
    assert_eq!(
        replies,
        [
            "json_reply",
            "non_ascii_message",
            "legacy_payload",
            "null_customer_id",
            "empty_content",
            "unknown_fields",
            "long_history",
        ]
    );
}

#[tokio::test]
async fn one_rejected_reply_is_not_a_common_cause() {
    let base = start(Some(SECRET), Fault::VerifiesRawBytesOnly).await;
    let report = run(&target(&base, Some(SECRET)), Level::Platform).await;

    assert!(report.check("non_ascii_message").unwrap().failed());
    assert_eq!(report.rejection_of_every_reply(), None);
}
