//! Fixtures shared by the in-process tests: a fixed clock, a signed request builder
//! and a response reader.

#![allow(dead_code)]

pub mod raw;

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use webhook_axum::{AppState, Clock, app};
use webhook_contract::{DEFAULT_MAX_BODY_BYTES, Rejection, Secret, Verifier, sign};

/// The secret of the ported field cases.
pub const SECRET: &str = "test-secret-4f9a";

/// The receiver's clock in every in-process test, in unix seconds.
pub const NOW: u64 = 1_796_400_000;

/// A compact, platform-shaped body whose reply is `Echo: hello`.
pub const BASE_BODY: &str = r#"{"version":"1.0","event":"message_received","app":{"id":"app_test_01","name":"Test App"},"thread":{"id":"thr_test_01","customer_id":"cust_test_01"},"message":{"id":"msg_test_01","seq":3,"role":"user","content":"hello","content_json":{}},"history_tail":[{"role":"user","content":"earlier question","content_json":{}}],"timestamp":"2026-12-04T10:00:00Z"}"#;

/// Returns a body of `message_received` with `content`, built as the platform builds it.
pub fn message_body(content: &str) -> String {
    BASE_BODY.replace(
        r#""content":"hello""#,
        &format!(r#""content":{}"#, serde_json::to_string(content).unwrap()),
    )
}

/// State with no secret, a fixed clock and no pause between streamed events.
pub fn unsigned_state() -> AppState {
    AppState {
        verifier: None,
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        stream_delay: Duration::ZERO,
        clock: Clock::Fixed(NOW),
    }
}

/// State that requires signatures made with `secret`, tolerance 300 s.
pub fn signed_state(secret: &str) -> AppState {
    AppState {
        verifier: Some(Arc::new(Verifier::new(Secret::new(secret)))),
        ..unsigned_state()
    }
}

/// Builds a request from `(name, value)` header pairs, sent in that order.
pub fn request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body.into()).unwrap()
}

/// Builds an unsigned POST of `body` with `Content-Type: application/json`.
pub fn unsigned_post(path: &str, body: &str) -> Request<Body> {
    request(
        "POST",
        path,
        &[("content-type", "application/json")],
        body.to_owned(),
    )
}

/// Builds a POST of `body` signed with [`SECRET`] at `timestamp`, as the platform signs ASCII.
pub fn signed_post(path: &str, body: &str, timestamp: u64) -> Request<Body> {
    let timestamp = timestamp.to_string();
    let signature = sign(&Secret::new(SECRET), &timestamp, body.as_bytes());
    request(
        "POST",
        path,
        &[
            ("content-type", "application/json"),
            ("x-app-id", "app_test_01"),
            ("x-thread-id", "thr_test_01"),
            ("x-timestamp", &timestamp),
            ("x-signature", &signature),
        ],
        body.to_owned(),
    )
}

/// A response read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// Returns the body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    /// Returns the `reply` of a JSON reply.
    pub fn reply(&self) -> String {
        let json: serde_json::Value = serde_json::from_slice(&self.body).unwrap();
        json["reply"].as_str().unwrap().to_owned()
    }

    /// Returns a header as text, or `None` when it is absent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    /// Asserts a 200 JSON reply with exactly `reply`.
    pub fn assert_reply(&self, reply: &str) {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/json"));
        let expected = serde_json::json!({ "reply": reply }).to_string();
        assert_eq!(self.text(), expected);
    }

    /// Asserts the status, the JSON content type and the body of `rejection`.
    pub fn assert_rejected(&self, rejection: &Rejection) {
        assert_eq!(
            self.status.as_u16(),
            rejection.status(),
            "body: {}",
            self.text()
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        let json: serde_json::Value = serde_json::from_slice(&self.body).unwrap();
        assert_eq!(json["error"], rejection.code().as_str());
        assert_eq!(json["message"], rejection.message());
        assert_eq!(self.text(), rejection.to_json());
    }
}

/// Sends `request` through the router in process, with a 20 s bound on the whole
/// exchange.
pub async fn send(state: AppState, request: Request<Body>) -> Answer {
    let exchange = async {
        let response = app(state).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    };
    tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .unwrap()
}
