//! Requests that broke real webhook receivers elsewhere, rewritten for this contract,
//! each with the exact response this server must give.

// Helpers outside #[test] functions unwrap too: a panic there is a test failure
// with a line number.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{
    BASE_BODY, NOW, SECRET, message_body, send, signed_post, signed_state, unsigned_state,
};
use webhook_contract::{
    MissingHeaders, PayloadError, Rejection, Secret, SignatureProblem, TimestampProblem,
    VerifyError, sign,
};

/// HMAC-SHA256 of `"{timestamp}.{signed_over}"` with [`SECRET`], hex only.
fn hex_signature(timestamp: &str, signed_over: &str) -> String {
    sign(&Secret::new(SECRET), timestamp, signed_over.as_bytes())["sha256=".len()..].to_owned()
}

/// Builds a POST to `/` with the platform's headers, `timestamp` and `signatures` as given
/// (`None` and an empty slice leave the header out).
fn delivery(
    content_type: Option<&str>,
    timestamp: Option<&str>,
    signatures: &[&str],
    body: &str,
) -> Request<Body> {
    let mut headers = vec![("x-app-id", "app_test_01"), ("x-thread-id", "thr_test_01")];
    if let Some(content_type) = content_type {
        headers.push(("content-type", content_type));
    }
    if let Some(timestamp) = timestamp {
        headers.push(("x-timestamp", timestamp));
    }
    headers.extend(
        signatures
            .iter()
            .map(|signature| ("x-signature", *signature)),
    );
    common::request("POST", "/", &headers, body.to_owned())
}

/// Builds a delivery of `sent`, signed over `signed_over` at `NOW + offset`.
fn signed_delivery(sent: &str, signed_over: &str, offset: i64) -> Request<Body> {
    let timestamp = NOW.checked_add_signed(offset).unwrap().to_string();
    let signature = format!("sha256={}", hex_signature(&timestamp, signed_over));
    delivery(
        Some("application/json"),
        Some(&timestamp),
        &[&signature],
        sent,
    )
}

#[tokio::test]
async fn platform_shaped_signed_request_gets_reply() {
    let answer = send(
        signed_state(SECRET),
        signed_delivery(BASE_BODY, BASE_BODY, 0),
    )
    .await;
    answer.assert_reply("Echo: hello");
}

#[tokio::test]
async fn unsigned_request_without_secret_gets_reply() {
    let answer = send(
        unsigned_state(),
        delivery(Some("application/json"), None, &[], BASE_BODY),
    )
    .await;
    answer.assert_reply("Echo: hello");
}

#[tokio::test]
async fn signature_covers_raw_bytes_not_reserialised_json() {
    // Pretty-printed, keys in reverse order, number spellings serde would rewrite, and a
    // trailing newline: only an HMAC over the bytes as received matches.
    let body = "{\n  \"timestamp\": \"2026-12-04T10:00:00Z\",\n  \"message\": {\n    \"content_json\": {\"zeta\": 1, \"alpha\": {\"b\": 2, \"a\": 1}, \"price\": 1.50, \"big\": 1e2},\n    \"content\": \"Where is order 42?\",\n    \"role\": \"user\"\n  },\n  \"event\": \"message_received\",\n  \"version\": \"1.0\"\n}\n";
    let answer = send(signed_state(SECRET), signed_delivery(body, body, 0)).await;
    answer.assert_reply("Echo: Where is order 42?");
}

#[tokio::test]
async fn wrong_signature_is_checked_before_json_is_parsed() {
    let zeros = format!("sha256={}", "0".repeat(64));
    let timestamp = NOW.to_string();
    let request = delivery(
        Some("application/json"),
        Some(&timestamp),
        &[&zeros],
        r#"{"version":"1.0","event":"#,
    );
    let answer = send(signed_state(SECRET), request).await;
    answer.assert_rejected(&Rejection::from(VerifyError::Mismatch));
}

