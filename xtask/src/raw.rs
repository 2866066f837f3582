//! A minimal HTTP/1.1 client over a plain TCP socket, for requests an HTTP library
//! would not send as written: header names in a chosen case, a header repeated, a
//! request head sent in halves, or a body uploaded while the answer is read.
//!
//! It speaks only what the smoke cases need: one request per connection, with
//! `Connection: close`, and a response with `Content-Length`, chunked encoding or a
//! body that ends when the server closes.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

/// Largest response the client accepts; every answer of the examples is far smaller.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// A response as read off the socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawResponse {
    pub status: u16,
    /// Header names lowercased, values as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// Returns the first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Writes a request head: the request line, `Host`, the given headers in order and
/// case, `Content-Length` and `Connection: close`.
pub fn request_head(
    method: &str,
    path: &str,
    host: &str,
    headers: &[(String, String)],
    content_length: usize,
) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n").into_bytes();
    for (name, value) in headers {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        // Header values go out as ISO-8859-1, one byte per character.
        head.extend(
            value
                .chars()
                .map(|character| u8::try_from(character).unwrap_or(b'?')),
        );
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(
        format!("Content-Length: {content_length}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    head
}

/// Sends `request` (head and body) on a new connection and reads the response,
/// all within `limit`.
pub async fn exchange(address: &str, request: &[u8], limit: Duration) -> Result<RawResponse> {
    let deadline = Instant::now() + limit;
    let mut stream = timeout_at(deadline, TcpStream::connect(address))
        .await
        .with_context(|| format!("could not connect to {address} within {limit:?}"))?
        .with_context(|| format!("could not connect to {address}"))?;
    timeout_at(deadline, stream.write_all(request))
        .await
        .context("timed out while sending the request")?
        .context("the connection failed while sending the request")?;
    read_response(&mut stream, deadline).await
}

/// Reads one response from `stream` until `deadline`.
pub async fn read_response(
    stream: &mut (impl AsyncRead + Unpin),
    deadline: Instant,
) -> Result<RawResponse> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(response) = parse_response(&buffer, false)? {
            return Ok(response);
        }
        if buffer.len() > MAX_RESPONSE_BYTES {
            bail!("the response is larger than {MAX_RESPONSE_BYTES} bytes");
        }
        let read = timeout_at(deadline, stream.read(&mut chunk))
            .await
            .context("timed out waiting for the response")?;
        match read {
            Ok(0) => break,
            Ok(count) => buffer.extend_from_slice(&chunk[..count]),
            Err(error) if buffer.is_empty() => {
                bail!("the connection failed before any response byte: {error}")
            }
            Err(error) => bail!(
                "the connection failed after {} response bytes: {error}",
                buffer.len()
            ),
        }
    }
    match parse_response(&buffer, true)? {
        Some(response) => Ok(response),
        None if buffer.is_empty() => bail!("the server closed the connection without a response"),
        None => bail!(
            "the server closed the connection in the middle of the response: {:?}",
            String::from_utf8_lossy(&buffer)
        ),
    }
}

/// Parses a complete response from `buffer`, or returns `None` when more bytes are
/// needed. `at_end` means the server has closed, which ends a body without a length.
pub fn parse_response(buffer: &[u8], at_end: bool) -> Result<Option<RawResponse>> {
    let Some(head_end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .with_context(|| format!("invalid status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut response = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    let rest = &buffer[head_end + 4..];

    if status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(Some(response));
    }
    if let Some(length) = response.header("content-length") {
        let length: usize = length
            .parse()
            .with_context(|| format!("invalid Content-Length {length:?}"))?;
        if rest.len() < length {
            return Ok(None);
        }
        response.body = rest[..length].to_vec();
        return Ok(Some(response));
    }
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|value| value.eq_ignore_ascii_case("chunked"));
    if chunked {
        return Ok(decode_chunked(rest)?.map(|body| {
            response.body = body;
            response
        }));
    }
    if at_end {
        response.body = rest.to_vec();
        return Ok(Some(response));
    }
    Ok(None)
}

/// Decodes a chunked body, or returns `None` when the last chunk has not arrived.
fn decode_chunked(mut rest: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = rest.windows(2).position(|window| window == b"\r\n") else {
            return Ok(None);
        };
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .with_context(|| format!("invalid chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_keeps_header_case_and_repeats() {
        let headers = vec![
            ("X-SIGNATURE".to_owned(), "a".to_owned()),
            ("x-signature".to_owned(), "b".to_owned()),
        ];
        let head = request_head("POST", "/", "127.0.0.1:1", &headers, 2);
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:1\r\nX-SIGNATURE: a\r\nx-signature: b\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn parses_content_length_body() {
        let raw = b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\ncontent-length: 4\r\n\r\n{}xx";
        let response = parse_response(raw, false).unwrap().unwrap();
        assert_eq!(response.status, 401);
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(response.body, b"{}xx");
    }

    #[test]
    fn waits_for_whole_body() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}";
        assert_eq!(parse_response(raw, false).unwrap(), None);
        assert_eq!(parse_response(&raw[..10], false).unwrap(), None);
    }

    #[test]
    fn decodes_chunked_body() {
        let raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let response = parse_response(raw, false).unwrap().unwrap();
        assert_eq!(response.body, b"abcde");
        assert_eq!(parse_response(&raw[..raw.len() - 5], false).unwrap(), None);
    }

    #[test]
    fn body_without_length_ends_at_close() {
        let raw = b"HTTP/1.0 200 OK\r\n\r\nhello";
        assert_eq!(parse_response(raw, false).unwrap(), None);
        assert_eq!(parse_response(raw, true).unwrap().unwrap().body, b"hello");
    }

    #[test]
    fn rejects_garbage_status_line() {
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", true).is_err());
    }
}
