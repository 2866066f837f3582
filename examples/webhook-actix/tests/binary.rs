//! Tests of the real binary: `--help`, invalid settings, a port in use, port 0,
//! dual-stack listening, HEAD on the wire, the header read timeout, an oversized upload,
//! the request log, and the graceful stop on SIGTERM and SIGINT. Each server listens on
//! a free loopback port, and every wait is bounded.

// Helpers outside `#[test]` functions may unwrap too: a panic is a test failure.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use webhook_contract::{Secret, sign};

/// Every variable the server reads.
const VARIABLES: [&str; 8] = [
    "PORT",
    "HOST",
    "WEBHOOK_SECRET",
    "WEBHOOK_SECRET_PREVIOUS",
    "WEBHOOK_TOLERANCE_SECS",
    "MAX_BODY_BYTES",
    "STREAM_DELAY_MS",
    "RUST_LOG",
];

const SECRET: &str = "binary-test-secret";

/// Path of the binary under test.
const BINARY: &str = env!("CARGO_BIN_EXE_webhook-actix");

/// Builds a command for the binary that inherits none of its variables from the test's
/// environment.
fn command(envs: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BINARY);
    for variable in VARIABLES {
        command.env_remove(variable);
    }
    command.env_remove("RUST_BACKTRACE");
    command.envs(envs.iter().copied());
    command
}

/// Runs the binary with `args` to its exit, which must come within 10 s.
fn run_to_exit(envs: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = assert_cmd::Command::new(BINARY);
    for variable in VARIABLES {
        command.env_remove(variable);
    }
    command
        .env_remove("RUST_BACKTRACE")
        .envs(envs.iter().copied())
        .args(args)
        .timeout(Duration::from_secs(10))
        .output()
        .unwrap()
}

fn wait_for_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the server did not exit within {limit:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A running server and its log lines.
struct Server {
    child: Child,
    port: u16,
    log: Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    /// Starts the binary on a free port and waits (at most 10 s) for its start line.
    fn start(envs: &[(&str, &str)]) -> Server {
        let mut envs = envs.to_vec();
        envs.push(("PORT", "0"));
        let mut child = command(&envs).stderr(Stdio::piped()).spawn().unwrap();

        let (sender, log) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });

        let mut server = Server {
            child,
            port: 0,
            log,
            seen: Vec::new(),
        };
        let start_line = server.wait_for_line("listening");
        let address: SocketAddr = field(&start_line, "address").parse().unwrap();
        assert_ne!(address.port(), 0, "{start_line}");
        server.port = address.port();
        server
    }

    /// Waits (at most 10 s) for a log line containing `needle` and returns it.
    fn wait_for_line(&mut self, needle: &str) -> String {
        if let Some(line) = self.seen.iter().find(|line| line.contains(needle)) {
            return line.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.log.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no log line with {needle:?}; lines so far: {:#?}",
            self.seen
        );
    }

    /// Returns every log line, after the process has exited.
    fn all_lines(&mut self) -> Vec<String> {
        while let Ok(line) = self.log.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(line);
        }
        self.seen.clone()
    }

    fn ipv4(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Returns the value of `name=` in a log line.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let start = line
        .find(&format!(" {name}="))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        + name.len()
        + 2;
    let rest = &line[start..];
    rest.split(' ').next().unwrap()
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&address, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
}

/// Waits (at most 2 s) until a new connection to `address` is refused.
fn wait_until_refused(address: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match TcpStream::connect_timeout(&address, Duration::from_millis(500)) {
            Err(error) if error.kind() == ErrorKind::ConnectionRefused => return,
            result => assert!(
                Instant::now() < deadline,
                "new connections still accepted: {result:?}"
            ),
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Sends one request with `Connection: close` and returns the response head and body
/// (chunked bodies decoded).
fn exchange(address: SocketAddr, head: &str, body: &[u8]) -> (String, Vec<u8>) {
    let mut stream = connect(address);
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    split_response(&response)
}

fn split_response(response: &[u8]) -> (String, Vec<u8>) {
    let end = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no response head in {:?}",
                String::from_utf8_lossy(response)
            )
        });
    let head = String::from_utf8(response[..end].to_vec()).unwrap();
    let body = &response[end + 4..];
    if head.to_lowercase().contains("transfer-encoding: chunked") {
        (head, decode_chunked(body))
    } else {
        (head, body.to_vec())
    }
}

