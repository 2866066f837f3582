//! SIGTERM while streams and requests are in flight, then a restart on the same port.
//!
//! When the signal arrives, the streams are open and have sent their first event, and
//! each plain request has sent its head and half of its body. The server must finish
//! the work it has started, and read the rest of a body that arrives after the signal.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Barrier, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, timeout};

use super::client::{self, Failure};
use super::requests::RequestBuilder;
use super::server::StressServer;
use crate::raw::parse_response;

/// Descriptions kept as evidence.
const KEPT_EXAMPLES: usize = 5;

/// Settings of the shutdown scenario.
#[derive(Clone, Copy, Debug)]
pub struct ShutdownPlan {
    pub address: SocketAddr,
    pub streams: usize,
    /// Words per streamed reply; with the server's stream delay this sets how long a
    /// stream lasts.
    pub stream_words: usize,
    pub requests: usize,
    /// Time from the signal to the second half of each request body.
    pub rest_of_body_after: Duration,
    /// The server's grace period; the process must exit 0 within it.
    pub grace: Duration,
}

/// The outcome of the shutdown scenario.
#[derive(Debug, Default)]
pub struct ShutdownResult {
    pub streams_complete: usize,
    pub requests_complete: usize,
    /// Work in flight that did not end with the exact response.
    pub incomplete: usize,
    pub examples: Vec<String>,
    /// Time from SIGTERM to the exit, when the process exited within the limit.
    pub exit_after: Option<Duration>,
    pub exit_code: Option<i32>,
}

impl ShutdownResult {
    fn keep_example(&mut self, example: String) {
        if self.examples.len() < KEPT_EXAMPLES {
            self.examples.push(example);
        }
    }
}

/// The result of one stream or request in flight.
enum InFlight {
    Stream(Result<(), String>),
    Request(Result<(), String>),
}

/// Opens the streams and the half-sent requests, sends SIGTERM, finishes the request
/// bodies, and checks every response and the exit.
pub async fn run(
    server: &mut StressServer,
    builder: &mut RequestBuilder,
    plan: ShutdownPlan,
) -> Result<ShutdownResult> {
    let (release_rest, rest_released) = watch::channel(false);
    // Every task waits here once its work is in flight, and the signal goes out after.
    let ready = Arc::new(Barrier::new(plan.streams + plan.requests + 1));
    let mut tasks = JoinSet::new();

    for index in 0..plan.requests {
        let (head, rest, expected) = builder.split_good(100_000 + index);
        let ready = Arc::clone(&ready);
        let mut released = rest_released.clone();
        let address = plan.address;
        tasks.spawn(async move {
            let opened = async {
                let mut stream = client::connect(address, Duration::from_secs(5))
                    .await
                    .map_err(|failure| failure.describe())?;
                stream
                    .write_all(&head)
                    .await
                    .map_err(|error| format!("write head: {error}"))?;
                Ok::<_, String>(stream)
            }
            .await;
            // Reached whether or not the request could be sent, so a failure here
            // does not hold up the scenario.
            ready.wait().await;
            let result = async {
                let mut stream = opened?;
                released
                    .wait_for(|released| *released)
                    .await
                    .map_err(|_closed| "the scenario ended early".to_owned())?;
                let mut buffer = Vec::new();
                let response =
                    client::exchange(&mut stream, &rest, &mut buffer, Duration::from_secs(15))
                        .await
                        .map_err(|failure| failure.describe())?;
                match client::mismatch(&response, 200, "application/json", &expected) {
                    None => Ok(()),
                    Some(difference) => Err(difference),
                }
            }
            .await;
            InFlight::Request(result)
        });
    }

    for index in 0..plan.streams {
        let (request, expected) = builder.stream(index, plan.stream_words);
        let ready = Arc::clone(&ready);
        let address = plan.address;
        tasks.spawn(async move {
            InFlight::Stream(stream_to_end(address, request, expected, ready).await)
        });
    }

    // Everything is in flight once every task has reached the barrier; the pause lets
    // the server read the heads that were just written.
    timeout(Duration::from_secs(20), ready.wait())
        .await
        .context("the streams and requests did not all start within 20 s")?;
    sleep(Duration::from_millis(100)).await;

    server.terminate()?;
    let signalled = Instant::now();
    sleep(plan.rest_of_body_after).await;
    let _ = release_rest.send(true);

    let mut result = ShutdownResult::default();
    let outcomes = timeout(Duration::from_secs(30), async {
        let mut outcomes = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            outcomes.push(joined);
        }
        outcomes
    })
    .await
    .context("streams and requests in flight did not finish within 30 s of SIGTERM")?;
    for joined in outcomes {
        match joined.context("a shutdown task failed")? {
            InFlight::Stream(Ok(())) => result.streams_complete += 1,
            InFlight::Request(Ok(())) => result.requests_complete += 1,
            InFlight::Stream(Err(problem)) => {
                result.incomplete += 1;
                result.keep_example(format!("stream: {problem}"));
            }
            InFlight::Request(Err(problem)) => {
                result.incomplete += 1;
                result.keep_example(format!("request: {problem}"));
            }
        }
    }

    // Wait past the grace period, so a late exit is measured rather than only missed.
    let waited = plan.grace + Duration::from_secs(5);
    let remaining = waited.saturating_sub(signalled.elapsed());
    if let Some(status) = server.wait_exit(remaining).await? {
        result.exit_after = Some(signalled.elapsed());
        result.exit_code = status.code();
    }
    Ok(result)
}

