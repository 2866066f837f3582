//! Fuzzes payload parsing with arbitrary bodies and `Content-Type` values.
//!
//! Besides "no panic", each input checks what a server relies on:
//! - every error becomes a rejection whose JSON body parses back with the same code
//!   and a 400 status;
//! - a parsed `message_received` event, written out again with `to_json`, parses to
//!   the same version, ids and content;
//! - `check_content_type` accepts the value only if its part before `;` is
//!   `application/json`, and its rejection body is valid JSON.

#![no_main]

use libfuzzer_sys::fuzz_target;
use webhook_contract::{ErrorBody, Event, Rejection, check_content_type, parse_event};

fuzz_target!(|data: &[u8]| {
    check_parse(data);
    check_media_type(data);
});

fn check_parse(body: &[u8]) {
    match parse_event(body) {
        Ok(Event::MessageReceived(message)) => {
            let written = message.to_json();
            let Ok(Event::MessageReceived(again)) = parse_event(written.as_bytes()) else {
                panic!("a parsed event did not parse again after to_json: {written}");
            };
            assert_eq!(again.version, message.version);
            assert_eq!(again.app, message.app);
            assert_eq!(again.thread, message.thread);
            assert_eq!(again.message.id, message.message.id);
            assert_eq!(again.message.content, message.message.content);
            assert_eq!(again.timestamp, message.timestamp);
            assert_eq!(again.history_tail.len(), message.history_tail.len());
        }
        Ok(Event::Other(other)) => {
            assert_ne!(other.event, "message_received");
        }
        Err(error) => {
            let rejection = Rejection::from(error);
            assert_eq!(rejection.status(), 400);
            check_rejection_json(&rejection);
        }
    }
}

fn check_media_type(value: &[u8]) {
    let essence = value.split(|byte| *byte == b';').next().unwrap_or_default();
    let expected = essence
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/json");
    match check_content_type(Some(value)) {
        Ok(()) => assert!(expected, "accepted {value:?}"),
        Err(rejection) => {
            assert!(!expected, "rejected {value:?}");
            assert_eq!(rejection.status(), 415);
            check_rejection_json(&rejection);
        }
    }
}

fn check_rejection_json(rejection: &Rejection) {
    let json = rejection.to_json();
    let body: ErrorBody = serde_json::from_str(&json).expect("a rejection body is valid JSON");
    assert_eq!(body.error, rejection.code().as_str());
    assert_eq!(body.message, rejection.message());
}
