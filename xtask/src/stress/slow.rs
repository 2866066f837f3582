//! Slow clients and the paced traffic that is timed while they are connected.
//!
//! A slow-loris connection sends a request head one byte a second and never finishes
//! it. A slow body sends a whole head and then the body one byte a second. Both keep
//! going until the server cuts them off or [`SlowPlan::give_up_after`] passes. Paced
//! traffic sends good requests at a fixed rate, so that its latency can be compared
//! with and without the slow connections. The load it puts on the server is small and
//! the same in both runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep, sleep_until};

use super::client::{self, Failure};
use super::flood::new_histogram;
use super::requests::Prepared;
use crate::raw::{RawResponse, parse_response};

/// Descriptions kept as evidence.
const KEPT_EXAMPLES: usize = 5;

/// Paced traffic: `connections` keep-alive connections, each sending one good request
/// every `interval`, for `duration`.
#[derive(Clone, Debug)]
pub struct PacedPlan {
    pub address: SocketAddr,
    pub connections: usize,
    pub interval: Duration,
    pub duration: Duration,
    pub request_timeout: Duration,
}

/// The outcome of paced traffic.
#[derive(Debug)]
pub struct PacedResult {
    /// Latency of every whole response, in microseconds.
    pub latency: Histogram<u64>,
    pub exact: u64,
    pub mismatches: u64,
    pub failures: u64,
    pub examples: Vec<String>,
}

impl PacedResult {
    fn keep_example(&mut self, example: String) {
        if self.examples.len() < KEPT_EXAMPLES {
            self.examples.push(example);
        }
    }

    /// Returns a latency quantile in milliseconds.
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }
}

/// Runs paced traffic with the good requests in `requests` on a thread of its own.
pub fn spawn_paced(
    plan: PacedPlan,
    requests: Arc<Vec<Prepared>>,
) -> Result<std::thread::JoinHandle<Result<PacedResult>>> {
    std::thread::Builder::new()
        .name("stress-paced".to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("could not start the paced traffic's runtime")?;
            runtime.block_on(paced(plan, requests))
        })
        .context("could not start the paced traffic thread")
}

/// Joins a thread started by [`spawn_paced`] or [`spawn_slow`].
pub fn join<T>(handle: std::thread::JoinHandle<Result<T>>) -> Result<T> {
    handle
        .join()
        .map_err(|_panic| anyhow::anyhow!("a load thread panicked"))?
}

async fn paced(plan: PacedPlan, requests: Arc<Vec<Prepared>>) -> Result<PacedResult> {
    let mut tasks = JoinSet::new();
    let connections = plan.connections.max(1);
    for connection in 0..connections {
        let plan = plan.clone();
        let requests = Arc::clone(&requests);
        // Spread the connections over one interval, so requests do not arrive in bursts.
        let offset = plan
            .interval
            .mul_f64(connection as f64 / connections as f64);
        tasks.spawn(async move {
            sleep(offset).await;
            paced_connection(&plan, &requests, connection).await
        });
    }
    let mut total = PacedResult {
        latency: new_histogram()?,
        exact: 0,
        mismatches: 0,
        failures: 0,
        examples: Vec::new(),
    };
    while let Some(joined) = tasks.join_next().await {
        let part = joined.context("a paced traffic task failed")??;
        total.exact += part.exact;
        total.mismatches += part.mismatches;
        total.failures += part.failures;
        for example in part.examples {
            total.keep_example(example);
        }
        total
            .latency
            .add(&part.latency)
            .context("could not merge latency histograms")?;
    }
    Ok(total)
}

