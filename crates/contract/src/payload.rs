//! The request body: what the platform sends with each chat message.
//!
//! Only `version` (major 1), `event` and, for `message_received`, a string
//! `message.content` are required. Everything else is optional, `null` counts as
//! absent, and unknown fields are ignored, because the platform has an older sender
//! path that sends `message` with only `content` and may add fields at any time.
//! A field of the wrong type is rejected with its JSON path, such as
//! `message.content: invalid type: integer `5`, expected a string`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::error::Rejection;

/// The only event the platform sends today.
pub const MESSAGE_RECEIVED: &str = "message_received";

/// The major version of the payload this crate understands.
pub const SUPPORTED_MAJOR_VERSION: u64 = 1;

/// A parsed request body.
// One `Event` exists per request and is moved once, so boxing the large variant
// would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A user sent a chat message; the webhook replies to it.
    MessageReceived(MessageReceived),
    /// An event this crate does not know yet. Receivers acknowledge it (the examples
    /// answer 204) so that new platform events never break a deployed webhook.
    Other(OtherEvent),
}

/// The `message_received` event.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageReceived {
    /// Payload version as sent, such as `"1.0"`.
    pub version: String,
    /// The App the message was sent to.
    pub app: App,
    /// The conversation the message belongs to.
    pub thread: Thread,
    /// The new message.
    pub message: Message,
    /// Up to 10 earlier entries, oldest first; usually ends with the current message.
    pub history_tail: Vec<HistoryEntry>,
    /// When the platform created the event, as written: ISO 8601 with microseconds and
    /// `+00:00` from the platform, or with `Z` as its docs show. It is not signed, so
    /// the replay window uses `X-Timestamp`, never this field.
    pub timestamp: Option<String>,
}

/// An event other than `message_received`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherEvent {
    /// Payload version as sent.
    pub version: String,
    /// The event name.
    pub event: String,
}

/// The App that received the message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct App {
    /// The App's UUID.
    pub id: Option<String>,
    /// The App's display name; may be empty.
    pub name: Option<String>,
}

/// The conversation a message belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Thread {
    /// The thread's UUID.
    pub id: Option<String>,
    /// The partner's id for the end user, or `None` (sent as `null`) when unknown.
    pub customer_id: Option<String>,
}

/// The message to reply to.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Message {
    /// The message's id.
    pub id: Option<String>,
    /// Position of the message in its thread.
    pub seq: Option<i64>,
    /// Always `"user"` for `message_received`.
    pub role: Option<String>,
    /// The text the user wrote; may be empty.
    pub content: String,
    /// Structured content, usually `{}`.
    pub content_json: Option<Value>,
}

/// One earlier entry of the conversation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryEntry {
    /// One of `user`, `assistant`, `system`, `tool`.
    pub role: Option<String>,
    /// The entry's text.
    pub content: Option<String>,
    /// Structured content, usually `{}`.
    pub content_json: Option<Value>,
}

/// The reason a body is not a valid event.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum PayloadError {
    /// The body has no bytes.
    #[error("The body is empty; send the event as a JSON object.")]
    Empty,
    /// The body is not JSON.
    #[error("The body is not valid JSON ({detail}); send one JSON object encoded as UTF-8.")]
    Syntax {
        /// The parser's description, with line and column.
        detail: String,
    },
    /// A required field is absent or `null`.
    #[error("{path} is missing; the contract requires it.")]
    MissingField {
        /// JSON path of the field, such as `message.content`.
        path: &'static str,
    },
    /// A field has the wrong type.
    #[error("{path}: {detail}; fix the field's type.")]
    WrongType {
        /// JSON path of the field, such as `message.content`.
        path: String,
        /// The value found and the type expected.
        detail: String,
    },
    /// `version` has a major version other than 1.
    #[error(
        "version {version:?} is not supported; this webhook understands major version 1 (\"1.0\")."
    )]
    UnsupportedVersion {
        /// The version as sent.
        version: String,
    },
}

