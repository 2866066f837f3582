//! Server processes under test: start one with a fixed environment, wait for its
//! first 200 reply, read its CPU time and peak RSS from `/proc`, and time cold starts.
//!
//! A server gets only `HOST=127.0.0.1`, a free `PORT`, `WEBHOOK_SECRET` and, when the
//! bench is given `--rust-log`, `RUST_LOG`. Everything else is cleared, so by default
//! the examples log at their default level, `info`, as an integrator runs them.
//! Dropping a [`BenchServer`] kills its process.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::unistd::{SysconfVar, sysconf};

use super::load::RequestPool;
use crate::process::indent;

/// Pause between two connection attempts while a server starts. It bounds how much a
/// cold start can be overestimated.
const POLL_INTERVAL: Duration = Duration::from_micros(100);

/// Most bytes of a failed server's stderr quoted in an error.
const MAX_QUOTED_STDERR: u64 = 16 * 1024;

/// A server process on a free loopback port, killed when dropped.
#[derive(Debug)]
pub struct BenchServer {
    name: String,
    child: Child,
    spawned: Instant,
    pub address: SocketAddr,
}

impl BenchServer {
    /// Starts `binary` on a free port of 127.0.0.1 with `secret` as `WEBHOOK_SECRET`,
    /// `rust_log` as `RUST_LOG` when given, and its stderr sent to `log`.
    pub fn spawn(
        name: &str,
        binary: &Path,
        secret: &str,
        rust_log: Option<&str>,
        log: Stdio,
    ) -> Result<Self> {
        let address = free_address()?;
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("HOST", "127.0.0.1")
            .env("PORT", address.port().to_string())
            .env("WEBHOOK_SECRET", secret)
            .envs(rust_log.map(|filter| ("RUST_LOG", filter)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let spawned = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("could not start {}", binary.display()))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            spawned,
            address,
        })
    }

    /// Sends `request` until it gets a 200 response and returns the time from spawn to
    /// that response. Fails when the server exits, responds with another status, or
    /// has not responded within `limit`.
    pub fn wait_first_200(
        &mut self,
        request: &[u8],
        limit: Duration,
        stop: &AtomicBool,
    ) -> Result<Duration> {
        loop {
            if stop.load(Ordering::Relaxed) {
                bail!("stopped");
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let stderr = self.stderr_after_kill();
                bail!(
                    "{} exited during start-up ({status}); its stderr:\n{}",
                    self.name,
                    indent(&stderr)
                );
            }
            if self.spawned.elapsed() > limit {
                let stderr = self.stderr_after_kill();
                bail!(
                    "{} did not respond 200 to a signed POST / on {} within {limit:?}; its stderr:\n{}",
                    self.name,
                    self.address,
                    indent(&stderr)
                );
            }
            let Ok(mut stream) =
                TcpStream::connect_timeout(&self.address, Duration::from_millis(100))
            else {
                sleep(POLL_INTERVAL);
                continue;
            };
            let status = exchange_once(&mut stream, request).with_context(|| {
                format!(
                    "{} accepted a connection but reading its response failed",
                    self.name
                )
            })?;
            if status == 200 {
                return Ok(self.spawned.elapsed());
            }
            bail!(
                "{} responded {status} to a signed POST /, not 200; check that it verifies with \
                 the bench's secret",
                self.name
            );
        }
    }

    /// Returns the peak resident set size (`VmHWM`) in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.child.id());
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("could not read {path}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().strip_suffix("kB"))
            .and_then(|value| value.trim().parse().ok())
            .with_context(|| format!("{path} has no readable VmHWM line"))
    }

    /// Returns the CPU time (user and system, all threads) the server has used.
    pub fn cpu_time(&self) -> Result<Duration> {
        let path = format!("/proc/{}/stat", self.child.id());
        let stat =
            std::fs::read_to_string(&path).with_context(|| format!("could not read {path}"))?;
        // Fields after the command name, which is in parentheses and may hold spaces:
        // `state` is the first, `utime` the 12th and `stime` the 13th.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks = |index: usize| {
            fields
                .get(index)
                .and_then(|value| value.parse::<u64>().ok())
        };
        let (Some(user), Some(system)) = (ticks(11), ticks(12)) else {
            bail!("{path} has no readable utime and stime");
        };
        let per_second = sysconf(SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .and_then(|value| u64::try_from(value).ok())
            .filter(|&value| value > 0)
            .context("could not read the clock tick rate")?;
        Ok(Duration::from_secs_f64(
            (user + system) as f64 / per_second as f64,
        ))
    }

    /// Kills the server and returns the start of its stderr, when it was piped.
    fn stderr_after_kill(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut text = String::new();
        if let Some(pipe) = self.child.stderr.take() {
            let _ = pipe.take(MAX_QUOTED_STDERR).read_to_string(&mut text);
        }
        text
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `binary` `count` times and returns each time from spawn to the first 200
/// reply to a signed `POST /`. Each start gets a new port, so no socket of the last
/// run is in the way.
pub fn cold_starts(
    name: &str,
    binary: &Path,
    secret: &str,
    rust_log: Option<&str>,
    count: usize,
    stop: &AtomicBool,
) -> Result<Vec<Duration>> {
    let pool = RequestPool::build(
        "127.0.0.1",
        "/",
        &webhook_contract::Secret::new(secret),
        count,
    );
    let mut times = Vec::with_capacity(count);
    for index in 0..count {
        let mut server = BenchServer::spawn(name, binary, secret, rust_log, Stdio::piped())?;
        times.push(server.wait_first_200(pool.get(index), Duration::from_secs(5), stop)?);
    }
    Ok(times)
}

/// Returns a loopback address whose port was free a moment ago.
fn free_address() -> Result<SocketAddr> {
    let listener =
        TcpListener::bind("127.0.0.1:0").context("could not find a free port on 127.0.0.1")?;
    listener
        .local_addr()
        .context("could not read the free port")
}

/// Writes `request` on `stream` and returns the status of the response.
fn exchange_once(stream: &mut TcpStream, request: &[u8]) -> Result<u16> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(request).context("write failed")?;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    // At most 256 reads; one response of the servers under test takes one or two.
    for _ in 0..256 {
        let read = stream.read(&mut chunk).context("read failed")?;
        let at_end = read == 0;
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(response) = crate::raw::parse_response(&buffer, at_end)? {
            return Ok(response.status);
        }
        if at_end {
            bail!("the server closed the connection before a whole response");
        }
    }
    bail!("no whole response after 256 reads")
}