async fn paced_connection(
    plan: &PacedPlan,
    requests: &[Prepared],
    connection: usize,
) -> Result<PacedResult> {
    let mut result = PacedResult {
        latency: new_histogram()?,
        exact: 0,
        mismatches: 0,
        failures: 0,
        examples: Vec::new(),
    };
    let deadline = Instant::now() + plan.duration;
    let mut ticker = interval(plan.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut stream: Option<TcpStream> = None;
    let mut buffer = Vec::with_capacity(4096);
    let mut index = connection * 7;

    loop {
        ticker.tick().await;
        if Instant::now() >= deadline {
            break;
        }
        let Some(prepared) = requests.get(index % requests.len().max(1)) else {
            break;
        };
        index += 1;
        let started = Instant::now();
        let mut open = match stream.take() {
            Some(open) => open,
            None => match client::connect(plan.address, plan.request_timeout).await {
                Ok(open) => open,
                Err(failure) => {
                    result.failures += 1;
                    result.keep_example(format!("connect: {}", failure.describe()));
                    continue;
                }
            },
        };
        let outcome = client::exchange(
            &mut open,
            &prepared.bytes,
            &mut buffer,
            plan.request_timeout,
        )
        .await;
        match outcome {
            Ok(response) => {
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                result.latency.saturating_record(micros);
                match client::mismatch(
                    &response,
                    prepared.expected_status,
                    "application/json",
                    &prepared.expected_body,
                ) {
                    None => result.exact += 1,
                    Some(difference) => {
                        result.mismatches += 1;
                        result.keep_example(difference);
                    }
                }
                if !client::closes(&response) {
                    stream = Some(open);
                }
            }
            Err(failure) => {
                result.failures += 1;
                result.keep_example(failure.describe());
            }
        }
    }
    Ok(result)
}

/// Slow connections to hold open.
#[derive(Clone, Debug)]
pub struct SlowPlan {
    pub address: SocketAddr,
    pub loris: usize,
    pub bodies: usize,
    /// Pause between two bytes.
    pub byte_interval: Duration,
    /// A connection not cut off by then counts as never cut off.
    pub give_up_after: Duration,
    /// The head the slow-loris connections send, long enough never to be finished.
    pub loris_head: Vec<u8>,
    /// The whole head of the slow-body request.
    pub body_head: Vec<u8>,
    /// The body sent one byte at a time.
    pub body: Vec<u8>,
    /// The status and body of the response a slow body must get.
    pub body_expected_status: u16,
    pub body_expected: Vec<u8>,
}

/// The fate of one slow connection.
#[derive(Clone, Debug)]
pub struct SlowOutcome {
    /// Time from the start of the slow part to the end of the connection, or `None`
    /// when the server never ended it. The slow part starts at connect for slow loris
    /// and at the end of the head for a slow body.
    pub closed_after: Option<Duration>,
    /// Time to a whole response, when the server sent one.
    pub answered_after: Option<Duration>,
    pub response: Option<RawResponse>,
    /// Bytes the server sent after the first whole response.
    pub trailing_bytes: usize,
    /// The way the connection ended: `closed` (EOF), `reset`, or `write failed`.
    pub ending: &'static str,
    /// Bytes of the head or body sent before the connection ended.
    pub bytes_sent: usize,
}

/// The outcome of the slow connections.
#[derive(Debug)]
pub struct SlowResult {
    pub loris: Vec<SlowOutcome>,
    pub bodies: Vec<SlowOutcome>,
    /// Connections that could not be opened.
    pub connect_failures: Vec<String>,
}

/// Opens the slow connections of `plan` on a thread of its own and runs them until the
/// server cuts each off or the plan gives up.
pub fn spawn_slow(plan: SlowPlan) -> Result<std::thread::JoinHandle<Result<SlowResult>>> {
    std::thread::Builder::new()
        .name("stress-slow".to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("could not start the slow clients' runtime")?;
            runtime.block_on(slow(plan))
        })
        .context("could not start the slow clients' thread")
}