#[tokio::test]
async fn body_changed_after_signing_is_mismatch() {
    let tampered = BASE_BODY.replace("\"hello\"", "\"hellp\"");
    let answer = send(
        signed_state(SECRET),
        signed_delivery(&tampered, BASE_BODY, 0),
    )
    .await;
    answer.assert_rejected(&Rejection::from(VerifyError::Mismatch));
}

#[tokio::test]
async fn raw_utf8_signed_over_raw_bytes_gets_reply() {
    let body = message_body("Grüße 👋 — café ñ 中文");
    let answer = send(signed_state(SECRET), signed_delivery(&body, &body, 0)).await;
    answer.assert_reply("Echo: Grüße 👋 — café ñ 中文");
}

#[tokio::test]
async fn raw_utf8_signed_over_escaped_form_gets_reply() {
    // The platform signs non-ASCII characters as lowercase \u escapes (a surrogate pair
    // above U+FFFF) but sends them raw.
    let sent = message_body("café / 10€ 😀");
    let signed_over = BASE_BODY.replace(
        r#""content":"hello""#,
        r#""content":"caf\u00e9 / 10\u20ac \ud83d\ude00""#,
    );
    let answer = send(
        signed_state(SECRET),
        signed_delivery(&sent, &signed_over, 0),
    )
    .await;
    answer.assert_reply("Echo: café / 10€ 😀");
}

#[tokio::test]
async fn escaped_form_with_uppercase_hex_is_mismatch() {
    let sent = message_body("café");
    let signed_over = BASE_BODY.replace(r#""content":"hello""#, r#""content":"caf\u00E9""#);
    let answer = send(
        signed_state(SECRET),
        signed_delivery(&sent, &signed_over, 0),
    )
    .await;
    answer.assert_rejected(&Rejection::from(VerifyError::Mismatch));
}

#[tokio::test]
async fn charset_parameter_is_accepted() {
    let timestamp = NOW.to_string();
    let signature = format!("sha256={}", hex_signature(&timestamp, BASE_BODY));
    let request = delivery(
        Some("application/json; charset=utf-8"),
        Some(&timestamp),
        &[&signature],
        BASE_BODY,
    );
    send(signed_state(SECRET), request)
        .await
        .assert_reply("Echo: hello");
}

#[tokio::test]
async fn signed_json_without_content_type_rejected() {
    let timestamp = NOW.to_string();
    let signature = format!("sha256={}", hex_signature(&timestamp, BASE_BODY));
    let answer = send(
        signed_state(SECRET),
        delivery(None, Some(&timestamp), &[&signature], BASE_BODY),
    )
    .await;
    answer.assert_rejected(&Rejection::unsupported_media_type(None));
}

#[tokio::test]
async fn signed_json_as_text_plain_rejected() {
    let timestamp = NOW.to_string();
    let signature = format!("sha256={}", hex_signature(&timestamp, BASE_BODY));
    let request = delivery(
        Some("text/plain"),
        Some(&timestamp),
        &[&signature],
        BASE_BODY,
    );
    let answer = send(signed_state(SECRET), request).await;
    answer.assert_rejected(&Rejection::unsupported_media_type(Some(b"text/plain")));
}

#[tokio::test]
async fn signed_oversized_body_rejected() {
    let padding = "x".repeat(16_800_000);
    let body = BASE_BODY.replace(
        r#""content_json":{}"#,
        &format!(r#""content_json":{{"pad":"{padding}"}}"#),
    );
    let answer = send(signed_state(SECRET), signed_post("/", &body, NOW)).await;
    answer.assert_rejected(&Rejection::payload_too_large(1024 * 1024));
}

#[tokio::test]
async fn unknown_signature_scheme_is_malformed() {
    let timestamp = NOW.to_string();
    let bogus = format!("bogus={}", hex_signature(&timestamp, BASE_BODY));
    let answer = send(
        signed_state(SECRET),
        delivery(
            Some("application/json"),
            Some(&timestamp),
            &[&bogus],
            BASE_BODY,
        ),
    )
    .await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedSignature(
        SignatureProblem::WrongPrefix,
    )));
}

