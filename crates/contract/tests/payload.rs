//! Parsing request bodies: what is required, what is optional, and how each fault is
//! named.

use webhook_contract::{
    ErrorCode, Event, PayloadError, Rejection, check_content_type, parse_event, reply_chunks,
};

const PLATFORM_BODY: &str = r#"{"version":"1.0","event":"message_received","app":{"id":"app-1","name":""},"thread":{"id":"thread-1","customer_id":null},"message":{"id":"msg-1","seq":3,"role":"user","content":"Grüße 👋","content_json":{}},"history_tail":[{"role":"assistant","content":"Hi","content_json":{}},{"role":"user","content":"Grüße 👋","content_json":{}}],"timestamp":"2026-12-04T12:00:00.123456+00:00"}"#;

fn message(body: &str) -> webhook_contract::MessageReceived {
    match parse_event(body.as_bytes()) {
        Ok(Event::MessageReceived(message)) => message,
        other => panic!("expected message_received, got {other:?}"),
    }
}

fn error(body: &str) -> PayloadError {
    parse_event(body.as_bytes()).expect_err("body should be rejected")
}

#[test]
fn parses_platform_body() {
    let parsed = message(PLATFORM_BODY);
    assert_eq!(parsed.version, "1.0");
    assert_eq!(parsed.message.content, "Grüße 👋");
    assert_eq!(parsed.message.seq, Some(3));
    assert_eq!(parsed.thread.customer_id, None);
    assert_eq!(parsed.app.name.as_deref(), Some(""));
    assert_eq!(parsed.history_tail.len(), 2);
    assert_eq!(
        parsed.timestamp.as_deref(),
        Some("2026-12-04T12:00:00.123456+00:00")
    );
}

#[test]
fn serialises_back_to_the_same_bytes() {
    assert_eq!(message(PLATFORM_BODY).to_json(), PLATFORM_BODY);
}

#[test]
fn accepts_legacy_body_with_only_content() {
    let parsed = message(
        r#"{"version":"1.0","event":"message_received","app":{"id":"a","name":"A"},"thread":{"id":"t","customer_id":null},"message":{"content":"only content"},"timestamp":"2026-12-04T12:00:00Z","locale":"de-DE"}"#,
    );
    assert_eq!(parsed.message.content, "only content");
    assert_eq!(parsed.message.id, None);
    assert!(parsed.history_tail.is_empty());
}

#[test]
fn treats_null_objects_as_absent() {
    let parsed = message(
        r#"{"version":"1","event":"message_received","app":null,"thread":null,"history_tail":null,"message":{"content":"x","content_json":null}}"#,
    );
    assert_eq!(parsed.app.id, None);
    assert!(parsed.history_tail.is_empty());
}

