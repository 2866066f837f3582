//! The requests of the stress run, each written out as bytes with the exact response
//! it must get: the echo for a good request, the status and error body for a bad one.
//!
//! Expected bodies come from the contract crate, the same code the servers use, so a
//! check compares whole bodies rather than only status codes.

use std::time::SystemTime;

use webhook_contract::{
    DEFAULT_MAX_BODY_BYTES, JsonReply, Rejection, Secret, SseEvent, VerifyError, parse_event,
    reply_chunks,
};
use webhook_probe::payload::{PayloadFactory, iso_timestamp_micros, platform_signature, unix_now};

/// The kind of a request in the mixed traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A signed `message_received` event.
    Good,
    /// A good body signed with another secret.
    BadSignature,
    /// A signed body that is not JSON.
    InvalidJson,
    /// A head with `Content-Length` one byte over the limit and no body.
    Oversized,
    /// A good signed body sent as `text/plain`.
    WrongContentType,
}

impl Kind {
    /// The bad kinds, in the order they are mixed into the traffic.
    pub const BAD: [Kind; 4] = [
        Kind::BadSignature,
        Kind::InvalidJson,
        Kind::Oversized,
        Kind::WrongContentType,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Good => "good",
            Kind::BadSignature => "bad signature",
            Kind::InvalidJson => "invalid JSON",
            Kind::Oversized => "oversized",
            Kind::WrongContentType => "wrong content type",
        }
    }
}

/// A request ready to write, with the response it must get.
#[derive(Debug)]
pub struct Prepared {
    pub kind: Kind,
    pub bytes: Vec<u8>,
    pub expected_status: u16,
    pub expected_body: Vec<u8>,
    /// The request announces a body it never sends, so the client closes the
    /// connection after the response.
    pub client_closes: bool,
}

/// Texts of the earlier messages in each request's history, so that a body comes to
/// about 1.5 KB, the size of a production delivery.
const HISTORY_TEXTS: [&str; 9] = [
    "Hi, I ordered a pair of boots last week.",
    "Thanks for reaching out! Could you give me the order number?",
    "Sure, it is 1234. The tracking page has not changed in days.",
    "Let me look that up for you.",
    "Thanks. I need them before the weekend.",
    "The parcel left the warehouse on Monday.",
    "Then why does tracking still say label created?",
    "The carrier sometimes scans late.",
    "Okay, I will wait one more day.",
];

/// The secret the bad-signature requests are signed with.
const WRONG_SECRET: &str = "not-the-configured-secret";

/// Builds signed requests for one server address.
#[derive(Debug)]
pub struct RequestBuilder {
    authority: String,
    secret: Secret,
    factory: PayloadFactory,
}

impl RequestBuilder {
    /// Creates a builder for `Host: <authority>`, signing with `secret`.
    pub fn new(authority: &str, secret: &Secret) -> Self {
        Self {
            authority: authority.to_owned(),
            secret: secret.clone(),
            factory: PayloadFactory::new(),
        }
    }

    /// Returns the content of message number `index`: every seventh has non-ASCII
    /// text, which the platform signs over its escaped form.
    pub fn content(index: usize) -> String {
        if index % 7 == 3 {
            format!("Grüße aus Köln 👋, wo bleibt Bestellung {}?", 1000 + index)
        } else {
            format!(
                "Where is my order {}? It was due yesterday, can you check?",
                1000 + index
            )
        }
    }

    /// Builds the body of a realistic `message_received` event with `content`.
    pub fn body(&mut self, content: &str) -> String {
        let mut event = self.factory.message(content);
        for (entry, text) in event.history_tail.iter_mut().zip(HISTORY_TEXTS) {
            entry.content = Some(text.to_owned());
        }
        event.timestamp = Some(iso_timestamp_micros(SystemTime::now()));
        event.to_json()
    }

