//! Building the example servers and running them as child processes.
//!
//! A [`ServerProcess`] owns its child: dropping it kills the child, so a task that
//! fails, panics or is cancelled by Ctrl-C never leaves a server behind. Its stderr
//! (the server's log) is collected while it runs, to find the start line and to
//! quote when the server dies.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep, timeout};

/// Settings of the example servers, removed from the inherited environment so that
/// a developer's shell cannot change what the smoke run tests.
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

/// Most bytes of a server's stderr kept in memory; a smoke run logs far less.
const MAX_STDERR_BYTES: usize = 256 * 1024;

/// Builds `packages` with `cargo build` (debug profile) and returns the path of each
/// package's binary, in the order given.
pub async fn build(packages: &[&str]) -> Result<Vec<PathBuf>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(&cargo);
    command.args(["build", "--message-format=json-render-diagnostics"]);
    for package in packages {
        command.args(["-p", package]);
    }
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("could not run {cargo} build"))?;
    if !output.status.success() {
        bail!(
            "cargo build -p {} failed ({})",
            packages.join(" -p "),
            output.status
        );
    }

    // Each compiled binary appears as a `compiler-artifact` message with its path.
    let mut binaries = Vec::new();
    for package in packages {
        let executable = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| message["reason"] == "compiler-artifact")
            .filter(|message| message["target"]["name"] == *package)
            .find_map(|message| message["executable"].as_str().map(PathBuf::from));
        let executable =
            executable.with_context(|| format!("cargo build reported no binary for {package}"))?;
        binaries.push(executable);
    }
    Ok(binaries)
}

/// Fails with a message naming `port` when something already listens on it.
pub fn ensure_port_free(name: &str, port: u16) -> Result<()> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(error) => bail!(
            "port {port} for {name} is not free on 127.0.0.1 ({error}); stop the process \
             that listens there (`ss -ltnp 'sport = :{port}'` names it) and run the smoke again"
        ),
    }
}

/// A running server, killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    /// The package name, used in every message about this process.
    pub name: String,
    /// `host:port` to connect to, once known.
    pub address: String,
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts `binary` with only the given server settings (plus the parent's other
    /// environment variables) and collects its stderr.
    pub fn spawn(name: &str, binary: &PathBuf, settings: &[(&str, &str)]) -> Result<Self> {
        let mut command = Command::new(binary);
        for variable in SERVER_VARIABLES {
            command.env_remove(variable);
        }
        command.env("RUST_LOG", "info").env("NO_COLOR", "1");
        command.envs(settings.iter().copied());
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("could not start {}", binary.display()))?;

        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(pipe) = child.stderr.take() {
            let collected = Arc::clone(&stderr);
            tokio::spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let Ok(mut text) = collected.lock() else {
                        break;
                    };
                    if text.len() < MAX_STDERR_BYTES {
                        text.push_str(&line);
                        text.push('\n');
                    }
                }
            });
        }
        Ok(Self {
            name: name.to_owned(),
            address: String::new(),
            child,
            stderr,
        })
    }

    /// Returns what the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .map(|text| text.clone())
            .unwrap_or_default()
    }

    /// Fails with the server's stderr when it has exited.
    fn ensure_running(&mut self) -> Result<()> {
        if let Ok(Some(status)) = self.child.try_wait() {
            bail!(
                "{} exited during start-up ({status}); its stderr:\n{}",
                self.name,
                indent(&self.stderr())
            );
        }
        Ok(())
    }

    /// Waits up to `limit` for the start line and returns the address it names.
    pub async fn wait_for_listening(&mut self, limit: Duration) -> Result<SocketAddr> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(address) = listening_address(&self.stderr()) {
                return Ok(address);
            }
            self.ensure_running()?;
            if Instant::now() >= deadline {
                bail!(
                    "{} wrote no `listening` line with an address within {limit:?}; its stderr:\n{}",
                    self.name,
                    indent(&self.stderr())
                );
            }
            sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits up to `limit` until `GET /healthz` on `address` answers 200.
    pub async fn wait_healthy(&mut self, address: SocketAddr, limit: Duration) -> Result<()> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()?;
        let url = format!("http://{address}/healthz");
        let deadline = Instant::now() + limit;
        loop {
            self.ensure_running()?;
            let answer = client.get(&url).send().await;
            if answer.is_ok_and(|response| response.status() == 200) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not answer GET /healthz on port {} within {limit:?}; its stderr:\n{}",
                    self.name,
                    address.port(),
                    indent(&self.stderr())
                );
            }
            sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) -> Result<()> {
        send_sigterm(&self.child, &self.name)
    }

    /// Waits up to `limit` for the process to exit and returns its status, or `None`
    /// when it is still running.
    pub async fn wait_exit(&mut self, limit: Duration) -> Result<Option<ExitStatus>> {
        wait_for_exit(&mut self.child, &self.name, limit).await
    }
}

/// Sends SIGTERM to `child`; `name` appears in the error.
pub fn send_sigterm(child: &Child, name: &str) -> Result<()> {
    let id = child
        .id()
        .with_context(|| format!("{name} has already exited"))?;
    let pid = Pid::from_raw(i32::try_from(id).context("process id out of range")?);
    kill(pid, Signal::SIGTERM).with_context(|| format!("could not send SIGTERM to {name}"))
}

/// Waits up to `limit` for `child` to exit and returns its status, or `None` when it
/// is still running; `name` appears in the error.
pub async fn wait_for_exit(
    child: &mut Child,
    name: &str,
    limit: Duration,
) -> Result<Option<ExitStatus>> {
    match timeout(limit, child.wait()).await {
        Ok(status) => Ok(Some(
            status.with_context(|| format!("could not wait for {name}"))?,
        )),
        Err(_elapsed) => Ok(None),
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // `kill_on_drop` does the same; this makes the intent visible here.
        let _ = self.child.start_kill();
    }
}

/// Finds `address=<socket address>` on the server's `listening` line.
pub fn listening_address(stderr: &str) -> Option<SocketAddr> {
    stderr
        .lines()
        .filter(|line| line.contains("listening"))
        .flat_map(str::split_whitespace)
        .filter_map(|field| field.strip_prefix("address="))
        .find_map(|value| value.trim_matches('"').parse().ok())
}

/// Indents every line of `text` by four spaces, for quoting a log in a message.
pub fn indent(text: &str) -> String {
    if text.trim().is_empty() {
        return "    (nothing)".to_owned();
    }
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_address_on_start_line() {
        let log = "2026-12-04T12:00:00.000001Z  INFO webhook_axum: listening address=127.0.0.1:43125 stack=\"ipv4-only\" verification=\"off\"\n";
        assert_eq!(
            listening_address(log),
            Some("127.0.0.1:43125".parse().unwrap())
        );
    }

    #[test]
    fn finds_ipv6_address() {
        let log = "INFO listening address=[::]:8080 stack=dual-stack\n";
        assert_eq!(listening_address(log), Some("[::]:8080".parse().unwrap()));
    }

    #[test]
    fn ignores_other_lines() {
        assert_eq!(listening_address("WARN request address=1.2.3.4:5\n"), None);
    }
}