#[test]
fn keeps_empty_content() {
    assert_eq!(
        message(r#"{"version":"1.0","event":"message_received","message":{"content":""}}"#)
            .message
            .content,
        ""
    );
}

#[test]
fn other_event_is_not_an_error() {
    let event =
        parse_event(br#"{"version":"1.0","event":"thread_closed","thread":{"id":"t"}}"#).unwrap();
    match event {
        Event::Other(other) => assert_eq!(other.event, "thread_closed"),
        Event::MessageReceived(_) => panic!("thread_closed parsed as message_received"),
    }
}

#[test]
fn rejects_empty_body() {
    assert_eq!(error(""), PayloadError::Empty);
    assert_eq!(error(" \n"), PayloadError::Empty);
    assert_eq!(
        Rejection::from(PayloadError::Empty).code(),
        ErrorCode::InvalidJson
    );
}

#[test]
fn rejects_truncated_json() {
    let PayloadError::Syntax { detail } = error(r#"{"version":"1.0","event":"#) else {
        panic!("expected a syntax error");
    };
    assert_eq!(detail, "EOF while parsing a value at line 1 column 25");
}

#[test]
fn rejects_trailing_characters() {
    assert!(matches!(
        error(r#"{"version":"1.0","event":"message_received","message":{"content":"x"}} x"#),
        PayloadError::Syntax { .. }
    ));
}

#[test]
fn names_missing_content() {
    let missing = error(r#"{"version":"1.0","event":"message_received","message":{"id":"m"}}"#);
    assert_eq!(
        missing,
        PayloadError::MissingField {
            path: "message.content"
        }
    );
    assert_eq!(
        missing.to_string(),
        "message.content is missing; the contract requires it."
    );
    let rejection = Rejection::from(missing);
    assert_eq!(rejection.code(), ErrorCode::InvalidPayload);
    assert_eq!(rejection.status(), 400);
}

#[test]
fn names_missing_message_as_content() {
    assert_eq!(
        error(r#"{"version":"1.0","event":"message_received"}"#),
        PayloadError::MissingField {
            path: "message.content"
        }
    );
}

#[test]
fn names_missing_version_and_event() {
    assert_eq!(
        error(r#"{"event":"message_received"}"#),
        PayloadError::MissingField { path: "version" }
    );
    assert_eq!(
        error(r#"{"version":"1.0"}"#),
        PayloadError::MissingField { path: "event" }
    );
}

#[test]
fn names_path_of_wrong_type() {
    let wrong = error(r#"{"version":"1.0","event":"message_received","message":{"content":5}}"#);
    assert_eq!(
        wrong.to_string(),
        "message.content: invalid type: integer `5`, expected a string at line 1 column 66; fix the field's type."
    );
}

#[test]
fn names_path_inside_history() {
    let PayloadError::WrongType { path, .. } = error(
        r#"{"version":"1.0","event":"message_received","message":{"content":"x"},"history_tail":[{"role":"user"},{"role":7}]}"#,
    ) else {
        panic!("expected a type error");
    };
    assert_eq!(path, "history_tail[1].role");
}

#[test]
fn rejects_non_object_bodies() {
    for body in ["[]", "\"text\"", "42", "null"] {
        let rejected = error(body);
        assert!(
            matches!(rejected, PayloadError::WrongType { .. }),
            "{body}: {rejected:?}"
        );
        assert_eq!(
            Rejection::from(rejected).code(),
            ErrorCode::InvalidPayload,
            "{body}"
        );
    }
}

#[test]
fn rejects_other_major_versions() {
    for version in ["2.0", "0.9", "v1", "", "1x.0"] {
        let body = format!(
            r#"{{"version":"{version}","event":"message_received","message":{{"content":"x"}}}}"#
        );
        assert_eq!(
            error(&body),
            PayloadError::UnsupportedVersion {
                version: version.to_owned()
            },
            "{version}"
        );
    }
    assert_eq!(
        message(r#"{"version":"1.7","event":"message_received","message":{"content":"x"}}"#)
            .version,
        "1.7"
    );
}

#[test]
fn content_type_accepts_json_with_parameters() {
    for value in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
        " application/json ",
    ] {
        assert_eq!(
            check_content_type(Some(value.as_bytes())),
            Ok(()),
            "{value}"
        );
    }
}

#[test]
fn content_type_rejects_others() {
    for value in [
        None,
        Some("text/plain"),
        Some("application/jsonx"),
        Some("application/vnd.api+json"),
        Some(""),
    ] {
        let rejection = check_content_type(value.map(str::as_bytes)).unwrap_err();
        assert_eq!(
            rejection.code(),
            ErrorCode::UnsupportedMediaType,
            "{value:?}"
        );
        assert_eq!(rejection.status(), 415);
    }
    assert_eq!(
        check_content_type(Some(b"text/plain"))
            .unwrap_err()
            .to_json(),
        r#"{"error":"unsupported_media_type","message":"The request has Content-Type \"text/plain\"; send the body as JSON with Content-Type: application/json (parameters such as charset=utf-8 are fine)."}"#
    );
}

#[test]
fn every_code_has_its_status() {
    let statuses: Vec<(&str, u16)> = ErrorCode::ALL
        .iter()
        .map(|code| (code.as_str(), code.status()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("payload_too_large", 413),
            ("request_timeout", 408),
            ("missing_signature", 401),
            ("malformed_timestamp", 401),
            ("malformed_signature", 401),
            ("timestamp_out_of_tolerance", 401),
            ("signature_mismatch", 401),
            ("unsupported_media_type", 415),
            ("invalid_json", 400),
            ("invalid_payload", 400),
            ("unsupported_version", 400),
            ("method_not_allowed", 405),
            ("not_found", 404),
        ]
    );
}

#[test]
fn messages_quote_client_values_safely() {
    let rejection = Rejection::not_found("/a\u{1b}[31m\"b");
    assert_eq!(
        rejection.message(),
        "No route at \"/a?[31m\"b\"; POST to / for a JSON reply or to /stream for a streamed reply, or GET /healthz."
    );
}

proptest::proptest! {
    #[test]
    fn chunks_concatenate_to_reply(reply in ".*") {
        let joined: String = reply_chunks(&reply).collect();
        proptest::prop_assert_eq!(joined, reply);
    }

    #[test]
    fn parsing_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
        let _ = parse_event(&body);
    }
}
