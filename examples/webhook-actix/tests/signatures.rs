//! In-process tests of signature verification through the whole HTTP path: the
//! contract's worked example, the signing vectors of the contract crate, and the
//! requests that broke other receivers (re-serialised bodies, non-ASCII text, replayed
//! or lenient timestamps, odd prefixes, repeated headers).

// Helpers outside `#[test]` functions may unwrap too: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::{
    NOW, SECRET, json_post, message_body, send, signature, signed_post, signed_settings,
    unsigned_settings,
};
use serde_json::Value;
use webhook_actix::{Clock, Settings};
use webhook_contract::{
    Event, JsonReply, MissingHeaders, Rejection, Secret, SignatureProblem, TimestampProblem,
    Verifier, VerifyError, parse_event, sign, sign_escaped,
};

/// The worked example of the contract: a non-ASCII message as the platform sends it.
const WORKED_SECRET: &str = "7d5e3c1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d";
const WORKED_TIMESTAMP: &str = "1796400000";
const WORKED_BODY: &str = r#"{"version":"1.0","event":"message_received","app":{"id":"app-1","name":"Café bot"},"thread":{"id":"thread-1","customer_id":null},"message":{"id":"msg-1","seq":3,"role":"user","content":"Hola, ¿qué tal? ☕ 😀","content_json":{}},"history_tail":[],"timestamp":"2026-12-04T12:00:00.000000+00:00"}"#;
const WORKED_PLATFORM_SIGNATURE: &str =
    "sha256=58764eddad0c38e90e2f16b508374d9eaf6df642190fbfc157a5f690080d87c1";
const WORKED_RAW_SIGNATURE: &str =
    "sha256=b864598cad42de684537b3283b5362c4791bab6a7976336613271a63e4426c22";

fn worked_settings() -> Settings {
    Settings {
        verifier: Some(Verifier::new(Secret::new(WORKED_SECRET))),
        clock: Clock::Fixed(1_796_400_000),
        ..unsigned_settings()
    }
}

fn worked_request(path: &str, signature: &str) -> TestRequest {
    json_post(path, WORKED_BODY)
        .insert_header(("x-timestamp", WORKED_TIMESTAMP))
        .insert_header(("x-signature", signature))
}