/// Sends one stream request, waits at the barrier after the first event, and reads
/// the stream to its end. Fails unless the body is exactly `expected`.
async fn stream_to_end(
    address: SocketAddr,
    request: Vec<u8>,
    expected: Vec<u8>,
    ready: Arc<Barrier>,
) -> Result<(), String> {
    let mut waited = false;
    let result = async {
        let mut stream = client::connect(address, Duration::from_secs(5))
            .await
            .map_err(|failure| failure.describe())?;
        stream
            .write_all(&request)
            .await
            .map_err(|error| format!("write: {error}"))?;
        let mut received = Vec::new();
        let mut chunk = [0u8; 8192];
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let read = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
                .await
                .map_err(|_elapsed| "no end of stream within 30 s".to_owned())?
                .map_err(|error| Failure::from_io("read", &error).describe())?;
            received.extend_from_slice(&chunk[..read]);
            if !waited && received.windows(12).any(|window| window == b"event: delta") {
                waited = true;
                ready.wait().await;
            }
            let parsed = parse_response(&received, read == 0)
                .map_err(|error| format!("unreadable response: {error:#}"))?;
            if let Some(response) = parsed {
                return match client::mismatch(&response, 200, "text/event-stream", &expected) {
                    None => Ok(()),
                    Some(difference) => Err(format!(
                        "{difference} (ends with done: {})",
                        response.body.ends_with(b"event: done\ndata: {}\n\n")
                    )),
                };
            }
            if read == 0 {
                return Err(format!(
                    "closed after {} bytes, before the end of the stream",
                    received.len()
                ));
            }
        }
    }
    .await;
    if !waited {
        // Let the scenario go on without this stream; its failure is in the result.
        ready.wait().await;
    }
    result
}

/// Starts `binary` again on `port` and returns the time to its first 200 on
/// `/healthz`, then stops it with SIGTERM and checks that it exits 0.
pub async fn restart(
    name: &'static str,
    binary: &Path,
    port: u16,
    secret: &str,
    limit: Duration,
) -> Result<Duration> {
    let started = Instant::now();
    let mut server = StressServer::spawn(name, binary, port, secret, 0)?;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    let answered = loop {
        let attempt = async {
            let mut stream = client::connect(address, Duration::from_millis(200))
                .await
                .ok()?;
            let mut buffer = Vec::new();
            client::exchange(
                &mut stream,
                request.as_bytes(),
                &mut buffer,
                Duration::from_millis(500),
            )
            .await
            .ok()
        };
        if attempt.await.is_some_and(|response| response.status == 200) {
            break started.elapsed();
        }
        if let Some(status) = server.wait_exit(Duration::ZERO).await? {
            bail!(
                "the restarted {name} exited ({status}); its stderr:\n{}",
                crate::process::indent(&server.log_head())
            );
        }
        if started.elapsed() > limit {
            bail!("the restarted {name} sent no 200 response to GET /healthz within {limit:?}");
        }
        sleep(Duration::from_millis(10)).await;
    };

    server.terminate()?;
    match server.wait_exit(Duration::from_secs(10)).await? {
        Some(status) if status.success() => Ok(answered),
        Some(status) => bail!("the restarted {name} exited with {status} after SIGTERM"),
        None => bail!("the restarted {name} did not exit within 10 s of SIGTERM"),
    }
}