/// Parses a request body into an [`Event`].
///
/// Call it only after the signature has been verified, so that an unauthenticated
/// caller learns nothing about the parser.
pub fn parse_event(body: &[u8]) -> Result<Event, PayloadError> {
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    match first {
        None => return Err(PayloadError::Empty),
        // serde would read an array positionally into a struct; the contract sends
        // an object, so an array is rejected here with a plain message.
        Some(b'[') => {
            return Err(PayloadError::WrongType {
                path: "the body".to_owned(),
                detail: "expected a JSON object, found an array".to_owned(),
            });
        }
        Some(_) => {}
    }

    let wire = deserialize_wire(body)?;

    let version = wire
        .version
        .ok_or(PayloadError::MissingField { path: "version" })?;
    if major_version(&version) != Some(SUPPORTED_MAJOR_VERSION) {
        return Err(PayloadError::UnsupportedVersion { version });
    }
    let event = wire
        .event
        .ok_or(PayloadError::MissingField { path: "event" })?;
    if event != MESSAGE_RECEIVED {
        return Ok(Event::Other(OtherEvent { version, event }));
    }

    let wire_message = wire.message.unwrap_or_default();
    let content = wire_message.content.ok_or(PayloadError::MissingField {
        path: "message.content",
    })?;
    Ok(Event::MessageReceived(MessageReceived {
        version,
        app: wire.app,
        thread: wire.thread,
        message: Message {
            id: wire_message.id,
            seq: wire_message.seq,
            role: wire_message.role,
            content,
            content_json: wire_message.content_json,
        },
        history_tail: wire.history_tail,
        timestamp: wire.timestamp,
    }))
}

impl MessageReceived {
    /// Serialises the event as the platform does: compact JSON, fields in contract
    /// order, `event` included, non-ASCII characters raw.
    pub fn to_json(&self) -> String {
        let wire = WireOut {
            version: &self.version,
            event: MESSAGE_RECEIVED,
            app: &self.app,
            thread: &self.thread,
            message: &self.message,
            history_tail: &self.history_tail,
            timestamp: &self.timestamp,
        };
        // Strings, integers and `Value`s always serialise.
        serde_json::to_string(&wire).unwrap_or_default()
    }
}

/// Checks `Content-Type`: `application/json`, compared without case, parameters such
/// as `charset=utf-8` allowed. `value` is the header as sent, `None` when absent.
pub fn check_content_type(value: Option<&[u8]>) -> Result<(), Rejection> {
    let is_json = value.is_some_and(|value| {
        let essence = value.split(|byte| *byte == b';').next().unwrap_or_default();
        essence
            .trim_ascii()
            .eq_ignore_ascii_case(b"application/json")
    });
    if is_json {
        Ok(())
    } else {
        Err(Rejection::unsupported_media_type(value))
    }
}

fn major_version(version: &str) -> Option<u64> {
    let major = version.split('.').next()?;
    if major.is_empty() || !major.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    major.parse().ok()
}

fn deserialize_wire(body: &[u8]) -> Result<WireEnvelope, PayloadError> {
    // Tracking the path of every field costs time on every request, so the plain
    // parser runs first and the path-tracking one only runs to describe a failure.
    // Validating UTF-8 once for the whole body and parsing it as `str` is cheaper than
    // letting the byte parser validate every string on its own.
    if let Ok(text) = std::str::from_utf8(body)
        && let Ok(wire) = serde_json::from_str(text)
    {
        return Ok(wire);
    }

    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let wire: WireEnvelope =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_data() {
                PayloadError::WrongType {
                    path: if path == "." {
                        "the body".to_owned()
                    } else {
                        path
                    },
                    detail: inner.to_string(),
                }
            } else {
                PayloadError::Syntax {
                    detail: inner.to_string(),
                }
            }
        })?;
    deserializer.end().map_err(|error| PayloadError::Syntax {
        detail: error.to_string(),
    })?;
    Ok(wire)
}

/// The body as it travels, before required fields are checked.
#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireEnvelope {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    app: App,
    #[serde(default, deserialize_with = "null_as_default")]
    thread: Thread,
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default, deserialize_with = "null_as_default")]
    history_tail: Vec<HistoryEntry>,
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(default, expecting = "a JSON object")]
struct WireMessage {
    id: Option<String>,
    seq: Option<i64>,
    role: Option<String>,
    content: Option<String>,
    content_json: Option<Value>,
}

#[derive(Serialize)]
struct WireOut<'a> {
    version: &'a str,
    event: &'static str,
    app: &'a App,
    thread: &'a Thread,
    message: &'a Message,
    history_tail: &'a [HistoryEntry],
    timestamp: &'a Option<String>,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
