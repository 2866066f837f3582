//! Every route and every error code, in process through `app()` with `oneshot`.

// Helpers outside #[test] functions unwrap too: a panic there is a test failure
// with a line number.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::convert::Infallible;
use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use common::{
    BASE_BODY, NOW, SECRET, message_body, request, send, signed_post, signed_state, unsigned_post,
    unsigned_state,
};
use futures_util::{StreamExt, stream};
use webhook_contract::{
    MissingHeaders, PayloadError, Rejection, SignatureProblem, TimestampProblem, VerifyError,
    parse_event,
};

const STREAM_METHODS_REJECTED: [&str; 6] = ["GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"];

// Routes.

#[tokio::test]
async fn post_root_replies_with_json() {
    let answer = send(unsigned_state(), unsigned_post("/", BASE_BODY)).await;
    answer.assert_reply("Echo: hello");
    assert_eq!(answer.text(), r#"{"reply":"Echo: hello"}"#);
}

#[tokio::test]
async fn post_stream_sends_delta_and_done_frames() {
    let answer = send(unsigned_state(), unsigned_post("/stream", BASE_BODY)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("text/event-stream"));
    assert_eq!(answer.header("cache-control"), Some("no-cache"));
    assert_eq!(answer.header("x-accel-buffering"), Some("no"));
    assert_eq!(answer.header("content-encoding"), None);
    assert_eq!(
        answer.text(),
        "event: delta\ndata: {\"text\":\"Echo: \"}\n\nevent: delta\ndata: {\"text\":\"hello\"}\n\nevent: done\ndata: {}\n\n"
    );
}

#[tokio::test]
async fn stream_keeps_whitespace_and_unicode_in_deltas() {
    let body = message_body("Grüße  👋\nzwei");
    let answer = send(unsigned_state(), unsigned_post("/stream", &body)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.text(),
        concat!(
            "event: delta\ndata: {\"text\":\"Echo: \"}\n\n",
            "event: delta\ndata: {\"text\":\"Grüße  \"}\n\n",
            "event: delta\ndata: {\"text\":\"👋\\n\"}\n\n",
            "event: delta\ndata: {\"text\":\"zwei\"}\n\n",
            "event: done\ndata: {}\n\n",
        )
    );
}

#[tokio::test]
async fn get_healthz_reports_ok() {
    let answer = send(
        unsigned_state(),
        request("GET", "/healthz", &[], Body::empty()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.text(), r#"{"status":"ok"}"#);
}

#[tokio::test]
async fn head_healthz_has_no_body() {
    let answer = send(
        unsigned_state(),
        request("HEAD", "/healthz", &[], Body::empty()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert!(answer.body.is_empty());
}

#[tokio::test]
async fn healthz_needs_no_signature_when_secret_is_set() {
    let answer = send(
        signed_state(SECRET),
        request("GET", "/healthz", &[], Body::empty()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text(), r#"{"status":"ok"}"#);
}

#[tokio::test]
async fn put_on_root_is_method_not_allowed() {
    let answer = send(unsigned_state(), request("PUT", "/", &[], Body::empty())).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.header("allow"), Some("POST"));
    assert_eq!(
        answer.text(),
        r#"{"error":"method_not_allowed","message":"Method \"PUT\" is not allowed on \"/\"; use POST."}"#
    );
}

#[tokio::test]
async fn post_routes_reject_other_methods() {
    for path in ["/", "/stream"] {
        for method in STREAM_METHODS_REJECTED {
            let answer = send(unsigned_state(), request(method, path, &[], Body::empty())).await;
            assert_eq!(
                answer.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_eq!(answer.header("allow"), Some("POST"), "{method} {path}");
            assert_eq!(answer.header("content-type"), Some("application/json"));
            let expected = Rejection::method_not_allowed(method, path, "POST");
            if method == "HEAD" {
                assert!(answer.body.is_empty());
            } else {
                answer.assert_rejected(&expected);
            }
        }
    }
}

#[tokio::test]
async fn healthz_rejects_other_methods() {
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let answer = send(
            unsigned_state(),
            request(method, "/healthz", &[], Body::empty()),
        )
        .await;
        assert_eq!(answer.header("allow"), Some("GET, HEAD"), "{method}");
        answer.assert_rejected(&Rejection::method_not_allowed(
            method,
            "/healthz",
            "GET or HEAD",
        ));
    }
    let answer = send(
        unsigned_state(),
        request("DELETE", "/healthz", &[], Body::empty()),
    )
    .await;
    assert_eq!(
        answer.text(),
        r#"{"error":"method_not_allowed","message":"Method \"DELETE\" is not allowed on \"/healthz\"; use GET or HEAD."}"#
    );
}

#[tokio::test]
async fn unknown_path_is_not_found() {
    let answer = send(
        unsigned_state(),
        request("GET", "/nope", &[], Body::empty()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(
        answer.text(),
        r#"{"error":"not_found","message":"No route at \"/nope\"; POST to / for a JSON reply or to /stream for a streamed reply, or GET /healthz."}"#
    );
}

#[tokio::test]
async fn any_method_on_unknown_paths_is_not_found() {
    for (method, path) in [
        ("POST", "/webhook"),
        ("POST", "/stream/"),
        ("GET", "/healthz/"),
        ("DELETE", "/a/b"),
    ] {
        let answer = send(
            signed_state(SECRET),
            request(method, path, &[], Body::empty()),
        )
        .await;
        answer.assert_rejected(&Rejection::not_found(path));
    }
}

#[tokio::test]
async fn other_event_is_acknowledged_with_no_content() {
    for path in ["/", "/stream"] {
        let body = r#"{"version":"1.0","event":"thread_closed","thread":{"id":"t-1"}}"#;
        let answer = send(unsigned_state(), unsigned_post(path, body)).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{path}");
        assert_eq!(answer.header("content-type"), None);
        assert!(answer.body.is_empty());
    }
}

#[tokio::test]
async fn signed_request_gets_reply_on_both_routes() {
    let answer = send(signed_state(SECRET), signed_post("/", BASE_BODY, NOW)).await;
    answer.assert_reply("Echo: hello");
    let answer = send(signed_state(SECRET), signed_post("/stream", BASE_BODY, NOW)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.text().ends_with("event: done\ndata: {}\n\n"));
}

// payload_too_large

fn small_limit_state() -> webhook_axum::AppState {
    webhook_axum::AppState {
        max_body_bytes: 64,
        ..signed_state(SECRET)
    }
}

#[tokio::test]
async fn declared_length_over_limit_is_payload_too_large() {
    let answer = send(small_limit_state(), signed_post("/", BASE_BODY, NOW)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        answer.text(),
        r#"{"error":"payload_too_large","message":"The request body is larger than this webhook's limit of 64 bytes; send a smaller body or raise the limit (MAX_BODY_BYTES in the examples)."}"#
    );
}

#[tokio::test]
async fn oversized_length_rejected_before_body() {
    // The body never arrives, so only a check of Content-Length can reject it.
    let body = Body::from_stream(stream::pending::<Result<Bytes, Infallible>>());
    let headers = [
        ("content-type", "application/json"),
        ("content-length", "65"),
    ];
    let answer = send(small_limit_state(), request("POST", "/", &headers, body)).await;
    answer.assert_rejected(&Rejection::payload_too_large(64));
}

#[tokio::test]
async fn growing_chunked_body_rejected_at_limit() {
    // 40 + 40 bytes, then the stream stalls: the response must come from the limit, not
    // from the end of the body.
    let chunks = stream::iter([
        Ok::<_, Infallible>(Bytes::from(vec![b' '; 40])),
        Ok(Bytes::from(vec![b' '; 40])),
    ])
    .chain(stream::pending());
    let body = Body::from_stream(chunks);
    let answer = send(
        small_limit_state(),
        request(
            "POST",
            "/stream",
            &[("content-type", "application/json")],
            body,
        ),
    )
    .await;
    answer.assert_rejected(&Rejection::payload_too_large(64));
}

#[tokio::test]
async fn body_of_exactly_the_limit_is_read() {
    let state = webhook_axum::AppState {
        max_body_bytes: BASE_BODY.len(),
        ..signed_state(SECRET)
    };
    let answer = send(state, signed_post("/", BASE_BODY, NOW)).await;
    answer.assert_reply("Echo: hello");
}

#[tokio::test]
async fn size_is_checked_before_signature() {
    let answer = send(small_limit_state(), unsigned_post("/", BASE_BODY)).await;
    answer.assert_rejected(&Rejection::payload_too_large(64));
}

// request_timeout

#[tokio::test(start_paused = true)]
async fn stalled_body_is_request_timeout() {
    let chunks = stream::iter([Ok::<_, Infallible>(Bytes::from_static(b"{\"version\":"))])
        .chain(stream::pending());
    let body = Body::from_stream(chunks);
    let answer = send(
        signed_state(SECRET),
        request("POST", "/", &[("content-type", "application/json")], body),
    )
    .await;
    assert_eq!(answer.status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(
        answer.text(),
        r#"{"error":"request_timeout","message":"The request body did not arrive within 10 s; send the whole body at once (the platform itself gives up after 8 s)."}"#
    );
}

#[tokio::test]
async fn body_that_fails_midway_is_invalid_json() {
    let chunks = stream::iter([
        Ok(Bytes::from_static(b"{\"version\":")),
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset",
        )),
    ]);
    let body = Body::from_stream(chunks);
    let answer = send(
        unsigned_state(),
        request("POST", "/", &[("content-type", "application/json")], body),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.text(),
        r#"{"error":"invalid_json","message":"The connection closed before the whole request body arrived; send every byte that Content-Length announces."}"#
    );
}

// The five 401 codes.

fn with_headers(headers: &[(&str, &str)], body: &str) -> axum::http::Request<Body> {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    request("POST", "/", &all, body.to_owned())
}

fn good_signature(timestamp: &str, body: &str) -> String {
    webhook_contract::sign(
        &webhook_contract::Secret::new(SECRET),
        timestamp,
        body.as_bytes(),
    )
}

#[tokio::test]
async fn unsigned_request_is_missing_signature() {
    let answer = send(signed_state(SECRET), unsigned_post("/", BASE_BODY)).await;
    answer.assert_rejected(&Rejection::from(VerifyError::MissingHeader(
        MissingHeaders::Both,
    )));
    assert_eq!(
        answer.text(),
        r#"{"error":"missing_signature","message":"The X-Timestamp and X-Signature headers are missing; this webhook has a secret, so every request must be signed (set the same secret on the App, or unset it on both sides)."}"#
    );
}

#[tokio::test]
async fn letters_in_timestamp_are_malformed_timestamp() {
    let signature = good_signature("1796400000abc", BASE_BODY);
    let request = with_headers(
        &[
            ("x-timestamp", "1796400000abc"),
            ("x-signature", &signature),
        ],
        BASE_BODY,
    );
    let answer = send(signed_state(SECRET), request).await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedTimestamp(
        TimestampProblem::NotDigits,
    )));
    assert_eq!(
        answer.text(),
        r#"{"error":"malformed_timestamp","message":"X-Timestamp contains a character that is not a digit; send the unix time in whole seconds, for example 1796400000, with no sign, fraction or date."}"#
    );
}

#[tokio::test]
async fn short_signature_is_malformed_signature() {
    let request = with_headers(
        &[("x-timestamp", "1796400000"), ("x-signature", "sha256=abc")],
        BASE_BODY,
    );
    let answer = send(signed_state(SECRET), request).await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedSignature(
        SignatureProblem::WrongLength(3),
    )));
    assert_eq!(
        answer.text(),
        r#"{"error":"malformed_signature","message":"X-Signature has 3 hex digits after sha256= instead of 64; send the whole HMAC-SHA256 in hex."}"#
    );
}

#[tokio::test]
async fn stale_timestamp_is_out_of_tolerance() {
    let answer = send(signed_state(SECRET), signed_post("/", BASE_BODY, NOW - 301)).await;
    answer.assert_rejected(&Rejection::from(VerifyError::TimestampTooOld {
        age_secs: 301,
    }));
    assert!(answer.text().starts_with(
        r#"{"error":"timestamp_out_of_tolerance","message":"X-Timestamp is 301 s in the past"#
    ));
}

#[tokio::test]
async fn wrong_secret_is_signature_mismatch() {
    let timestamp = NOW.to_string();
    let signature = webhook_contract::sign(
        &webhook_contract::Secret::new("another-secret"),
        &timestamp,
        BASE_BODY.as_bytes(),
    );
    let request = with_headers(
        &[("x-timestamp", &timestamp), ("x-signature", &signature)],
        BASE_BODY,
    );
    let answer = send(signed_state(SECRET), request).await;
    answer.assert_rejected(&Rejection::from(VerifyError::Mismatch));
    assert_eq!(
        answer.text(),
        r#"{"error":"signature_mismatch","message":"X-Signature does not match the body; sign \"{X-Timestamp}.{raw body}\" with HMAC-SHA256, keyed with the secret's UTF-8 bytes, over the exact bytes sent."}"#
    );
}

#[tokio::test]
async fn error_body_hides_secret_and_signature() {
    let timestamp = NOW.to_string();
    let expected = good_signature(&timestamp, BASE_BODY);
    let zeros = format!("sha256={}", "0".repeat(64));
    let request = with_headers(
        &[("x-timestamp", &timestamp), ("x-signature", &zeros)],
        BASE_BODY,
    );
    let answer = send(signed_state(SECRET), request).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(!answer.text().contains(SECRET));
    assert!(!answer.text().contains(&expected["sha256=".len()..]));
}

#[tokio::test]
async fn previous_secret_is_accepted_during_rotation() {
    let mut state = signed_state("the-new-secret");
    state.verifier = Some(std::sync::Arc::new(
        webhook_contract::Verifier::new(webhook_contract::Secret::new("the-new-secret"))
            .with_previous(webhook_contract::Secret::new(SECRET)),
    ));
    let answer = send(state, signed_post("/", BASE_BODY, NOW)).await;
    answer.assert_reply("Echo: hello");
}

// unsupported_media_type

#[tokio::test]
async fn text_plain_is_unsupported_media_type() {
    let answer = send(
        unsigned_state(),
        request("POST", "/", &[("content-type", "text/plain")], BASE_BODY),
    )
    .await;
    answer.assert_rejected(&Rejection::unsupported_media_type(Some(b"text/plain")));
    assert_eq!(
        answer.text(),
        r#"{"error":"unsupported_media_type","message":"The request has Content-Type \"text/plain\"; send the body as JSON with Content-Type: application/json (parameters such as charset=utf-8 are fine)."}"#
    );
}

#[tokio::test]
async fn missing_content_type_is_unsupported_media_type() {
    let answer = send(unsigned_state(), request("POST", "/stream", &[], BASE_BODY)).await;
    answer.assert_rejected(&Rejection::unsupported_media_type(None));
}

#[tokio::test]
async fn content_type_is_compared_without_case_or_parameters() {
    for content_type in [
        "Application/JSON",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
    ] {
        let answer = send(
            unsigned_state(),
            request("POST", "/", &[("content-type", content_type)], BASE_BODY),
        )
        .await;
        answer.assert_reply("Echo: hello");
    }
}

// invalid_json, invalid_payload, unsupported_version

#[tokio::test]
async fn truncated_json_is_invalid_json() {
    let body = r#"{"version":"1.0","event":"#;
    let answer = send(unsigned_state(), unsigned_post("/", body)).await;
    let expected = Rejection::from(parse_event(body.as_bytes()).unwrap_err());
    answer.assert_rejected(&expected);
    assert_eq!(expected.code().as_str(), "invalid_json");
}

#[tokio::test]
async fn empty_body_is_invalid_json() {
    let answer = send(unsigned_state(), unsigned_post("/", "")).await;
    answer.assert_rejected(&Rejection::from(PayloadError::Empty));
    assert_eq!(
        answer.text(),
        r#"{"error":"invalid_json","message":"The body is empty; send the event as a JSON object."}"#
    );
}

#[tokio::test]
async fn missing_content_is_invalid_payload() {
    let body = r#"{"version":"1.0","event":"message_received","message":{"id":"m-1"}}"#;
    let answer = send(unsigned_state(), unsigned_post("/stream", body)).await;
    assert_eq!(
        answer.text(),
        r#"{"error":"invalid_payload","message":"message.content is missing; the contract requires it."}"#
    );
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn content_of_wrong_type_is_invalid_payload() {
    let body = r#"{"version":"1.0","event":"message_received","message":{"content":5}}"#;
    let answer = send(unsigned_state(), unsigned_post("/", body)).await;
    answer.assert_rejected(&Rejection::from(parse_event(body.as_bytes()).unwrap_err()));
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.text().starts_with(
        r#"{"error":"invalid_payload","message":"message.content: invalid type: integer `5`"#
    ));
}

#[tokio::test]
async fn major_version_two_is_unsupported_version() {
    let body = r#"{"version":"2.0","event":"message_received","message":{"content":"hi"}}"#;
    let answer = send(unsigned_state(), unsigned_post("/", body)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.text(),
        r#"{"error":"unsupported_version","message":"version \"2.0\" is not supported; this webhook understands major version 1 (\"1.0\")."}"#
    );
}

// The order of the checks.

#[tokio::test]
async fn signature_is_checked_before_content_type() {
    let answer = send(
        signed_state(SECRET),
        request("POST", "/", &[("content-type", "text/plain")], BASE_BODY),
    )
    .await;
    answer.assert_rejected(&Rejection::from(VerifyError::MissingHeader(
        MissingHeaders::Both,
    )));
}

#[tokio::test]
async fn content_type_is_checked_before_parsing() {
    let answer = send(
        unsigned_state(),
        request("POST", "/", &[("content-type", "text/plain")], "{"),
    )
    .await;
    answer.assert_rejected(&Rejection::unsupported_media_type(Some(b"text/plain")));
}

#[tokio::test]
async fn stream_route_answers_errors_as_json() {
    let answer = send(signed_state(SECRET), unsigned_post("/stream", BASE_BODY)).await;
    answer.assert_rejected(&Rejection::from(VerifyError::MissingHeader(
        MissingHeaders::Both,
    )));
}

#[tokio::test]
async fn stream_with_delay_still_sends_every_frame() {
    let state = webhook_axum::AppState {
        stream_delay: Duration::from_millis(5),
        ..unsigned_state()
    };
    let answer = send(
        state,
        unsigned_post("/stream", &message_body("one two three")),
    )
    .await;
    assert_eq!(
        answer.text(),
        concat!(
            "event: delta\ndata: {\"text\":\"Echo: \"}\n\n",
            "event: delta\ndata: {\"text\":\"one \"}\n\n",
            "event: delta\ndata: {\"text\":\"two \"}\n\n",
            "event: delta\ndata: {\"text\":\"three\"}\n\n",
            "event: done\ndata: {}\n\n",
        )
    );
}
