//! The partner webhook contract as a library: what the platform sends, how it signs it,
//! how a receiver verifies it, and what a receiver answers.
//!
//! The platform POSTs each chat message to a partner's URL as compact JSON
//! ([`payload`]), signed with HMAC-SHA256 over `"{X-Timestamp}.{body}"` ([`signing`]).
//! The receiver checks the signature and the timestamp before it parses anything
//! ([`verify`]), then answers with a JSON reply or a stream of server-sent events
//! ([`reply`]). Every 4xx answer carries one of the codes in [`error`], so that every
//! receiver built on this crate names a fault the same way.
//!
//! The crate does no I/O and knows no web framework: it works on header values as
//! bytes, bodies as byte slices and time as unix seconds, so any server (and any test)
//! can drive it.
//!
//! ```
//! use webhook_contract::{sign, parse_event, Event, Secret, Verifier};
//!
//! let secret = Secret::new("7d5e3c1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d");
//! let body = br#"{"version":"1.0","event":"message_received","message":{"content":"hello"}}"#;
//! let signature = sign(&secret, "1796400000", body);
//!
//! let verifier = Verifier::new(secret);
//! let verified = verifier
//!     .verify_at([&b"1796400000"[..]], [signature.as_bytes()], body, 1_796_400_010)
//!     .unwrap();
//! assert_eq!(verified.timestamp, 1_796_400_000);
//!
//! match parse_event(body).unwrap() {
//!     Event::MessageReceived(message) => assert_eq!(message.message.content, "hello"),
//!     Event::Other(other) => panic!("unexpected event {}", other.event),
//! }
//! ```

pub mod error;
pub mod payload;
pub mod reply;
pub mod signing;
pub mod verify;

pub use error::{ErrorBody, ErrorCode, Rejection};
pub use payload::{
    App, Event, HistoryEntry, Message, MessageReceived, OtherEvent, PayloadError, Thread,
    check_content_type, parse_event,
};
pub use reply::{JsonReply, ReplyChunks, SseEvent, reply_chunks};
pub use signing::{Secret, escaped_form, sign, sign_escaped};
pub use verify::{
    MissingHeaders, SecretSlot, SignatureProblem, SignedForm, TimestampProblem, Verified, Verifier,
    VerifyError,
};

use std::time::Duration;

/// Header that carries the signing time, in unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-timestamp";
/// Header that carries `sha256=` and the HMAC-SHA256 in hex.
pub const SIGNATURE_HEADER: &str = "x-signature";
/// Header with the App's id; not signed, useful in logs.
pub const APP_ID_HEADER: &str = "x-app-id";
/// Header with the thread's id; not signed, useful in logs.
pub const THREAD_ID_HEADER: &str = "x-thread-id";

/// How long the platform waits for the whole response before it counts the call as
/// failed (its per-App default).
pub const PLATFORM_TIMEOUT: Duration = Duration::from_secs(8);

/// How many earlier entries the platform sends at most in `history_tail`.
pub const HISTORY_TAIL_MAX: usize = 10;

/// Allowed distance between `X-Timestamp` and the receiver's clock, in both directions.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Body size limit the example servers apply unless configured otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
