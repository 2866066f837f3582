//! Property tests: signing and verification agree for arbitrary input, verification
//! never panics, and the streamed escaped form equals a plain reference escaper.

use proptest::prelude::*;
use webhook_contract::{Secret, SignedForm, Verifier, escaped_form, sign, sign_escaped};

const NOW: u64 = 1_796_400_000;

/// Escapes a string the simple way, one character at a time, as the platform's
/// serialiser does for characters outside printable ASCII.
fn reference_escape(text: &str) -> String {
    let mut out = String::new();
    for character in text.chars() {
        if u32::from(character) < 0x7F {
            out.push(character);
        } else {
            let mut units = [0u16; 2];
            for unit in character.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

proptest! {
    #[test]
    fn sign_then_verify_round_trips(secret in ".*", body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let signature = sign(&Secret::new(&secret), &NOW.to_string(), &body);
        let verified = Verifier::new(Secret::new(&secret))
            .verify_at([NOW.to_string().as_bytes()], [signature.as_bytes()], &body, NOW)
            .unwrap();
        prop_assert_eq!(verified.form, SignedForm::Raw);
    }

    #[test]
    fn escaped_signature_verifies(secret in ".*", text in ".*") {
        let signature = sign_escaped(&Secret::new(&secret), "1796400000", text.as_bytes()).unwrap();
        let verified = Verifier::new(Secret::new(&secret))
            .verify_at([&b"1796400000"[..]], [signature.as_bytes()], text.as_bytes(), NOW)
            .unwrap();
        let expected_form = if text.bytes().any(|byte| byte >= 0x7F) && escaped_form(text.as_bytes()).unwrap() != text.as_bytes() {
            SignedForm::Escaped
        } else {
            SignedForm::Raw
        };
        prop_assert_eq!(verified.form, expected_form);
    }

    #[test]
    fn verification_never_panics(
        timestamps in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..24), 0..3),
        signatures in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..3),
        body in proptest::collection::vec(any::<u8>(), 0..256),
        now in any::<u64>(),
    ) {
        let verifier = Verifier::new(Secret::new("k")).with_previous(Secret::new("p"));
        let _ = verifier.verify_at(
            timestamps.iter().map(Vec::as_slice),
            signatures.iter().map(Vec::as_slice),
            &body,
            now,
        );
    }

    #[test]
    fn streamed_escape_equals_reference(text in ".*") {
        let streamed = escaped_form(text.as_bytes()).unwrap();
        prop_assert_eq!(String::from_utf8(streamed).unwrap(), reference_escape(&text));
    }

    #[test]
    fn escaped_form_is_the_same_json(content in ".*") {
        let body = serde_json::to_string(&serde_json::json!({ "content": content })).unwrap();
        let escaped = escaped_form(body.as_bytes()).unwrap();
        let original: serde_json::Value = serde_json::from_str(&body).unwrap();
        let decoded: serde_json::Value = serde_json::from_slice(&escaped).unwrap();
        prop_assert_eq!(original, decoded);
    }
}
