//! `cargo xtask stress`: both example servers under load, slow clients, a shutdown in
//! the middle of work and a restart, each check against a stated limit.
//!
//! Per server, one release-built process on a free loopback port goes through, in
//! order:
//!
//! 1. warm-up: the mixed traffic below at 1/20 of its size, then an RSS reading;
//! 2. unloaded latency: paced good requests, whose p99 is the baseline;
//! 3. mixed traffic: 200,000 requests over 512 keep-alive connections, one in ten bad
//!    (bad signature, invalid JSON, `Content-Length` over 1 MiB, wrong `Content-Type`),
//!    every response compared whole with the one its request must get. Then 20
//!    oversized requests send their whole body, and each must still get its exact 413
//!    without a reset;
//! 4. slow clients: 200 slow-loris connections and 50 slow bodies send one byte a
//!    second while the paced traffic runs again. Its p99 must stay within 2x the
//!    baseline, and the server must cut every slow connection within its 10 s timeouts;
//! 5. memory: RSS again, within 2x the reading after warm-up;
//! 6. SIGTERM with 100 streams and 100 half-sent requests in flight: all finish
//!    exactly, and the process exits 0 within its 10 s grace period;
//! 7. restart on the same port: the new process returns 200 on `/healthz` at once.
//!
//! All traffic goes to 127.0.0.1, every loop is bounded in count and time, and the run
//! ends by itself. It prints a summary table and fails, naming the server, scenario
//! and check, when any check is breached.

mod checks;
mod client;
mod flood;
mod oversized;
mod report;
mod requests;
mod server;
mod shutdown;
mod slow;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::time::{Instant, sleep};
use webhook_contract::{DEFAULT_MAX_BODY_BYTES, Rejection, Secret};

use checks::{check_flood, check_paced, check_shutdown, check_uploads, endings, span};
use flood::{FloodPlan, FloodResult};
use report::{Rows, Verdict};
use requests::{Kind, Mix, Prepared, RequestBuilder};
use server::StressServer;
use shutdown::ShutdownPlan;
use slow::{PacedPlan, PacedResult, SlowPlan};

/// The secret both servers are started with.
const SECRET: &str = "stress-test-secret-8c41";

/// Pause between two events of a streamed reply, small so that streams end quickly.
const STREAM_DELAY_MS: u64 = 20;

/// How long a server may take to write its start line.
const START_LIMIT: Duration = Duration::from_secs(20);

/// The servers' header-read and body-read timeouts.
const SERVER_TIMEOUT: Duration = Duration::from_secs(10);

/// Latest time a slow connection may be cut: the server's timeout plus 2 s for timer
/// granularity and scheduling.
const CUT_LIMIT: Duration = Duration::from_secs(12);

/// The servers' shutdown grace period.
const GRACE: Duration = Duration::from_secs(10);

/// Maximum time from starting a server again to its first 200 response.
const RESTART_LIMIT: Duration = Duration::from_secs(1);

/// Connections of the mixed traffic.
const CONNECTIONS: usize = 512;

/// Open files the run needs: its sockets at peak, and room for the servers' own files.
const OPEN_FILES_NEEDED: u64 = 2 * (CONNECTIONS as u64) + 256;

/// Distinct good requests and requests of each bad kind in the mixed traffic.
const DISTINCT_GOOD: usize = 4096;
const DISTINCT_BAD_EACH: usize = 256;

/// Oversized requests sent with their whole body, after the mixed traffic.
const OVERSIZED_UPLOADS: usize = 20;

/// Paced traffic: 16 connections, one request every 20 ms each (800 requests a second).
const PACED_CONNECTIONS: usize = 16;
const PACED_INTERVAL: Duration = Duration::from_millis(20);
const BASELINE_DURATION: Duration = Duration::from_secs(8);

/// The slow clients.
const SLOW_LORIS: usize = 200;
const SLOW_BODIES: usize = 50;
/// Time given to the slow clients to connect before the paced traffic starts.
const SLOW_SETTLE: Duration = Duration::from_millis(1500);
/// Paced traffic during the slow clients: until after they have all been cut off.
const SLOW_PACED_DURATION: Duration = Duration::from_secs(11);

/// The shutdown scenario.
const STREAMS_IN_FLIGHT: usize = 100;
const REQUESTS_IN_FLIGHT: usize = 100;
/// Words per streamed reply; with 20 ms between events a stream lasts about 1.2 s.
const STREAM_WORDS: usize = 60;

