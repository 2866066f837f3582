//! Cases that need a real server process and a raw socket: a body far over the limit
//! read while it uploads, a client that sends half a request head, SIGTERM in the
//! middle of an upload, and start-up with an invalid `PORT`.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout, timeout_at};
use webhook_contract::Secret;
use webhook_probe::{Answer, Check, Outcome};

use super::field_cases::{self, BASE_BODY, answer_of, baseline, materialize};
use crate::process::{ServerProcess, indent};
use crate::raw;

/// Size of the oversized body: about 16.8 MB, 16 times the default limit.
const OVERSIZED_PADDING_BLOCKS: usize = 16_800;

/// How long a server may keep a half-sent request head open.
const HEAD_CLOSE_LIMIT: Duration = Duration::from_secs(15);

/// How soon a normal request must be answered while a half-sent head is open.
const BASELINE_LIMIT: Duration = Duration::from_secs(2);

/// How long a server may take to exit after SIGTERM.
pub const EXIT_LIMIT: Duration = Duration::from_secs(10);

/// How long a server may take to reject a bad setting.
const STARTUP_EXIT_LIMIT: Duration = Duration::from_secs(5);

/// Builds the oversized body: a signed `message_received` whose `content_json` carries
/// 16.8 MB of padding, with a correct `Content-Length`.
fn oversized_body() -> String {
    let mut body = String::from(
        r#"{"version":"1.0","event":"message_received","app":{"id":"app_test_01","name":"Test App"},"thread":{"id":"thr_test_01","customer_id":"cust_test_01"},"message":{"id":"msg_test_01","seq":3,"role":"user","content":"too big","content_json":{"pad":""#,
    );
    body.push_str(&"x".repeat(1000 * OVERSIZED_PADDING_BLOCKS));
    body.push_str(r#""}},"history_tail":[{"role":"user","content":"earlier question","content_json":{}}],"timestamp":"2026-12-04T10:00:00Z"}"#);
    body
}

/// Uploads a 16.8 MB signed body while reading the answer, which must be 413
/// `payload_too_large` before the upload ends; afterwards the server must still
/// answer the baseline.
pub async fn oversized_body_case(address: &str, secret: &Secret) -> Check {
    const NAME: &str = "body_of_16_8_mb";
    let mut case = baseline();
    case.body = oversized_body();
    let request = materialize(&case, secret, &format!("http://{address}/"));
    let head = raw::request_head("POST", "/", address, &request.headers, request.body.len());
    let sent = format!(
        "a signed {} byte body with a correct Content-Length",
        request.body.len()
    );
    let started = Instant::now();
    let result = upload_while_reading(address, &head, &request.body).await;

    let mut check = Check::new(NAME, Outcome::Fail, String::new());
    check.latency = Some(started.elapsed());
    match result {
        Ok((response, uploaded)) => {
            let answer = answer_of(&response);
            let good =
                answer.status == 413 && answer.error_code.as_deref() == Some("payload_too_large");
            check.detail =
                format!("sent {sent}; got {answer} after {uploaded} body bytes were written");
            if good {
                check.outcome = Outcome::Pass;
            } else {
                check.detail.push_str(" (expected 413 payload_too_large)");
            }
            check.answer = Some(answer);
        }
        Err(error) => {
            check.detail = format!("sent {sent}; expected 413 payload_too_large, got {error:#}");
        }
    }
    // The curl command would carry 16.8 MB; the head is enough to see what was sent.
    let mut shown = request.clone();
    shown.body = b"(16.8 MB of padding)".to_vec();
    check.request = Some(shown);

    let alive = field_cases::run(&baseline(), address, secret).await;
    if alive.outcome == Outcome::Pass {
        check
            .detail
            .push_str("; the baseline still gets 200 afterwards");
    } else {
        check.outcome = Outcome::Fail;
        check
            .detail
            .push_str(&format!("; afterwards: {}", alive.detail));
    }
    check
}

/// Writes `head` and then `body` in pieces while reading the response; returns the
/// response and how many body bytes were written before it arrived.
async fn upload_while_reading(
    address: &str,
    head: &[u8],
    body: &[u8],
) -> anyhow::Result<(raw::RawResponse, usize)> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let stream = timeout_at(deadline, TcpStream::connect(address)).await??;
    let (mut reader, mut writer) = stream.into_split();
    let head = head.to_vec();
    let body = body.to_vec();
    let (written_sender, written_receiver) = tokio::sync::watch::channel(0usize);
    let upload = tokio::spawn(async move {
        writer.write_all(&head).await?;
        let mut written = 0;
        for piece in body.chunks(64 * 1024) {
            writer.write_all(piece).await?;
            written += piece.len();
            let _ = written_sender.send(written);
        }
        anyhow::Ok(())
    });
    let response = raw::read_response(&mut reader, deadline).await;
    let uploaded = *written_receiver.borrow();
    upload.abort();
    match response {
        Ok(response) => Ok((response, uploaded)),
        Err(error) => Err(error.context(format!(
            "no status line after {uploaded} body bytes were written (a reset or close without a 413)"
        ))),
    }
}

