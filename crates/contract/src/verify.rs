//! Verification: checking `X-Timestamp` and `X-Signature` against the raw body.
//!
//! A [`Verifier`] holds the current secret, optionally the previous one (so a secret
//! can be rotated without downtime), and the allowed clock distance. It checks, in this
//! order, and stops at the first failure:
//!
//! 1. both headers are present, each exactly once;
//! 2. `X-Timestamp` is ASCII digits only, `X-Signature` is `sha256=` and 64 hex digits;
//! 3. the timestamp is within the tolerance of the receiver's clock, in both
//!    directions, so a captured request cannot be replayed later;
//! 4. the HMAC over the raw body matches, for either secret, compared in constant time
//!    by the `hmac` crate;
//! 5. only if that fails and the body has a byte from 0x7F up: the HMAC over the body's
//!    escaped form (see [`crate::signing`]) matches, streamed without a copy.
//!
//! The header values arrive as bytes, each header as an iterator over all of its
//! values, so a repeated header is detected rather than silently resolved to one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::Mac;
use thiserror::Error;

use crate::DEFAULT_TOLERANCE;
use crate::signing::{HmacSha256, SIGNATURE_PREFIX, Secret, feed_escaped};

/// Checks signed requests against one or two secrets and a replay window.
#[derive(Clone, Debug)]
pub struct Verifier {
    current: Secret,
    previous: Option<Secret>,
    tolerance_secs: u64,
}

/// The configured secret that produced the matching signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretSlot {
    /// The current secret.
    Current,
    /// The previous secret, still accepted while a rotation is under way.
    Previous,
}

/// The form of the body that the matching signature covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignedForm {
    /// The body exactly as received.
    Raw,
    /// The body with every character from U+007F up written as `\uXXXX`, which is what
    /// the real platform signs.
    Escaped,
}

/// A request that passed verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    /// `X-Timestamp`, in unix seconds.
    pub timestamp: u64,
    /// The secret that matched.
    pub secret: SecretSlot,
    /// The form of the body that was signed.
    pub form: SignedForm,
}

/// The signature headers a request lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingHeaders {
    /// `X-Timestamp` is absent.
    Timestamp,
    /// `X-Signature` is absent.
    Signature,
    /// Both are absent: the sender does not sign at all.
    Both,
}

/// The fault in an `X-Timestamp` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampProblem {
    /// The header occurs more than once.
    Repeated,
    /// The value is empty.
    Empty,
    /// The value has a byte outside visible ASCII (0x21–0x7E).
    NotVisibleAscii,
    /// The value has a character other than the digits 0–9.
    NotDigits,
    /// The value is too large to be a unix time in seconds.
    OutOfRange,
}

/// The fault in an `X-Signature` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureProblem {
    /// The header occurs more than once.
    Repeated,
    /// The value has a byte outside visible ASCII (0x21–0x7E).
    NotVisibleAscii,
    /// The value does not start with `sha256=`.
    WrongPrefix,
    /// The hex part is not 64 characters long; carries its length.
    WrongLength(usize),
    /// The hex part has a character other than 0–9, a–f, A–F.
    NotHex,
}

/// The reason a request failed verification. Each failure is one variant, so callers
/// and tests can match the exact cause.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum VerifyError {
    /// A signature header is absent.
    #[error("missing signature headers: {0:?}")]
    MissingHeader(MissingHeaders),
    /// `X-Timestamp` is repeated or not a decimal number.
    #[error("malformed X-Timestamp: {0:?}")]
    MalformedTimestamp(TimestampProblem),
    /// `X-Signature` is repeated or not `sha256=` and 64 hex digits.
    #[error("malformed X-Signature: {0:?}")]
    MalformedSignature(SignatureProblem),
    /// The timestamp is older than the tolerance allows.
    #[error("X-Timestamp is {age_secs} s old")]
    TimestampTooOld {
        /// How far the timestamp lies behind the receiver's clock, in seconds.
        age_secs: u64,
    },
    /// The timestamp is further in the future than the tolerance allows.
    #[error("X-Timestamp is {ahead_secs} s in the future")]
    TimestampTooNew {
        /// How far the timestamp lies ahead of the receiver's clock, in seconds.
        ahead_secs: u64,
    },
    /// No secret produced this signature, over the raw body or its escaped form.
    #[error("signature does not match")]
    Mismatch,
}

