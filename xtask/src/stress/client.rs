//! One request and its response over a keep-alive connection. Failures are sorted, so
//! that a reset is distinguished from a timeout or from a close without a response.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::raw::{RawResponse, parse_response};

/// Largest response accepted; every response of the stress run is far smaller.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The reason an exchange produced no response.
#[derive(Debug)]
pub enum Failure {
    /// The peer reset the connection (`ECONNRESET`, `ECONNABORTED` or `EPIPE`).
    Reset(String),
    /// The server closed the connection before a whole response.
    Closed(String),
    /// No whole response within the time limit.
    Timeout,
    /// Connecting failed, or the response could not be parsed.
    Other(String),
}

impl Failure {
    /// Sorts an I/O error during `action`.
    pub fn from_io(action: &str, error: &io::Error) -> Self {
        match error.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Failure::Reset(format!("{action}: {error}")),
            _ => Failure::Other(format!("{action}: {error}")),
        }
    }

    /// Returns a short description for a report.
    pub fn describe(&self) -> String {
        match self {
            Failure::Reset(detail) => format!("reset ({detail})"),
            Failure::Closed(detail) => format!("closed ({detail})"),
            Failure::Timeout => "no whole response in time".to_owned(),
            Failure::Other(detail) => detail.clone(),
        }
    }
}

/// Opens a connection with Nagle's algorithm off, since requests are written whole.
pub async fn connect(address: SocketAddr, limit: Duration) -> Result<TcpStream, Failure> {
    match timeout(limit, TcpStream::connect(address)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(error)) => Err(Failure::from_io("connect", &error)),
        Err(_elapsed) => Err(Failure::Timeout),
    }
}

/// Writes `request` and reads one whole response within `limit`. `buffer` is reused
/// between calls to save allocations.
pub async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buffer: &mut Vec<u8>,
    limit: Duration,
) -> Result<RawResponse, Failure> {
    match timeout(limit, exchange_unbounded(stream, request, buffer)).await {
        Ok(result) => result,
        Err(_elapsed) => Err(Failure::Timeout),
    }
}

async fn exchange_unbounded(
    stream: &mut TcpStream,
    request: &[u8],
    buffer: &mut Vec<u8>,
) -> Result<RawResponse, Failure> {
    stream
        .write_all(request)
        .await
        .map_err(|error| Failure::from_io("write", &error))?;
    read_response(stream, buffer).await
}

/// Reads one whole response from `stream`.
pub async fn read_response(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> Result<RawResponse, Failure> {
    buffer.clear();
    let mut chunk = [0u8; 8 * 1024];
    loop {
        let read = stream
            .read(&mut chunk)
            .await
            .map_err(|error| Failure::from_io("read", &error))?;
        let at_end = read == 0;
        buffer.extend_from_slice(&chunk[..read]);
        let parsed = parse_response(buffer, at_end)
            .map_err(|error| Failure::Other(format!("unreadable response: {error:#}")))?;
        if let Some(response) = parsed {
            return Ok(response);
        }
        if at_end {
            return Err(Failure::Closed(format!(
                "after {} response bytes",
                buffer.len()
            )));
        }
        if buffer.len() > MAX_RESPONSE_BYTES {
            return Err(Failure::Other(format!(
                "a response was larger than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
    }
}

/// Returns whether the server announced that it closes the connection.
pub fn closes(response: &RawResponse) -> bool {
    response
        .header("connection")
        .is_some_and(|value| value.eq_ignore_ascii_case("close"))
}

/// Compares a response with the expected status, `Content-Type` and body; returns a
/// description of the first difference.
pub fn mismatch(
    response: &RawResponse,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> Option<String> {
    if response.status != status {
        return Some(format!(
            "status {} instead of {status}, body {:?}",
            response.status,
            String::from_utf8_lossy(&response.body)
        ));
    }
    let received_type = response.header("content-type").unwrap_or("(none)");
    if !received_type.eq_ignore_ascii_case(content_type) {
        return Some(format!(
            "Content-Type {received_type:?} instead of {content_type:?}"
        ));
    }
    if response.body != body {
        return Some(format!(
            "body {:?} instead of {:?}",
            String::from_utf8_lossy(&response.body),
            String::from_utf8_lossy(body)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_kinds_are_resets() {
        for kind in [
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::ConnectionAborted,
            io::ErrorKind::BrokenPipe,
        ] {
            let failure = Failure::from_io("read", &io::Error::from(kind));
            assert!(matches!(failure, Failure::Reset(_)), "{kind:?}");
        }
        let other = Failure::from_io("read", &io::Error::from(io::ErrorKind::InvalidData));
        assert!(matches!(other, Failure::Other(_)));
    }

    #[test]
    fn mismatch_names_first_difference() {
        let response = parse_response(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(mismatch(&response, 200, "application/json", b"{}"), None);
        assert!(
            mismatch(&response, 401, "application/json", b"{}")
                .unwrap()
                .starts_with("status 200")
        );
        assert!(
            mismatch(&response, 200, "text/plain", b"{}")
                .unwrap()
                .starts_with("Content-Type")
        );
        assert!(
            mismatch(&response, 200, "application/json", b"[]")
                .unwrap()
                .starts_with("body")
        );
    }
}