#[actix_web::test]
async fn worked_example_platform_signature_gets_reply() {
    let answer = send(
        worked_settings(),
        worked_request("/", WORKED_PLATFORM_SIGNATURE),
    )
    .await;
    answer.assert_reply("Echo: Hola, ¿qué tal? ☕ 😀");
    assert_eq!(answer.text(), r#"{"reply":"Echo: Hola, ¿qué tal? ☕ 😀"}"#);
}

#[actix_web::test]
async fn worked_example_raw_signature_gets_reply() {
    let answer = send(worked_settings(), worked_request("/", WORKED_RAW_SIGNATURE)).await;
    answer.assert_reply("Echo: Hola, ¿qué tal? ☕ 😀");
}

#[actix_web::test]
async fn worked_example_streams_too() {
    let answer = send(
        worked_settings(),
        worked_request("/stream", WORKED_PLATFORM_SIGNATURE),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.text(),
        "event: delta\ndata: {\"text\":\"Echo: \"}\n\n\
         event: delta\ndata: {\"text\":\"Hola, \"}\n\n\
         event: delta\ndata: {\"text\":\"¿qué \"}\n\n\
         event: delta\ndata: {\"text\":\"tal? \"}\n\n\
         event: delta\ndata: {\"text\":\"☕ \"}\n\n\
         event: delta\ndata: {\"text\":\"😀\"}\n\n\
         event: done\ndata: {}\n\n"
    );
}

#[actix_web::test]
async fn every_signing_vector_through_http() {
    let document: Value = serde_json::from_str(include_str!(
        "../../../crates/contract/vectors/signing.json"
    ))
    .unwrap();
    let tolerance = Duration::from_secs(document["tolerance_secs"].as_u64().unwrap());
    let vectors = document["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 30, "the vectors file lost entries");

    for vector in vectors {
        let name = vector["name"].as_str().unwrap();
        let text = |value: &Value| value.as_str().unwrap().to_owned();
        let timestamps: Vec<String> = vector["timestamps"]
            .as_array()
            .unwrap()
            .iter()
            .map(text)
            .collect();
        let signatures: Vec<String> = vector["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .map(text)
            .collect();
        let body = text(&vector["body"]);
        let now = vector["now"].as_u64().unwrap();

        let mut verifier =
            Verifier::new(Secret::new(text(&vector["secret"]))).with_tolerance(tolerance);
        if let Some(previous) = vector["previous_secret"].as_str() {
            verifier = verifier.with_previous(Secret::new(previous));
        }
        let settings = Settings {
            verifier: Some(verifier.clone()),
            clock: Clock::Fixed(now),
            ..unsigned_settings()
        };
        let mut request = json_post("/", body.clone());
        for timestamp in &timestamps {
            request = request.append_header(("x-timestamp", timestamp.as_str()));
        }
        for signature in &signatures {
            request = request.append_header(("x-signature", signature.as_str()));
        }
        let answer = send(settings, request).await;

        let expect = &vector["expect"];
        if let Some(error) = expect.get("error") {
            // The vector names the code and status; the message is the contract's.
            let expected = verifier
                .verify_at(
                    timestamps.iter().map(|value| value.as_bytes()),
                    signatures.iter().map(|value| value.as_bytes()),
                    body.as_bytes(),
                    now,
                )
                .expect_err(name);
            let rejection = Rejection::from(expected);
            assert_eq!(rejection.code().as_str(), error["code"], "{name}");
            assert_eq!(u64::from(rejection.status()), error["status"], "{name}");
            assert_eq!(answer.status.as_u16(), rejection.status(), "{name}");
            assert_eq!(answer.text(), rejection.to_json(), "{name}");
        } else {
            // Verified: what follows is the reply, or the parse error for a body that
            // is no message.
            match parse_event(body.as_bytes()) {
                Ok(Event::MessageReceived(received)) => {
                    let reply = format!("Echo: {}", received.message.content);
                    assert_eq!(answer.status, StatusCode::OK, "{name}");
                    assert_eq!(answer.text(), JsonReply::new(reply).to_json(), "{name}");
                }
                Ok(Event::Other(_)) => assert_eq!(answer.status, StatusCode::NO_CONTENT, "{name}"),
                Err(error) => {
                    let rejection = Rejection::from(error);
                    assert_eq!(answer.status.as_u16(), rejection.status(), "{name}");
                    assert_eq!(answer.text(), rejection.to_json(), "{name}");
                }
            }
        }
    }
}

#[actix_web::test]
async fn signed_request_gets_reply() {
    let answer = send(
        signed_settings(),
        signed_post("/", &message_body("hello"), NOW),
    )
    .await;
    answer.assert_reply("Echo: hello");
}

#[actix_web::test]
async fn unsigned_request_without_secret_gets_reply() {
    let answer = send(unsigned_settings(), json_post("/", message_body("hello"))).await;
    answer.assert_reply("Echo: hello");
}

#[actix_web::test]
async fn unsigned_request_with_secret_gets_401() {
    let answer = send(signed_settings(), json_post("/", message_body("hello"))).await;
    answer.assert_rejected(&Rejection::from(VerifyError::MissingHeader(
        MissingHeaders::Both,
    )));
}

#[actix_web::test]
async fn pretty_printed_body_is_verified_as_sent() {
    let body = "{\n  \"timestamp\": \"2026-12-04T10:00:00Z\",\n  \"history_tail\": [ { \"content_json\": {}, \"content\": \"earlier question\", \"role\": \"user\" } ],\n  \"message\": {\n    \"content_json\": {\"zeta\": 1, \"alpha\": {\"b\": 2, \"a\": 1}, \"price\": 1.50, \"big\": 1e2},\n    \"content\": \"Where is order 42?\",\n    \"role\": \"user\",\n    \"seq\": 3,\n    \"id\": \"msg_test_01\"\n  },\n  \"thread\": {\"customer_id\": \"cust_test_01\", \"id\": \"thr_test_01\"},\n  \"app\": {\"name\": \"Test App\", \"id\": \"app_test_01\"},\n  \"event\": \"message_received\",\n  \"version\": \"1.0\"\n}\n";
    let answer = send(signed_settings(), signed_post("/", body, NOW)).await;
    answer.assert_reply("Echo: Where is order 42?");
}

#[actix_web::test]
async fn bad_signature_is_rejected_before_parsing() {
    let request = json_post("/", r#"{"version":"1.0","event":"#)
        .insert_header(("x-timestamp", NOW.to_string()))
        .insert_header(("x-signature", format!("sha256={}", "0".repeat(64))));
    let answer = send(signed_settings(), request).await;
    answer.assert_rejected(&Rejection::from(VerifyError::Mismatch));
}

#[actix_web::test]
async fn tampered_body_gets_401() {
    let signed_body = message_body("hello");
    let sent_body = message_body("hellp");
    let timestamp = NOW.to_string();
    let request = json_post("/", sent_body)
        .insert_header(("x-timestamp", timestamp.clone()))
        .insert_header(("x-signature", signature(&timestamp, signed_body.as_bytes())));
    let answer = send(signed_settings(), request).await;
    answer.assert_rejected(&Rejection::from(VerifyError::Mismatch));
}

#[actix_web::test]
async fn raw_utf8_signature_gets_reply() {
    let content = "Grüße 👋 — café ñ 中文";
    let answer = send(
        signed_settings(),
        signed_post("/", &message_body(content), NOW),
    )
    .await;
    answer.assert_reply(&format!("Echo: {content}"));
}

#[actix_web::test]
async fn escaped_form_signature_gets_reply() {
    let content = "café / 10€ 😀";
    let body = message_body(content);
    let timestamp = NOW.to_string();
    let escaped_signature =
        sign_escaped(&Secret::new(SECRET), &timestamp, body.as_bytes()).unwrap();
    assert_ne!(escaped_signature, signature(&timestamp, body.as_bytes()));

    let request = json_post("/", body)
        .insert_header(("x-timestamp", timestamp))
        .insert_header(("x-signature", escaped_signature));
    let answer = send(signed_settings(), request).await;
    answer.assert_reply(&format!("Echo: {content}"));
}

#[actix_web::test]
async fn uppercase_hex_signature_gets_reply() {
    let body = message_body("hello");
    let timestamp = NOW.to_string();
    let hex = signature(&timestamp, body.as_bytes())["sha256=".len()..].to_uppercase();
    let request = json_post("/", body)
        .insert_header(("x-timestamp", timestamp))
        .insert_header(("x-signature", format!("sha256={hex}")));
    send(signed_settings(), request)
        .await
        .assert_reply("Echo: hello");
}

#[actix_web::test]
async fn previous_secret_is_accepted_during_rotation() {
    let settings = Settings {
        verifier: Some(Verifier::new(Secret::new("new-secret")).with_previous(Secret::new(SECRET))),
        ..signed_settings()
    };
    let answer = send(settings, signed_post("/", &message_body("hello"), NOW)).await;
    answer.assert_reply("Echo: hello");
}

/// Sends `message_body("hello")` signed at `NOW` with `signature` as sent.
async fn send_with_signature(signature_value: String) -> common::Answer {
    let request = json_post("/", message_body("hello"))
        .insert_header(("x-timestamp", NOW.to_string()))
        .insert_header(("x-signature", signature_value));
    send(signed_settings(), request).await
}

fn valid_hex() -> String {
    signature(&NOW.to_string(), message_body("hello").as_bytes())["sha256=".len()..].to_owned()
}

#[actix_web::test]
async fn other_signature_prefix_gets_401() {
    let answer = send_with_signature(format!("bogus={}", valid_hex())).await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedSignature(
        SignatureProblem::WrongPrefix,
    )));
}

#[actix_web::test]
async fn bare_hex_signature_gets_401() {
    let answer = send_with_signature(valid_hex()).await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedSignature(
        SignatureProblem::WrongPrefix,
    )));
}