/// Sends half a request head and waits for the server to close the connection,
/// while a baseline request on a fresh connection must be answered quickly.
pub async fn half_sent_head_case(address: &str, secret: &Secret) -> Check {
    const NAME: &str = "half_sent_request_head";
    let sent = "half a request head, then nothing";
    let mut check = Check::new(NAME, Outcome::Fail, String::new());
    let mut stream = match TcpStream::connect(address).await {
        Ok(stream) => stream,
        Err(error) => {
            check.detail = format!("sent {sent}; could not connect: {error}");
            return check;
        }
    };
    let started = Instant::now();
    let partial = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-App-Id: app_test_01\r\n";
    if let Err(error) = stream.write_all(partial).await {
        check.detail = format!("sent {sent}; the write failed: {error}");
        return check;
    }

    let wait_for_close = async {
        let mut buffer = [0u8; 1024];
        let mut answer = Vec::new();
        // Each read either returns bytes (at most a small error response), returns 0
        // at close, or fails; the deadline bounds the loop in time.
        loop {
            match timeout_at(started + HEAD_CLOSE_LIMIT, stream.read(&mut buffer)).await {
                Err(_) => return (None, answer),
                Ok(Ok(0)) | Ok(Err(_)) => return (Some(started.elapsed()), answer),
                Ok(Ok(count)) => answer.extend_from_slice(&buffer[..count]),
            }
        }
    };
    let baseline_answer = async {
        sleep(Duration::from_millis(500)).await;
        let request = materialize(&baseline(), secret, &format!("http://{address}/"));
        let sent_at = Instant::now();
        let response = timeout(BASELINE_LIMIT, field_cases::send_raw(address, &request)).await;
        (response, sent_at.elapsed())
    };
    let ((closed_after, answer), (baseline_response, baseline_latency)) =
        tokio::join!(wait_for_close, baseline_answer);

    let status_line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .map(|line| format!(" after answering {line:?}"))
        .unwrap_or_default();
    let closed = match closed_after {
        Some(elapsed) => format!("closed after {:.1} s{status_line}", elapsed.as_secs_f64()),
        None => format!("still open after {} s", HEAD_CLOSE_LIMIT.as_secs()),
    };
    let baseline = match &baseline_response {
        Ok(Ok(response)) => format!(
            "the baseline on a fresh connection got {} in {:.0} ms",
            answer_of(response),
            baseline_latency.as_secs_f64() * 1000.0
        ),
        Ok(Err(error)) => format!("the baseline on a fresh connection failed: {error:#}"),
        Err(_) => format!(
            "the baseline on a fresh connection got no answer within {} s",
            BASELINE_LIMIT.as_secs()
        ),
    };
    let baseline_ok = matches!(&baseline_response, Ok(Ok(response)) if response.status == 200);
    check.detail = format!("sent {sent}; the server {closed}; {baseline}");
    check.latency = closed_after;
    if closed_after.is_some() && baseline_ok {
        check.outcome = Outcome::Pass;
    } else {
        check.detail.push_str(&format!(
            " (expected a close within {} s and the baseline answered within {} s)",
            HEAD_CLOSE_LIMIT.as_secs(),
            BASELINE_LIMIT.as_secs()
        ));
    }
    check
}

