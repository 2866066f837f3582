//! Error codes and the error body every 4xx answer carries.
//!
//! A receiver answers a bad request with its status and
//! `{"error":"<code>","message":"<what was wrong and how to fix it>"}`. The platform
//! shows the first 200 characters of a failed reply to the App owner, so the message
//! is written for a person. A message never contains a secret or an expected
//! signature.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::payload::PayloadError;
use crate::verify::{MissingHeaders, SignatureProblem, TimestampProblem, VerifyError};

/// Every error code a receiver sends, and its HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 413: the body is larger than the receiver's limit.
    PayloadTooLarge,
    /// 408: the client stopped sending the request before it was complete.
    RequestTimeout,
    /// 401: `X-Timestamp` or `X-Signature` is absent while a secret is configured.
    MissingSignature,
    /// 401: `X-Timestamp` is repeated or not unix seconds in ASCII digits.
    MalformedTimestamp,
    /// 401: `X-Signature` is repeated or not `sha256=` and 64 hex digits.
    MalformedSignature,
    /// 401: `X-Timestamp` is further from the receiver's clock than the tolerance.
    TimestampOutOfTolerance,
    /// 401: no configured secret produced this signature.
    SignatureMismatch,
    /// 415: `Content-Type` is not `application/json`.
    UnsupportedMediaType,
    /// 400: the body is not JSON.
    InvalidJson,
    /// 400: the body is JSON but a field is missing or has the wrong type.
    InvalidPayload,
    /// 400: `version` has a major version other than 1.
    UnsupportedVersion,
    /// 405: the route exists but not for this method.
    MethodNotAllowed,
    /// 404: no route at this path.
    NotFound,
}

impl ErrorCode {
    /// Every code, in the order of the table in `docs/contract.md`.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::PayloadTooLarge,
        ErrorCode::RequestTimeout,
        ErrorCode::MissingSignature,
        ErrorCode::MalformedTimestamp,
        ErrorCode::MalformedSignature,
        ErrorCode::TimestampOutOfTolerance,
        ErrorCode::SignatureMismatch,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::InvalidJson,
        ErrorCode::InvalidPayload,
        ErrorCode::UnsupportedVersion,
        ErrorCode::MethodNotAllowed,
        ErrorCode::NotFound,
    ];

    /// Returns the code as it appears in the `error` field.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::MissingSignature => "missing_signature",
            ErrorCode::MalformedTimestamp => "malformed_timestamp",
            ErrorCode::MalformedSignature => "malformed_signature",
            ErrorCode::TimestampOutOfTolerance => "timestamp_out_of_tolerance",
            ErrorCode::SignatureMismatch => "signature_mismatch",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidPayload => "invalid_payload",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::NotFound => "not_found",
        }
    }

    /// Returns the HTTP status that goes with the code.
    pub const fn status(self) -> u16 {
        match self {
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::MissingSignature
            | ErrorCode::MalformedTimestamp
            | ErrorCode::MalformedSignature
            | ErrorCode::TimestampOutOfTolerance
            | ErrorCode::SignatureMismatch => 401,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::InvalidJson | ErrorCode::InvalidPayload | ErrorCode::UnsupportedVersion => {
                400
            }
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::NotFound => 404,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON error body, as sent and as parsed back by clients.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error code, such as `signature_mismatch`.
    pub error: String,
    /// One sentence: what was wrong and how to fix it.
    pub message: String,
}

/// A 4xx answer: an error code and a message for the person reading it.
///
/// Servers turn every client fault into a `Rejection` and map it to a response in one
/// place, with [`Rejection::status`] and [`Rejection::to_json`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    code: ErrorCode,
    message: String,
}

/// Maximum number of characters of a client-supplied value (a path, a media type)
/// quoted back in a message.
const MAX_QUOTED_CHARS: usize = 80;