    /// Writes a request head for `path` with the signature headers and the given
    /// `Content-Type` and `Content-Length`.
    pub fn head(
        &self,
        path: &str,
        content_type: &str,
        signature: &str,
        timestamp: &str,
        content_length: usize,
    ) -> Vec<u8> {
        format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: webhook-stress\r\n\
             Content-Type: {content_type}\r\nX-App-Id: {}\r\nX-Thread-Id: {}\r\n\
             X-Timestamp: {timestamp}\r\nX-Signature: {signature}\r\n\
             Content-Length: {content_length}\r\n\r\n",
            self.authority,
            self.factory.app_id(),
            self.factory.thread_id(),
        )
        .into_bytes()
    }

    /// Builds a whole signed request for `path` with `body`, signed with `secret`.
    fn signed(&self, path: &str, content_type: &str, secret: &Secret, body: &str) -> Vec<u8> {
        let timestamp = unix_now().to_string();
        let signature = platform_signature(secret, &timestamp, body.as_bytes());
        let mut bytes = self.head(path, content_type, &signature, &timestamp, body.len());
        bytes.extend_from_slice(body.as_bytes());
        bytes
    }

    /// Builds a good `POST /` with message `index` and its echo.
    pub fn good(&mut self, index: usize) -> Prepared {
        let content = Self::content(index);
        let body = self.body(&content);
        Prepared {
            kind: Kind::Good,
            bytes: self.signed("/", "application/json", &self.secret, &body),
            expected_status: 200,
            expected_body: JsonReply::new(format!("Echo: {content}"))
                .to_json()
                .into_bytes(),
            client_closes: false,
        }
    }

    /// Builds a bad `POST /` of `kind` with message `index` and its error response.
    pub fn bad(&mut self, kind: Kind, index: usize) -> Prepared {
        let content = Self::content(index);
        let body = self.body(&content);
        let (bytes, rejection, client_closes) = match kind {
            Kind::Good => return self.good(index),
            Kind::BadSignature => {
                let wrong = Secret::new(WRONG_SECRET);
                let bytes = self.signed("/", "application/json", &wrong, &body);
                (bytes, Rejection::from(VerifyError::Mismatch), false)
            }
            Kind::InvalidJson => {
                // A body cut off in the middle of a string, as a broken sender sends it.
                let mut end = body.len() / 2;
                while !body.is_char_boundary(end) {
                    end -= 1;
                }
                let cut = &body[..end];
                let rejection = match parse_event(cut.as_bytes()) {
                    Err(error) => Rejection::from(error),
                    Ok(_) => unreachable!("half of a JSON object is not JSON"),
                };
                let bytes = self.signed("/", "application/json", &self.secret, cut);
                (bytes, rejection, false)
            }
            Kind::Oversized => {
                let timestamp = unix_now().to_string();
                let signature = platform_signature(&self.secret, &timestamp, body.as_bytes());
                let length = DEFAULT_MAX_BODY_BYTES + 1;
                let bytes = self.head("/", "application/json", &signature, &timestamp, length);
                (
                    bytes,
                    Rejection::payload_too_large(DEFAULT_MAX_BODY_BYTES),
                    true,
                )
            }
            Kind::WrongContentType => {
                let bytes = self.signed("/", "text/plain", &self.secret, &body);
                let rejection = Rejection::unsupported_media_type(Some(b"text/plain"));
                (bytes, rejection, false)
            }
        };
        Prepared {
            kind,
            bytes,
            expected_status: rejection.status(),
            expected_body: rejection.to_json().into_bytes(),
            client_closes,
        }
    }

    /// Builds a signed `POST /stream` with `words` words of content and returns the
    /// request and the exact body of the event stream it must get.
    pub fn stream(&mut self, index: usize, words: usize) -> (Vec<u8>, Vec<u8>) {
        let content = (0..words)
            .map(|word| format!("word{}", index * words + word))
            .collect::<Vec<_>>()
            .join(" ");
        let body = self.body(&content);
        let request = self.signed("/stream", "application/json", &self.secret, &body);
        (request, expected_stream(&format!("Echo: {content}")))
    }

    /// Builds a good `POST /` with message `index`, split into the head with the first
    /// half of the body and the rest of the body, and its echo.
    pub fn split_good(&mut self, index: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let prepared = self.good(index);
        let head_end = prepared
            .bytes
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .map_or(0, |position| position + 4);
        let body_length = prepared.bytes.len() - head_end;
        let split = head_end + body_length / 2;
        (
            prepared.bytes[..split].to_vec(),
            prepared.bytes[split..].to_vec(),
            prepared.expected_body,
        )
    }
}