/// Length of the hex digest after `sha256=`.
const SIGNATURE_HEX_LEN: usize = 64;

/// Unix times beyond this (the year 5138) are rejected as malformed rather than risk
/// overflow in the skew arithmetic.
const MAX_TIMESTAMP: u64 = 100_000_000_000;

impl Verifier {
    /// Creates a verifier for `current` with the default tolerance of 300 s.
    pub fn new(current: Secret) -> Self {
        Self {
            current,
            previous: None,
            tolerance_secs: DEFAULT_TOLERANCE.as_secs(),
        }
    }

    /// Also accepts signatures made with `previous`, for rotating the secret.
    #[must_use]
    pub fn with_previous(mut self, previous: Secret) -> Self {
        self.previous = Some(previous);
        self
    }

    /// Sets the allowed distance of `X-Timestamp` from now, in both directions.
    /// Sub-second parts are ignored because timestamps are whole seconds.
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance_secs = tolerance.as_secs();
        self
    }

    /// Returns the allowed clock distance.
    pub fn tolerance(&self) -> Duration {
        Duration::from_secs(self.tolerance_secs)
    }

    /// Returns whether a previous secret is configured.
    pub fn has_previous(&self) -> bool {
        self.previous.is_some()
    }

    /// Verifies a request against the system clock. See [`Verifier::verify_at`].
    pub fn verify<'h>(
        &self,
        timestamps: impl IntoIterator<Item = &'h [u8]>,
        signatures: impl IntoIterator<Item = &'h [u8]>,
        body: &[u8],
    ) -> Result<Verified, VerifyError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since_epoch| since_epoch.as_secs());
        self.verify_at(timestamps, signatures, body, now)
    }

    /// Verifies a request as if the clock read `now` (unix seconds).
    ///
    /// `timestamps` and `signatures` are every value of `X-Timestamp` and `X-Signature`
    /// in the request, as bytes; `body` is the raw body as received.
    pub fn verify_at<'h>(
        &self,
        timestamps: impl IntoIterator<Item = &'h [u8]>,
        signatures: impl IntoIterator<Item = &'h [u8]>,
        body: &[u8],
        now: u64,
    ) -> Result<Verified, VerifyError> {
        let timestamp_value = single_value(timestamps);
        let signature_value = single_value(signatures);
        let (timestamp_value, signature_value) = match (timestamp_value, signature_value) {
            (Header::Missing, Header::Missing) => {
                return Err(VerifyError::MissingHeader(MissingHeaders::Both));
            }
            (Header::Missing, _) => {
                return Err(VerifyError::MissingHeader(MissingHeaders::Timestamp));
            }
            (_, Header::Missing) => {
                return Err(VerifyError::MissingHeader(MissingHeaders::Signature));
            }
            (Header::Repeated, _) => {
                return Err(VerifyError::MalformedTimestamp(TimestampProblem::Repeated));
            }
            (_, Header::Repeated) => {
                return Err(VerifyError::MalformedSignature(SignatureProblem::Repeated));
            }
            (Header::One(timestamp), Header::One(signature)) => (timestamp, signature),
        };

        let timestamp =
            parse_timestamp(timestamp_value).map_err(VerifyError::MalformedTimestamp)?;
        let expected = parse_signature(signature_value).map_err(VerifyError::MalformedSignature)?;
        self.check_window(timestamp, now)?;

        let (secret, form) = self.match_signature(timestamp_value, &expected, body)?;
        Ok(Verified {
            timestamp,
            secret,
            form,
        })
    }

    fn check_window(&self, timestamp: u64, now: u64) -> Result<(), VerifyError> {
        if timestamp < now {
            let age_secs = now - timestamp;
            if age_secs > self.tolerance_secs {
                return Err(VerifyError::TimestampTooOld { age_secs });
            }
        } else {
            let ahead_secs = timestamp - now;
            if ahead_secs > self.tolerance_secs {
                return Err(VerifyError::TimestampTooNew { ahead_secs });
            }
        }
        Ok(())
    }

    fn secrets(&self) -> impl Iterator<Item = (SecretSlot, &Secret)> {
        std::iter::once((SecretSlot::Current, &self.current)).chain(
            self.previous
                .iter()
                .map(|secret| (SecretSlot::Previous, secret)),
        )
    }

    fn match_signature(
        &self,
        timestamp: &[u8],
        expected: &[u8; 32],
        body: &[u8],
    ) -> Result<(SecretSlot, SignedForm), VerifyError> {
        for (slot, secret) in self.secrets() {
            let mut mac = secret.mac_for_timestamp(timestamp);
            mac.update(body);
            if mac.verify_slice(expected).is_ok() {
                return Ok((slot, SignedForm::Raw));
            }
        }

        // The escaped form differs from the raw body only when the body has a byte
        // from 0x7F up, so an ASCII body that failed above fails here too.
        if !body.iter().any(|byte| *byte >= 0x7F) {
            return Err(VerifyError::Mismatch);
        }
        for (slot, secret) in self.secrets() {
            if escaped_mac_matches(secret.mac_for_timestamp(timestamp), expected, body) {
                return Ok((slot, SignedForm::Escaped));
            }
        }
        Err(VerifyError::Mismatch)
    }
}

