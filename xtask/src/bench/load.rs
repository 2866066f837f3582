//! The load generator: signed requests written as pre-formatted bytes over keep-alive
//! connections, one request in flight per connection, all on one thread.
//!
//! The generator runs a tokio `current_thread` runtime on the thread that calls
//! [`run`], so on a 2-core machine the server under test keeps the other core. Per
//! request it does one `write` of ready bytes and reads until the status line, the
//! headers and `Content-Length` bytes of body have arrived. A chunked or close-delimited
//! response (from a server given with `--against`) goes to the fuller parser of
//! [`crate::raw`] instead. Latency is the time from the start of the `write` to the last byte of
//! the response.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use nix::sys::resource::{UsageWho, getrusage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, timeout};
use webhook_contract::Secret;
use webhook_probe::payload::{PayloadFactory, iso_timestamp_micros, platform_signature, unix_now};

/// Largest response the generator accepts; the examples' replies are about 100 bytes.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Highest latency the histogram tracks; a request is cut off long before.
const MAX_TRACKED_LATENCY: Duration = Duration::from_secs(60);

/// Pause before a new connection after a failed one, so a dead server is not hammered.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);

/// Texts of the earlier messages in each request's history, as long as a short chat
/// message, so that a request body comes to about 1.5 KB.
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

/// A set of distinct signed requests, each ready to write to a socket.
#[derive(Debug)]
pub struct RequestPool {
    requests: Vec<Vec<u8>>,
    body_bytes: usize,
}

impl RequestPool {
    /// Builds `count` signed `message_received` requests for `path` on `authority`
    /// (the `Host` header), each with its own message id, body and signature, all
    /// stamped with the current time.
    pub fn build(authority: &str, path: &str, secret: &Secret, count: usize) -> Self {
        let mut factory = PayloadFactory::new();
        let mut requests = Vec::with_capacity(count);
        let mut body_bytes = 0;
        for index in 0..count {
            let content = format!(
                "Where is my order {}? It was due yesterday, can you check?",
                1000 + index
            );
            let mut event = factory.message(&content);
            for (entry, text) in event.history_tail.iter_mut().zip(HISTORY_TEXTS) {
                entry.content = Some(text.to_owned());
            }
            event.timestamp = Some(iso_timestamp_micros(SystemTime::now()));
            let body = event.to_json();
            let timestamp = unix_now().to_string();
            let signature = platform_signature(secret, &timestamp, body.as_bytes());

            let mut request = format!(
                "POST {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: webhook-bench\r\n\
                 Accept: */*\r\nAccept-Encoding: gzip, deflate\r\n\
                 Content-Type: application/json\r\nX-App-Id: {}\r\nX-Thread-Id: {}\r\n\
                 X-Timestamp: {timestamp}\r\nX-Signature: {signature}\r\n\
                 Content-Length: {}\r\n\r\n",
                factory.app_id(),
                factory.thread_id(),
                body.len()
            )
            .into_bytes();
            request.extend_from_slice(body.as_bytes());
            body_bytes += body.len();
            requests.push(request);
        }
        Self {
            body_bytes: body_bytes / count.max(1),
            requests,
        }
    }

    /// Returns the mean body size in bytes.
    pub fn mean_body_bytes(&self) -> usize {
        self.body_bytes
    }

    /// Returns the request at `index`, wrapping around the pool.
    pub fn get(&self, index: usize) -> &[u8] {
        &self.requests[index % self.requests.len()]
    }
}

/// The settings of one load run.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    pub address: SocketAddr,
    pub connections: usize,
    pub duration: Duration,
    /// Maximum wait for one whole response before it counts as an error.
    pub request_timeout: Duration,
    /// Most requests sent in the whole run, over all connections.
    pub max_requests: u64,
}

/// The outcome of a load run.
#[derive(Debug)]
pub struct LoadResult {
    /// Responses read completely, whatever their status.
    pub responses: u64,
    /// Responses with a status other than 200, by status.
    pub non_200: BTreeMap<u16, u64>,
    /// Failed connects, writes, reads, timeouts and unreadable responses.
    pub errors: u64,
    /// The first error, for the report.
    pub first_error: Option<String>,
    /// Wall time from the first request to the end of the last one.
    pub elapsed: Duration,
    /// Latency of every complete response, in nanoseconds.
    pub latency: Histogram<u64>,
    /// CPU time (user and system) the generator's thread used during the run.
    pub generator_cpu: Duration,
}

