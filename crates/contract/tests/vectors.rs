//! Runs every known-answer vector of `vectors/signing.json` through the verifier and
//! the signer. The vectors were computed by an independent Python implementation.

use std::time::Duration;

use serde::Deserialize;
use webhook_contract::{Rejection, Secret, Verifier, sign, sign_escaped};

#[derive(Deserialize)]
struct Document {
    tolerance_secs: u64,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    secret: String,
    previous_secret: Option<String>,
    timestamps: Vec<String>,
    signatures: Vec<String>,
    body: String,
    now: u64,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Expect {
    Ok {
        secret: String,
        form: String,
    },
    Error {
        variant: String,
        code: String,
        status: u16,
    },
}

fn load() -> Document {
    let text = include_str!("../vectors/signing.json");
    serde_json::from_str(text).expect("vectors/signing.json is valid")
}

fn verifier(vector: &Vector, tolerance_secs: u64) -> Verifier {
    let mut verifier = Verifier::new(Secret::new(&vector.secret))
        .with_tolerance(Duration::from_secs(tolerance_secs));
    if let Some(previous) = &vector.previous_secret {
        verifier = verifier.with_previous(Secret::new(previous));
    }
    verifier
}

#[test]
fn every_vector_gives_its_expected_result() {
    let document = load();
    assert!(document.vectors.len() >= 30, "vectors file lost entries");

    for vector in &document.vectors {
        let result = verifier(vector, document.tolerance_secs).verify_at(
            vector.timestamps.iter().map(|value| value.as_bytes()),
            vector.signatures.iter().map(|value| value.as_bytes()),
            vector.body.as_bytes(),
            vector.now,
        );
        match (&vector.expect, result) {
            (Expect::Ok { secret, form }, Ok(verified)) => {
                assert_eq!(
                    &format!("{:?}", verified.secret).to_lowercase(),
                    secret,
                    "{}",
                    vector.name
                );
                assert_eq!(
                    &format!("{:?}", verified.form).to_lowercase(),
                    form,
                    "{}",
                    vector.name
                );
            }
            (
                Expect::Error {
                    variant,
                    code,
                    status,
                },
                Err(error),
            ) => {
                assert_eq!(&format!("{error:?}"), variant, "{}", vector.name);
                let rejection = Rejection::from(error);
                assert_eq!(rejection.code().as_str(), code, "{}", vector.name);
                assert_eq!(rejection.status(), *status, "{}", vector.name);
            }
            (Expect::Ok { .. }, Err(error)) => {
                panic!("{}: expected success, got {error:?}", vector.name)
            }
            (Expect::Error { variant, .. }, Ok(verified)) => {
                panic!("{}: expected {variant}, got {verified:?}", vector.name)
            }
        }
    }
}

#[test]
fn signer_reproduces_every_accepted_signature() {
    for vector in load().vectors {
        let Expect::Ok { secret, form } = &vector.expect else {
            continue;
        };
        let key = if secret == "previous" {
            vector
                .previous_secret
                .as_deref()
                .expect("previous vectors name the previous secret")
        } else {
            &vector.secret
        };
        let key = Secret::new(key);
        let timestamp = &vector.timestamps[0];
        let signature = if form == "escaped" {
            sign_escaped(&key, timestamp, vector.body.as_bytes()).expect("vector bodies are UTF-8")
        } else {
            sign(&key, timestamp, vector.body.as_bytes())
        };
        assert_eq!(
            signature,
            vector.signatures[0].to_lowercase(),
            "{}",
            vector.name
        );
    }
}

#[test]
fn worked_vector_from_contract() {
    let secret = Secret::new("7d5e3c1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d");
    let body = r#"{"version":"1.0","event":"message_received","app":{"id":"app-1","name":"Café bot"},"thread":{"id":"thread-1","customer_id":null},"message":{"id":"msg-1","seq":3,"role":"user","content":"Hola, ¿qué tal? ☕ 😀","content_json":{}},"history_tail":[],"timestamp":"2026-12-04T12:00:00.000000+00:00"}"#;

    assert_eq!(
        sign_escaped(&secret, "1796400000", body.as_bytes()).unwrap(),
        "sha256=58764eddad0c38e90e2f16b508374d9eaf6df642190fbfc157a5f690080d87c1"
    );
    assert_eq!(
        sign(&secret, "1796400000", body.as_bytes()),
        "sha256=b864598cad42de684537b3283b5362c4791bab6a7976336613271a63e4426c22"
    );
}

#[test]
fn zero_padded_secrets_are_one_key() {
    // HMAC pads a key shorter than its 64-byte block with zero bytes, so the secrets
    // "" and "\0\0\0\0\0\0\0" are the same key and the current one matches first.
    let previous = Secret::new("\0\0\0\0\0\0\0");
    let verifier = Verifier::new(Secret::new("")).with_previous(previous.clone());
    let signature = sign(&previous, "1796400000", b"{}");
    let verified = verifier
        .verify_at(
            [&b"1796400000"[..]],
            [signature.as_bytes()],
            b"{}",
            1_796_400_000,
        )
        .unwrap();
    assert_eq!(verified.secret, webhook_contract::SecretSlot::Current);
}

#[test]
fn millisecond_timestamp_message_says_divide() {
    let verifier = Verifier::new(Secret::new("k"));
    let error = verifier
        .verify_at(
            [&b"1796400000000"[..]],
            [&b"sha256="[..]],
            b"{}",
            1_796_400_000,
        )
        .unwrap_err();
    assert_eq!(
        Rejection::from(error).message(),
        "X-Timestamp is too large for unix seconds; send seconds, not milliseconds (divide by 1000)."
    );
}
