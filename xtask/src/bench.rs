//! `cargo xtask bench`: both example servers and the floor of each framework measured
//! in one run under the same load, and compared with the performance targets.
//!
//! The run builds the four servers in release mode and measures them in turn:
//! floor-axum, webhook-axum, floor-actix, webhook-actix, then every `--against` webhook.
//! Each starts alone on a free loopback port. After its first 200 reply it gets a
//! warm-up and then the measured load, its peak RSS is read, it is stopped, and 20 cold
//! starts are timed. Last it runs the contract crate's criterion benchmark of verify,
//! parse and reply. The table goes to stdout, progress to stderr, and the report as
//! JSON to `target/bench/latest.json`. docs/performance.md explains the method and the
//! figures.

mod build;
mod load;
mod report;
mod server;

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use webhook_contract::Secret;
use webhook_probe::payload::iso_timestamp_micros;

use load::{LoadPlan, RequestPool};
use report::{Measurement, Report, Role};
use server::BenchServer;

/// Load before the measured run, so that connections, caches and allocators are warm.
const WARM_UP: Duration = Duration::from_secs(2);

/// Distinct signed requests per server. Connections cycle through them, so a request
/// repeats only after this many others.
const POOL_SIZE: usize = 4096;

/// Starts per server for the cold start median.
const COLD_STARTS: usize = 20;

/// Maximum wait for one whole response under load before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Most requests one load run sends per second of duration, over all connections: far
/// above what a loopback server on 2 cores serves, so it only bounds a runaway loop.
const MAX_REQUESTS_PER_SECOND: u64 = 2_000_000;

/// Maximum wait for a server's first 200 after it is spawned.
const START_LIMIT: Duration = Duration::from_secs(20);

/// Secret the bench signs with when `--secret` is not given.
const DEFAULT_SECRET: &str = "bench-secret-0c5f7e2a";

/// The example servers with the floor each is compared with, in the order measured.
const SERVERS: [(&str, Option<&str>); 4] = [
    ("floor-axum", None),
    ("webhook-axum", Some("floor-axum")),
    ("floor-actix", None),
    ("webhook-actix", Some("floor-actix")),
];

/// Settings of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds of measured load per server, after a 2 s warm-up. At most 240, because the
    /// signed requests are made before the warm-up and stay valid for 300 s.
    #[arg(long, value_name = "SECONDS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=240))]
    duration: u64,

    /// Keep-alive connections the load generator keeps open, each with one request in flight.
    #[arg(long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    connections: u64,

    /// Another webhook to measure under the same load, such as `node=http://127.0.0.1:3000/`.
    /// Repeatable. Only loopback addresses; the webhook must accept requests signed with
    /// the bench's secret (see --secret). Its RSS and cold start are not measured.
    #[arg(long, value_name = "NAME=URL", value_parser = parse_against)]
    against: Vec<Against>,

    /// Secret the requests are signed with; the example servers are started with it.
    #[arg(long, value_name = "SECRET", default_value = DEFAULT_SECRET)]
    secret: String,

    /// RUST_LOG for the servers, such as `warn`. Unset by default, so the examples log
    /// every request at their default level, info, as an integrator runs them.
    #[arg(long, value_name = "FILTER")]
    rust_log: Option<String>,

    /// Skip the criterion run of verify, parse and reply (about 15 s).
    #[arg(long)]
    skip_criterion: bool,
}

/// A webhook given with `--against`.
#[derive(Clone, Debug)]
struct Against {
    name: String,
    url: String,
    address: SocketAddr,
    /// The URL's `host:port`, sent as `Host`.
    authority: String,
    path: String,
}

/// Parses `NAME=http://HOST:PORT/PATH`, where HOST is a loopback IP or `localhost`.
fn parse_against(value: &str) -> Result<Against, String> {
    let (name, url) = value
        .split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| {
            format!("expected NAME=URL, such as node=http://127.0.0.1:3000/, not '{value}'")
        })?;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("the URL '{url}' must start with http://"))?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    let with_port = if authority.ends_with(']') || !authority.contains(':') {
        format!("{authority}:80")
    } else {
        authority.to_owned()
    };
    let address: SocketAddr = with_port
        .replacen("localhost:", "127.0.0.1:", 1)
        .parse()
        .map_err(|_| {
            format!("the URL '{url}' must name a loopback IP address or localhost, with a port")
        })?;
    if !address.ip().is_loopback() {
        return Err(format!(
            "the URL '{url}' is not on this machine; the bench sends load only to loopback addresses"
        ));
    }
    Ok(Against {
        name: name.to_owned(),
        url: url.to_owned(),
        address,
        authority: authority.to_owned(),
        path: path.to_owned(),
    })
}

