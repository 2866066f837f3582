//! In-process tests of the routes, the replies and every error the server sends for a
//! request it does not verify: methods, paths, content types, payload schema, body
//! size and body timeout. Signature checks are in `signatures.rs`.

// Helpers outside `#[test]` functions may unwrap too: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::web;
use bytes::Bytes;
use common::{
    Answer, NOW, json_post, message_body, send, signed_post, signed_settings, unsigned_settings,
};
use futures_util::{Stream, StreamExt, stream};
use webhook_actix::app;
use webhook_contract::{PayloadError as ContractPayloadError, Rejection};

const SSE_HELLO_WORLD: &str = "event: delta\ndata: {\"text\":\"Echo: \"}\n\n\
                               event: delta\ndata: {\"text\":\"hello \"}\n\n\
                               event: delta\ndata: {\"text\":\"world\"}\n\n\
                               event: done\ndata: {}\n\n";

#[actix_web::test]
async fn post_root_replies_with_echo() {
    let answer = send(unsigned_settings(), json_post("/", message_body("hello"))).await;
    answer.assert_reply("Echo: hello");
}

#[actix_web::test]
async fn post_stream_sends_exact_events() {
    let answer = send(
        unsigned_settings(),
        json_post("/stream", message_body("hello world")),
    )
    .await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("text/event-stream"));
    assert_eq!(answer.header("cache-control"), Some("no-cache"));
    assert_eq!(answer.header("x-accel-buffering"), Some("no"));
    assert_eq!(answer.header("content-encoding"), None);
    assert_eq!(answer.text(), SSE_HELLO_WORLD);
}

#[actix_web::test]
async fn stream_sends_each_event_as_one_chunk() {
    let service = test::init_service(app(web::Data::new(unsigned_settings()))).await;
    let request = json_post("/stream", message_body("hello world")).to_request();
    let response = test::call_service(&service, request).await;

    let mut body = response.into_body();
    let mut chunks = Vec::new();
    while let Some(chunk) =
        std::future::poll_fn(|cx| actix_web::body::MessageBody::poll_next(Pin::new(&mut body), cx))
            .await
    {
        let Ok(chunk) = chunk else {
            panic!("the event stream failed");
        };
        chunks.push(String::from_utf8(chunk.to_vec()).unwrap());
    }

    assert_eq!(
        chunks,
        [
            "event: delta\ndata: {\"text\":\"Echo: \"}\n\n",
            "event: delta\ndata: {\"text\":\"hello \"}\n\n",
            "event: delta\ndata: {\"text\":\"world\"}\n\n",
            "event: done\ndata: {}\n\n",
        ]
    );
}

#[actix_web::test]
async fn stream_is_paced_by_stream_delay() {
    let settings = webhook_actix::Settings {
        stream_delay: Duration::from_millis(100),
        ..unsigned_settings()
    };
    let started = std::time::Instant::now();
    let answer = send(settings, json_post("/stream", message_body("hello world"))).await;

    // Three deltas and done: a pause before each event but the first.
    let elapsed = started.elapsed();
    assert_eq!(answer.text(), SSE_HELLO_WORLD);
    assert!(elapsed >= Duration::from_millis(300), "took {elapsed:?}");
    assert!(elapsed < Duration::from_millis(2000), "took {elapsed:?}");
}

#[actix_web::test]
async fn stream_is_signed_like_root() {
    let body = message_body("hello world");
    let answer = send(signed_settings(), signed_post("/stream", &body, NOW)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text(), SSE_HELLO_WORLD);
}

#[actix_web::test]
async fn healthz_get_returns_ok_status() {
    let answer = send(signed_settings(), TestRequest::get().uri("/healthz")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.text(), r#"{"status":"ok"}"#);
}

#[actix_web::test]
async fn healthz_head_returns_ok() {
    // In process the body is still attached; actix-http drops it on the wire, which
    // `head_healthz_has_no_body` in binary.rs checks.
    let request = TestRequest::default()
        .method(actix_web::http::Method::HEAD)
        .uri("/healthz");
    let answer = send(signed_settings(), request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("application/json"));
}

#[actix_web::test]
async fn other_methods_on_post_routes_get_405() {
    for path in ["/", "/stream"] {
        for method in ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
            let request = TestRequest::default()
                .method(method.parse().unwrap())
                .uri(path);
            let answer = send(signed_settings(), request).await;

            answer.assert_rejected(&Rejection::method_not_allowed(method, path, "POST"));
            assert_eq!(answer.header("allow"), Some("POST"), "{method} {path}");
        }
    }
}