#[tokio::test]
async fn bare_hex_signature_is_malformed() {
    let timestamp = NOW.to_string();
    let bare = hex_signature(&timestamp, BASE_BODY);
    let answer = send(
        signed_state(SECRET),
        delivery(
            Some("application/json"),
            Some(&timestamp),
            &[&bare],
            BASE_BODY,
        ),
    )
    .await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedSignature(
        SignatureProblem::WrongPrefix,
    )));
}

#[tokio::test]
async fn non_hex_digest_is_malformed() {
    let timestamp = NOW.to_string();
    let junk = format!("sha256=zz{}", hex_signature(&timestamp, BASE_BODY));
    let answer = send(
        signed_state(SECRET),
        delivery(
            Some("application/json"),
            Some(&timestamp),
            &[&junk],
            BASE_BODY,
        ),
    )
    .await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedSignature(
        SignatureProblem::WrongLength(66),
    )));

    let not_hex = format!("sha256={}", "g".repeat(64));
    let answer = send(
        signed_state(SECRET),
        delivery(
            Some("application/json"),
            Some(&timestamp),
            &[&not_hex],
            BASE_BODY,
        ),
    )
    .await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedSignature(
        SignatureProblem::NotHex,
    )));
}

#[tokio::test]
async fn uppercase_hex_signature_is_accepted() {
    let timestamp = NOW.to_string();
    let upper = format!(
        "sha256={}",
        hex_signature(&timestamp, BASE_BODY).to_uppercase()
    );
    let answer = send(
        signed_state(SECRET),
        delivery(
            Some("application/json"),
            Some(&timestamp),
            &[&upper],
            BASE_BODY,
        ),
    )
    .await;
    answer.assert_reply("Echo: hello");
}

#[tokio::test]
async fn repeated_signature_header_is_malformed() {
    let timestamp = NOW.to_string();
    let zeros = format!("sha256={}", "0".repeat(64));
    let valid = format!("sha256={}", hex_signature(&timestamp, BASE_BODY));
    let request = delivery(
        Some("application/json"),
        Some(&timestamp),
        &[&zeros, &valid],
        BASE_BODY,
    );
    let answer = send(signed_state(SECRET), request).await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedSignature(
        SignatureProblem::Repeated,
    )));
}

#[tokio::test]
async fn repeated_timestamp_header_is_malformed() {
    let timestamp = NOW.to_string();
    let valid = format!("sha256={}", hex_signature(&timestamp, BASE_BODY));
    let request = common::request(
        "POST",
        "/",
        &[
            ("content-type", "application/json"),
            ("x-timestamp", &timestamp),
            ("x-timestamp", &timestamp),
            ("x-signature", &valid),
        ],
        BASE_BODY,
    );
    let answer = send(signed_state(SECRET), request).await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedTimestamp(
        TimestampProblem::Repeated,
    )));
}

#[tokio::test]
async fn timestamp_301_seconds_old_is_rejected() {
    let answer = send(
        signed_state(SECRET),
        signed_delivery(BASE_BODY, BASE_BODY, -301),
    )
    .await;
    answer.assert_rejected(&Rejection::from(VerifyError::TimestampTooOld {
        age_secs: 301,
    }));
}

#[tokio::test]
async fn timestamp_280_seconds_old_is_accepted() {
    let answer = send(
        signed_state(SECRET),
        signed_delivery(BASE_BODY, BASE_BODY, -280),
    )
    .await;
    answer.assert_reply("Echo: hello");
}

#[tokio::test]
async fn timestamp_30_seconds_ahead_is_accepted() {
    let answer = send(
        signed_state(SECRET),
        signed_delivery(BASE_BODY, BASE_BODY, 30),
    )
    .await;
    answer.assert_reply("Echo: hello");
}

