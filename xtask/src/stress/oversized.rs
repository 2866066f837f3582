//! Oversized bodies sent in full, as a client that does not wait for an early
//! response sends them.
//!
//! The mixed traffic sends only the head of an oversized request, because 5,000
//! bodies of 1 MiB would be 5 GB of loopback traffic. Here a few requests send the
//! whole body while the response is read at the same time, to show that the 413 still
//! arrives whole and the connection is not reset.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

use super::client::{self, Failure};
use crate::raw::parse_response;

/// The outcome of the oversized uploads.
#[derive(Debug, Default)]
pub struct OversizedResult {
    /// Uploads whose response was exactly the expected 413.
    pub exact: usize,
    /// Uploads whose read side saw a reset before the whole response.
    pub resets: usize,
    /// Uploads whose write side failed after the response had arrived, because the
    /// server closed the connection without reading the rest of the body.
    pub writes_cut: usize,
    pub examples: Vec<String>,
}

/// Sends `count` uploads of `request_head` followed by `body_length` bytes, one after
/// another, and compares each response with `expected_status` and `expected_body`.
pub async fn run(
    address: SocketAddr,
    request_head: &[u8],
    body_length: usize,
    expected_status: u16,
    expected_body: &[u8],
    count: usize,
) -> OversizedResult {
    let mut result = OversizedResult::default();
    let upload = [request_head, &vec![b' '; body_length]].concat();
    for _ in 0..count {
        match one(address, &upload).await {
            Ok((response, write_failed)) => {
                if write_failed {
                    result.writes_cut += 1;
                }
                match client::mismatch(
                    &response,
                    expected_status,
                    "application/json",
                    expected_body,
                ) {
                    None => result.exact += 1,
                    Some(difference) => result.examples.push(difference),
                }
            }
            Err(failure) => {
                if matches!(failure, Failure::Reset(_)) {
                    result.resets += 1;
                }
                result.examples.push(failure.describe());
            }
        }
    }
    result.examples.truncate(5);
    result
}

/// Writes `upload` and reads the response at the same time; returns the response and
/// whether the write failed.
async fn one(
    address: SocketAddr,
    upload: &[u8],
) -> Result<(crate::raw::RawResponse, bool), Failure> {
    let stream = client::connect(address, Duration::from_secs(5)).await?;
    let (mut reader, mut writer) = stream.into_split();
    let upload = upload.to_vec();
    let writing = tokio::spawn(async move { writer.write_all(&upload).await.is_err() });

    let reading = async {
        let mut received = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let read = reader
                .read(&mut chunk)
                .await
                .map_err(|error| Failure::from_io("read", &error))?;
            received.extend_from_slice(&chunk[..read]);
            let parsed = parse_response(&received, read == 0)
                .map_err(|error| Failure::Other(format!("unreadable response: {error:#}")))?;
            if let Some(response) = parsed {
                return Ok(response);
            }
            if read == 0 {
                return Err(Failure::Closed(format!("after {} bytes", received.len())));
            }
        }
    };
    let response = timeout(Duration::from_secs(15), reading)
        .await
        .map_err(|_elapsed| Failure::Timeout)??;
    let mut writing = writing;
    let write_failed = match timeout(Duration::from_secs(15), &mut writing).await {
        Ok(Ok(failed)) => failed,
        Ok(Err(_join_error)) => true,
        Err(_elapsed) => {
            // The server neither reads the rest nor closes; stop writing.
            writing.abort();
            true
        }
    };
    Ok((response, write_failed))
}