#[actix_web::test]
async fn other_methods_on_healthz_get_405() {
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let request = TestRequest::default()
            .method(method.parse().unwrap())
            .uri("/healthz");
        let answer = send(signed_settings(), request).await;

        answer.assert_rejected(&Rejection::method_not_allowed(
            method,
            "/healthz",
            "GET or HEAD",
        ));
        assert_eq!(answer.header("allow"), Some("GET, HEAD"), "{method}");
    }
}

#[actix_web::test]
async fn unknown_paths_get_404_for_any_method() {
    for (method, path) in [
        ("GET", "/nope"),
        ("POST", "/webhook"),
        ("POST", "/stream/"),
        ("GET", "/healthz/"),
        ("DELETE", "/a/b/c"),
    ] {
        let request = TestRequest::default()
            .method(method.parse().unwrap())
            .uri(path);
        let answer = send(signed_settings(), request).await;
        answer.assert_rejected(&Rejection::not_found(path));
    }
}

#[actix_web::test]
async fn other_event_gets_204_without_body() {
    let body = r#"{"version":"1.0","event":"thread_closed","thread":{"id":"thr_test_01"}}"#;
    for path in ["/", "/stream"] {
        let answer = send(signed_settings(), signed_post(path, body, NOW)).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{path}");
        assert!(answer.body.is_empty(), "{path}");
    }
}

#[actix_web::test]
async fn charset_parameter_is_accepted() {
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
    ] {
        let request =
            json_post("/", message_body("hello")).insert_header(("content-type", content_type));
        let answer = send(unsigned_settings(), request).await;
        answer.assert_reply("Echo: hello");
    }
}

#[actix_web::test]
async fn missing_content_type_gets_415() {
    let body = message_body("hello");
    let request = TestRequest::post().uri("/").set_payload(body);
    let answer = send(unsigned_settings(), request).await;
    answer.assert_rejected(&Rejection::unsupported_media_type(None));
}

#[actix_web::test]
async fn text_plain_gets_415() {
    let request =
        json_post("/", message_body("hello")).insert_header(("content-type", "text/plain"));
    let answer = send(unsigned_settings(), request).await;
    answer.assert_rejected(&Rejection::unsupported_media_type(Some(b"text/plain")));
}

#[actix_web::test]
async fn signed_body_without_content_type_gets_415() {
    let body = message_body("hello");
    let timestamp = NOW.to_string();
    let request = TestRequest::post()
        .uri("/")
        .insert_header(("x-timestamp", timestamp.clone()))
        .insert_header((
            "x-signature",
            common::signature(&timestamp, body.as_bytes()),
        ))
        .set_payload(body);
    let answer = send(signed_settings(), request).await;
    answer.assert_rejected(&Rejection::unsupported_media_type(None));
}

#[actix_web::test]
async fn empty_body_gets_400_invalid_json() {
    let answer = send(unsigned_settings(), json_post("/", "")).await;
    answer.assert_rejected(&Rejection::from(ContractPayloadError::Empty));
}

#[actix_web::test]
async fn signed_empty_body_gets_400_not_401() {
    let answer = send(signed_settings(), signed_post("/", "", NOW)).await;
    answer.assert_rejected(&Rejection::from(ContractPayloadError::Empty));
}

#[actix_web::test]
async fn truncated_json_gets_400_invalid_json() {
    let answer = send(
        unsigned_settings(),
        json_post("/", r#"{"version":"1.0","event":"#),
    )
    .await;
    answer.assert_rejected(&Rejection::from(ContractPayloadError::Syntax {
        detail: "EOF while parsing a value at line 1 column 25".to_owned(),
    }));
}

#[actix_web::test]
async fn missing_content_field_gets_400_invalid_payload() {
    let body = message_body("hello").replace(r#""content":"hello","#, "");
    let answer = send(signed_settings(), signed_post("/", &body, NOW)).await;
    answer.assert_rejected(&Rejection::from(ContractPayloadError::MissingField {
        path: "message.content",
    }));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&answer.body).unwrap()["message"],
        "message.content is missing; the contract requires it."
    );
}

#[actix_web::test]
async fn wrong_field_type_gets_400_with_path() {
    let body = r#"{"version":"1.0","event":"message_received","message":{"content":5}}"#;
    let answer = send(unsigned_settings(), json_post("/", body)).await;
    answer.assert_rejected(&Rejection::from(ContractPayloadError::WrongType {
        path: "message.content".to_owned(),
        detail: "invalid type: integer `5`, expected a string at line 1 column 66".to_owned(),
    }));
}

#[actix_web::test]
async fn version_two_gets_400_unsupported_version() {
    let body = r#"{"version":"2.0","event":"message_received","message":{"content":"hi"}}"#;
    let answer = send(unsigned_settings(), json_post("/", body)).await;
    answer.assert_rejected(&Rejection::from(ContractPayloadError::UnsupportedVersion {
        version: "2.0".to_owned(),
    }));
}