impl LoadResult {
    /// Returns complete responses per second.
    pub fn requests_per_second(&self) -> f64 {
        self.responses as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// Returns the number of responses whose status was not 200.
    pub fn non_200_total(&self) -> u64 {
        self.non_200.values().sum()
    }

    /// Returns the generator's CPU time as a share of the wall time (1.0 = one core).
    pub fn generator_load(&self) -> f64 {
        self.generator_cpu.as_secs_f64() / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// Runs `plan` against its server on a `current_thread` runtime on the calling thread.
/// Returns early, with what was measured so far, once `stop` is set.
pub fn run(plan: &LoadPlan, pool: &Arc<RequestPool>, stop: &Arc<AtomicBool>) -> Result<LoadResult> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the load generator's runtime")?;
    let cpu_before = thread_cpu_time()?;
    let started = Instant::now();
    let deadline = started + plan.duration;
    let per_connection = plan.max_requests.div_ceil(plan.connections.max(1) as u64);

    let connections = runtime.block_on(async {
        let mut tasks = JoinSet::new();
        for connection in 0..plan.connections {
            let worker = Connection {
                address: plan.address,
                pool: Arc::clone(pool),
                // Each connection starts at its own place in the pool, so that at any
                // moment the connections send different requests.
                next_index: connection * 131,
                request_timeout: plan.request_timeout,
                stats: ConnectionStats::new()?,
            };
            tasks.spawn(worker.drive(deadline, per_connection, Arc::clone(stop)));
        }
        let mut finished = Vec::with_capacity(plan.connections);
        while let Some(joined) = tasks.join_next().await {
            finished.push(joined.context("a load generator task failed")?);
        }
        anyhow::Ok(finished)
    })?;

    let elapsed = started.elapsed();
    let generator_cpu = thread_cpu_time()?.saturating_sub(cpu_before);
    let mut result = LoadResult {
        responses: 0,
        non_200: BTreeMap::new(),
        errors: 0,
        first_error: None,
        elapsed,
        latency: new_histogram()?,
        generator_cpu,
    };
    for stats in connections {
        result.responses += stats.responses;
        result.errors += stats.errors;
        for (status, count) in stats.non_200 {
            *result.non_200.entry(status).or_default() += count;
        }
        if result.first_error.is_none() {
            result.first_error = stats.first_error;
        }
        result
            .latency
            .add(&stats.latency)
            .context("could not merge the latency histograms")?;
    }
    Ok(result)
}

fn new_histogram() -> Result<Histogram<u64>> {
    let high = u64::try_from(MAX_TRACKED_LATENCY.as_nanos()).unwrap_or(u64::MAX);
    Histogram::new_with_bounds(1_000, high, 3).context("could not create a latency histogram")
}

/// Returns the CPU time (user and system) of the calling thread.
fn thread_cpu_time() -> Result<Duration> {
    let usage = getrusage(UsageWho::RUSAGE_THREAD).context("getrusage failed")?;
    let to_duration = |time: nix::sys::time::TimeVal| {
        let micros = time.tv_sec() * 1_000_000 + time.tv_usec();
        Duration::from_micros(u64::try_from(micros).unwrap_or_default())
    };
    Ok(to_duration(usage.user_time()) + to_duration(usage.system_time()))
}

#[derive(Debug)]
struct ConnectionStats {
    responses: u64,
    non_200: BTreeMap<u16, u64>,
    errors: u64,
    first_error: Option<String>,
    latency: Histogram<u64>,
}

impl ConnectionStats {
    fn new() -> Result<Self> {
        Ok(Self {
            responses: 0,
            non_200: BTreeMap::new(),
            errors: 0,
            first_error: None,
            latency: new_histogram()?,
        })
    }

    fn record_error(&mut self, error: &anyhow::Error) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{error:#}"));
        }
    }
}

/// One keep-alive connection of the generator, opened again after a failure or when
/// the server closes it.
#[derive(Debug)]
struct Connection {
    address: SocketAddr,
    pool: Arc<RequestPool>,
    next_index: usize,
    request_timeout: Duration,
    stats: ConnectionStats,
}

impl Connection {
    /// Sends requests one after another until `deadline`, `max_requests` or `stop`.
    async fn drive(
        mut self,
        deadline: Instant,
        max_requests: u64,
        stop: Arc<AtomicBool>,
    ) -> ConnectionStats {
        let mut stream: Option<TcpStream> = None;
        let mut buffer = Vec::with_capacity(16 * 1024);
        let mut sent = 0u64;
        while sent < max_requests && Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
            let mut open = match stream.take() {
                Some(open) => open,
                None => match timeout(self.request_timeout, TcpStream::connect(self.address)).await
                {
                    Ok(Ok(open)) => {
                        // Requests are written whole; Nagle's algorithm would only add delay.
                        let _ = open.set_nodelay(true);
                        open
                    }
                    Ok(Err(error)) => {
                        self.stats
                            .record_error(&anyhow::Error::new(error).context("connect failed"));
                        sleep(RECONNECT_PAUSE).await;
                        continue;
                    }
                    Err(_) => {
                        self.stats
                            .record_error(&anyhow::anyhow!("connect timed out"));
                        continue;
                    }
                },
            };

            let request = self.pool.get(self.next_index);
            self.next_index += 1;
            sent += 1;
            let started = Instant::now();
            let outcome = timeout(
                self.request_timeout,
                exchange(&mut open, request, &mut buffer),
            )
            .await;
            match outcome {
                Ok(Ok(response)) => {
                    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    self.stats.latency.saturating_record(nanos);
                    self.stats.responses += 1;
                    if response.status != 200 {
                        *self.stats.non_200.entry(response.status).or_default() += 1;
                    }
                    if !response.close {
                        stream = Some(open);
                    }
                }
                Ok(Err(error)) => self.stats.record_error(&error),
                Err(_) => self.stats.record_error(&anyhow::anyhow!(
                    "no whole response within {:?}",
                    self.request_timeout
                )),
            }
        }
        self.stats
    }
}

