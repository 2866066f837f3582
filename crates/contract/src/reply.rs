//! Replies: the JSON reply and the server-sent events of a streamed reply.
//!
//! The platform accepts a JSON reply only with status 200 and a non-null `reply`.
//! A streamed reply is `200` with `Content-Type: text/event-stream`: `delta` events
//! whose texts concatenate to the whole reply, then one `done`. The browser's parser
//! reads one `data:` line per event and loses a half-read event between network reads,
//! so each event is framed here as one contiguous buffer with `data` on one line
//! (JSON never contains a raw newline), which the server writes and flushes at once.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A JSON reply: `{"reply": "...", "metadata": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JsonReply {
    /// The text shown to the user. The platform turns any non-null JSON value into a
    /// string, but a string is what every receiver should send.
    pub reply: String,
    /// Optional data the platform stores with the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

impl JsonReply {
    /// Creates a reply without metadata.
    pub fn new(reply: impl Into<String>) -> Self {
        Self {
            reply: reply.into(),
            metadata: None,
        }
    }

    /// Returns the reply as compact JSON.
    pub fn to_json(&self) -> String {
        // A string and a map of `Value`s always serialise.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// One event of a streamed reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SseEvent {
    /// A chunk of the reply text.
    Delta(String),
    /// The end of the stream; nothing may follow it.
    Done,
    /// A failure while producing the reply, with a message for the user.
    Error(String),
}

#[derive(Serialize)]
struct TextData<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct MessageData<'a> {
    message: &'a str,
}

impl SseEvent {
    /// Returns the event's name as written after `event: `.
    pub fn name(&self) -> &'static str {
        match self {
            SseEvent::Delta(_) => "delta",
            SseEvent::Done => "done",
            SseEvent::Error(_) => "error",
        }
    }

    /// Returns the event's `data` line content: compact JSON on one line.
    pub fn data(&self) -> String {
        let data = match self {
            SseEvent::Delta(text) => serde_json::to_string(&TextData { text }),
            SseEvent::Done => return "{}".to_owned(),
            SseEvent::Error(message) => serde_json::to_string(&MessageData { message }),
        };
        // Serialising one string field cannot fail.
        data.unwrap_or_default()
    }

    /// Returns the whole event as it goes on the wire, ending with the blank line:
    /// `event: delta\ndata: {"text":"hello"}\n\n`.
    pub fn to_frame(&self) -> String {
        format!("event: {}\ndata: {}\n\n", self.name(), self.data())
    }

    /// Reads an event back from its name and its `data` field, as an SSE client
    /// delivers them. Returns `None` for an unknown name or data of the wrong shape.
    pub fn from_parts(name: &str, data: &str) -> Option<Self> {
        #[derive(Deserialize)]
        struct Text {
            text: String,
        }
        #[derive(Deserialize)]
        struct Message {
            message: String,
        }
        match name {
            "delta" => serde_json::from_str::<Text>(data)
                .ok()
                .map(|parsed| SseEvent::Delta(parsed.text)),
            "done" => Some(SseEvent::Done),
            "error" => serde_json::from_str::<Message>(data)
                .ok()
                .map(|parsed| SseEvent::Error(parsed.message)),
            _ => None,
        }
    }
}

/// Splits a reply into word-sized chunks for `delta` events.
///
/// Each chunk is a word followed by the whitespace after it, so the chunks
/// concatenate to exactly `reply`: `"Echo: hello world"` gives `"Echo: "`, `"hello "`,
/// `"world"`. Whitespace at the start stays with the first chunk. An empty reply gives
/// no chunks.
pub fn reply_chunks(reply: &str) -> ReplyChunks<'_> {
    ReplyChunks { rest: reply }
}

/// Iterator returned by [`reply_chunks`].
#[derive(Clone, Debug)]
pub struct ReplyChunks<'a> {
    rest: &'a str,
}

impl<'a> Iterator for ReplyChunks<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        // The chunk ends where whitespace gives way to the next word.
        let mut seen_word = false;
        let mut seen_whitespace_after_word = false;
        let mut end = self.rest.len();
        for (index, character) in self.rest.char_indices() {
            if !character.is_whitespace() {
                if seen_whitespace_after_word {
                    end = index;
                    break;
                }
                seen_word = true;
            } else if seen_word {
                seen_whitespace_after_word = true;
            }
        }
        let (chunk, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(reply: &str) -> Vec<&str> {
        reply_chunks(reply).collect()
    }

    #[test]
    fn chunks_keep_their_whitespace() {
        assert_eq!(chunks("Echo: hello world"), ["Echo: ", "hello ", "world"]);
    }

    #[test]
    fn chunks_keep_leading_and_repeated_whitespace() {
        assert_eq!(chunks("  a \n\tb  "), ["  a \n\t", "b  "]);
    }

    #[test]
    fn chunks_of_empty_reply_are_empty() {
        assert!(chunks("").is_empty());
    }

    #[test]
    fn chunks_handle_unicode_whitespace() {
        assert_eq!(
            chunks("Hola,\u{3000}¿qué tal? ☕"),
            ["Hola,\u{3000}", "¿qué ", "tal? ", "☕"]
        );
    }

    #[test]
    fn delta_frame_is_one_event() {
        let frame = SseEvent::Delta("line one\nline \"two\"".to_owned()).to_frame();
        assert_eq!(
            frame,
            "event: delta\ndata: {\"text\":\"line one\\nline \\\"two\\\"\"}\n\n"
        );
    }

    #[test]
    fn done_and_error_frames() {
        assert_eq!(SseEvent::Done.to_frame(), "event: done\ndata: {}\n\n");
        assert_eq!(
            SseEvent::Error("failed".to_owned()).to_frame(),
            "event: error\ndata: {\"message\":\"failed\"}\n\n"
        );
    }

    #[test]
    fn frames_parse_back() {
        for event in [
            SseEvent::Delta("héllo ".to_owned()),
            SseEvent::Done,
            SseEvent::Error("x".to_owned()),
        ] {
            assert_eq!(
                SseEvent::from_parts(event.name(), &event.data()),
                Some(event.clone())
            );
        }
    }

    #[test]
    fn json_reply_omits_absent_metadata() {
        assert_eq!(
            JsonReply::new("Echo: hi").to_json(),
            r#"{"reply":"Echo: hi"}"#
        );
    }
}