/// Sends a signed request's head and half its body, sends SIGTERM, sends the rest
/// half a second later, and expects the reply; then the process must exit 0 within
/// 10 s of the signal.
pub async fn sigterm_during_upload_case(server: &mut ServerProcess, secret: &Secret) -> Check {
    const NAME: &str = "sigterm_during_upload";
    let mut check = Check::new(NAME, Outcome::Fail, String::new());
    let sent = "a signed request with half its body uploaded when SIGTERM arrives";
    let address = server.address.clone();
    let request = materialize(&baseline(), secret, &format!("http://{address}/"));
    let head = raw::request_head("POST", "/", &address, &request.headers, BASE_BODY.len());
    let (first_half, second_half) = request.body.split_at(request.body.len() / 2);
    check.request = Some(request.clone());

    let deadline = Instant::now() + EXIT_LIMIT + Duration::from_secs(2);
    let mut stream = match TcpStream::connect(&address).await {
        Ok(stream) => stream,
        Err(error) => {
            check.detail = format!("sent {sent}; could not connect: {error}");
            return check;
        }
    };
    let mut first = head.clone();
    first.extend_from_slice(first_half);
    if let Err(error) = stream.write_all(&first).await {
        check.detail = format!("sent {sent}; the first half failed: {error}");
        return check;
    }
    // Give the server time to read the head, so the request is in flight.
    sleep(Duration::from_millis(200)).await;
    let signalled_at = Instant::now();
    if let Err(error) = server.terminate() {
        check.detail = format!("sent {sent}; {error:#}");
        return check;
    }
    sleep(Duration::from_millis(500)).await;
    let response = match stream.write_all(second_half).await {
        Ok(()) => raw::read_response(&mut stream, deadline).await,
        Err(error) => Err(anyhow::anyhow!("sending the second half failed: {error}")),
    };
    let exit = server
        .wait_exit(EXIT_LIMIT.saturating_sub(signalled_at.elapsed()))
        .await;
    let exited_after = signalled_at.elapsed();

    let (answer_text, answer_ok) = match &response {
        Ok(response) => {
            let answer = answer_of(response);
            let ok = answer.status == 200 && answer.reply.as_deref() == Some("Echo: hello");
            check.answer = Some(answer.clone());
            (format!("got {answer}"), ok)
        }
        Err(error) => (format!("got no answer ({error:#})"), false),
    };
    let (exit_text, exit_ok) = match exit {
        Ok(Some(status)) => (
            format!(
                "the process exited with {status} after {:.1} s",
                exited_after.as_secs_f64()
            ),
            status.code() == Some(0),
        ),
        Ok(None) => (
            format!(
                "the process was still running {} s after SIGTERM",
                EXIT_LIMIT.as_secs()
            ),
            false,
        ),
        Err(error) => (format!("{error:#}"), false),
    };
    check.detail = format!("sent {sent}; {answer_text}; {exit_text}");
    check.latency = Some(exited_after);
    if answer_ok && exit_ok {
        check.outcome = Outcome::Pass;
    } else {
        check.detail.push_str(&format!(
            " (expected 200 reply \"Echo: hello\" and exit status 0 within {} s)",
            EXIT_LIMIT.as_secs()
        ));
        check
            .detail
            .push_str(&format!("; its stderr:\n{}", indent(&server.stderr())));
    }
    check
}

/// Starts `binary` with `PORT` set to `port` and expects exit status 2 within 5 s
/// with one stderr line naming `PORT` and the value, and no panic.
pub async fn invalid_port_case(name: &'static str, binary: &PathBuf, port: &str) -> Check {
    let mut check = Check::new(name, Outcome::Fail, String::new());
    let sent = format!("start-up with PORT={port}");
    let mut server =
        match ServerProcess::spawn(name, binary, &[("PORT", port), ("HOST", "127.0.0.1")]) {
            Ok(server) => server,
            Err(error) => {
                check.detail = format!("{sent}: {error:#}");
                return check;
            }
        };
    let started = Instant::now();
    let exit = server.wait_exit(STARTUP_EXIT_LIMIT).await;
    check.latency = Some(started.elapsed());
    // The stderr reader may still be copying the last line after the exit.
    sleep(Duration::from_millis(100)).await;
    let stderr = server.stderr();
    let error_lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let expected_start = format!("error: invalid value '{port}' for PORT: ");

    let code = match exit {
        Ok(Some(status)) => status.code(),
        _ => None,
    };
    let mut problems = Vec::new();
    match code {
        Some(2) => {}
        Some(other) => problems.push(format!("exit status {other}, not 2")),
        None if matches!(exit, Ok(Some(_))) => problems.push("killed by a signal".to_owned()),
        None => problems.push(format!(
            "still running after {} s",
            STARTUP_EXIT_LIMIT.as_secs()
        )),
    }
    if error_lines.len() != 1 {
        problems.push(format!("{} stderr lines, not 1", error_lines.len()));
    }
    if !error_lines
        .iter()
        .any(|line| line.starts_with(&expected_start))
    {
        problems.push(format!("no stderr line starting with {expected_start:?}"));
    }
    if stderr.contains("panicked") {
        problems.push("a panic message on stderr".to_owned());
    }

    let first_line = error_lines.first().copied().unwrap_or("(no stderr)");
    let status_text = code.map_or_else(|| "none".to_owned(), |code| code.to_string());
    check.detail = format!("{sent}: exit status {status_text}, stderr {first_line:?}");
    if problems.is_empty() {
        check.outcome = Outcome::Pass;
    } else {
        check
            .detail
            .push_str(&format!(" ({})", problems.join("; ")));
    }
    check.answer = Some(Answer {
        status: code
            .and_then(|code| u16::try_from(code).ok())
            .unwrap_or(u16::MAX),
        error_code: None,
        reply: Some(first_line.to_owned()),
    });
    check
}

/// Describes how a process ended: `exit status 0`, or the signal that killed it.
pub fn exit_code_text(status: std::process::ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => format!("{status}"),
    }
}