fn decode_chunked(mut body: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|window| window == b"\r\n")
            .unwrap_or_else(|| {
                panic!(
                    "chunked body ends early: {:?}",
                    String::from_utf8_lossy(body)
                )
            });
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap(), 16).unwrap();
        body = &body[line_end + 2..];
        if size == 0 {
            return decoded;
        }
        decoded.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

fn post_head(path: &str, content_length: usize, extra_headers: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {content_length}\r\nConnection: close\r\n{extra_headers}\r\n"
    )
}

fn message_body(content: &str) -> String {
    format!(
        r#"{{"version":"1.0","event":"message_received","app":{{"id":"app_test_01","name":"Test App"}},"thread":{{"id":"thr_test_01","customer_id":null}},"message":{{"id":"msg_test_01","seq":3,"role":"user","content":"{content}","content_json":{{}}}},"history_tail":[],"timestamp":"2026-12-04T10:00:00Z"}}"#
    )
}

/// Signature headers for `body`, signed now with [`SECRET`].
fn signature_headers(body: &[u8]) -> String {
    let timestamp = webhook_actix::Clock::System.now().to_string();
    let signature = sign(&Secret::new(SECRET), &timestamp, body);
    format!("X-Timestamp: {timestamp}\r\nX-Signature: {signature}\r\n")
}

fn status_line(head: &str) -> &str {
    head.lines().next().unwrap()
}