/// The parts of a response the generator keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ResponseSummary {
    status: u16,
    /// The server closes the connection after this response.
    close: bool,
}

/// Writes `request` and reads one whole response.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buffer: &mut Vec<u8>,
) -> Result<ResponseSummary> {
    stream.write_all(request).await.context("write failed")?;
    buffer.clear();
    let mut chunk = [0u8; 8 * 1024];
    loop {
        let read = stream.read(&mut chunk).await.context("read failed")?;
        if read == 0 {
            return match crate::raw::parse_response(buffer, true)? {
                Some(response) => Ok(ResponseSummary {
                    status: response.status,
                    close: true,
                }),
                None if buffer.is_empty() => {
                    bail!("the server closed the connection without a response")
                }
                None => bail!("the server closed the connection in the middle of a response"),
            };
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(summary) = parse_summary(buffer)? {
            return Ok(summary);
        }
        if buffer.len() > MAX_RESPONSE_BYTES {
            bail!("a response was larger than {MAX_RESPONSE_BYTES} bytes");
        }
    }
}

/// Returns the status and connection state once `buffer` contains a whole response, or
/// `None` while more bytes are needed.
fn parse_summary(buffer: &[u8]) -> Result<Option<ResponseSummary>> {
    let Some(head_end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = &buffer[..head_end];
    let status = head
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| head.strip_prefix(b"HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| std::str::from_utf8(code).ok())
        .and_then(|code| code.parse::<u16>().ok())
        .with_context(|| {
            format!(
                "invalid status line {:?}",
                String::from_utf8_lossy(&head[..head.len().min(40)])
            )
        })?;

    let mut content_length = None;
    let mut chunked = false;
    let mut close = head.starts_with(b"HTTP/1.0");
    for line in head.split(|&byte| byte == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|&byte| byte == b':') else {
            continue;
        };
        let name = &line[..colon];
        let value = String::from_utf8_lossy(&line[colon + 1..]);
        let value = value.trim();
        if name.eq_ignore_ascii_case(b"content-length") {
            content_length = Some(
                value
                    .parse::<usize>()
                    .with_context(|| format!("invalid Content-Length {value:?}"))?,
            );
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }

    let body_start = head_end + 4;
    if status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(Some(ResponseSummary { status, close }));
    }
    if let Some(length) = content_length {
        return Ok(
            (buffer.len() >= body_start + length).then_some(ResponseSummary { status, close })
        );
    }
    if chunked {
        let complete = crate::raw::parse_response(buffer, false)?.is_some();
        return Ok(complete.then_some(ResponseSummary { status, close }));
    }
    // Without a length the body ends when the server closes, which `exchange` detects.
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_waits_for_content_length() {
        let raw =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4\r\n\r\n{}";
        assert_eq!(parse_summary(raw).unwrap(), None);
        let whole = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n{}{}";
        assert_eq!(
            parse_summary(whole).unwrap(),
            Some(ResponseSummary {
                status: 200,
                close: false
            })
        );
    }

    #[test]
    fn summary_reads_status_and_close() {
        let raw = b"HTTP/1.1 401 Unauthorized\r\nConnection: close\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(
            parse_summary(raw).unwrap(),
            Some(ResponseSummary {
                status: 401,
                close: true
            })
        );
    }

    #[test]
    fn summary_handles_chunked() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n";
        assert_eq!(parse_summary(raw).unwrap(), None);
        let whole = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        assert_eq!(
            parse_summary(whole).unwrap().map(|summary| summary.status),
            Some(200)
        );
    }

    #[test]
    fn summary_rejects_garbage() {
        assert!(parse_summary(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }

    #[test]
    fn pool_requests_are_distinct_and_realistic() {
        let pool = RequestPool::build("127.0.0.1:1", "/", &Secret::new("s"), 3);
        assert_ne!(pool.get(0), pool.get(1));
        assert_eq!(pool.get(0), pool.get(3));
        assert!(
            (1300..=1800).contains(&pool.mean_body_bytes()),
            "{}",
            pool.mean_body_bytes()
        );
        let text = String::from_utf8_lossy(pool.get(0));
        assert!(
            text.starts_with("POST / HTTP/1.1\r\nHost: 127.0.0.1:1\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nX-Signature: sha256="), "{text}");
        assert_eq!(text.matches("\"role\"").count(), 11, "{text}");
    }
}
