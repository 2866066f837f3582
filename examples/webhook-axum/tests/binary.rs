//! The real `webhook-axum` binary: settings, start-up errors, the start and request
//! log lines, and shutdown on SIGTERM.

// Helpers outside #[test] functions unwrap too: a panic there is a test failure
// with a line number.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use common::raw;
use common::{BASE_BODY, message_body};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BINARY: &str = "webhook-axum";

/// Every environment variable the server reads.
const SETTINGS: [&str; 8] = [
    "PORT",
    "HOST",
    "WEBHOOK_SECRET",
    "WEBHOOK_SECRET_PREVIOUS",
    "WEBHOOK_TOLERANCE_SECS",
    "MAX_BODY_BYTES",
    "STREAM_DELAY_MS",
    "RUST_LOG",
];

/// Builds the binary's command with none of its settings inherited from the test's environment.
fn command() -> Command {
    let mut command = Command::cargo_bin(BINARY).unwrap();
    for variable in SETTINGS {
        command.env_remove(variable);
    }
    command
}

/// Runs the binary to its end, within 10 s.
fn run_to_exit(command: &mut Command) -> (ExitStatus, String, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the binary did not exit within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status,
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn assert_config_error(env: &[(&str, &str)], line: &str) {
    let mut command = command();
    command.envs(env.iter().copied());
    let (status, stdout, stderr) = run_to_exit(&mut command);
    assert_eq!(status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr, format!("{line}\n"));
    assert_eq!(stdout, "");
}

#[test]
fn help_lists_every_setting() {
    let (status, stdout, _) = run_to_exit(command().arg("--help"));
    assert_eq!(status.code(), Some(0));
    for variable in SETTINGS {
        assert!(
            stdout.contains(variable),
            "--help does not mention {variable}:\n{stdout}"
        );
    }
    for flag in [
        "--port",
        "--host",
        "--tolerance-secs",
        "--max-body-bytes",
        "--stream-delay-ms",
    ] {
        assert!(stdout.contains(flag), "--help does not mention {flag}");
    }
}

#[test]
fn non_numeric_port_exits_2() {
    assert_config_error(
        &[("PORT", "abc")],
        "error: invalid value 'abc' for PORT: expected a port number from 0 to 65535",
    );
    assert_config_error(
        &[("PORT", "80a")],
        "error: invalid value '80a' for PORT: expected a port number from 0 to 65535",
    );
}

#[test]
fn port_above_65535_exits_2() {
    assert_config_error(
        &[("PORT", "70000")],
        "error: invalid value '70000' for PORT: expected a port number from 0 to 65535",
    );
}

#[test]
fn bad_values_of_other_settings_exit_2() {
    assert_config_error(
        &[("WEBHOOK_TOLERANCE_SECS", "-1")],
        "error: invalid value '-1' for WEBHOOK_TOLERANCE_SECS: expected whole seconds from 0 to 86400",
    );
    assert_config_error(
        &[("MAX_BODY_BYTES", "0")],
        "error: invalid value '0' for MAX_BODY_BYTES: expected a number of bytes from 1 to 1073741824",
    );
    assert_config_error(
        &[("STREAM_DELAY_MS", "10001")],
        "error: invalid value '10001' for STREAM_DELAY_MS: expected milliseconds from 0 to 10000",
    );
    assert_config_error(
        &[("HOST", "localhost")],
        "error: invalid value 'localhost' for HOST: expected an IP address such as ::, 0.0.0.0 or 127.0.0.1",
    );
}

#[test]
fn empty_variable_counts_as_unset() {
    // PORT is empty, so the next setting in line is the one reported.
    assert_config_error(
        &[
            ("PORT", ""),
            ("WEBHOOK_TOLERANCE_SECS", ""),
            ("HOST", "nope"),
        ],
        "error: invalid value 'nope' for HOST: expected an IP address such as ::, 0.0.0.0 or 127.0.0.1",
    );
}

#[test]
fn previous_secret_alone_exits_2() {
    assert_config_error(
        &[("WEBHOOK_SECRET_PREVIOUS", "old-secret")],
        "error: WEBHOOK_SECRET_PREVIOUS is set but WEBHOOK_SECRET is not; set WEBHOOK_SECRET to the App's current secret",
    );
}

#[test]
fn port_in_use_exits_1_naming_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut command = command();
    command
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string());
    let (status, _, stderr) = run_to_exit(&mut command);
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: cannot listen on 127.0.0.1:{port}: address already in use; set PORT to a free port\n"
        )
    );
}

/// A running server and the lines of its stderr.
struct Running {
    child: Child,
    lines: Receiver<String>,
    log: Vec<String>,
    address: SocketAddr,
}

