//! The servers under stress: release builds, started as child processes on free
//! loopback ports, with their process id for RSS readings and a scan of their log for
//! panics and `ERROR` lines.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep};

use crate::process::{indent, listening_address, send_sigterm, wait_for_exit};

/// Server settings removed from the inherited environment, so that a developer's shell
/// cannot change what the stress run tests.
const SERVER_VARIABLES: [&str; 9] = [
    "PORT",
    "HOST",
    "WEBHOOK_SECRET",
    "WEBHOOK_SECRET_PREVIOUS",
    "WEBHOOK_TOLERANCE_SECS",
    "MAX_BODY_BYTES",
    "STREAM_DELAY_MS",
    "RUST_LOG",
    "RUST_BACKTRACE",
];

/// Log lines kept from the start of a server's stderr, for error messages.
const KEPT_HEAD_LINES: usize = 200;

/// Lines with a panic or an `ERROR` level kept as evidence.
const KEPT_PROBLEM_LINES: usize = 20;

/// Builds both example servers with `cargo build --release` and returns each binary in
/// the order of `packages`.
///
/// The examples get a build of their own, so that cargo's feature unification does not
/// give them features that xtask's dependencies turn on.
pub fn build_release(packages: &[&str]) -> Result<Vec<PathBuf>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = std::process::Command::new(&cargo);
    command.args([
        "build",
        "--release",
        "--message-format=json-render-diagnostics",
    ]);
    for package in packages {
        command.args(["-p", package]);
    }
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("could not run {cargo} build --release"))?;
    if !output.status.success() {
        bail!(
            "cargo build --release -p {} failed ({})",
            packages.join(" -p "),
            output.status
        );
    }

    let stdout = String::from_utf8_lossy(&output.stdout);
    packages
        .iter()
        .map(|package| {
            stdout
                .lines()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .filter(|message| message["reason"] == "compiler-artifact")
                .filter(|message| message["target"]["name"] == *package)
                .find_map(|message| message["executable"].as_str().map(PathBuf::from))
                .with_context(|| format!("cargo build reported no binary for {package}"))
        })
        .collect()
}

/// Raises the soft limit on open files to the hard limit, so that this process and the
/// servers it starts (which inherit the limit) can hold every socket of the run.
/// Returns the new soft limit.
pub fn raise_open_file_limit() -> Result<u64> {
    let (soft, hard) =
        getrlimit(Resource::RLIMIT_NOFILE).context("could not read RLIMIT_NOFILE")?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
            .with_context(|| format!("could not raise RLIMIT_NOFILE from {soft} to {hard}"))?;
    }
    Ok(hard.max(soft))
}

/// Findings of the scan of a server's stderr.
#[derive(Debug, Default)]
struct LogScan {
    /// The first lines, which hold the start line.
    head: Vec<String>,
    lines: u64,
    /// Lines with `panicked` or the `ERROR` level.
    problems: u64,
    problem_examples: Vec<String>,
}

/// A running server, killed when dropped.
#[derive(Debug)]
pub struct StressServer {
    pub name: &'static str,
    child: Child,
    pid: Pid,
    log: Arc<Mutex<LogScan>>,
}

impl StressServer {
    /// Starts `binary` on `127.0.0.1:port` (0 picks a free port) with verification on
    /// and the given stream delay, at the default `info` log level.
    pub fn spawn(
        name: &'static str,
        binary: &Path,
        port: u16,
        secret: &str,
        stream_delay_ms: u64,
    ) -> Result<Self> {
        let mut command = Command::new(binary);
        for variable in SERVER_VARIABLES {
            command.env_remove(variable);
        }
        command
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("WEBHOOK_SECRET", secret)
            .env("STREAM_DELAY_MS", stream_delay_ms.to_string())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("could not start {}", binary.display()))?;
        let id = child
            .id()
            .with_context(|| format!("{name} exited at once"))?;
        let pid = Pid::from_raw(i32::try_from(id).context("process id out of range")?);

        let log = Arc::new(Mutex::new(LogScan::default()));
        if let Some(pipe) = child.stderr.take() {
            let scan = Arc::clone(&log);
            tokio::spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let Ok(mut scan) = scan.lock() else {
                        break;
                    };
                    scan.record(line);
                }
            });
        }
        Ok(Self {
            name,
            child,
            pid,
            log,
        })
    }

    /// Waits up to `limit` for the start line and returns the port it names.
    pub async fn wait_for_port(&mut self, limit: Duration) -> Result<u16> {
        let deadline = Instant::now() + limit;
        loop {
            let head = self.log_head();
            if let Some(address) = listening_address(&head) {
                return Ok(address.port());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!(
                    "{} exited during start-up ({status}); its stderr:\n{}",
                    self.name,
                    indent(&head)
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} wrote no `listening` line within {limit:?}; its stderr:\n{}",
                    self.name,
                    indent(&head)
                );
            }
            sleep(Duration::from_millis(5)).await;
        }
    }

    /// Returns the first lines of the server's stderr.
    pub fn log_head(&self) -> String {
        self.log
            .lock()
            .map(|scan| scan.head.join("\n"))
            .unwrap_or_default()
    }

    /// Returns the number of log lines, the number of panic or `ERROR` lines, and the
    /// first of those.
    pub fn log_problems(&self) -> (u64, u64, Vec<String>) {
        self.log
            .lock()
            .map(|scan| (scan.lines, scan.problems, scan.problem_examples.clone()))
            .unwrap_or_default()
    }

    /// Returns the resident set size in KiB, from `/proc/<pid>/status`.
    pub fn rss_kib(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid);
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("could not read {path}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no VmRSS line in {path}"))
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) -> Result<()> {
        send_sigterm(&self.child, self.name)
    }

    /// Waits up to `limit` for the process to exit; `None` when it is still running.
    pub async fn wait_exit(&mut self, limit: Duration) -> Result<Option<ExitStatus>> {
        wait_for_exit(&mut self.child, self.name, limit).await
    }
}

impl Drop for StressServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl LogScan {
    fn record(&mut self, line: String) {
        self.lines += 1;
        let problem = line.contains("panicked") || line.contains(" ERROR ");
        if problem {
            self.problems += 1;
            if self.problem_examples.len() < KEPT_PROBLEM_LINES {
                self.problem_examples.push(line.clone());
            }
        }
        if self.head.len() < KEPT_HEAD_LINES {
            self.head.push(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_scan_counts_panics_and_errors() {
        let mut scan = LogScan::default();
        scan.record("2026-12-04T12:00:00Z  INFO webhook_axum: listening".to_owned());
        scan.record("2026-12-04T12:00:01Z ERROR webhook_axum::app: request status=500".to_owned());
        scan.record("thread 'tokio-runtime-worker' panicked at src/app.rs:1:1".to_owned());
        scan.record("2026-12-04T12:00:02Z  WARN webhook_axum::app: request status=401".to_owned());
        assert_eq!(scan.lines, 4);
        assert_eq!(scan.problems, 2);
        assert_eq!(scan.problem_examples.len(), 2);
        assert_eq!(scan.head.len(), 4);
    }
}