#[actix_web::test]
async fn non_hex_signature_gets_401() {
    let answer = send_with_signature(format!("sha256=zz{}", valid_hex())).await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedSignature(
        SignatureProblem::WrongLength(66),
    )));

    let answer = send_with_signature(format!("sha256=zz{}", &valid_hex()[2..])).await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedSignature(
        SignatureProblem::NotHex,
    )));
}

#[actix_web::test]
async fn repeated_signature_header_gets_401() {
    let request = json_post("/", message_body("hello"))
        .insert_header(("x-timestamp", NOW.to_string()))
        .append_header(("x-signature", format!("sha256={}", "0".repeat(64))))
        .append_header(("x-signature", format!("sha256={}", valid_hex())));
    let answer = send(signed_settings(), request).await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedSignature(
        SignatureProblem::Repeated,
    )));
}

#[actix_web::test]
async fn repeated_timestamp_header_gets_401() {
    let body = message_body("hello");
    let request = signed_post("/", &body, NOW).append_header(("x-timestamp", NOW.to_string()));
    let answer = send(signed_settings(), request).await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedTimestamp(
        TimestampProblem::Repeated,
    )));
}

#[actix_web::test]
async fn timestamp_301_s_old_gets_401() {
    let answer = send(
        signed_settings(),
        signed_post("/", &message_body("hello"), NOW - 301),
    )
    .await;
    answer.assert_rejected(&Rejection::from(VerifyError::TimestampTooOld {
        age_secs: 301,
    }));
}