impl Running {
    /// Starts the binary on a free loopback port and waits for its start line.
    fn start(env: &[(&str, &str)]) -> Running {
        let mut child = command()
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut running = Running {
            child,
            lines,
            log: Vec::new(),
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let start = running.wait_for_line("listening");
        let address = start
            .split("address=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        running.address = address.parse().unwrap();
        running
    }

    /// Returns the first line from now on that contains `text`, within 10 s.
    fn wait_for_line(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "no line with {text:?} within 10 s; log so far:\n{}",
                    self.log.join("\n")
                )
            });
            self.log.push(line.clone());
            if line.contains(text) {
                return line;
            }
        }
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits up to `limit` for the process to exit and returns its status.
    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                self.child.kill().unwrap();
                panic!("the server did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Ends a server that a failed assertion left running.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test]
async fn port_zero_logs_real_port() {
    let mut server = Running::start(&[]);
    assert_ne!(server.address.port(), 0);
    let start = server.log[0].clone();
    for field in [
        "stack=ipv4-only",
        "verification=off",
        "previous_secret=false",
        "tolerance_secs=300",
        "max_body_bytes=1048576",
        "stream_delay_ms=30",
    ] {
        assert!(start.contains(field), "start line lacks {field}: {start}");
    }
    let warning = server.wait_for_line("WEBHOOK_SECRET");
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains("unsigned requests are accepted"),
        "{warning}"
    );

    let request = raw::post(
        "/",
        &[
            ("Content-Type", "application/json"),
            ("X-App-Id", "app_test_01"),
            ("X-Thread-Id", "thr 01"),
        ],
        BASE_BODY,
    );
    let response = raw::exchange(server.address, &request).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body, r#"{"reply":"Echo: hello"}"#);

    let line = server.wait_for_line("request");
    assert!(line.contains(" INFO "), "{line}");
    for field in [
        "method=POST",
        "path=/",
        "status=200",
        "latency_ms=",
        &format!("body_bytes={}", BASE_BODY.len()),
        "app_id=app_test_01",
        "thread_id=thr?01",
    ] {
        assert!(line.contains(field), "request line lacks {field}: {line}");
    }
    assert!(!line.contains("hello"), "message text at info: {line}");

    server.terminate();
    let status = server.wait_exit(Duration::from_secs(10));
    assert_eq!(
        status.code(),
        Some(0),
        "{status:?}; log:\n{}",
        server.log.join("\n")
    );
}

#[tokio::test]
async fn unsigned_request_logged_with_code() {
    let mut server = Running::start(&[("WEBHOOK_SECRET", "test-secret-4f9a")]);
    let start = server.log[0].clone();
    assert!(start.contains("verification=on"), "{start}");

    let request = raw::post("/", &[("Content-Type", "application/json")], BASE_BODY);
    let response = raw::exchange(server.address, &request).await;
    assert_eq!(response.status, 401);
    assert!(
        response
            .body
            .starts_with(r#"{"error":"missing_signature","#),
        "{}",
        response.body
    );

    let line = server.wait_for_line("request");
    assert!(line.contains(" WARN "), "{line}");
    assert!(line.contains("status=401"), "{line}");
    assert!(line.contains("error_code=missing_signature"), "{line}");
    assert!(line.contains("app_id=- thread_id=-"), "{line}");
    assert!(
        server
            .log
            .iter()
            .all(|line| !line.contains("test-secret-4f9a"))
    );

    server.terminate();
    let status = server.wait_exit(Duration::from_secs(10));
    assert_eq!(
        status.code(),
        Some(0),
        "{status:?}; log:\n{}",
        server.log.join("\n")
    );
}

#[tokio::test]
async fn sigterm_during_slow_stream_lets_it_finish() {
    let mut server = Running::start(&[("STREAM_DELAY_MS", "400")]);
    let mut stream = raw::connect(server.address).await;
    let request = raw::post(
        "/stream",
        &[("Content-Type", "application/json")],
        &message_body("one two three four five"),
    );
    stream.write_all(&request).await.unwrap();
    let mut first = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut first))
        .await
        .unwrap()
        .unwrap();
    assert!(read > 0);

    server.terminate();
    let line = server.wait_for_line("shutting down");
    assert!(line.contains("signal=SIGTERM"), "{line}");

    // New connections are refused while the stream goes on. The listener closes just
    // after the log line, so it gets a moment.
    let deadline = Instant::now() + Duration::from_secs(2);
    while std::net::TcpStream::connect_timeout(&server.address, Duration::from_millis(200)).is_ok()
    {
        assert!(
            Instant::now() < deadline,
            "new connections were still accepted 2 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut rest = Vec::new();
    tokio::time::timeout(raw::EXCHANGE_TIMEOUT, stream.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    let mut received = first[..read].to_vec();
    received.extend_from_slice(&rest);
    let response = raw::parse(&received);
    assert_eq!(response.status, 200);
    assert_eq!(
        response.body,
        concat!(
            "event: delta\ndata: {\"text\":\"Echo: \"}\n\n",
            "event: delta\ndata: {\"text\":\"one \"}\n\n",
            "event: delta\ndata: {\"text\":\"two \"}\n\n",
            "event: delta\ndata: {\"text\":\"three \"}\n\n",
            "event: delta\ndata: {\"text\":\"four \"}\n\n",
            "event: delta\ndata: {\"text\":\"five\"}\n\n",
            "event: done\ndata: {}\n\n",
        )
    );

    let status = server.wait_exit(Duration::from_secs(10));
    assert_eq!(
        status.code(),
        Some(0),
        "{status:?}; log:\n{}",
        server.log.join("\n")
    );
    server.wait_for_line("stopped");
}

#[tokio::test]
async fn sigterm_during_half_uploaded_body_lets_request_finish() {
    let mut server = Running::start(&[]);
    let request = raw::post("/", &[("Content-Type", "application/json")], BASE_BODY);
    let split = request.len() - BASE_BODY.len() / 2;
    let mut stream = raw::connect(server.address).await;
    stream.write_all(&request[..split]).await.unwrap();
    // Gives the server time to accept the connection and start reading the body.
    tokio::time::sleep(Duration::from_millis(300)).await;

    server.terminate();
    server.wait_for_line("shutting down");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stream.write_all(&request[split..]).await.unwrap();

    let response = raw::read_to_close(&mut stream).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body, r#"{"reply":"Echo: hello"}"#);
    let status = server.wait_exit(Duration::from_secs(10));
    assert_eq!(
        status.code(),
        Some(0),
        "{status:?}; log:\n{}",
        server.log.join("\n")
    );
}