/// An example server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ServerName {
    Axum,
    Actix,
}

impl ServerName {
    fn package(self) -> &'static str {
        match self {
            ServerName::Axum => "webhook-axum",
            ServerName::Actix => "webhook-actix",
        }
    }
}

/// Options of `cargo xtask stress`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stress only this server (default: both, one after the other)
    #[arg(long, value_enum)]
    server: Option<ServerName>,

    /// Requests in the mixed-traffic scenario. At most 1,000,000, so that the run ends
    /// well within the servers' 300 s signature window and its own 120 s time limit.
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1_000..=1_000_000))]
    requests: u64,
}

/// Runs every scenario against the selected servers, prints the table, and fails when
/// any check is breached.
pub async fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let open_files = server::raise_open_file_limit()?;
    if open_files < OPEN_FILES_NEEDED {
        bail!(
            "the open-file limit is {open_files}, and the stress run needs {OPEN_FILES_NEEDED}; \
             raise the hard limit (`ulimit -Hn`) and run it again"
        );
    }

    let servers: Vec<ServerName> = match args.server {
        Some(server) => vec![server],
        None => vec![ServerName::Axum, ServerName::Actix],
    };
    let packages: Vec<&str> = servers.iter().map(|server| server.package()).collect();
    eprintln!("stress: building {} (release)", packages.join(" and "));
    let build_list = packages.clone();
    let binaries = tokio::task::spawn_blocking(move || server::build_release(&build_list))
        .await
        .context("the build task failed")??;
    eprintln!("stress: open-file limit {open_files}");

    let mut rows = Vec::new();
    for (package, binary) in packages.iter().zip(&binaries) {
        eprintln!("stress: {package}");
        let mut server_rows = Rows::new(package);
        stress_server(&mut server_rows, package, binary, &args).await;
        rows.extend(server_rows.rows);
    }

    println!();
    println!("{}", report::table(&rows));
    let breaches: Vec<_> = rows
        .iter()
        .filter(|row| row.verdict == Verdict::Breach)
        .collect();
    for row in &breaches {
        eprintln!(
            "BREACH {} {}: {}: measured {}, limit {}",
            row.server, row.scenario, row.check, row.measured, row.limit
        );
        for example in &row.evidence {
            eprintln!("    {example}");
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    if !breaches.is_empty() {
        let names: Vec<String> = breaches
            .iter()
            .map(|row| format!("{} {} ({})", row.server, row.scenario, row.check))
            .collect();
        bail!(
            "stress failed after {elapsed:.0} s with {} breached checks: {}",
            breaches.len(),
            names.join("; ")
        );
    }
    eprintln!("stress: every check passed in {elapsed:.0} s");
    Ok(())
}

/// Runs every scenario against one server and adds its rows.
async fn stress_server(rows: &mut Rows, name: &'static str, binary: &Path, args: &Args) {
    let mut server = match StressServer::spawn(name, binary, 0, SECRET, STREAM_DELAY_MS) {
        Ok(server) => server,
        Err(error) => return rows.failed_to_run("start", &error),
    };
    let port = match server.wait_for_port(START_LIMIT).await {
        Ok(port) => port,
        Err(error) => return rows.failed_to_run("start", &error),
    };
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut builder = RequestBuilder::new(&address.to_string(), &Secret::new(SECRET));
    let mix = Arc::new(Mix::build(&mut builder, DISTINCT_GOOD, DISTINCT_BAD_EACH));
    let good: Arc<Vec<Prepared>> = Arc::new((0..512).map(|index| builder.good(index)).collect());

    // 1. Warm-up.
    let warm_up = flood_plan(address, args.requests / 20);
    let rss_warm = match run_flood(warm_up, &mix).await {
        Ok(result) => {
            check_flood(rows, "warm-up", &result, args.requests / 20, false);
            sleep(Duration::from_millis(500)).await;
            server.rss_kib().ok()
        }
        Err(error) => {
            rows.failed_to_run("warm-up", &error);
            None
        }
    };

    // 2. Unloaded latency.
    let baseline = match run_paced(address, &good, BASELINE_DURATION).await {
        Ok(result) => {
            check_paced(rows, "unloaded latency", &result);
            Some(result.quantile_ms(0.99))
        }
        Err(error) => {
            rows.failed_to_run("unloaded latency", &error);
            None
        }
    };

    // 3. Mixed traffic.
    match run_flood(flood_plan(address, args.requests), &mix).await {
        Ok(result) => check_flood(rows, "mixed traffic", &result, args.requests, true),
        Err(error) => rows.failed_to_run("mixed traffic", &error),
    }

    let oversized = builder.bad(Kind::Oversized, 0);
    let uploads = oversized::run(
        address,
        &oversized.bytes,
        DEFAULT_MAX_BODY_BYTES + 1,
        oversized.expected_status,
        &oversized.expected_body,
        OVERSIZED_UPLOADS,
    )
    .await;
    check_uploads(rows, &uploads);

    // 4. Slow clients.
    if let Err(error) = slow_clients(rows, address, &mut builder, &good, baseline).await {
        rows.failed_to_run("slow clients", &error);
    }

    // 5. Memory.
    sleep(Duration::from_secs(1)).await;
    match (rss_warm, server.rss_kib()) {
        (Some(warm), Ok(after)) => {
            let ratio = after as f64 / warm.max(1) as f64;
            rows.check(
                "memory",
                "RSS after the run",
                format!(
                    "{:.1} MiB ({ratio:.2}x of {:.1} MiB after warm-up)",
                    after as f64 / 1024.0,
                    warm as f64 / 1024.0
                ),
                "within 2x of warm-up",
                ratio <= 2.0,
                Vec::new(),
            );
        }
        (_, Err(error)) => rows.failed_to_run("memory", &error),
        (None, Ok(_)) => rows.failed_to_run("memory", &anyhow::anyhow!("no RSS after warm-up")),
    }

    // 6. SIGTERM with work in flight.
    let plan = ShutdownPlan {
        address,
        streams: STREAMS_IN_FLIGHT,
        stream_words: STREAM_WORDS,
        requests: REQUESTS_IN_FLIGHT,
        rest_of_body_after: Duration::from_millis(100),
        grace: GRACE,
    };
    match shutdown::run(&mut server, &mut builder, plan).await {
        Ok(result) => check_shutdown(rows, &result),
        Err(error) => rows.failed_to_run("SIGTERM in flight", &error),
    }

    // The log is complete once the process has exited.
    let (lines, problems, examples) = server.log_problems();
    rows.check(
        "whole run",
        "panic or ERROR log lines",
        format!("{problems} of {lines} lines"),
        "0",
        problems == 0,
        examples,
    );
    drop(server);

    // 7. Restart on the same port.
    match shutdown::restart(name, binary, port, SECRET, RESTART_LIMIT).await {
        Ok(answered) => rows.check(
            "restart",
            "first 200 on /healthz, same port",
            format!("{:.0} ms after start", answered.as_secs_f64() * 1000.0),
            "within 1 s",
            answered <= RESTART_LIMIT,
            Vec::new(),
        ),
        Err(error) => rows.failed_to_run("restart", &error),
    }
}

fn flood_plan(address: SocketAddr, requests: u64) -> FloodPlan {
    FloodPlan {
        address,
        connections: CONNECTIONS,
        requests,
        time_limit: Duration::from_secs(120),
        request_timeout: Duration::from_secs(10),
    }
}

async fn run_flood(plan: FloodPlan, mix: &Arc<Mix>) -> Result<FloodResult> {
    let mix = Arc::clone(mix);
    tokio::task::spawn_blocking(move || flood::run(plan, mix))
        .await
        .context("the load generator task failed")?
}

async fn run_paced(
    address: SocketAddr,
    good: &Arc<Vec<Prepared>>,
    duration: Duration,
) -> Result<PacedResult> {
    let handle = slow::spawn_paced(paced_plan(address, duration), Arc::clone(good))?;
    tokio::task::spawn_blocking(move || slow::join(handle))
        .await
        .context("the paced traffic task failed")?
}

fn paced_plan(address: SocketAddr, duration: Duration) -> PacedPlan {
    PacedPlan {
        address,
        connections: PACED_CONNECTIONS,
        interval: PACED_INTERVAL,
        duration,
        request_timeout: Duration::from_secs(10),
    }
}

/// Holds the slow connections open while the paced traffic runs, and checks both.
async fn slow_clients(
    rows: &mut Rows,
    address: SocketAddr,
    builder: &mut RequestBuilder,
    good: &Arc<Vec<Prepared>>,
    baseline_p99_ms: Option<f64>,
) -> Result<()> {
    let loris_head = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nUser-Agent: webhook-stress-slow-loris\r\nX-Padding: {}",
        "a".repeat(64)
    )
    .into_bytes();
    let slow_body = builder.good(0);
    let head_end = slow_body
        .bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|position| position + 4)
        .context("the slow-body request has no head")?;
    let timeout_rejection = Rejection::request_timeout(SERVER_TIMEOUT);
    let plan = SlowPlan {
        address,
        loris: SLOW_LORIS,
        bodies: SLOW_BODIES,
        byte_interval: Duration::from_secs(1),
        give_up_after: Duration::from_secs(20),
        loris_head,
        body_head: slow_body.bytes[..head_end].to_vec(),
        body: slow_body.bytes[head_end..].to_vec(),
        body_expected_status: timeout_rejection.status(),
        body_expected: timeout_rejection.to_json().into_bytes(),
    };
    let expected_status = plan.body_expected_status;
    let expected_body = plan.body_expected.clone();

    let slow_handle = slow::spawn_slow(plan)?;
    sleep(SLOW_SETTLE).await;
    let paced = run_paced(address, good, SLOW_PACED_DURATION).await;
    let slow = tokio::task::spawn_blocking(move || slow::join(slow_handle))
        .await
        .context("the slow clients' task failed")??;
    let paced = paced?;

    check_paced(rows, "slow clients", &paced);
    let loaded = paced.quantile_ms(0.99);
    match baseline_p99_ms {
        Some(baseline) => rows.check(
            "slow clients",
            "paced p99 with slow clients held",
            format!(
                "{loaded:.2} ms ({:.2}x of {baseline:.2} ms unloaded)",
                loaded / baseline.max(1e-9)
            ),
            "within 2x of unloaded",
            loaded <= 2.0 * baseline,
            Vec::new(),
        ),
        None => rows.failed_to_run(
            "slow clients",
            &anyhow::anyhow!("no unloaded p99 to compare with"),
        ),
    }
    rows.check(
        "slow clients",
        "slow connections opened",
        format!(
            "{} of {}",
            slow.loris.len() + slow.bodies.len(),
            SLOW_LORIS + SLOW_BODIES
        ),
        "all",
        slow.connect_failures.is_empty(),
        slow.connect_failures.iter().take(5).cloned().collect(),
    );

    // Slow loris: the connection must end, from connect, within the limit.
    let loris_cut: Vec<Duration> = slow
        .loris
        .iter()
        .filter_map(|outcome| outcome.closed_after)
        .filter(|closed| *closed <= CUT_LIMIT)
        .collect();
    rows.check(
        "slow clients",
        "slow-loris connections cut (from connect)",
        format!(
            "{} of {}, {}; {}",
            loris_cut.len(),
            slow.loris.len(),
            span(slow.loris.iter().filter_map(|outcome| outcome.closed_after)),
            endings(&slow.loris)
        ),
        "all within 12 s",
        loris_cut.len() == slow.loris.len(),
        Vec::new(),
    );

    // Slow bodies: an exact 408 within the limit from the end of the head, and the
    // connection closed.
    let mut wrong_answers = Vec::new();
    let answered: Vec<Duration> = slow
        .bodies
        .iter()
        .filter_map(|outcome| {
            let response = outcome.response.as_ref()?;
            match client::mismatch(
                response,
                expected_status,
                "application/json",
                &expected_body,
            ) {
                None => outcome.answered_after,
                Some(difference) => {
                    wrong_answers.push(difference);
                    None
                }
            }
        })
        .filter(|answered| *answered <= CUT_LIMIT)
        .collect();
    wrong_answers.truncate(5);
    rows.check(
        "slow clients",
        "slow bodies answered 408 request_timeout (from head)",
        format!(
            "{} of {}, {}",
            answered.len(),
            slow.bodies.len(),
            span(
                slow.bodies
                    .iter()
                    .filter_map(|outcome| outcome.answered_after)
            )
        ),
        "all within 12 s",
        answered.len() == slow.bodies.len(),
        wrong_answers,
    );
    let closed = slow
        .bodies
        .iter()
        .filter(|outcome| {
            outcome
                .closed_after
                .is_some_and(|closed| closed <= CUT_LIMIT)
        })
        .count();
    let trailing = slow
        .bodies
        .iter()
        .filter(|outcome| outcome.trailing_bytes > 0)
        .count();
    rows.check(
        "slow clients",
        "slow-body connections closed after the 408",
        format!(
            "{closed} of {}, {}; {trailing} with bytes after the 408",
            slow.bodies.len(),
            endings(&slow.bodies)
        ),
        "all within 12 s, nothing after the 408",
        closed == slow.bodies.len() && trailing == 0,
        Vec::new(),
    );
    Ok(())
}