/// Returns the exact event stream for `reply`: one `delta` per chunk, then `done`.
pub fn expected_stream(reply: &str) -> Vec<u8> {
    reply_chunks(reply)
        .map(|chunk| SseEvent::Delta(chunk.to_owned()))
        .chain([SseEvent::Done])
        .map(|event| event.to_frame())
        .collect::<String>()
        .into_bytes()
}

/// Distinct requests for the mixed traffic: nine good ones in ten, and every tenth one
/// bad, cycling through the four bad kinds.
#[derive(Debug)]
pub struct Mix {
    good: Vec<Prepared>,
    bad: Vec<Vec<Prepared>>,
}

impl Mix {
    /// Builds `good` distinct good requests and `bad_each` of every bad kind.
    pub fn build(builder: &mut RequestBuilder, good: usize, bad_each: usize) -> Self {
        let good = (0..good.max(1)).map(|index| builder.good(index)).collect();
        let bad = Kind::BAD
            .iter()
            .map(|kind| {
                (0..bad_each.max(1))
                    .map(|index| builder.bad(*kind, index))
                    .collect()
            })
            .collect();
        Self { good, bad }
    }

    /// Returns request number `index` of the run.
    pub fn get(&self, index: u64) -> &Prepared {
        let index = usize::try_from(index).unwrap_or_default();
        if index % 10 == 9 {
            let round = index / 10;
            let kind = &self.bad[round % self.bad.len()];
            &kind[(round / self.bad.len()) % kind.len()]
        } else {
            &self.good[index % self.good.len()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> RequestBuilder {
        RequestBuilder::new("127.0.0.1:1", &Secret::new("stress-secret"))
    }

    #[test]
    fn mix_is_one_bad_in_ten() {
        let mut builder = builder();
        let mix = Mix::build(&mut builder, 5, 2);
        let mut counts = std::collections::BTreeMap::new();
        for index in 0..400 {
            *counts.entry(mix.get(index).kind).or_insert(0) += 1;
        }
        assert_eq!(counts[&Kind::Good], 360);
        for kind in Kind::BAD {
            assert_eq!(counts[&kind], 10, "{}", kind.name());
        }
    }

    #[test]
    fn invalid_json_expects_invalid_json_code() {
        let prepared = builder().bad(Kind::InvalidJson, 0);
        assert_eq!(prepared.expected_status, 400);
        let body = String::from_utf8(prepared.expected_body).unwrap();
        assert!(body.starts_with(r#"{"error":"invalid_json""#), "{body}");
    }

    #[test]
    fn invalid_json_cut_is_utf8() {
        let prepared = builder().bad(Kind::InvalidJson, 3);
        assert!(String::from_utf8(prepared.bytes).is_ok());
    }

    #[test]
    fn oversized_sends_head_only() {
        let prepared = builder().bad(Kind::Oversized, 0);
        let text = String::from_utf8(prepared.bytes).unwrap();
        assert!(text.ends_with("Content-Length: 1048577\r\n\r\n"), "{text}");
        assert!(prepared.client_closes);
        assert_eq!(prepared.expected_status, 413);
    }

    #[test]
    fn good_request_expects_echo() {
        let prepared = builder().good(3);
        let body = String::from_utf8(prepared.expected_body).unwrap();
        assert_eq!(
            body,
            r#"{"reply":"Echo: Grüße aus Köln 👋, wo bleibt Bestellung 1003?"}"#
        );
        let text = String::from_utf8(prepared.bytes).unwrap();
        assert!(text.contains("\r\nX-Signature: sha256="), "{text}");
    }

    #[test]
    fn stream_expectation_ends_with_done() {
        let (request, expected) = builder().stream(0, 3);
        assert!(request.starts_with(b"POST /stream HTTP/1.1\r\n"));
        let text = String::from_utf8(expected).unwrap();
        assert!(text.starts_with("event: delta\n"), "{text}");
        assert!(text.ends_with("event: done\ndata: {}\n\n"), "{text}");
    }

    #[test]
    fn split_request_halves_join() {
        let mut builder = builder();
        let (head, rest, _) = builder.split_good(0);
        let text = String::from_utf8([head.clone(), rest].concat()).unwrap();
        assert!(text.contains("\r\n\r\n{\"version\""), "{text}");
        assert!(head.len() > text.find("\r\n\r\n").unwrap());
    }
}