/// Runs the bench on a thread of its own and prints the report.
///
/// From a debug build of xtask (what `cargo xtask` runs), it builds xtask in release
/// mode and runs `bench` there instead, because an unoptimised load generator would
/// use several times the CPU per request and become the bottleneck.
///
/// The measurements block (the load generator has its own runtime), so they run on a
/// separate thread. When this future is dropped on Ctrl-C, the stop flag is set and the
/// thread joined, and every server it started is killed as its handle is dropped.
pub async fn run(args: Args) -> Result<()> {
    if cfg!(debug_assertions) {
        return run_in_release_build().await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let thread_stop = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("bench".to_owned())
        .spawn(move || {
            let _ = sender.send(measure(&args, &thread_stop));
        })
        .context("could not start the bench thread")?;
    let _guard = StopOnDrop {
        stop,
        thread: Some(thread),
    };
    receiver
        .await
        .context("the bench thread ended without a result")?
}

/// Builds xtask in release mode and runs it with this process's arguments.
async fn run_in_release_build() -> Result<()> {
    eprintln!("bench: building xtask and the floor servers in release mode");
    let xtask = tokio::task::spawn_blocking(build::release_xtask)
        .await
        .context("the release build of xtask panicked")??;
    let status = tokio::process::Command::new(&xtask)
        .args(std::env::args_os().skip(1))
        .kill_on_drop(true)
        .status()
        .await
        .with_context(|| format!("could not run {}", xtask.display()))?;
    if !status.success() {
        bail!("{} failed ({status})", xtask.display());
    }
    Ok(())
}

/// Sets the stop flag and joins the bench thread when dropped.
#[derive(Debug)]
struct StopOnDrop {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn measure(args: &Args, stop: &Arc<AtomicBool>) -> Result<()> {
    let started = Instant::now();
    let secret = Secret::new(&args.secret);
    let connections = usize::try_from(args.connections).context("--connections is out of range")?;
    let duration = Duration::from_secs(args.duration);
    for against in &args.against {
        // Fail before the long part of the run when a webhook is not even listening.
        TcpStream::connect_timeout(&against.address, Duration::from_secs(1)).with_context(
            || {
                format!(
                    "could not connect to {} at {}; start it first",
                    against.name, against.url
                )
            },
        )?;
    }

    eprintln!("bench: building the servers in release mode");
    let target_directory = build::target_directory()?;
    let binaries = build::release_binaries()?;
    eprintln!("bench: built in {:.1} s", started.elapsed().as_secs_f64());

    let mut measurements = Vec::new();
    let mut mean_body_bytes = 0;
    for (name, floor) in SERVERS {
        let binary = binaries
            .get(name)
            .with_context(|| format!("no binary for {name}"))?;
        let role = floor.map_or(Role::Floor, |floor| Role::Example {
            floor: floor.to_owned(),
        });
        let (measured, body_bytes) =
            measure_owned(name, binary, role, args, connections, duration, stop)?;
        mean_body_bytes = body_bytes;
        measurements.push(measured);
    }
    for against in &args.against {
        measurements.push(measure_other(
            against,
            &secret,
            connections,
            duration,
            stop,
        )?);
    }

    let criterion = if args.skip_criterion {
        Err("skipped with --skip-criterion".to_owned())
    } else {
        eprintln!("bench: running the criterion benchmark of verify, parse and reply");
        build::run_criterion(&target_directory).map_err(|error| format!("{error:#}"))
    };
    if stop.load(Ordering::Relaxed) {
        bail!("stopped");
    }

    let report = Report {
        date: run_date(),
        command: command_line(),
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        cpu_model: cpu_model(),
        duration,
        warm_up: WARM_UP,
        connections,
        pool_size: POOL_SIZE,
        mean_body_bytes,
        measurements,
        criterion,
        elapsed: started.elapsed(),
    };
    let checks = report.checks();
    print!("{}", report.markdown(&checks));
    let path = write_json(&target_directory, &report.to_json(&checks))?;
    eprintln!(
        "bench: finished in {:.0} s; the report as JSON is in {}",
        started.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}

/// Measures a server the bench starts itself: load, CPU, peak RSS and cold starts.
/// Returns the measurement and the mean request body size.
fn measure_owned(
    name: &str,
    binary: &Path,
    role: Role,
    args: &Args,
    connections: usize,
    duration: Duration,
    stop: &Arc<AtomicBool>,
) -> Result<(Measurement, usize)> {
    let secret = Secret::new(&args.secret);
    let mut server = BenchServer::spawn(
        name,
        binary,
        &args.secret,
        args.rust_log.as_deref(),
        Stdio::null(),
    )?;
    let pool = Arc::new(RequestPool::build(
        &server.address.to_string(),
        "/",
        &secret,
        POOL_SIZE,
    ));
    server.wait_first_200(pool.get(0), START_LIMIT, stop)?;

    let plan = LoadPlan {
        address: server.address,
        connections,
        duration,
        request_timeout: REQUEST_TIMEOUT,
        max_requests: MAX_REQUESTS_PER_SECOND * duration.as_secs().max(1),
    };
    let warm_up = LoadPlan {
        duration: WARM_UP,
        ..plan.clone()
    };
    eprintln!(
        "bench: {name}: {} s warm-up, then {} s measured",
        WARM_UP.as_secs(),
        duration.as_secs()
    );
    load::run(&warm_up, &pool, stop)?;
    let cpu_before = server.cpu_time()?;
    let load = load::run(&plan, &pool, stop)?;
    let server_cpu = server.cpu_time()?.saturating_sub(cpu_before);
    let peak_rss_kib = server.peak_rss_kib()?;
    drop(server);

    eprintln!(
        "bench: {name}: {:.0} requests/s; timing {COLD_STARTS} cold starts",
        load.requests_per_second()
    );
    let cold_starts = server::cold_starts(
        name,
        binary,
        &args.secret,
        args.rust_log.as_deref(),
        COLD_STARTS,
        stop,
    )?;
    let measurement = Measurement {
        name: name.to_owned(),
        role,
        load,
        server_cpu: Some(server_cpu),
        peak_rss_kib: Some(peak_rss_kib),
        cold_starts,
    };
    Ok((measurement, pool.mean_body_bytes()))
}

/// Measures a webhook given with `--against` under load only.
fn measure_other(
    against: &Against,
    secret: &Secret,
    connections: usize,
    duration: Duration,
    stop: &Arc<AtomicBool>,
) -> Result<Measurement> {
    let pool = Arc::new(RequestPool::build(
        &against.authority,
        &against.path,
        secret,
        POOL_SIZE,
    ));
    let plan = LoadPlan {
        address: against.address,
        connections,
        duration,
        request_timeout: REQUEST_TIMEOUT,
        max_requests: MAX_REQUESTS_PER_SECOND * duration.as_secs().max(1),
    };
    let warm_up = LoadPlan {
        duration: WARM_UP,
        ..plan.clone()
    };
    eprintln!(
        "bench: {} ({}): {} s warm-up, then {} s measured",
        against.name,
        against.url,
        WARM_UP.as_secs(),
        duration.as_secs()
    );
    load::run(&warm_up, &pool, stop)?;
    let load = load::run(&plan, &pool, stop)?;
    eprintln!(
        "bench: {}: {:.0} requests/s",
        against.name,
        load.requests_per_second()
    );
    Ok(Measurement {
        name: against.name.clone(),
        role: Role::Other {
            url: against.url.clone(),
        },
        load,
        server_cpu: None,
        peak_rss_kib: None,
        cold_starts: Vec::new(),
    })
}

/// Writes `report` to `<target>/bench/latest.json` and returns the path.
fn write_json(target_directory: &Path, report: &serde_json::Value) -> Result<PathBuf> {
    let directory = target_directory.join("bench");
    std::fs::create_dir_all(&directory)
        .with_context(|| format!("could not create {}", directory.display()))?;
    let path = directory.join("latest.json");
    let text = serde_json::to_string_pretty(report).context("could not serialise the report")?;
    std::fs::write(&path, text + "\n")
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(path)
}

/// Returns the current UTC time to the minute, such as `2026-12-04 12:00 UTC`.
fn run_date() -> String {
    let timestamp = iso_timestamp_micros(SystemTime::now());
    format!(
        "{} UTC",
        timestamp
            .get(..16)
            .unwrap_or(&timestamp)
            .replacen('T', " ", 1)
    )
}

/// Returns the command as typed, such as `cargo xtask bench --duration 10`.
fn command_line() -> String {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    format!("cargo xtask {}", arguments.join(" "))
}

/// Returns the CPU model name from /proc/cpuinfo.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn against_with_port_and_path() {
        let against = parse_against("node=http://127.0.0.1:3000/hook").unwrap();
        assert_eq!(against.name, "node");
        assert_eq!(against.address, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(against.authority, "127.0.0.1:3000");
        assert_eq!(against.path, "/hook");
    }

    #[test]
    fn against_localhost_and_ipv6() {
        let local = parse_against("py=http://localhost:8000").unwrap();
        assert_eq!(local.address, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(local.path, "/");
        let ipv6 = parse_against("go=http://[::1]:9000/").unwrap();
        assert_eq!(ipv6.address, "[::1]:9000".parse().unwrap());
        let default_port = parse_against("plain=http://127.0.0.1/").unwrap();
        assert_eq!(default_port.address.port(), 80);
    }

    #[test]
    fn against_rejects_remote_and_malformed() {
        assert!(parse_against("x=http://10.0.0.1:80/").is_err());
        assert!(parse_against("x=http://example.com:80/").is_err());
        assert!(parse_against("x=https://127.0.0.1:443/").is_err());
        assert!(parse_against("http://127.0.0.1:80/").is_err());
        assert!(parse_against("=http://127.0.0.1:80/").is_err());
    }
}
