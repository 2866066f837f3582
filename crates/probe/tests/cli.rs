//! Runs the `webhook-probe` binary against small receivers started inside the test on
//! 127.0.0.1: one that follows the contract and one for each of a few faults, and
//! checks the exit codes and the exact output of every subcommand.

// Test code: a panic is a test failure with a line number. The receiver's error path
// returns a whole `Response`, as handlers do.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assert_cmd::Command;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use predicates::str::contains;
use serde_json::Value;

use common::{healthz, not_allowed_get, not_allowed_post, not_found, rejection};
use webhook_contract::{
    Event, JsonReply, Rejection, SIGNATURE_HEADER, Secret, SseEvent, TIMESTAMP_HEADER, Verifier,
    VerifyError, check_content_type, parse_event, reply_chunks, sign, sign_escaped,
};

const SECRET: &str = "cli-test-secret-7e1d";

/// The secret, timestamp and body of the worked signing example of the contract.
const VECTOR_SECRET: &str = "7d5e3c1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d";
const VECTOR_TIMESTAMP: &str = "1796400000";
const VECTOR_BODY: &str = r#"{"version":"1.0","event":"message_received","app":{"id":"app-1","name":"Café bot"},"thread":{"id":"thread-1","customer_id":null},"message":{"id":"msg-1","seq":3,"role":"user","content":"Hola, ¿qué tal? ☕ 😀","content_json":{}},"history_tail":[],"timestamp":"2026-12-04T12:00:00.000000+00:00"}"#;
const VECTOR_ESCAPED: &str =
    "sha256=58764eddad0c38e90e2f16b508374d9eaf6df642190fbfc157a5f690080d87c1";
const VECTOR_RAW: &str = "sha256=b864598cad42de684537b3283b5362c4791bab6a7976336613271a63e4426c22";

/// Pause between the events of a streaming receiver, and per chunk in a buffering
/// receiver.
const CHUNK_DELAY: Duration = Duration::from_millis(30);

/// A deliberate departure from the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    /// Skips verification when both signature headers are absent.
    AcceptsUnsigned,
    /// Accepts any timestamp, so a captured request replays forever.
    NoTimestampWindow,
    /// Replies to a message with status 201 instead of 200.
    Answers201,
    /// Waits until the whole reply is ready, then sends every event at once.
    BuffersStream,
    /// Ends the stream without a done event.
    NeverSendsDone,
}

#[derive(Clone)]
struct Receiver {
    verifier: Verifier,
    fault: Fault,
    received: Arc<Mutex<Vec<Value>>>,
}

struct TestServer {
    base: String,
    received: Arc<Mutex<Vec<Value>>>,
}

/// Starts a receiver with `fault` on its own thread and runtime, so that the test
/// can run the binary with blocking calls.
fn start(fault: Fault) -> TestServer {
    let tolerance = match fault {
        Fault::NoTimestampWindow => Duration::from_secs(100 * 365 * 86_400),
        _ => webhook_contract::DEFAULT_TOLERANCE,
    };
    let received = Arc::new(Mutex::new(Vec::new()));
    let receiver = Receiver {
        verifier: Verifier::new(Secret::new(SECRET)).with_tolerance(tolerance),
        fault,
        received: Arc::clone(&received),
    };
    let app = Router::new()
        .route("/", post(json_reply).fallback(not_allowed_post))
        .route("/stream", post(stream_reply).fallback(not_allowed_post))
        .route("/healthz", get(healthz).fallback(not_allowed_get))
        .fallback(not_found)
        .with_state(receiver);

    let (sender, addresses) = std::sync::mpsc::channel::<SocketAddr>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            sender.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let address = addresses.recv().unwrap();
    TestServer {
        base: format!("http://{address}"),
        received,
    }
}