#[tokio::test]
async fn timestamp_an_hour_ahead_is_rejected() {
    let answer = send(
        signed_state(SECRET),
        signed_delivery(BASE_BODY, BASE_BODY, 3600),
    )
    .await;
    answer.assert_rejected(&Rejection::from(VerifyError::TimestampTooNew {
        ahead_secs: 3600,
    }));
}

#[tokio::test]
async fn timestamp_in_milliseconds_is_rejected() {
    let millis = (NOW * 1000).to_string();
    let signature = format!("sha256={}", hex_signature(&millis, BASE_BODY));
    let answer = send(
        signed_state(SECRET),
        delivery(
            Some("application/json"),
            Some(&millis),
            &[&signature],
            BASE_BODY,
        ),
    )
    .await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedTimestamp(
        TimestampProblem::OutOfRange,
    )));
}

#[tokio::test]
async fn timestamp_with_trailing_letters_is_malformed() {
    let timestamp = format!("{NOW}abc");
    let signature = format!("sha256={}", hex_signature(&timestamp, BASE_BODY));
    let answer = send(
        signed_state(SECRET),
        delivery(
            Some("application/json"),
            Some(&timestamp),
            &[&signature],
            BASE_BODY,
        ),
    )
    .await;
    answer.assert_rejected(&Rejection::from(VerifyError::MalformedTimestamp(
        TimestampProblem::NotDigits,
    )));
}

#[tokio::test]
async fn missing_timestamp_is_rejected_when_secret_is_set() {
    let signature = format!("sha256={}", hex_signature("", BASE_BODY));
    let answer = send(
        signed_state(SECRET),
        delivery(Some("application/json"), None, &[&signature], BASE_BODY),
    )
    .await;
    answer.assert_rejected(&Rejection::from(VerifyError::MissingHeader(
        MissingHeaders::Timestamp,
    )));
}

#[tokio::test]
async fn missing_signature_is_rejected_when_secret_is_set() {
    let timestamp = NOW.to_string();
    let answer = send(
        signed_state(SECRET),
        delivery(Some("application/json"), Some(&timestamp), &[], BASE_BODY),
    )
    .await;
    answer.assert_rejected(&Rejection::from(VerifyError::MissingHeader(
        MissingHeaders::Signature,
    )));
}

#[tokio::test]
async fn null_and_absent_optional_fields_are_accepted() {
    let body = r#"{"version":"1.0","event":"message_received","app":{"id":"app_test_01","name":"Test App"},"thread":{"id":"thr_test_01","customer_id":null},"message":{"content":"only content path"},"timestamp":"2026-12-04T12:00:00.000000+00:00","locale":"de-DE"}"#;
    let answer = send(signed_state(SECRET), signed_delivery(body, body, 0)).await;
    answer.assert_reply("Echo: only content path");
}

#[tokio::test]
async fn signed_body_without_content_is_invalid_payload() {
    let body = BASE_BODY.replace(r#""content":"hello","#, "");
    let answer = send(signed_state(SECRET), signed_delivery(&body, &body, 0)).await;
    answer.assert_rejected(&Rejection::from(PayloadError::MissingField {
        path: "message.content",
    }));
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn empty_content_gets_reply_with_empty_text() {
    let body = message_body("");
    let answer = send(signed_state(SECRET), signed_delivery(&body, &body, 0)).await;
    answer.assert_reply("Echo: ");
    assert_eq!(answer.reply(), "Echo: ");
}

#[tokio::test]
async fn empty_body_without_secret_is_invalid_json() {
    let answer = send(
        unsigned_state(),
        delivery(Some("application/json"), None, &[], ""),
    )
    .await;
    answer.assert_rejected(&Rejection::from(PayloadError::Empty));
}

#[tokio::test]
async fn signed_empty_body_is_invalid_json() {
    let answer = send(signed_state(SECRET), signed_delivery("", "", 0)).await;
    answer.assert_rejected(&Rejection::from(PayloadError::Empty));
}