#[test]
fn help_names_every_setting() {
    let output = run_to_exit(&[], &["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8(output.stdout).unwrap();
    for variable in VARIABLES {
        assert!(
            help.contains(variable),
            "--help does not mention {variable}:\n{help}"
        );
    }
    for flag in [
        "--port",
        "--host",
        "--tolerance-secs",
        "--max-body-bytes",
        "--stream-delay-ms",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
}

#[test]
fn invalid_values_exit_2_with_one_line() {
    let cases = [
        ("PORT", "abc", "expected a port number from 0 to 65535"),
        ("PORT", "80a", "expected a port number from 0 to 65535"),
        ("PORT", "70000", "expected a port number from 0 to 65535"),
        (
            "HOST",
            "localhost",
            "expected an IP address such as :: or 127.0.0.1",
        ),
        (
            "WEBHOOK_TOLERANCE_SECS",
            "-1",
            "expected whole seconds from 0 to 86400",
        ),
        (
            "WEBHOOK_TOLERANCE_SECS",
            "86401",
            "expected whole seconds from 0 to 86400",
        ),
        (
            "MAX_BODY_BYTES",
            "0",
            "expected a number of bytes from 1 to 1073741824",
        ),
        (
            "STREAM_DELAY_MS",
            "1.5",
            "expected milliseconds from 0 to 10000",
        ),
    ];
    for (variable, value, allowed) in cases {
        let output = run_to_exit(&[(variable, value)], &[]);
        assert_eq!(output.status.code(), Some(2), "{variable}={value}");
        assert_eq!(
            String::from_utf8(output.stderr).unwrap(),
            format!("error: invalid value '{value}' for {variable}: {allowed}\n")
        );
    }
}

#[test]
fn empty_variables_count_as_unset() {
    // PORT is checked first; an empty PORT passes, so the error names the next one.
    let output = run_to_exit(
        &[
            ("PORT", ""),
            ("HOST", ""),
            ("WEBHOOK_TOLERANCE_SECS", ""),
            ("MAX_BODY_BYTES", "0"),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "error: invalid value '0' for MAX_BODY_BYTES: expected a number of bytes from 1 to 1073741824\n"
    );

    let mut server = Server::start(&[
        ("HOST", ""),
        ("WEBHOOK_SECRET", ""),
        ("WEBHOOK_SECRET_PREVIOUS", ""),
        ("WEBHOOK_TOLERANCE_SECS", ""),
        ("MAX_BODY_BYTES", ""),
        ("STREAM_DELAY_MS", ""),
        ("RUST_LOG", ""),
    ]);
    let start_line = server.wait_for_line("listening");
    assert_eq!(field(&start_line, "stack"), "dual-stack");
    assert_eq!(field(&start_line, "verification"), "off");
    assert_eq!(field(&start_line, "max_body_bytes"), "1048576");
    assert_eq!(field(&start_line, "stream_delay_ms"), "30");
}

#[test]
fn port_in_use_exits_1_naming_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let port_text = port.to_string();

    let output = run_to_exit(&[("HOST", "127.0.0.1"), ("PORT", &port_text)], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!(
            "error: cannot listen on 127.0.0.1:{port}: address already in use; set PORT to a free port\n"
        )
    );
}

#[test]
fn port_in_use_on_default_host() {
    let taken = TcpListener::bind("[::]:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let port_text = port.to_string();

    let output = run_to_exit(&[("PORT", &port_text)], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!(
            "error: cannot listen on [::]:{port}: address already in use; set PORT to a free port\n"
        )
    );
}

#[test]
fn port_zero_serves_both_stacks() {
    let mut server = Server::start(&[]);
    let start_line = server.wait_for_line("listening");
    assert!(start_line.contains(" INFO "), "{start_line}");
    assert_eq!(
        field(&start_line, "address"),
        format!("[::]:{}", server.port)
    );
    assert_eq!(field(&start_line, "stack"), "dual-stack");
    assert_eq!(field(&start_line, "verification"), "off");
    assert_eq!(field(&start_line, "previous_secret"), "false");
    let warning = server.wait_for_line("unsigned requests are accepted");
    assert!(warning.contains(" WARN "), "{warning}");

    let head = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    for address in [
        server.ipv4(),
        SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], server.port)),
    ] {
        let (response_head, body) = exchange(address, head, b"");
        assert_eq!(status_line(&response_head), "HTTP/1.1 200 OK", "{address}");
        assert_eq!(body, br#"{"status":"ok"}"#, "{address}");
    }
}

#[test]
fn head_healthz_has_no_body() {
    let server = Server::start(&[]);
    let head = "HEAD /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let (response_head, body) = exchange(server.ipv4(), head, b"");
    assert_eq!(status_line(&response_head), "HTTP/1.1 200 OK");
    assert!(
        response_head
            .to_lowercase()
            .contains("content-type: application/json")
    );
    assert!(body.is_empty(), "{body:?}");
}

#[test]
fn request_log_line_has_fields_and_no_secret() {
    let mut server = Server::start(&[
        ("WEBHOOK_SECRET", SECRET),
        ("WEBHOOK_SECRET_PREVIOUS", "old-secret-value"),
    ]);
    let start_line = server.wait_for_line("listening");
    assert_eq!(field(&start_line, "verification"), "on");
    assert_eq!(field(&start_line, "previous_secret"), "true");
    assert_eq!(field(&start_line, "tolerance_secs"), "300");

    let body = message_body("hello");
    let headers = format!(
        "{}X-App-Id: app_test_01\r\nX-Thread-Id: thr_test_01\r\n",
        signature_headers(body.as_bytes())
    );
    let (head, reply) = exchange(
        server.ipv4(),
        &post_head("/", body.len(), &headers),
        body.as_bytes(),
    );
    assert_eq!(status_line(&head), "HTTP/1.1 200 OK");
    assert_eq!(reply, br#"{"reply":"Echo: hello"}"#);

    let line = server.wait_for_line("request method=POST");
    assert!(line.contains(" INFO "), "{line}");
    assert_eq!(field(&line, "path"), "/");
    assert_eq!(field(&line, "status"), "200");
    assert_eq!(field(&line, "body_bytes"), body.len().to_string());
    assert_eq!(field(&line, "app_id"), "app_test_01");
    assert_eq!(field(&line, "thread_id"), "thr_test_01");
    field(&line, "latency_ms").parse::<f64>().unwrap();
    assert!(!line.contains("error_code"), "{line}");

    let wrong_signature = format!("sha256={}", "ab".repeat(32));
    let headers = format!("X-Timestamp: 1796400000\r\nX-Signature: {wrong_signature}\r\n");
    let (head, _) = exchange(
        server.ipv4(),
        &post_head("/", body.len(), &headers),
        body.as_bytes(),
    );
    assert!(status_line(&head).starts_with("HTTP/1.1 401"), "{head}");
    let line = server.wait_for_line("status=401");
    assert!(line.contains(" WARN "), "{line}");
    assert_eq!(field(&line, "app_id"), "-");
    assert_eq!(field(&line, "error_code"), "timestamp_out_of_tolerance");

    server.signal("TERM");
    wait_for_exit(&mut server.child, Duration::from_secs(12));
    for line in server.all_lines() {
        for secret_text in [
            SECRET,
            "old-secret-value",
            wrong_signature.as_str(),
            "hello",
        ] {
            assert!(
                !line.contains(secret_text),
                "log line shows {secret_text:?}: {line}"
            );
        }
    }
}

#[test]
fn half_sent_head_is_cut_off() {
    let server = Server::start(&[]);
    let mut slow = connect(server.ipv4());
    slow.write_all(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-App-Id: app_test_01\r\n")
        .unwrap();
    let started = Instant::now();

    // A fresh connection gets a response meanwhile.
    let head = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let (response_head, _) = exchange(server.ipv4(), head, b"");
    assert_eq!(status_line(&response_head), "HTTP/1.1 200 OK");
    assert!(started.elapsed() < Duration::from_secs(2));

    // The read timeout of `connect` (15 s) bounds this read.
    let mut response = Vec::new();
    slow.read_to_end(&mut response).unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(9),
        "cut off after {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(15),
        "cut off after {elapsed:?}"
    );
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.is_empty() || response.starts_with("HTTP/1.1 408"),
        "{response}"
    );
}

#[test]
fn oversized_upload_gets_413_and_server_stays_up() {
    let server = Server::start(&[]);
    let declared = 16 * 1024 * 1024;
    let mut stream = connect(server.ipv4());
    stream
        .write_all(post_head("/", declared, "").as_bytes())
        .unwrap();

    // Keep uploading in the background, as a real client would, and read the answer
    // meanwhile. After the 413, actix-http discards the rest of the body for up to
    // `client_disconnect_timeout`, so that the client can read the answer instead of
    // seeing a reset. On loopback the whole upload fits in that time, so how much was
    // sent proves nothing and is not checked.
    let mut writer = stream.try_clone().unwrap();
    let upload = thread::spawn(move || {
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < declared && writer.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        sent
    });

    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).unwrap(),
            1,
            "connection closed before a status line"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert_eq!(status_line(&head), "HTTP/1.1 413 Payload Too Large");
    drop(stream);
    upload.join().unwrap();

    let body = message_body("hello");
    let (head, reply) = exchange(
        server.ipv4(),
        &post_head("/", body.len(), ""),
        body.as_bytes(),
    );
    assert_eq!(status_line(&head), "HTTP/1.1 200 OK");
    assert_eq!(reply, br#"{"reply":"Echo: hello"}"#);
}

/// Starts a slow stream on a server, sends `signal` once the first event has arrived,
/// and checks that new connections are refused, the stream still ends with `done` and
/// the server exits 0.
fn stream_survives_signal(signal: &str) {
    let mut server = Server::start(&[("STREAM_DELAY_MS", "300")]);
    let body = message_body("one two three four five");
    let mut stream = connect(server.ipv4());
    stream
        .write_all(post_head("/stream", body.len(), "").as_bytes())
        .unwrap();
    stream.write_all(body.as_bytes()).unwrap();

    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&received).contains("event: delta") {
        let read = stream.read(&mut buffer).unwrap();
        assert_ne!(read, 0, "closed before the first event");
        received.extend_from_slice(&buffer[..read]);
    }
    server.signal(signal);
    let signalled = Instant::now();
    wait_until_refused(server.ipv4());

    stream.read_to_end(&mut received).unwrap();
    eprintln!(
        "RECEIVED {:?} after {:?}",
        String::from_utf8_lossy(&received),
        signalled.elapsed()
    );
    let (head, events) = split_response(&received);
    assert_eq!(status_line(&head), "HTTP/1.1 200 OK");
    assert_eq!(
        String::from_utf8(events).unwrap(),
        "event: delta\ndata: {\"text\":\"Echo: \"}\n\n\
         event: delta\ndata: {\"text\":\"one \"}\n\n\
         event: delta\ndata: {\"text\":\"two \"}\n\n\
         event: delta\ndata: {\"text\":\"three \"}\n\n\
         event: delta\ndata: {\"text\":\"four \"}\n\n\
         event: delta\ndata: {\"text\":\"five\"}\n\n\
         event: done\ndata: {}\n\n"
    );
    assert!(
        signalled.elapsed() >= Duration::from_millis(900),
        "the stream was not paced"
    );

    let status = wait_for_exit(&mut server.child, Duration::from_secs(12));
    assert_eq!(status.code(), Some(0));
    let lines = server.all_lines();
    let shutting_down = lines
        .iter()
        .find(|line| line.contains("shutting down"))
        .unwrap();
    assert_eq!(field(shutting_down, "signal"), format!("SIG{signal}"));
    assert!(lines.last().unwrap().contains("stopped"), "{lines:#?}");
}

#[test]
fn sigterm_lets_stream_finish_then_exits_0() {
    stream_survives_signal("TERM");
}

#[test]
fn sigint_lets_stream_finish_then_exits_0() {
    stream_survives_signal("INT");
}

/// Sends half a signed body, then SIGTERM, then the rest. New connections must be
/// refused, but the request must still get its response, and the server must exit 0.
fn upload_survives_sigterm() {
    let mut server = Server::start(&[("WEBHOOK_SECRET", SECRET)]);
    let body = message_body("hello");
    let head = post_head("/", body.len(), &signature_headers(body.as_bytes()));
    let (first_half, second_half) = body.as_bytes().split_at(body.len() / 2);

    let mut stream = connect(server.ipv4());
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(first_half).unwrap();
    thread::sleep(Duration::from_millis(100));
    server.signal("TERM");
    wait_until_refused(server.ipv4());
    thread::sleep(Duration::from_millis(500));
    stream.write_all(second_half).unwrap();

    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let (response_head, reply) = split_response(&response);
    assert_eq!(status_line(&response_head), "HTTP/1.1 200 OK");
    assert_eq!(reply, br#"{"reply":"Echo: hello"}"#);

    let status = wait_for_exit(&mut server.child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
}

#[test]
fn sigterm_during_upload_still_answers() {
    // Three servers stop at once, so the graceful stop runs under load. Before 2.9.1,
    // actix-server could drop a worker, and the request it was serving, when the accept
    // thread stopped before the worker received its stop command.
    let runs: Vec<_> = (0..3)
        .map(|_| thread::spawn(upload_survives_sigterm))
        .collect();
    for run in runs {
        run.join().unwrap();
    }
}
