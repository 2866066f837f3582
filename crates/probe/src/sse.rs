//! An incremental parser for server-sent events, as a browser reads them.
//!
//! Bytes arrive in network reads that can end anywhere: inside a line, between the
//! `\r` and `\n` of a line ending, or inside a UTF-8 character. [`SseParser::push`]
//! keeps the unfinished line and the unfinished event until the rest arrives, and
//! returns each event once its blank line has been read. The field rules follow the
//! WHATWG HTML standard: lines end with `\n`, `\r\n` or `\r`; a line starting with `:`
//! is a comment; `field: value` loses one space after the colon; several `data` lines
//! join with `\n`; an event without an `event` field is named `message`.

/// One event as a client delivers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseFrame {
    /// The `event` field, or `message` when the event has none.
    pub event: String,
    /// The `data` lines joined with `\n`.
    pub data: String,
}

/// Parses a stream of bytes into events, one network read at a time.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the line that has not ended yet.
    line: Vec<u8>,
    /// The previous read ended with `\r`, so a `\n` at the start of the next read
    /// belongs to that line ending.
    after_carriage_return: bool,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// Creates a parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one network read and returns the events it completed, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseFrame> {
        let mut frames = Vec::new();
        for &byte in bytes {
            let skip_newline = self.after_carriage_return && byte == b'\n';
            self.after_carriage_return = false;
            if skip_newline {
                continue;
            }
            match byte {
                b'\n' | b'\r' => {
                    self.after_carriage_return = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(frame) = self.process_line(&line) {
                        frames.push(frame);
                    }
                }
                _ => self.line.push(byte),
            }
        }
        frames
    }

    /// Returns whether bytes of an event arrived after the last blank line, which a
    /// client would drop when the stream ends.
    pub fn has_unfinished_event(&self) -> bool {
        !self.line.is_empty() || self.event.is_some() || self.data.is_some()
    }

    fn process_line(&mut self, line: &[u8]) -> Option<SseFrame> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(b":") {
            return None;
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            // `id` and `retry` steer reconnection, which a single check never uses.
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseFrame> {
        let event = self.event.take();
        // The standard drops an event without data lines.
        let data = self.data.take()?;
        Some(SseFrame {
            event: event
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| "message".to_owned()),
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(event: &str, data: &str) -> SseFrame {
        SseFrame {
            event: event.to_owned(),
            data: data.to_owned(),
        }
    }

    fn parse_in_pieces(stream: &[u8], piece: usize) -> Vec<SseFrame> {
        let mut parser = SseParser::new();
        let frames: Vec<SseFrame> = stream
            .chunks(piece)
            .flat_map(|chunk| parser.push(chunk))
            .collect();
        assert!(!parser.has_unfinished_event());
        frames
    }

    const STREAM: &[u8] = "event: delta\ndata: {\"text\":\"Echo: \"}\n\nevent: delta\ndata: {\"text\":\"café ☕\"}\n\nevent: done\ndata: {}\n\n".as_bytes();

    #[test]
    fn parses_whole_stream() {
        assert_eq!(
            parse_in_pieces(STREAM, STREAM.len()),
            [
                frame("delta", r#"{"text":"Echo: "}"#),
                frame("delta", r#"{"text":"café ☕"}"#),
                frame("done", "{}"),
            ]
        );
    }

    #[test]
    fn events_split_across_reads_are_joined() {
        let whole = parse_in_pieces(STREAM, STREAM.len());
        for piece in 1..STREAM.len() {
            assert_eq!(parse_in_pieces(STREAM, piece), whole, "piece size {piece}");
        }
    }

    #[test]
    fn accepts_every_line_ending() {
        let crlf = b"event: delta\r\ndata: {}\r\n\r\n";
        let cr = b"event: delta\rdata: {}\r\r";
        for stream in [&crlf[..], &cr[..]] {
            for piece in 1..=stream.len() {
                assert_eq!(
                    parse_in_pieces(stream, piece),
                    [frame("delta", "{}")],
                    "{stream:?} in pieces of {piece}"
                );
            }
        }
    }

    #[test]
    fn ignores_comments_and_joins_data_lines() {
        let stream = b": keep-alive\n\ndata:a\ndata: b\nid: 7\n\n";
        assert_eq!(parse_in_pieces(stream, 4), [frame("message", "a\nb")]);
    }

    #[test]
    fn reports_event_without_blank_line() {
        let mut parser = SseParser::new();
        assert!(parser.push(b"event: done\ndata: {}\n").is_empty());
        assert!(parser.has_unfinished_event());
    }
}