fn escaped_mac_matches(mut mac: HmacSha256, expected: &[u8; 32], body: &[u8]) -> bool {
    if feed_escaped(body, |chunk| mac.update(chunk)).is_err() {
        return false;
    }
    mac.verify_slice(expected).is_ok()
}

enum Header<'h> {
    Missing,
    One(&'h [u8]),
    Repeated,
}

fn single_value<'h>(values: impl IntoIterator<Item = &'h [u8]>) -> Header<'h> {
    let mut values = values.into_iter();
    match (values.next(), values.next()) {
        (None, _) => Header::Missing,
        (Some(value), None) => Header::One(value),
        (Some(_), Some(_)) => Header::Repeated,
    }
}

fn is_visible_ascii(value: &[u8]) -> bool {
    value.iter().all(|byte| (0x21..=0x7E).contains(byte))
}

/// Parses an `X-Timestamp` value: unix seconds as ASCII digits, nothing else.
pub fn parse_timestamp(value: &[u8]) -> Result<u64, TimestampProblem> {
    if value.is_empty() {
        return Err(TimestampProblem::Empty);
    }
    if !is_visible_ascii(value) {
        return Err(TimestampProblem::NotVisibleAscii);
    }
    if !value.iter().all(u8::is_ascii_digit) {
        return Err(TimestampProblem::NotDigits);
    }
    let mut seconds: u64 = 0;
    for digit in value {
        seconds = seconds
            .checked_mul(10)
            .and_then(|tens| tens.checked_add(u64::from(digit - b'0')))
            .filter(|seconds| *seconds <= MAX_TIMESTAMP)
            .ok_or(TimestampProblem::OutOfRange)?;
    }
    Ok(seconds)
}

/// Parses an `X-Signature` value: `sha256=` and 64 hex digits in either case.
pub fn parse_signature(value: &[u8]) -> Result<[u8; 32], SignatureProblem> {
    if !is_visible_ascii(value) {
        return Err(SignatureProblem::NotVisibleAscii);
    }
    let Some(hex_digits) = value.strip_prefix(SIGNATURE_PREFIX.as_bytes()) else {
        return Err(SignatureProblem::WrongPrefix);
    };
    if hex_digits.len() != SIGNATURE_HEX_LEN {
        return Err(SignatureProblem::WrongLength(hex_digits.len()));
    }
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_digits, &mut digest).map_err(|_| SignatureProblem::NotHex)?;
    Ok(digest)
}
