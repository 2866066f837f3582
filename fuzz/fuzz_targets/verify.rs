//! Fuzzes signature verification with arbitrary header values, bodies and clocks.
//!
//! Besides "no panic", each input checks:
//! - a request that passes has one timestamp within the tolerance of the clock;
//! - every failure maps to a 401 rejection with a valid JSON body;
//! - a body signed with `sign` (raw bytes) or `sign_escaped` (the platform's escaped
//!   form) at a timestamp inside the window passes, with the current or the previous
//!   secret, and reports which form and which secret matched;
//! - the same signature with one hex digit changed fails as a mismatch.

#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use webhook_contract::{
    ErrorBody, Rejection, Secret, SecretSlot, SignedForm, Verifier, VerifyError, escaped_form,
    sign, sign_escaped,
};

/// Largest timestamp the verifier accepts as unix seconds.
const MAX_TIMESTAMP: u64 = 100_000_000_000;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    timestamps: Vec<&'a [u8]>,
    signatures: Vec<&'a [u8]>,
    body: &'a [u8],
    current: &'a str,
    previous: Option<&'a str>,
    now: u64,
    tolerance_secs: u32,
    skew_secs: u32,
    sign_with_previous: bool,
    flipped_digit: u8,
}

fuzz_target!(|input: Input<'_>| {
    let mut verifier = Verifier::new(Secret::new(input.current))
        .with_tolerance(Duration::from_secs(u64::from(input.tolerance_secs)));
    if let Some(previous) = input.previous {
        verifier = verifier.with_previous(Secret::new(previous));
    }

    check_arbitrary_headers(&verifier, &input);
    check_signed_body(&verifier, &input);
});

/// Verifies the fuzzed header values as a server receives them.
fn check_arbitrary_headers(verifier: &Verifier, input: &Input<'_>) {
    let result = verifier.verify_at(
        input.timestamps.iter().copied(),
        input.signatures.iter().copied(),
        input.body,
        input.now,
    );
    match result {
        Ok(verified) => {
            assert_eq!(input.timestamps.len(), 1);
            assert_eq!(input.signatures.len(), 1);
            assert!(verified.timestamp.abs_diff(input.now) <= u64::from(input.tolerance_secs));
        }
        Err(error) => check_rejection(error),
    }
}

/// Signs the fuzzed body as the platform would and checks that it passes, and that a
/// changed signature does not.
fn check_signed_body(verifier: &Verifier, input: &Input<'_>) {
    let now = input.now % MAX_TIMESTAMP;
    let skew = u64::from(input.skew_secs.min(input.tolerance_secs));
    let timestamp = now.saturating_sub(skew).to_string();
    let (secret, slot) = match input.previous {
        Some(previous) if input.sign_with_previous => (Secret::new(previous), SecretSlot::Previous),
        _ => (Secret::new(input.current), SecretSlot::Current),
    };
    let raw = sign(&secret, &timestamp, input.body);
    // The current secret is tried first, so a previous secret that gives the same HMAC
    // key matches as the current one. That covers equal strings and also keys that
    // differ only by trailing NUL bytes, because HMAC pads a short key with zeros.
    let slot = if sign(&Secret::new(input.current), &timestamp, input.body) == raw {
        SecretSlot::Current
    } else {
        slot
    };
    let verified = verify_one(verifier, &timestamp, &raw, input.body, now)
        .expect("a body signed over its raw bytes passes");
    assert_eq!(verified.form, SignedForm::Raw);
    assert_eq!(verified.secret, slot);

    if let Some(escaped) = sign_escaped(&secret, &timestamp, input.body) {
        let verified = verify_one(verifier, &timestamp, &escaped, input.body, now)
            .expect("a body signed over its escaped form passes");
        let changed = escaped_form(input.body).is_some_and(|form| form != input.body);
        let form = if changed {
            SignedForm::Escaped
        } else {
            SignedForm::Raw
        };
        assert_eq!(verified.form, form);
    }

    let flipped = flip_hex_digit(&raw, input.flipped_digit);
    let error = verify_one(verifier, &timestamp, &flipped, input.body, now)
        .expect_err("a changed signature fails");
    assert_eq!(error, VerifyError::Mismatch);
}

fn verify_one(
    verifier: &Verifier,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: u64,
) -> Result<webhook_contract::Verified, VerifyError> {
    verifier.verify_at([timestamp.as_bytes()], [signature.as_bytes()], body, now)
}

/// Changes the hex digit at `position` (modulo 64) of a `sha256=` signature to another
/// hex digit.
fn flip_hex_digit(signature: &str, position: u8) -> String {
    let mut bytes = signature.as_bytes().to_vec();
    let index = "sha256=".len() + usize::from(position) % 64;
    bytes[index] = if bytes[index] == b'0' { b'1' } else { b'0' };
    String::from_utf8(bytes).expect("a signature is ASCII")
}

fn check_rejection(error: VerifyError) {
    let rejection = Rejection::from(error);
    assert_eq!(rejection.status(), 401);
    let body: ErrorBody =
        serde_json::from_str(&rejection.to_json()).expect("a rejection body is valid JSON");
    assert_eq!(body.error, rejection.code().as_str());
}