#[actix_web::test]
async fn optional_fields_may_be_null_or_absent() {
    let body = r#"{"version":"1.0","event":"message_received","app":{"id":"app_test_01","name":"Test App"},"thread":{"id":"thr_test_01","customer_id":null},"message":{"content":"only content path"},"timestamp":"2026-12-04T12:00:00.000000+00:00","locale":"de-DE"}"#;
    let answer = send(signed_settings(), signed_post("/", body, NOW)).await;
    answer.assert_reply("Echo: only content path");
}

#[actix_web::test]
async fn empty_content_gets_echo_prefix() {
    let answer = send(signed_settings(), signed_post("/", &message_body(""), NOW)).await;
    answer.assert_reply("Echo: ");
}

/// Builds a valid message of about `size` bytes, made long by its history.
fn large_message(size: usize) -> String {
    let entry = r#"{"role":"assistant","content":"an earlier answer, padded to make a long history","content_json":{}},"#;
    let mut history = String::new();
    while history.len() + entry.len() < size {
        history.push_str(entry);
    }
    history.pop();
    format!(
        r#"{{"version":"1.0","event":"message_received","message":{{"content":"big"}},"history_tail":[{history}]}}"#
    )
}

#[actix_web::test]
async fn signed_300_kb_body_gets_200() {
    let body = large_message(300 * 1000);
    assert!(
        body.len() > 256 * 1024,
        "larger than actix-web's default payload limit"
    );
    let answer = send(signed_settings(), signed_post("/", &body, NOW)).await;
    answer.assert_reply("Echo: big");
}

#[actix_web::test]
async fn signed_2_mb_body_gets_413() {
    let body = large_message(2 * 1000 * 1000);
    let answer = send(signed_settings(), signed_post("/", &body, NOW)).await;
    answer.assert_rejected(&Rejection::payload_too_large(1024 * 1024));
}

#[actix_web::test]
async fn body_at_limit_passes_and_one_byte_more_gets_413() {
    let body = message_body("hello");
    let at_limit = webhook_actix::Settings {
        max_body_bytes: body.len(),
        ..unsigned_settings()
    };
    send(at_limit, json_post("/", body.clone()))
        .await
        .assert_reply("Echo: hello");

    let below = webhook_actix::Settings {
        max_body_bytes: body.len() - 1,
        ..unsigned_settings()
    };
    send(below, json_post("/", body.clone()))
        .await
        .assert_rejected(&Rejection::payload_too_large(body.len() - 1));
}

/// Sends a request whose body arrives as `chunks` without `Content-Length`, like a
/// chunked upload.
async fn send_streamed(
    settings: webhook_actix::Settings,
    chunks: impl Stream<Item = Result<Bytes, PayloadError>> + 'static,
) -> Answer {
    let service = test::init_service(app(web::Data::new(settings))).await;
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(chunks);
    let (request, _) = TestRequest::post()
        .uri("/")
        .insert_header(("content-type", "application/json"))
        .to_request()
        .replace_payload(Payload::from(stream));

    let response = test::call_service(&service, request).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = test::read_body(response).await;
    Answer {
        status,
        headers,
        body,
    }
}

#[actix_web::test]
async fn chunked_body_over_limit_gets_413_without_reading_on() {
    let settings = webhook_actix::Settings {
        max_body_bytes: 1000,
        ..unsigned_settings()
    };
    // After the chunk that passes the limit the stream never ends: reading on would hang.
    let chunks = stream::iter([
        Ok::<_, PayloadError>(Bytes::from(vec![b' '; 600])),
        Ok(Bytes::from(vec![b' '; 600])),
    ])
    .chain(stream::pending());
    let answer = tokio::time::timeout(Duration::from_secs(5), send_streamed(settings, chunks))
        .await
        .expect("the server read on past the limit");
    answer.assert_rejected(&Rejection::payload_too_large(1000));
}

#[actix_web::test]
async fn stalled_body_gets_408() {
    let settings = webhook_actix::Settings {
        body_read_timeout: Duration::from_millis(200),
        ..unsigned_settings()
    };
    let first = Ok::<_, PayloadError>(Bytes::from_static(b"{\"version\""));
    let chunks = stream::iter([first]).chain(stream::pending());
    let answer = tokio::time::timeout(Duration::from_secs(5), send_streamed(settings, chunks))
        .await
        .expect("the body timeout did not fire");
    answer.assert_rejected(&Rejection::request_timeout(Duration::from_millis(200)));
}

#[actix_web::test]
async fn broken_body_gets_400() {
    let chunks = stream::iter([
        Ok(Bytes::from_static(b"{\"version\"")),
        Err(PayloadError::Incomplete(None)),
    ]);
    let answer = send_streamed(unsigned_settings(), chunks).await;
    answer.assert_rejected(&Rejection::incomplete_body());
}
