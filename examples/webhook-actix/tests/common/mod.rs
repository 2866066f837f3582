//! Fixtures shared by the in-process tests: settings, signed requests, and a response
//! type with exact assertions.

// Each test file uses a different part of this module.
#![allow(dead_code)]
// Helpers outside `#[test]` functions may unwrap too: a panic is a test failure.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use actix_web::web;
use bytes::Bytes;
use webhook_actix::{Clock, Settings, app};
use webhook_contract::{JsonReply, Rejection, Secret, Verifier, sign};

/// The secret the signed tests configure.
pub const SECRET: &str = "test-secret-4f9a";

/// The fixed clock of the signed tests, in unix seconds.
pub const NOW: u64 = 1_796_400_000;

/// Builds a compact body as the platform sends it, with `content` as the message text.
pub fn message_body(content: &str) -> String {
    let content = serde_json::to_string(content).unwrap();
    format!(
        r#"{{"version":"1.0","event":"message_received","app":{{"id":"app_test_01","name":"Test App"}},"thread":{{"id":"thr_test_01","customer_id":"cust_test_01"}},"message":{{"id":"msg_test_01","seq":3,"role":"user","content":{content},"content_json":{{}}}},"history_tail":[{{"role":"user","content":"earlier question","content_json":{{}}}}],"timestamp":"2026-12-04T10:00:00Z"}}"#
    )
}

/// Settings without a secret and without a stream delay.
pub fn unsigned_settings() -> Settings {
    Settings {
        verifier: None,
        max_body_bytes: 1024 * 1024,
        stream_delay: Duration::ZERO,
        body_read_timeout: Duration::from_secs(10),
        clock: Clock::Fixed(NOW),
    }
}

/// Settings with [`SECRET`], the default 300 s tolerance, and the clock at [`NOW`].
pub fn signed_settings() -> Settings {
    Settings {
        verifier: Some(Verifier::new(Secret::new(SECRET))),
        ..unsigned_settings()
    }
}

/// Computes `X-Signature` for `body` with [`SECRET`].
pub fn signature(timestamp: &str, body: &[u8]) -> String {
    sign(&Secret::new(SECRET), timestamp, body)
}

/// Builds a POST with `Content-Type: application/json` and the platform's id headers.
pub fn json_post(path: &str, body: impl Into<Bytes>) -> TestRequest {
    TestRequest::post()
        .uri(path)
        .insert_header(("content-type", "application/json"))
        .insert_header(("x-app-id", "app_test_01"))
        .insert_header(("x-thread-id", "thr_test_01"))
        .set_payload(body.into())
}

/// Builds a JSON POST signed with [`SECRET`] at `timestamp`, as the platform sends it for an
/// ASCII body.
pub fn signed_post(path: &str, body: &str, timestamp: u64) -> TestRequest {
    let timestamp = timestamp.to_string();
    let signature = signature(&timestamp, body.as_bytes());
    json_post(path, body.to_owned())
        .insert_header(("x-timestamp", timestamp))
        .insert_header(("x-signature", signature))
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends `request` through the app built with `settings`, in process.
pub async fn send(settings: Settings, request: TestRequest) -> Answer {
    let service = test::init_service(app(web::Data::new(settings))).await;
    let response = test::call_service(&service, request.to_request()).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = test::read_body(response).await;
    Answer {
        status,
        headers,
        body,
    }
}

impl Answer {
    /// Returns a header as text, `None` when absent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    /// Returns the body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    /// Asserts a 200 JSON reply with exactly `reply`.
    pub fn assert_reply(&self, reply: &str) {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.text(), JsonReply::new(reply).to_json());
    }

    /// Asserts the status, code and exact JSON body of `rejection`.
    pub fn assert_rejected(&self, rejection: &Rejection) {
        assert_eq!(
            self.status.as_u16(),
            rejection.status(),
            "body: {}",
            self.text()
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_slice(&self.body).unwrap();
        assert_eq!(body["error"], rejection.code().as_str());
        assert_eq!(self.text(), rejection.to_json());
    }
}