#[actix_web::test]
async fn timestamp_280_s_old_gets_reply() {
    let answer = send(
        signed_settings(),
        signed_post("/", &message_body("hello"), NOW - 280),
    )
    .await;
    answer.assert_reply("Echo: hello");
}

#[actix_web::test]
async fn timestamp_30_s_ahead_gets_reply() {
    let answer = send(
        signed_settings(),
        signed_post("/", &message_body("hello"), NOW + 30),
    )
    .await;
    answer.assert_reply("Echo: hello");
}

#[actix_web::test]
async fn timestamp_an_hour_ahead_gets_401() {
    let answer = send(
        signed_settings(),
        signed_post("/", &message_body("hello"), NOW + 3600),
    )
    .await;
    answer.assert_rejected(&Rejection::from(VerifyError::TimestampTooNew {
        ahead_secs: 3600,
    }));
}

#[actix_web::test]
async fn timestamp_in_milliseconds_gets_401() {
    let answer = send(
        signed_settings(),
        signed_post("/", &message_body("hello"), NOW * 1000),
    )
    .await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedTimestamp(
        TimestampProblem::OutOfRange,
    )));
}

#[actix_web::test]
async fn timestamp_with_trailing_letters_gets_401() {
    // Signed over the literal header value, so only the digit check can reject it.
    let body = message_body("hello");
    let timestamp = format!("{NOW}abc");
    let request = json_post("/", body.clone())
        .insert_header(("x-timestamp", timestamp.clone()))
        .insert_header(("x-signature", signature(&timestamp, body.as_bytes())));
    let answer = send(signed_settings(), request).await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedTimestamp(
        TimestampProblem::NotDigits,
    )));
}

#[actix_web::test]
async fn missing_timestamp_gets_401() {
    let body = message_body("hello");
    let request = json_post("/", body.clone()).insert_header((
        "x-signature",
        sign(&Secret::new(SECRET), "", body.as_bytes()),
    ));
    let answer = send(signed_settings(), request).await;
    answer.assert_rejected(&Rejection::from(VerifyError::MissingHeader(
        MissingHeaders::Timestamp,
    )));
}

#[actix_web::test]
async fn missing_signature_gets_401() {
    let request =
        json_post("/", message_body("hello")).insert_header(("x-timestamp", NOW.to_string()));
    let answer = send(signed_settings(), request).await;
    answer.assert_rejected(&Rejection::from(VerifyError::MissingHeader(
        MissingHeaders::Signature,
    )));
}

#[actix_web::test]
async fn wrong_secret_gets_401() {
    let settings = Settings {
        verifier: Some(Verifier::new(Secret::new("another-secret"))),
        ..signed_settings()
    };
    let answer = send(settings, signed_post("/", &message_body("hello"), NOW)).await;
    answer.assert_rejected(&Rejection::from(VerifyError::Mismatch));
}

#[actix_web::test]
async fn tolerance_setting_is_applied() {
    let settings = Settings {
        verifier: Some(Verifier::new(Secret::new(SECRET)).with_tolerance(Duration::from_secs(10))),
        ..signed_settings()
    };
    let answer = send(settings, signed_post("/", &message_body("hello"), NOW - 11)).await;
    answer.assert_rejected(&Rejection::from(VerifyError::TimestampTooOld {
        age_secs: 11,
    }));
}
