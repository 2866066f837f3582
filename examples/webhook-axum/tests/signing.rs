//! Signed requests through the whole HTTP path: the platform's worked example and
//! every known-answer vector of the contract crate.

// Helpers outside #[test] functions unwrap too: a panic there is a test failure
// with a line number.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{send, unsigned_state};
use serde_json::Value;
use webhook_axum::{AppState, Clock};
use webhook_contract::{Rejection, Secret, Verifier};

const WORKED_SECRET: &str = "7d5e3c1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d";
const WORKED_TIMESTAMP: &str = "1796400000";
const WORKED_BODY: &str = r#"{"version":"1.0","event":"message_received","app":{"id":"app-1","name":"Café bot"},"thread":{"id":"thread-1","customer_id":null},"message":{"id":"msg-1","seq":3,"role":"user","content":"Hola, ¿qué tal? ☕ 😀","content_json":{}},"history_tail":[],"timestamp":"2026-12-04T12:00:00.000000+00:00"}"#;
/// What the platform sends: the HMAC over the body with non-ASCII characters escaped.
const WORKED_PLATFORM_SIGNATURE: &str =
    "sha256=58764eddad0c38e90e2f16b508374d9eaf6df642190fbfc157a5f690080d87c1";
/// The HMAC over the raw bytes, as a sender without the escaping quirk would sign.
const WORKED_RAW_SIGNATURE: &str =
    "sha256=b864598cad42de684537b3283b5362c4791bab6a7976336613271a63e4426c22";

fn worked_state(now: u64) -> AppState {
    AppState {
        verifier: Some(Arc::new(Verifier::new(Secret::new(WORKED_SECRET)))),
        clock: Clock::Fixed(now),
        ..unsigned_state()
    }
}

fn worked_request(path: &str, signature: &str) -> Request<Body> {
    common::request(
        "POST",
        path,
        &[
            ("content-type", "application/json"),
            ("x-app-id", "app-1"),
            ("x-thread-id", "thread-1"),
            ("x-timestamp", WORKED_TIMESTAMP),
            ("x-signature", signature),
        ],
        WORKED_BODY,
    )
}

#[tokio::test]
async fn worked_example_with_platform_signature_gets_reply() {
    let answer = send(
        worked_state(1_796_400_010),
        worked_request("/", WORKED_PLATFORM_SIGNATURE),
    )
    .await;
    answer.assert_reply("Echo: Hola, ¿qué tal? ☕ 😀");
    assert_eq!(answer.text(), r#"{"reply":"Echo: Hola, ¿qué tal? ☕ 😀"}"#);
}

#[tokio::test]
async fn worked_example_with_raw_signature_gets_reply() {
    let answer = send(
        worked_state(1_796_400_010),
        worked_request("/", WORKED_RAW_SIGNATURE),
    )
    .await;
    answer.assert_reply("Echo: Hola, ¿qué tal? ☕ 😀");
}

#[tokio::test]
async fn worked_example_streams_with_platform_signature() {
    let answer = send(
        worked_state(1_796_400_000),
        worked_request("/stream", WORKED_PLATFORM_SIGNATURE),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.text(),
        concat!(
            "event: delta\ndata: {\"text\":\"Echo: \"}\n\n",
            "event: delta\ndata: {\"text\":\"Hola, \"}\n\n",
            "event: delta\ndata: {\"text\":\"¿qué \"}\n\n",
            "event: delta\ndata: {\"text\":\"tal? \"}\n\n",
            "event: delta\ndata: {\"text\":\"☕ \"}\n\n",
            "event: delta\ndata: {\"text\":\"😀\"}\n\n",
            "event: done\ndata: {}\n\n",
        )
    );
}

#[tokio::test]
async fn worked_example_replayed_an_hour_later_is_rejected() {
    let answer = send(
        worked_state(1_796_403_600),
        worked_request("/", WORKED_PLATFORM_SIGNATURE),
    )
    .await;
    answer.assert_rejected(&Rejection::from(
        webhook_contract::VerifyError::TimestampTooOld { age_secs: 3600 },
    ));
}

/// The contract crate's known-answer vectors, kept with the crate.
const SIGNING_VECTORS: &str = include_str!("../../../crates/contract/vectors/signing.json");

#[tokio::test]
async fn every_signing_vector_gets_its_answer_over_http() {
    let file: Value = serde_json::from_str(SIGNING_VECTORS).unwrap();
    let tolerance = Duration::from_secs(file["tolerance_secs"].as_u64().unwrap());
    let vectors = file["vectors"].as_array().unwrap();
    assert!(
        vectors.len() >= 30,
        "expected the full vector set, found {}",
        vectors.len()
    );

    for vector in vectors {
        let name = vector["name"].as_str().unwrap();
        let strings = |key: &str| -> Vec<String> {
            vector[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|value| value.as_str().unwrap().to_owned())
                .collect()
        };
        let timestamps = strings("timestamps");
        let signatures = strings("signatures");
        let body = vector["body"].as_str().unwrap();
        let now = vector["now"].as_u64().unwrap();

        let mut verifier = Verifier::new(Secret::new(vector["secret"].as_str().unwrap()))
            .with_tolerance(tolerance);
        if let Some(previous) = vector["previous_secret"].as_str() {
            verifier = verifier.with_previous(Secret::new(previous));
        }
        // The verdict of the library alone, to compare the HTTP response with.
        let verdict = verifier.verify_at(
            timestamps.iter().map(|value| value.as_bytes()),
            signatures.iter().map(|value| value.as_bytes()),
            body.as_bytes(),
            now,
        );
        let state = AppState {
            verifier: Some(Arc::new(verifier)),
            clock: Clock::Fixed(now),
            ..unsigned_state()
        };

        let mut headers = vec![("content-type", "application/json")];
        headers.extend(
            timestamps
                .iter()
                .map(|value| ("x-timestamp", value.as_str())),
        );
        headers.extend(
            signatures
                .iter()
                .map(|value| ("x-signature", value.as_str())),
        );
        let answer = send(
            state,
            common::request("POST", "/", &headers, body.to_owned()),
        )
        .await;

        let expect = &vector["expect"];
        if let Some(error) = expect.get("error") {
            let verify_error = verdict.expect_err(name);
            assert_eq!(
                format!("{verify_error:?}"),
                error["variant"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(
                u64::from(answer.status.as_u16()),
                error["status"].as_u64().unwrap(),
                "{name}"
            );
            let json: Value = serde_json::from_slice(&answer.body).unwrap();
            assert_eq!(json["error"], error["code"], "{name}");
            assert_eq!(
                answer.text(),
                Rejection::from(verify_error).to_json(),
                "{name}"
            );
        } else {
            let verified = verdict.expect(name);
            let ok = &expect["ok"];
            assert_eq!(
                format!("{:?}", verified.secret).to_lowercase(),
                ok["secret"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(
                format!("{:?}", verified.form).to_lowercase(),
                ok["form"].as_str().unwrap(),
                "{name}"
            );
            // Past verification the body decides: a reply, or 400 for an empty body.
            match webhook_contract::parse_event(body.as_bytes()) {
                Ok(webhook_contract::Event::MessageReceived(received)) => {
                    answer.assert_reply(&format!("Echo: {}", received.message.content));
                }
                Ok(webhook_contract::Event::Other(_)) => {
                    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{name}")
                }
                Err(error) => answer.assert_rejected(&Rejection::from(error)),
            }
        }
    }
}
