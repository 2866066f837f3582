//! A minimal HTTP/1.1 client over a raw socket, so tests control every byte sent and
//! see every byte received.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound for one exchange over the wire.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(15);

/// A response read until the server closed the connection.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// The status line and headers, as text.
    pub head: String,
    /// The body, with chunked transfer encoding removed.
    pub body: String,
}

/// Returns a request with `Connection: close`, so the response ends at EOF.
pub fn post(path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// Returns `GET path` with `Connection: close`.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").into_bytes()
}

/// Sends `request` on a new connection and reads the whole response.
pub async fn exchange(address: SocketAddr, request: &[u8]) -> RawResponse {
    let mut stream = connect(address).await;
    stream.write_all(request).await.unwrap();
    read_to_close(&mut stream).await
}

/// Connects within [`EXCHANGE_TIMEOUT`].
pub async fn connect(address: SocketAddr) -> TcpStream {
    tokio::time::timeout(EXCHANGE_TIMEOUT, TcpStream::connect(address))
        .await
        .unwrap()
        .unwrap()
}

/// Reads until the server closes the connection, within [`EXCHANGE_TIMEOUT`].
pub async fn read_to_close(stream: &mut TcpStream) -> RawResponse {
    let mut raw = Vec::new();
    tokio::time::timeout(EXCHANGE_TIMEOUT, stream.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    parse(&raw)
}

/// Splits a response into status, head and decoded body.
pub fn parse(raw: &[u8]) -> RawResponse {
    let text = String::from_utf8(raw.to_vec()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    RawResponse {
        status,
        head: head.to_owned(),
        body,
    }
}

/// Removes chunked transfer encoding.
pub fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return body;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}