impl Rejection {
    /// Creates a rejection with a custom message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Creates the rejection of a body larger than `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "The request body is larger than this webhook's limit of {limit} bytes; \
                 send a smaller body or raise the limit (MAX_BODY_BYTES in the examples)."
            ),
        )
    }

    /// Creates the rejection of a body that did not arrive within `timeout`.
    pub fn request_timeout(timeout: std::time::Duration) -> Self {
        Self::new(
            ErrorCode::RequestTimeout,
            format!(
                "The request body did not arrive within {} s; send the whole body at once \
                 (the platform itself gives up after 8 s).",
                timeout.as_secs()
            ),
        )
    }

    /// Creates the rejection of a body cut short: the connection closed before the
    /// bytes announced by `Content-Length` arrived, so it cannot be the JSON sent.
    pub fn incomplete_body() -> Self {
        Self::new(
            ErrorCode::InvalidJson,
            "The connection closed before the whole request body arrived; \
             send every byte that Content-Length announces.",
        )
    }

    /// Creates the rejection of a `Content-Type` other than `application/json`.
    /// `received` is the header as sent.
    pub fn unsupported_media_type(received: Option<&[u8]>) -> Self {
        let received = match received {
            None => "no Content-Type header".to_owned(),
            Some(value) => format!("Content-Type {}", quote(value)),
        };
        Self::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "The request has {received}; send the body as JSON with \
                 Content-Type: application/json (parameters such as charset=utf-8 are fine)."
            ),
        )
    }

    /// Creates the rejection of `method` on `path`. `allowed` names the methods that
    /// are allowed, such as `POST`.
    pub fn method_not_allowed(method: &str, path: &str, allowed: &str) -> Self {
        Self::new(
            ErrorCode::MethodNotAllowed,
            format!(
                "Method {} is not allowed on {}; use {allowed}.",
                quote(method.as_bytes()),
                quote(path.as_bytes())
            ),
        )
    }

    /// Creates the rejection of a request to a `path` with no route.
    pub fn not_found(path: &str) -> Self {
        Self::new(
            ErrorCode::NotFound,
            format!(
                "No route at {}; POST to / for a JSON reply or to /stream for a streamed \
                 reply, or GET /healthz.",
                quote(path.as_bytes())
            ),
        )
    }

    /// Returns the error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// Returns the HTTP status.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// Returns the message for the person reading the answer.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Returns the error body as compact JSON.
    pub fn to_json(&self) -> String {
        let body = ErrorBody {
            error: self.code.as_str().to_owned(),
            message: self.message.clone(),
        };
        // serde_json fails only on non-string map keys and failing `Serialize` impls,
        // and this body has neither.
        serde_json::to_string(&body).unwrap_or_default()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Rejection {}

impl From<VerifyError> for Rejection {
    fn from(error: VerifyError) -> Self {
        let (code, message) = match error {
            VerifyError::MissingHeader(missing) => {
                let which = match missing {
                    MissingHeaders::Timestamp => "The X-Timestamp header is missing",
                    MissingHeaders::Signature => "The X-Signature header is missing",
                    MissingHeaders::Both => "The X-Timestamp and X-Signature headers are missing",
                };
                (
                    ErrorCode::MissingSignature,
                    format!(
                        "{which}; this webhook has a secret, so every request must be signed \
                         (set the same secret on the App, or unset it on both sides)."
                    ),
                )
            }
            VerifyError::MalformedTimestamp(problem) => {
                let message = match problem {
                    TimestampProblem::Repeated => {
                        "X-Timestamp is sent more than once; send exactly one X-Timestamp header."
                    }
                    TimestampProblem::Empty => {
                        "X-Timestamp is empty; send the signing time as unix seconds, for example 1796400000."
                    }
                    TimestampProblem::NotVisibleAscii => {
                        "X-Timestamp contains spaces or bytes outside visible ASCII; send only the \
                         digits of the unix time in seconds, for example 1796400000."
                    }
                    TimestampProblem::NotDigits => {
                        "X-Timestamp contains a character that is not a digit; send the unix time \
                         in whole seconds, for example 1796400000, with no sign, fraction or date."
                    }
                    TimestampProblem::OutOfRange => {
                        "X-Timestamp is too large for unix seconds; send seconds, not milliseconds \
                         (divide by 1000)."
                    }
                };
                (ErrorCode::MalformedTimestamp, message.to_owned())
            }
            VerifyError::MalformedSignature(problem) => {
                let message = match problem {
                    SignatureProblem::Repeated => {
                        "X-Signature is sent more than once; send exactly one X-Signature header."
                            .to_owned()
                    }
                    SignatureProblem::NotVisibleAscii => {
                        "X-Signature contains spaces or bytes outside visible ASCII; send sha256= \
                         and the 64 hex digits of the HMAC-SHA256, nothing else."
                            .to_owned()
                    }
                    SignatureProblem::WrongPrefix => {
                        "X-Signature does not start with sha256=; send sha256= and the 64 hex \
                         digits of the HMAC-SHA256."
                            .to_owned()
                    }
                    SignatureProblem::WrongLength(length) => format!(
                        "X-Signature has {length} hex digits after sha256= instead of 64; send the \
                         whole HMAC-SHA256 in hex."
                    ),
                    SignatureProblem::NotHex => {
                        "X-Signature has a character that is not a hex digit after sha256=; send \
                         the HMAC-SHA256 in hex, not Base64."
                            .to_owned()
                    }
                };
                (ErrorCode::MalformedSignature, message)
            }
            VerifyError::TimestampTooOld { age_secs } => (
                ErrorCode::TimestampOutOfTolerance,
                format!(
                    "X-Timestamp is {age_secs} s in the past, outside the allowed window; sign each \
                     request with the current time and check the sender's clock (replayed requests are rejected)."
                ),
            ),
            VerifyError::TimestampTooNew { ahead_secs } => (
                ErrorCode::TimestampOutOfTolerance,
                format!(
                    "X-Timestamp is {ahead_secs} s in the future, outside the allowed window; send unix \
                     time in seconds, not milliseconds, and check the sender's clock."
                ),
            ),
            VerifyError::Mismatch => (
                ErrorCode::SignatureMismatch,
                "X-Signature does not match the body; sign \"{X-Timestamp}.{raw body}\" with \
                 HMAC-SHA256, keyed with the secret's UTF-8 bytes, over the exact bytes sent."
                    .to_owned(),
            ),
        };
        Self::new(code, message)
    }
}

impl From<PayloadError> for Rejection {
    fn from(error: PayloadError) -> Self {
        let code = match error {
            PayloadError::Empty | PayloadError::Syntax { .. } => ErrorCode::InvalidJson,
            PayloadError::MissingField { .. } | PayloadError::WrongType { .. } => {
                ErrorCode::InvalidPayload
            }
            PayloadError::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
        };
        Self::new(code, error.to_string())
    }
}

/// Quotes a client-supplied value for a message: visible ASCII only, shortened.
fn quote(value: &[u8]) -> String {
    let text: String = value
        .iter()
        .map(|&byte| {
            if (0x20..=0x7E).contains(&byte) {
                char::from(byte)
            } else {
                '?'
            }
        })
        .take(MAX_QUOTED_CHARS)
        .collect();
    let ellipsis = if value.len() > MAX_QUOTED_CHARS {
        "..."
    } else {
        ""
    };
    format!("\"{text}{ellipsis}\"")
}
