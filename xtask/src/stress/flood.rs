//! Mixed traffic: many keep-alive connections, one request in flight on each, every
//! response compared whole with what its request must get.
//!
//! The generator runs on a tokio `current_thread` runtime on a thread of its own, so on
//! a 2-core machine it uses at most one core and the server keeps the other. A request
//! that fails is counted and not sent again; the connection is then opened anew.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep};

use super::client::{self, Failure};
use super::requests::{Kind, Mix};

/// Pause before connecting again after a failed connect, so a dead server is not
/// hammered.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);

/// Failure and mismatch descriptions kept as evidence.
const KEPT_EXAMPLES: usize = 5;

/// Settings of one run of mixed traffic.
#[derive(Clone, Debug)]
pub struct FloodPlan {
    pub address: SocketAddr,
    pub connections: usize,
    pub requests: u64,
    /// The run stops sending new requests after this long, whatever is left.
    pub time_limit: Duration,
    /// Maximum wait for one whole response.
    pub request_timeout: Duration,
}

/// The outcome of a run.
#[derive(Debug)]
pub struct FloodResult {
    /// Requests written, whatever happened to them.
    pub sent: u64,
    /// Responses equal to the expected one, by request kind.
    pub exact: BTreeMap<Kind, u64>,
    /// Responses that differ from the expected one.
    pub mismatches: u64,
    /// Responses with a 5xx status (counted among the mismatches too).
    pub server_errors: u64,
    pub resets: u64,
    /// Connections the server closed before a whole response.
    pub closed: u64,
    pub timeouts: u64,
    /// Failed connects and unreadable responses.
    pub other_failures: u64,
    pub examples: Vec<String>,
    /// Connections opened, the first one of each worker included.
    pub connects: u64,
    pub elapsed: Duration,
    /// Latency of the good requests, in microseconds.
    pub latency: Histogram<u64>,
}

impl FloodResult {
    fn new() -> Result<Self> {
        Ok(Self {
            sent: 0,
            exact: BTreeMap::new(),
            mismatches: 0,
            server_errors: 0,
            resets: 0,
            closed: 0,
            timeouts: 0,
            other_failures: 0,
            examples: Vec::new(),
            connects: 0,
            elapsed: Duration::ZERO,
            latency: new_histogram()?,
        })
    }

    /// Returns the number of responses equal to the expected one.
    pub fn exact_total(&self) -> u64 {
        self.exact.values().sum()
    }

    /// Returns whole responses per second.
    pub fn requests_per_second(&self) -> f64 {
        (self.exact_total() + self.mismatches) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn record_failure(&mut self, index: u64, kind: Kind, failure: &Failure) {
        match failure {
            Failure::Reset(_) => self.resets += 1,
            Failure::Closed(_) => self.closed += 1,
            Failure::Timeout => self.timeouts += 1,
            Failure::Other(_) => self.other_failures += 1,
        }
        self.keep_example(format!(
            "request {index} ({}): {}",
            kind.name(),
            failure.describe()
        ));
    }

    fn keep_example(&mut self, example: String) {
        if self.examples.len() < KEPT_EXAMPLES {
            self.examples.push(example);
        }
    }

    fn merge(&mut self, other: FloodResult) -> Result<()> {
        self.sent += other.sent;
        for (kind, count) in other.exact {
            *self.exact.entry(kind).or_default() += count;
        }
        self.mismatches += other.mismatches;
        self.server_errors += other.server_errors;
        self.resets += other.resets;
        self.closed += other.closed;
        self.timeouts += other.timeouts;
        self.other_failures += other.other_failures;
        self.connects += other.connects;
        for example in other.examples {
            self.keep_example(example);
        }
        self.latency
            .add(&other.latency)
            .context("could not merge latency histograms")
    }
}

/// Returns a histogram of microseconds up to one minute.
pub fn new_histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000, 3).context("could not create a latency histogram")
}

/// Runs `plan` with the requests of `mix` on a `current_thread` runtime on a new thread
/// and waits for it.
pub fn run(plan: FloodPlan, mix: Arc<Mix>) -> Result<FloodResult> {
    let worker = std::thread::Builder::new()
        .name("stress-flood".to_owned())
        .spawn(move || run_here(&plan, &mix))
        .context("could not start the load generator thread")?;
    worker
        .join()
        .map_err(|_panic| anyhow::anyhow!("the load generator thread panicked"))?
}

fn run_here(plan: &FloodPlan, mix: &Arc<Mix>) -> Result<FloodResult> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the load generator's runtime")?;
    runtime.block_on(async {
        let started = Instant::now();
        let deadline = started + plan.time_limit;
        let next = Arc::new(AtomicU64::new(0));
        let mut workers = JoinSet::new();
        for _ in 0..plan.connections {
            let worker = Worker {
                address: plan.address,
                mix: Arc::clone(mix),
                next: Arc::clone(&next),
                requests: plan.requests,
                deadline,
                request_timeout: plan.request_timeout,
                result: FloodResult::new()?,
            };
            workers.spawn(worker.drive());
        }
        let mut total = FloodResult::new()?;
        while let Some(joined) = workers.join_next().await {
            total.merge(joined.context("a load generator task failed")?)?;
        }
        total.elapsed = started.elapsed();
        Ok(total)
    })
}

/// One connection of the generator.
struct Worker {
    address: SocketAddr,
    mix: Arc<Mix>,
    next: Arc<AtomicU64>,
    requests: u64,
    deadline: Instant,
    request_timeout: Duration,
    result: FloodResult,
}

impl Worker {
    async fn drive(mut self) -> FloodResult {
        let mut stream: Option<TcpStream> = None;
        let mut buffer = Vec::with_capacity(16 * 1024);
        while Instant::now() < self.deadline {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            if index >= self.requests {
                break;
            }
            let prepared = self.mix.get(index);

            let mut open = match stream.take() {
                Some(open) => open,
                None => match client::connect(self.address, self.request_timeout).await {
                    Ok(open) => {
                        self.result.connects += 1;
                        open
                    }
                    Err(failure) => {
                        self.result.sent += 1;
                        self.result.record_failure(index, prepared.kind, &failure);
                        sleep(RECONNECT_PAUSE).await;
                        continue;
                    }
                },
            };

            self.result.sent += 1;
            let started = Instant::now();
            let outcome = client::exchange(
                &mut open,
                &prepared.bytes,
                &mut buffer,
                self.request_timeout,
            )
            .await;
            let response = match outcome {
                Ok(response) => response,
                Err(failure) => {
                    self.result.record_failure(index, prepared.kind, &failure);
                    continue;
                }
            };
            if prepared.kind == Kind::Good {
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.result.latency.saturating_record(micros);
            }

            if response.status >= 500 {
                self.result.server_errors += 1;
            }
            match client::mismatch(
                &response,
                prepared.expected_status,
                "application/json",
                &prepared.expected_body,
            ) {
                None => *self.result.exact.entry(prepared.kind).or_default() += 1,
                Some(difference) => {
                    self.result.mismatches += 1;
                    self.result.keep_example(format!(
                        "request {index} ({}): {difference}",
                        prepared.kind.name()
                    ));
                }
            }
            if !prepared.client_closes && !client::closes(&response) {
                stream = Some(open);
            }
        }
        self.result
    }
}