/// Runs the receiver's pipeline and returns the reply text, or the response to send
/// instead.
fn reply_text(receiver: &Receiver, headers: &HeaderMap, body: &Bytes) -> Result<String, Response> {
    let unsigned =
        !headers.contains_key(TIMESTAMP_HEADER) && !headers.contains_key(SIGNATURE_HEADER);
    if !(receiver.fault == Fault::AcceptsUnsigned && unsigned) {
        let values = |name: &str| {
            headers
                .get_all(name)
                .iter()
                .map(|value| value.as_bytes())
                .collect::<Vec<_>>()
        };
        receiver
            .verifier
            .verify(values(TIMESTAMP_HEADER), values(SIGNATURE_HEADER), body)
            .map_err(|error| rejection(error.into()))?;
    }
    check_content_type(
        headers
            .get(header::CONTENT_TYPE)
            .map(|value| value.as_bytes()),
    )
    .map_err(rejection)?;
    let event = parse_event(body).map_err(|error| rejection(error.into()))?;
    receiver
        .received
        .lock()
        .unwrap()
        .push(serde_json::from_slice(body).unwrap());
    match event {
        Event::MessageReceived(event) => Ok(format!("Echo: {}", event.message.content)),
        Event::Other(_) => Err(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn json_reply(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let text = match reply_text(&receiver, &headers, &body) {
        Ok(text) => text,
        Err(response) => return response,
    };
    let status = if receiver.fault == Fault::Answers201 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        JsonReply::new(text).to_json(),
    )
        .into_response()
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
    let mut frames: Vec<String> = reply_chunks(&text)
        .map(|chunk| SseEvent::Delta(chunk.to_owned()).to_frame())
        .collect();
    if receiver.fault != Fault::NeverSendsDone {
        frames.push(SseEvent::Done.to_frame());
    }

    let body = if receiver.fault == Fault::BuffersStream {
        let chunks = u32::try_from(frames.len()).unwrap();
        tokio::time::sleep(CHUNK_DELAY * chunks).await;
        Body::from(frames.concat())
    } else {
        let events = futures_util::stream::unfold((frames, 0), |(frames, index)| async move {
            let frame = frames.get(index)?.clone();
            if index > 0 {
                tokio::time::sleep(CHUNK_DELAY).await;
            }
            Some((Ok::<_, Infallible>(frame), (frames, index + 1)))
        });
        Body::from_stream(events)
    };
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response()
}

/// Builds a command for the binary that inherits no secret and no colour settings
/// from the test's environment.
fn probe() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_webhook-probe"));
    for variable in [
        "WEBHOOK_SECRET",
        "WEBHOOK_SECRET_PREVIOUS",
        "CLICOLOR_FORCE",
        "NO_COLOR",
    ] {
        command.env_remove(variable);
    }
    command.timeout(Duration::from_secs(120));
    command
}

fn signed_probe() -> Command {
    let mut command = probe();
    command.env("WEBHOOK_SECRET", SECRET);
    command
}

fn stdout_of(command: &mut Command, code: i32) -> String {
    let output = command.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Replaces every number directly before ` ms` with `N`, so latencies compare.
fn without_timings(text: &str) -> String {
    text.lines()
        .map(|line| {
            let words: Vec<&str> = line.split(' ').collect();
            let mut kept = Vec::with_capacity(words.len());
            for (index, word) in words.iter().enumerate() {
                let before_ms = words
                    .get(index + 1)
                    .is_some_and(|next| next.starts_with("ms"));
                if before_ms && word.parse::<f64>().is_ok() {
                    kept.push("N");
                } else {
                    kept.push(word);
                }
            }
            kept.join(" ") + "\n"
        })
        .collect()
}

/// Runs `check` with JSON output and returns the exit code and the report.
fn check_json(server: &TestServer, level: &str) -> (i32, Value) {
    let output = signed_probe()
        .args(["check", &format!("{}/", server.base)])
        .args(["--stream-url", &format!("{}/stream", server.base)])
        .args(["--level", level, "--format", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "{error}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap(), report)
}

fn failed_names(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|check| check["outcome"] == "fail")
        .map(|check| check["name"].as_str().unwrap().to_owned())
        .collect()
}

fn check_named<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == name)
        .unwrap_or_else(|| panic!("no check named {name}"))
}

// ---- check ----

#[test]
fn check_passes_correct_receiver() {
    let server = start(Fault::None);
    let (code, report) = check_json(&server, "reference");
    assert_eq!(failed_names(&report), Vec::<String>::new());
    assert_eq!(code, 0);
    assert_eq!(report["passed"], true);
    assert_eq!(report["counts"]["skip"], 0);
    assert_eq!(
        check_named(&report, "stream_incremental")["outcome"],
        "pass"
    );
}

#[test]
fn check_text_lists_every_check() {
    let server = start(Fault::None);
    let stdout = stdout_of(
        signed_probe()
            .args(["check", &format!("{}/", server.base)])
            .args(["--stream-url", &format!("{}/stream", server.base)]),
        0,
    );
    let first = format!(
        "Checked {0}/ and streaming URL {0}/stream at the platform level, signed with WEBHOOK_SECRET.\n\n",
        server.base
    );
    assert!(stdout.starts_with(&first), "{stdout}");
    assert!(stdout.contains("\nPASS  json_reply  "), "{stdout}");
    assert!(stdout.contains("\nPASS  stale_timestamp  "), "{stdout}");
    assert!(
        stdout.ends_with("\n\n18 passed, 0 failed, 0 skipped: the webhook passed.\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\u{1b}'),
        "piped output has no colour codes"
    );
}

#[test]
fn check_fails_receiver_accepting_unsigned() {
    let server = start(Fault::AcceptsUnsigned);
    let (code, report) = check_json(&server, "reference");
    assert_eq!(failed_names(&report), ["missing_signature"]);
    assert_eq!(code, 1);
    let detail = check_named(&report, "missing_signature")["detail"]
        .as_str()
        .unwrap();
    assert!(detail.contains("got 200"), "{detail}");
}

#[test]
fn check_fails_receiver_without_window() {
    let server = start(Fault::NoTimestampWindow);
    let (code, report) = check_json(&server, "platform");
    assert_eq!(
        failed_names(&report),
        ["stale_timestamp", "future_timestamp"]
    );
    assert_eq!(code, 1);
    let reproduce = check_named(&report, "stale_timestamp")["reproduce"]
        .as_str()
        .unwrap();
    assert!(
        reproduce.contains("ts=$(( $(date +%s) - 600 ))"),
        "{reproduce}"
    );
    assert!(
        reproduce.contains(r#"-hmac "$WEBHOOK_SECRET""#),
        "{reproduce}"
    );
    assert!(!reproduce.contains(SECRET), "{reproduce}");
}

#[test]
fn check_reproduction_runs_in_shell() {
    let tools = ["bash", "curl", "openssl"];
    let missing: Vec<&str> = tools
        .into_iter()
        .filter(|tool| {
            std::process::Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map(|output| !output.status.success())
                .unwrap_or(true)
        })
        .collect();
    if !missing.is_empty() {
        eprintln!("NOTE: skipped, because {missing:?} are not installed");
        return;
    }
    let server = start(Fault::NoTimestampWindow);
    let (_, report) = check_json(&server, "platform");
    let reproduce = check_named(&report, "stale_timestamp")["reproduce"]
        .as_str()
        .unwrap();
    let output = std::process::Command::new("bash")
        .args(["-c", reproduce])
        .env("WEBHOOK_SECRET", SECRET)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The receiver has no window, so it accepts the replayed request like a fresh one.
    assert!(stdout.starts_with("HTTP/1.1 200 OK"), "{stdout}");
    assert!(stdout.contains(r#"{"reply":"Echo: replayed"}"#), "{stdout}");
}

#[test]
fn check_fails_receiver_answering_201() {
    let server = start(Fault::Answers201);
    let (code, report) = check_json(&server, "reference");
    assert_eq!(
        failed_names(&report),
        [
            "json_reply",
            "non_ascii_message",
            "legacy_payload",
            "null_customer_id",
            "empty_content",
            "unknown_fields",
            "long_history",
            "stream",
        ]
    );
    assert_eq!(code, 1);
    let detail = check_named(&report, "json_reply")["detail"]
        .as_str()
        .unwrap();
    assert!(
        detail.contains("got 201") && detail.contains("the platform accepts only status 200"),
        "{detail}"
    );
    assert_eq!(
        check_named(&report, "stream_incremental")["outcome"],
        "skip"
    );
}

#[test]
fn check_fails_buffered_stream() {
    let server = start(Fault::BuffersStream);
    let (code, report) = check_json(&server, "reference");
    assert_eq!(failed_names(&report), ["stream_incremental"]);
    assert_eq!(code, 1);
    assert_eq!(check_named(&report, "stream")["outcome"], "pass");
    let detail = check_named(&report, "stream_incremental")["detail"]
        .as_str()
        .unwrap();
    assert!(detail.contains("sent at once"), "{detail}");
}

#[test]
fn check_fails_stream_without_done() {
    let server = start(Fault::NeverSendsDone);
    let (code, report) = check_json(&server, "reference");
    assert_eq!(failed_names(&report), ["stream"]);
    assert_eq!(code, 1);
    let detail = check_named(&report, "stream")["detail"].as_str().unwrap();
    assert!(
        detail.contains("0 done events, not exactly one"),
        "{detail}"
    );
}

#[test]
fn check_text_shows_failure_and_reproduction() {
    let server = start(Fault::NoTimestampWindow);
    let stdout = stdout_of(
        signed_probe().args(["check", &format!("{}/", server.base)]),
        1,
    );
    assert!(stdout.contains("\nFAIL  stale_timestamp  "), "{stdout}");
    assert!(
        stdout.contains("\nFAIL stale_timestamp: sent a message signed with a timestamp 10 minutes old; expected a 4xx, got 200"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n  reproduce it (needs WEBHOOK_SECRET and openssl):\n    body='{"),
        "{stdout}"
    );
    assert!(stdout.contains("\n    curl -sS -i -X 'POST' "), "{stdout}");
    assert!(!stdout.contains(SECRET), "the secret leaked:\n{stdout}");
    assert!(
        stdout.ends_with("\n\n14 passed, 2 failed, 2 skipped: the webhook failed.\n"),
        "{stdout}"
    );
}

#[test]
fn check_junit_marks_failures() {
    let server = start(Fault::NeverSendsDone);
    let stdout = stdout_of(
        signed_probe()
            .args(["check", &format!("{}/", server.base)])
            .args(["--stream-url", &format!("{}/stream", server.base)])
            .args(["--format", "junit"]),
        1,
    );
    assert!(stdout.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"webhook-probe\" tests=\"18\" failures=\"1\" errors=\"0\" skipped=\"0\""), "{stdout}");
    assert!(
        stdout.contains("<testcase name=\"stream\" classname=\"webhook-probe.platform\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("<failure message=\"sent the same signed message"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("<failure ").count(), 1, "{stdout}");
}

#[test]
fn check_without_secret_skips_signature_checks() {
    let server = start(Fault::AcceptsUnsigned);
    let stdout = stdout_of(probe().args(["check", &format!("{}/", server.base)]), 0);
    assert!(
        stdout.contains("unsigned, because WEBHOOK_SECRET is not set"),
        "{stdout}"
    );
    assert!(stdout.contains("\nSKIP  missing_signature  "), "{stdout}");
}

/// Formats rows of the `check` table as the binary prints them, latencies as `N`.
fn table(rows: &[(&str, &str, &str)]) -> String {
    let width = rows.iter().map(|(_, name, _)| name.len()).max().unwrap();
    rows.iter()
        .map(|(mark, name, detail)| format!("{mark}  {name:<width$}  {detail}\n"))
        .collect()
}

/// Returns the text before the first failure section of a `check` report.
fn before_failures(stdout: &str) -> &str {
    // A table row has two spaces after FAIL, the heading of a failure section one.
    let (end, _) = stdout
        .match_indices("\n\nFAIL ")
        .find(|(index, found)| !stdout[index + found.len()..].starts_with(' '))
        .unwrap();
    &stdout[..end + 1]
}

const EXPECTED_REPLY: &str = "expected 200 with a JSON string \"reply\"";

/// The rows of the checks that expect a reply, each answered with `got`.
fn reply_rows(signed: bool, got: &str) -> Vec<(&'static str, &'static str, String)> {
    let first = if signed {
        "a signed message"
    } else {
        "an unsigned message"
    };
    let non_ascii = if signed {
        "a non-ASCII message signed over its escaped form"
    } else {
        "a non-ASCII message, unsigned"
    };
    [
        ("json_reply", first),
        ("non_ascii_message", non_ascii),
        (
            "legacy_payload",
            "a message with only message.content and no history_tail",
        ),
        ("null_customer_id", "a message with \"customer_id\":null"),
        ("empty_content", "a message with empty content"),
        (
            "unknown_fields",
            "a message with fields the contract does not define",
        ),
        (
            "long_history",
            "a message with 10 history entries of 4 KB each",
        ),
    ]
    .into_iter()
    .map(|(name, sent)| {
        (
            "FAIL",
            name,
            format!(
                "sent {sent}; {EXPECTED_REPLY}, got {got} in N ms (the platform accepts only status 200)"
            ),
        )
    })
    .collect()
}

#[test]
fn check_wrong_secret_names_the_cause() {
    let server = start(Fault::None);
    let stdout = stdout_of(
        probe()
            .env("WEBHOOK_SECRET", "not-the-secret")
            .args(["check", &format!("{}/", server.base)]),
        1,
    );
    let mut rows = reply_rows(true, "401 signature_mismatch");
    let passes = [
        (
            "missing_signature",
            "a message without X-Timestamp and X-Signature; got 401 missing_signature",
        ),
        (
            "wrong_secret",
            "a message signed with another secret; got 401 signature_mismatch",
        ),
        (
            "body_changed_after_signing",
            "a message whose content changed after signing; got 401 signature_mismatch",
        ),
        (
            "stale_timestamp",
            "a message signed with a timestamp 10 minutes old; got 401 timestamp_out_of_tolerance",
        ),
        (
            "future_timestamp",
            "a message signed with a timestamp 10 minutes ahead; got 401 timestamp_out_of_tolerance",
        ),
        (
            "timestamp_not_a_number",
            "X-Timestamp as an HTTP date, signed over that value; got 401 malformed_timestamp",
        ),
        (
            "empty_signature",
            "X-Signature: sha256= with no digest; got 401 malformed_signature",
        ),
        (
            "truncated_signature",
            "X-Signature with the last 8 hex digits cut off; got 401 malformed_signature",
        ),
    ];
    for (name, detail) in passes {
        rows.push(("PASS", name, format!("sent {detail} in N ms")));
    }
    rows.push((
        "FAIL",
        "invalid_json",
        "sent a signed body that is not JSON; expected a 4xx, got 401 signature_mismatch: the request never reached the JSON parser, so this check says nothing; fix the signature first".to_owned(),
    ));
    for name in ["stream", "stream_incremental"] {
        rows.push(("SKIP", name, "no streaming URL given".to_owned()));
    }
    let rows: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|(mark, name, detail)| (*mark, *name, detail.as_str()))
        .collect();
    assert_eq!(
        without_timings(before_failures(&stdout)),
        format!(
            "Checked {}/ and no streaming URL at the platform level, signed with WEBHOOK_SECRET.\n\n{}\n\
             Every signed request was rejected with 401 signature_mismatch: the webhook's secret differs from WEBHOOK_SECRET (check both for surrounding whitespace), or it verifies other bytes than it receives; `webhook-probe explain` shows which step fails.\n",
            server.base,
            table(&rows)
        )
    );
    assert!(
        stdout.ends_with("\n\n8 passed, 8 failed, 2 skipped: the webhook failed.\n"),
        "{stdout}"
    );
}

#[test]
fn check_rebuilds_long_body_in_reproduction() {
    let server = start(Fault::None);
    let output = probe()
        .env("WEBHOOK_SECRET", "not-the-secret")
        .args(["check", &format!("{}/", server.base), "--format", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["diagnosis"],
        "Every signed request was rejected with 401 signature_mismatch: the webhook's secret differs from WEBHOOK_SECRET (check both for surrounding whitespace), or it verifies other bytes than it receives; `webhook-probe explain` shows which step fails."
    );
    let reproduce = check_named(&report, "long_history")["reproduce"]
        .as_str()
        .unwrap();
    assert!(reproduce.len() < 3000, "{reproduce}");
    let lines: Vec<&str> = reproduce.lines().collect();
    assert_eq!(lines[..2], ["body_file=$(mktemp)", "{"]);
    let repeats = lines
        .iter()
        .filter(|line| **line == "  printf ' lorem ipsum%.0s' $(seq 341)")
        .count();
    assert_eq!(repeats, 10, "{reproduce}");
    let tail = &lines[lines.len() - 5..];
    assert_eq!(
        tail[..3],
        [
            r#"} > "$body_file""#,
            "ts=$(date +%s)",
            r#"sig=$({ printf '%s.' "$ts"; cat "$body_file"; } | openssl dgst -sha256 -hmac "$WEBHOOK_SECRET" -r | cut -c1-64)"#,
        ]
    );
    assert!(
        tail[3].starts_with(&format!("curl -sS -i -X 'POST' '{}/' ", server.base))
            && tail[3].ends_with(r#" --data-binary @"$body_file""#),
        "{}",
        tail[3]
    );
    assert_eq!(tail[4], r#"rm -f "$body_file""#);
}

#[test]
fn check_long_body_reproduction_runs_in_shell() {
    let missing: Vec<&str> = ["bash", "curl", "openssl", "mktemp", "seq"]
        .into_iter()
        .filter(|tool| {
            std::process::Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map(|output| !output.status.success())
                .unwrap_or(true)
        })
        .collect();
    if !missing.is_empty() {
        eprintln!("NOTE: skipped, because {missing:?} are not installed");
        return;
    }
    let server = start(Fault::None);
    let output = probe()
        .env("WEBHOOK_SECRET", "not-the-secret")
        .args(["check", &format!("{}/", server.base), "--format", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let reproduce = check_named(&report, "long_history")["reproduce"]
        .as_str()
        .unwrap();
    // With the receiver's own secret, the rebuilt body passes verification and parsing.
    let output = std::process::Command::new("bash")
        .args(["-c", reproduce])
        .env("WEBHOOK_SECRET", SECRET)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("HTTP/1.1 200 OK"), "{stdout}");
    assert!(
        stdout.contains(r#"{"reply":"Echo: long history"}"#),
        "{stdout}"
    );
    let received = server.received.lock().unwrap();
    let history = received[0]["history_tail"].as_array().unwrap();
    let expected = format!("0 {}", "lorem ipsum ".repeat(341));
    assert_eq!(history[0]["content"], expected.as_str());
}

#[test]
fn check_without_secret_against_signed_receiver() {
    let server = start(Fault::None);
    let stdout = stdout_of(probe().args(["check", &format!("{}/", server.base)]), 1);
    let mut rows = reply_rows(false, "401 missing_signature");
    for name in [
        "missing_signature",
        "wrong_secret",
        "body_changed_after_signing",
        "stale_timestamp",
        "future_timestamp",
        "timestamp_not_a_number",
        "empty_signature",
        "truncated_signature",
    ] {
        rows.push((
            "SKIP",
            name,
            "no secret given, so the webhook is not expected to check signatures".to_owned(),
        ));
    }
    rows.push((
        "FAIL",
        "invalid_json",
        "sent an unsigned body that is not JSON; expected a 4xx, got 401 missing_signature: the request never reached the JSON parser, so this check says nothing; fix the signature first".to_owned(),
    ));
    for name in ["stream", "stream_incremental"] {
        rows.push(("SKIP", name, "no streaming URL given".to_owned()));
    }
    let rows: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|(mark, name, detail)| (*mark, *name, detail.as_str()))
        .collect();
    assert_eq!(
        without_timings(before_failures(&stdout)),
        format!(
            "Checked {}/ and no streaming URL at the platform level, unsigned, because WEBHOOK_SECRET is not set.\n\
             The signature checks are skipped; set WEBHOOK_SECRET to the App's secret to run them.\n\n{}\n\
             The webhook requires signatures: export WEBHOOK_SECRET with the App's secret and run again.\n",
            server.base,
            table(&rows)
        )
    );
    // Every failure has lines that send its request again, without signature headers.
    let headings = stdout.matches("\n  reproduce it:\n").count();
    assert_eq!(headings, 8, "{stdout}");
    let curl_lines = stdout
        .lines()
        .filter(|line| line.starts_with(&format!("    curl -sS -i -X 'POST' '{}/' ", server.base)))
        .count();
    assert_eq!(curl_lines, 8, "{stdout}");
    assert!(!stdout.contains("X-Signature"), "{stdout}");
    assert!(!stdout.contains("(needs WEBHOOK_SECRET"), "{stdout}");
}

#[test]
fn check_unreachable_webhook_exits_2() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    signed_probe()
        .args(["check", &url])
        .assert()
        .code(2)
        .stdout("")
        .stderr(contains(format!("error: cannot connect to {url}")));
}

// ---- send ----

#[test]
fn send_prints_accepted_reply() {
    let server = start(Fault::None);
    let stdout = stdout_of(
        signed_probe().args([
            "send",
            &format!("{}/", server.base),
            "--message",
            "hi there",
        ]),
        0,
    );
    assert_eq!(
        without_timings(&stdout),
        format!(
            "sent     POST {}/ (signed with WEBHOOK_SECRET)\n\
             message  hi there\n\
             status   200 application/json\n\
             latency  N ms\n\
             reply    Echo: hi there\n\
             verdict  accepted\n",
            server.base
        )
    );
}

#[test]
fn send_signs_non_ascii_as_platform() {
    let server = start(Fault::None);
    let stdout = stdout_of(
        signed_probe().args([
            "send",
            &format!("{}/", server.base),
            "--message",
            "Grüße ☕ 😀",
        ]),
        0,
    );
    assert!(
        stdout.contains("\nreply    Echo: Grüße ☕ 😀\n"),
        "{stdout}"
    );
    let received = server.received.lock().unwrap();
    assert_eq!(received[0]["message"]["content"], "Grüße ☕ 😀");
}

#[test]
fn send_streams_deltas() {
    let server = start(Fault::None);
    let stdout = stdout_of(
        signed_probe().args([
            "send",
            &format!("{}/stream", server.base),
            "--message",
            "hi there",
            "--stream",
        ]),
        0,
    );
    assert_eq!(
        without_timings(&stdout),
        format!(
            "sent     POST {}/stream (signed with WEBHOOK_SECRET)\n\
             message  hi there\n\
             status   200 text/event-stream\n\
             reply    Echo: hi there\n\
             events   3 deltas, 1 done, the first after N ms\n\
             latency  N ms\n\
             verdict  accepted\n",
            server.base
        )
    );
}

#[test]
fn send_rejects_status_201() {
    let server = start(Fault::Answers201);
    let stdout = stdout_of(
        signed_probe().args(["send", &format!("{}/", server.base), "--message", "hi"]),
        1,
    );
    assert_eq!(
        without_timings(&stdout),
        format!(
            "sent     POST {}/ (signed with WEBHOOK_SECRET)\n\
             message  hi\n\
             status   201 application/json\n\
             latency  N ms\n\
             body     {{\"reply\":\"Echo: hi\"}}\n\
             verdict  rejected: status 201, but the platform accepts only 200\n",
            server.base
        )
    );
}

#[test]
fn send_rejects_stream_without_done() {
    let server = start(Fault::NeverSendsDone);
    let stdout = stdout_of(
        signed_probe().args([
            "send",
            &format!("{}/stream", server.base),
            "--message",
            "hi",
            "--stream",
        ]),
        1,
    );
    assert!(stdout.contains("\nreply    Echo: hi\n"), "{stdout}");
    assert!(
        stdout.ends_with("verdict  rejected: the stream ended without a done event\n"),
        "{stdout}"
    );
}

#[test]
fn send_rejects_json_from_stream_url() {
    let server = start(Fault::None);
    let stdout = stdout_of(
        signed_probe().args(["send", &format!("{}/", server.base), "--stream"]),
        1,
    );
    assert!(
        stdout.ends_with("verdict  rejected: Content-Type application/json, but the chat screen needs text/event-stream\n"),
        "{stdout}"
    );
}

#[test]
fn send_to_stream_url_without_flag_hints() {
    let server = start(Fault::None);
    let stdout = stdout_of(
        signed_probe().args([
            "send",
            &format!("{}/stream", server.base),
            "--message",
            "hi",
        ]),
        1,
    );
    let mut events: String = reply_chunks("Echo: hi")
        .map(|chunk| SseEvent::Delta(chunk.to_owned()).to_frame())
        .collect();
    events.push_str(&SseEvent::Done.to_frame());
    assert!(events.chars().count() <= 200, "{events}");
    assert_eq!(
        without_timings(&stdout),
        format!(
            "sent     POST {}/stream (signed with WEBHOOK_SECRET)\n\
             message  hi\n\
             status   200 text/event-stream\n\
             latency  N ms\n\
             body     {events}\n\
             verdict  rejected: the body is not JSON; this URL streams: add --stream\n",
            server.base
        )
    );
}

#[test]
fn send_without_secret_is_rejected_by_signed_receiver() {
    let server = start(Fault::None);
    let stdout = stdout_of(probe().args(["send", &format!("{}/", server.base)]), 1);
    assert!(
        stdout.starts_with(&format!(
            "sent     POST {}/ (unsigned, because WEBHOOK_SECRET is not set)\n",
            server.base
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nbody     {\"error\":\"missing_signature\""),
        "{stdout}"
    );
}

#[test]
fn send_reads_secret_from_named_variable() {
    let server = start(Fault::None);
    let stdout = stdout_of(
        probe().env("MY_APP_SECRET", SECRET).args([
            "send",
            &format!("{}/", server.base),
            "--secret-env",
            "MY_APP_SECRET",
        ]),
        0,
    );
    assert!(stdout.contains("(signed with MY_APP_SECRET)"), "{stdout}");
}

#[test]
fn send_unreachable_exits_2() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    signed_probe()
        .args(["send", &url])
        .assert()
        .code(2)
        .stderr(contains(format!("error: cannot connect to {url}")));
}

// ---- chat ----

#[test]
fn chat_piped_prints_transcript() {
    let server = start(Fault::None);
    let stdout = stdout_of(
        signed_probe()
            .args(["chat", &format!("{}/", server.base)])
            .write_stdin("hello\n\nsecond\n/quit\nnever sent\n"),
        0,
    );
    assert_eq!(
        stdout,
        format!(
            "Chatting with {}/ in one thread (signed with WEBHOOK_SECRET). Type a message and press Enter; /quit or end of input stops.\n\
             > hello\n\
             Echo: hello\n\
             > second\n\
             Echo: second\n",
            server.base
        )
    );
}

#[test]
fn chat_sends_thread_history_and_seq() {
    let server = start(Fault::None);
    stdout_of(
        signed_probe()
            .args(["chat", &format!("{}/stream", server.base), "--stream"])
            .write_stdin("one\ntwo\nthree\n"),
        0,
    );
    let received = server.received.lock().unwrap();
    assert_eq!(received.len(), 3);
    let seqs: Vec<i64> = received
        .iter()
        .map(|body| body["message"]["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");
    assert_eq!(received[0]["thread"]["id"], received[2]["thread"]["id"]);
    let history: Vec<(String, String)> = received[2]["history_tail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["role"].as_str().unwrap().to_owned(),
                entry["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("user", "one"),
        ("assistant", "Echo: one"),
        ("user", "two"),
        ("assistant", "Echo: two"),
        ("user", "three"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(role, content)| ((*role).to_owned(), (*content).to_owned()))
        .collect();
    assert_eq!(history, expected);
}

#[test]
fn chat_keeps_last_ten_history_entries() {
    let server = start(Fault::None);
    let input: String = (1..=7).map(|index| format!("m{index}\n")).collect();
    stdout_of(
        signed_probe()
            .args(["chat", &format!("{}/", server.base)])
            .write_stdin(input),
        0,
    );
    let received = server.received.lock().unwrap();
    let last = received[6]["history_tail"].as_array().unwrap();
    assert_eq!(last.len(), 10);
    assert_eq!(last[0]["content"], "Echo: m2");
    assert_eq!(last[9]["content"], "m7");
}

#[test]
fn chat_reports_rejected_reply() {
    let server = start(Fault::Answers201);
    let stdout = stdout_of(
        signed_probe()
            .args(["chat", &format!("{}/", server.base)])
            .write_stdin("hello\n"),
        1,
    );
    assert!(
        stdout.ends_with(
            "> hello\n! the platform would reject this reply: status 201, but the platform accepts only 200\n  body {\"reply\":\"Echo: hello\"}\n"
        ),
        "{stdout}"
    );
}

#[test]
fn chat_shows_code_and_body_of_401() {
    let server = start(Fault::None);
    let stdout = stdout_of(
        probe()
            .env("WEBHOOK_SECRET", "not-the-secret")
            .args(["chat", &format!("{}/", server.base)])
            .write_stdin("hello\n"),
        1,
    );
    let body = Rejection::from(VerifyError::Mismatch).to_json();
    let start: String = body.chars().take(200).collect();
    let more = if body.chars().count() > 200 {
        "..."
    } else {
        ""
    };
    assert_eq!(
        stdout,
        format!(
            "Chatting with {}/ in one thread (signed with WEBHOOK_SECRET). Type a message and press Enter; /quit or end of input stops.\n\
             > hello\n\
             ! the platform would reject this reply: status 401 signature_mismatch, but the platform accepts only 200\n  \
             body {start}{more}\n",
            server.base
        )
    );
}

// ---- sign ----

#[test]
fn sign_prints_raw_signature() {
    let stdout = stdout_of(
        probe()
            .env("WEBHOOK_SECRET", VECTOR_SECRET)
            .args(["sign", "--timestamp", VECTOR_TIMESTAMP])
            .write_stdin(VECTOR_BODY),
        0,
    );
    assert_eq!(
        stdout,
        format!("X-Timestamp: {VECTOR_TIMESTAMP}\nX-Signature: {VECTOR_RAW}\n")
    );
}

#[test]
fn sign_escaped_matches_platform() {
    let stdout = stdout_of(
        probe()
            .env("WEBHOOK_SECRET", VECTOR_SECRET)
            .args(["sign", "--timestamp", VECTOR_TIMESTAMP, "--escaped"])
            .write_stdin(VECTOR_BODY),
        0,
    );
    assert_eq!(
        stdout,
        format!("X-Timestamp: {VECTOR_TIMESTAMP}\nX-Signature: {VECTOR_ESCAPED}\n")
    );
}

#[test]
fn sign_curl_embeds_signature_only() {
    let stdout = stdout_of(
        probe()
            .env("WEBHOOK_SECRET", VECTOR_SECRET)
            .args(["sign", "--timestamp", VECTOR_TIMESTAMP, "--escaped"])
            .args(["--curl", "http://127.0.0.1:8080/"])
            .write_stdin(VECTOR_BODY),
        0,
    );
    assert_eq!(
        stdout,
        format!(
            "curl -sS -i -X 'POST' 'http://127.0.0.1:8080/' -H 'Content-Type: application/json' -H 'X-Timestamp: {VECTOR_TIMESTAMP}' -H 'X-Signature: {VECTOR_ESCAPED}' --data-binary '{VECTOR_BODY}'\n"
        )
    );
    assert!(!stdout.contains(VECTOR_SECRET));
}

#[test]
fn sign_curl_to_stream_url_disables_buffering() {
    let stdout = stdout_of(
        probe()
            .env("WEBHOOK_SECRET", VECTOR_SECRET)
            .args(["sign", "--timestamp", VECTOR_TIMESTAMP])
            .args(["--curl", "http://127.0.0.1:8080/stream"])
            .write_stdin(VECTOR_BODY),
        0,
    );
    assert_eq!(
        stdout,
        format!(
            "curl -sS -N -i -X 'POST' 'http://127.0.0.1:8080/stream' -H 'Content-Type: application/json' -H 'X-Timestamp: {VECTOR_TIMESTAMP}' -H 'X-Signature: {VECTOR_RAW}' --data-binary '{VECTOR_BODY}'\n"
        )
    );
}

#[test]
fn sign_defaults_to_current_time() {
    let stdout = stdout_of(
        probe()
            .env("WEBHOOK_SECRET", SECRET)
            .arg("sign")
            .write_stdin("{}"),
        0,
    );
    let timestamp: u64 = stdout
        .lines()
        .next()
        .unwrap()
        .strip_prefix("X-Timestamp: ")
        .unwrap()
        .parse()
        .unwrap();
    let now = webhook_probe::payload::unix_now().unsigned_abs();
    assert!(now.abs_diff(timestamp) < 60, "{timestamp} vs {now}");
}

#[test]
fn sign_without_secret_exits_2() {
    probe()
        .arg("sign")
        .write_stdin("{}")
        .assert()
        .code(2)
        .stdout("")
        .stderr("error: WEBHOOK_SECRET is not set; export the App's secret first, for example `export WEBHOOK_SECRET=...`\n");
}

#[test]
fn secret_is_not_a_flag() {
    probe()
        .args(["sign", "--secret", "x"])
        .write_stdin("{}")
        .assert()
        .code(2)
        .stderr(contains("unexpected argument '--secret'"));
}

// ---- explain ----

/// `explain` with `--now` 10 s after the worked example's timestamp.
fn explain(secret: &str, timestamp: &str, signature: &str, body: &str) -> Command {
    explain_at(secret, timestamp, signature, body, "1796400010")
}

fn explain_at(secret: &str, timestamp: &str, signature: &str, body: &str, now: &str) -> Command {
    let mut command = probe();
    command
        .env("WEBHOOK_SECRET", secret)
        .args([
            "explain",
            "--timestamp",
            timestamp,
            "--signature",
            signature,
        ])
        .args(["--now", now])
        .write_stdin(body.to_owned());
    command
}

const HEADERS_PASS: &str =
    "PASS  headers    X-Timestamp is unix seconds and X-Signature is sha256= with 64 hex digits\n";
const WINDOW_PASS: &str = "PASS  timestamp  10 s old, within the 300 s tolerance\n";

#[test]
fn explain_accepts_platform_signature() {
    let stdout = stdout_of(
        &mut explain(VECTOR_SECRET, VECTOR_TIMESTAMP, VECTOR_ESCAPED, VECTOR_BODY),
        0,
    );
    assert_eq!(
        stdout,
        format!(
            "{HEADERS_PASS}{WINDOW_PASS}\
             PASS  signature  matches WEBHOOK_SECRET over the escaped form of the body (non-ASCII characters as \\uXXXX), as the platform signs; a receiver that checks only the raw bytes rejects it\n\
             The request is valid: a receiver with this secret accepts it.\n"
        )
    );
}

#[test]
fn explain_names_stale_timestamp() {
    let stdout = stdout_of(
        &mut explain_at(
            VECTOR_SECRET,
            VECTOR_TIMESTAMP,
            VECTOR_ESCAPED,
            VECTOR_BODY,
            "1796400999",
        ),
        1,
    );
    assert_eq!(
        stdout,
        format!(
            "{HEADERS_PASS}\
             FAIL  timestamp  999 s old, beyond the 300 s tolerance, so a receiver rejects it as a possible replay; for a request captured earlier, pass --now with the unix time at which it was received\n\
             PASS  signature  matches WEBHOOK_SECRET over the escaped form of the body (non-ASCII characters as \\uXXXX), as the platform signs; a receiver that checks only the raw bytes rejects it\n\
             The first step that fails: timestamp.\n"
        )
    );
}

#[test]
fn explain_names_previous_secret() {
    let signature = sign(&Secret::new("old-secret"), VECTOR_TIMESTAMP, b"{}");
    let stdout = stdout_of(
        explain(SECRET, VECTOR_TIMESTAMP, &signature, "{}")
            .env("WEBHOOK_SECRET_PREVIOUS", "old-secret"),
        0,
    );
    assert_eq!(
        stdout,
        format!(
            "{HEADERS_PASS}{WINDOW_PASS}\
             PASS  signature  matches the previous secret (WEBHOOK_SECRET_PREVIOUS) over the body as received (it is ASCII, so the raw and escaped forms are the same). A receiver accepts it only while that secret is still configured.\n\
             The request is valid: a receiver with this secret accepts it.\n"
        )
    );
}

#[test]
fn explain_names_malformed_header() {
    let stdout = stdout_of(
        &mut explain(
            VECTOR_SECRET,
            "Fri, 04 Dec 2026 12:00:00 GMT",
            VECTOR_ESCAPED,
            VECTOR_BODY,
        ),
        1,
    );
    assert_eq!(
        stdout,
        "FAIL  headers    X-Timestamp \"Fri, 04 Dec 2026 12:00:00 GMT\" has a space, a line break or a non-ASCII character; the platform sends whole seconds since 1970 in decimal, such as 1796400000\n\
         The first step that fails: headers.\n"
    );
}

#[test]
fn explain_names_secret_with_whitespace() {
    let secret = format!("{VECTOR_SECRET}\n");
    let stdout = stdout_of(
        &mut explain(&secret, VECTOR_TIMESTAMP, VECTOR_ESCAPED, VECTOR_BODY),
        1,
    );
    assert_eq!(
        stdout,
        format!(
            "{HEADERS_PASS}{WINDOW_PASS}\
             FAIL  signature  does not match WEBHOOK_SECRET, but matches it with its surrounding whitespace removed: WEBHOOK_SECRET has a space or line break at its start or end that the signer did not use; remove it (a secret read from a file or written with echo often ends with a line break)\n\
             The first step that fails: signature.\n"
        )
    );
}

#[test]
fn explain_names_reserialised_body() {
    // The sender parsed its own body and signed serde_json's output, which sorts keys.
    let value: Value = serde_json::from_str(VECTOR_BODY).unwrap();
    let resigned = sign_escaped(
        &Secret::new(VECTOR_SECRET),
        VECTOR_TIMESTAMP,
        value.to_string().as_bytes(),
    )
    .unwrap();
    let stdout = stdout_of(
        &mut explain(VECTOR_SECRET, VECTOR_TIMESTAMP, &resigned, VECTOR_BODY),
        1,
    );
    assert!(
        stdout.contains("FAIL  signature  does not match WEBHOOK_SECRET over these bytes, but matches the same JSON re-serialised compact with sorted keys: the signer signed different bytes than it sent"),
        "{stdout}"
    );
    assert!(!stdout.contains(&resigned[7..]), "{stdout}");
}

#[test]
fn explain_names_hex_decoded_key() {
    let key = hex::decode(VECTOR_SECRET).unwrap();
    let signature = sign(&Secret::from_bytes(&key), VECTOR_TIMESTAMP, b"{}");
    let stdout = stdout_of(
        &mut explain(VECTOR_SECRET, VECTOR_TIMESTAMP, &signature, "{}"),
        1,
    );
    assert!(
        stdout.contains("FAIL  signature  does not match WEBHOOK_SECRET, but matches it hex-decoded to 32 bytes as the HMAC key"),
        "{stdout}"
    );
}

#[test]
fn explain_names_trailing_newline() {
    let body = format!("{VECTOR_BODY}\n");
    let stdout = stdout_of(
        &mut explain(VECTOR_SECRET, VECTOR_TIMESTAMP, VECTOR_ESCAPED, &body),
        1,
    );
    assert!(
        stdout.contains("matches the body without its trailing whitespace"),
        "{stdout}"
    );
}

#[test]
fn explain_never_prints_expected_signature() {
    let wrong = format!("sha256={}", "0".repeat(64));
    let stdout = stdout_of(
        &mut explain(VECTOR_SECRET, VECTOR_TIMESTAMP, &wrong, VECTOR_BODY),
        1,
    );
    assert!(
        stdout.contains("FAIL  signature  does not match WEBHOOK_SECRET over the raw body or its escaped form, and no common mistake explains it"),
        "{stdout}"
    );
    for expected in [VECTOR_ESCAPED, VECTOR_RAW] {
        assert!(!stdout.contains(&expected[7..]), "{stdout}");
    }
    assert!(!stdout.contains(VECTOR_SECRET), "{stdout}");
}

// ---- help ----

#[test]
fn help_lists_exit_codes_and_secret() {
    probe()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(contains("Exit status:\n  0  the webhook passed"))
        .stdout(contains("  2  usage error"))
        .stdout(contains("WEBHOOK_SECRET"));
}

#[test]
fn unknown_level_is_usage_error() {
    probe()
        .args(["check", "http://127.0.0.1:9/", "--level", "strict"])
        .assert()
        .code(2)
        .stderr(contains("invalid value 'strict'"));
}