async fn slow(plan: SlowPlan) -> Result<SlowResult> {
    let plan = Arc::new(plan);
    let mut tasks = JoinSet::new();
    for number in 0..plan.loris + plan.bodies {
        let plan = Arc::clone(&plan);
        tasks.spawn(async move {
            let is_loris = number < plan.loris;
            let outcome = if is_loris {
                drip(&plan, &[], &plan.loris_head).await
            } else {
                drip(&plan, &plan.body_head, &plan.body).await
            };
            (is_loris, outcome)
        });
    }
    let mut result = SlowResult {
        loris: Vec::new(),
        bodies: Vec::new(),
        connect_failures: Vec::new(),
    };
    while let Some(joined) = tasks.join_next().await {
        let (is_loris, outcome) = joined.context("a slow client task failed")?;
        match outcome {
            Ok(outcome) if is_loris => result.loris.push(outcome),
            Ok(outcome) => result.bodies.push(outcome),
            Err(failure) => result.connect_failures.push(failure.describe()),
        }
    }
    Ok(result)
}

/// Connects, writes `prefix` at once, then `slow` one byte per interval while reading
/// whatever the server sends, until the server ends the connection or the plan gives
/// up.
async fn drip(plan: &SlowPlan, prefix: &[u8], slow: &[u8]) -> Result<SlowOutcome, Failure> {
    let mut stream = client::connect(plan.address, Duration::from_secs(5)).await?;
    if !prefix.is_empty() {
        stream
            .write_all(prefix)
            .await
            .map_err(|error| Failure::from_io("write head", &error))?;
    }
    let started = Instant::now();
    let give_up = started + plan.give_up_after;
    let mut ticker = interval(plan.byte_interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut outcome = SlowOutcome {
        closed_after: None,
        answered_after: None,
        response: None,
        trailing_bytes: 0,
        ending: "still open",
        bytes_sent: 0,
    };

    loop {
        tokio::select! {
            read = stream.read(&mut chunk) => {
                match read {
                    Ok(0) => {
                        outcome.ending = "closed";
                        break;
                    }
                    Ok(count) => {
                        received.extend_from_slice(&chunk[..count]);
                        record_response(&mut outcome, &received, started);
                    }
                    Err(_error) => {
                        outcome.ending = "reset";
                        break;
                    }
                }
            }
            _ = ticker.tick() => {
                let Some(byte) = slow.get(outcome.bytes_sent) else {
                    continue;
                };
                if stream.write_all(&[*byte]).await.is_err() {
                    outcome.ending = "write failed";
                    break;
                }
                outcome.bytes_sent += 1;
            }
            () = sleep_until(give_up) => {
                return Ok(outcome);
            }
        }
    }
    outcome.closed_after = Some(started.elapsed());
    if outcome.response.is_none()
        && let Ok(Some(response)) = parse_response(&received, true)
    {
        outcome.answered_after = outcome.closed_after;
        outcome.response = Some(response);
    }
    Ok(outcome)
}

/// Records the first whole response in `received`, and counts the bytes after it.
fn record_response(outcome: &mut SlowOutcome, received: &[u8], started: Instant) {
    match &outcome.response {
        None => {
            if let Ok(Some(response)) = parse_response(received, false) {
                outcome.answered_after = Some(started.elapsed());
                outcome.response = Some(response);
            }
        }
        Some(_) => outcome.trailing_bytes = received.len() - response_length(received),
    }
}

/// Returns the length of the first response in `received`, head and body, assuming a
/// `Content-Length` body as every error response of the examples has.
fn response_length(received: &[u8]) -> usize {
    let Some(head_end) = received.windows(4).position(|window| window == b"\r\n\r\n") else {
        return received.len();
    };
    let head = String::from_utf8_lossy(&received[..head_end]);
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (head_end + 4 + length).min(received.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_length_counts_head_and_body() {
        let raw = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 2\r\n\r\n{}HTTP/1.1 400";
        assert_eq!(response_length(raw), raw.len() - "HTTP/1.1 400".len());
    }

    #[test]
    fn response_length_without_head_is_everything() {
        assert_eq!(response_length(b"HTTP/1.1 4"), 10);
    }
}
