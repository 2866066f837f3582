//! The server over real loopback sockets, in process: `bind` and `run` as `main` uses
//! them, with a shutdown the test triggers.

// Helpers outside #[test] functions unwrap too: a panic there is a test failure
// with a line number.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::raw::{self, RawResponse};
use common::{BASE_BODY, message_body, unsigned_state};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use webhook_axum::server::Stack;
use webhook_axum::{AppState, app, bind, run};

struct Server {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

async fn start(host: IpAddr, state: AppState) -> (Server, Stack) {
    let (listener, stack) = bind(host, 0).unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run(listener, app(state), async {
        let _ = stopped.await;
    }));
    (
        Server {
            address,
            stop,
            task,
        },
        stack,
    )
}

async fn start_local(state: AppState) -> Server {
    start(IpAddr::V4(Ipv4Addr::LOCALHOST), state).await.0
}

fn json_post(body: &str) -> Vec<u8> {
    raw::post("/", &[("Content-Type", "application/json")], body)
}

fn assert_hello_reply(response: &RawResponse) {
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(response.body, r#"{"reply":"Echo: hello"}"#);
}

#[tokio::test]
async fn json_reply_over_the_wire() {
    let server = start_local(unsigned_state()).await;
    let response = raw::exchange(server.address, &json_post(BASE_BODY)).await;
    assert_hello_reply(&response);
    assert!(
        response
            .head
            .to_ascii_lowercase()
            .contains("content-type: application/json")
    );
}

#[tokio::test]
async fn keep_alive_serves_two_requests_on_one_connection() {
    let server = start_local(unsigned_state()).await;
    let mut stream = raw::connect(server.address).await;
    let keep_alive = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BASE_BODY}",
        BASE_BODY.len()
    );
    stream.write_all(keep_alive.as_bytes()).await.unwrap();
    stream.write_all(&json_post(BASE_BODY)).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(raw::EXCHANGE_TIMEOUT, stream.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert_eq!(
        text.matches(r#"{"reply":"Echo: hello"}"#).count(),
        2,
        "{text}"
    );
}

#[tokio::test]
async fn default_host_answers_on_ipv4_and_ipv6() {
    let (server, stack) = start(IpAddr::V6(Ipv6Addr::UNSPECIFIED), unsigned_state()).await;
    let port = server.address.port();
    let ipv4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    assert_hello_reply(&raw::exchange(ipv4, &json_post(BASE_BODY)).await);
    match stack {
        Stack::DualStack => {
            let ipv6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port);
            assert_hello_reply(&raw::exchange(ipv6, &json_post(BASE_BODY)).await);
        }
        // A host without IPv6 falls back to 0.0.0.0.
        Stack::Ipv4Only => assert_eq!(server.address.ip(), IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        Stack::Ipv6Only => panic!(":: must not listen IPv6 only"),
    }
}

#[tokio::test]
async fn half_sent_head_is_cut_off() {
    let server = start_local(unsigned_state()).await;
    let mut slow = raw::connect(server.address).await;
    slow.write_all(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-App-Id: app_test_01\r\n")
        .await
        .unwrap();
    let started = Instant::now();

    // A fresh connection is served at once while the slow one hangs.
    let fresh = tokio::time::timeout(
        Duration::from_secs(2),
        raw::exchange(server.address, &json_post(BASE_BODY)),
    )
    .await
    .unwrap();
    assert_hello_reply(&fresh);

    // The header-read timeout (10 s) closes the slow connection.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(15), slow.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the half-sent head was still open after 15 s"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "closed after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn oversized_body_gets_413_and_server_stays_up() {
    let server = start_local(unsigned_state()).await;
    let mut stream = raw::connect(server.address).await;
    let head = "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 16800362\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[b'x'; 4096]).await.unwrap();

    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(raw::EXCHANGE_TIMEOUT, async {
        while !String::from_utf8_lossy(&received).contains("}") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
        }
    })
    .await
    .unwrap();
    let response = raw::parse(&received);
    assert_eq!(response.status, 413);
    assert!(
        response
            .body
            .starts_with(r#"{"error":"payload_too_large","#),
        "{}",
        response.body
    );

    let health = raw::exchange(server.address, &raw::get("/healthz")).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body, r#"{"status":"ok"}"#);
}

#[tokio::test]
async fn stream_events_arrive_as_they_are_sent() {
    let state = AppState {
        stream_delay: Duration::from_millis(300),
        ..unsigned_state()
    };
    let server = start_local(state).await;
    let mut stream = raw::connect(server.address).await;
    let request = raw::post(
        "/stream",
        &[("Content-Type", "application/json")],
        &message_body("one two"),
    );
    stream.write_all(&request).await.unwrap();

    // The first delta arrives before the last one is even sent.
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    let first_read = tokio::time::timeout(Duration::from_secs(5), async {
        while !String::from_utf8_lossy(&received).contains("\"Echo: \"") {
            let read = stream.read(&mut buffer).await.unwrap();
            assert!(read > 0, "closed early");
            received.extend_from_slice(&buffer[..read]);
        }
    });
    first_read.await.unwrap();
    let so_far = String::from_utf8_lossy(&received).into_owned();
    assert!(!so_far.contains("event: done"), "{so_far}");

    let mut rest = Vec::new();
    tokio::time::timeout(raw::EXCHANGE_TIMEOUT, stream.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    received.extend_from_slice(&rest);
    let response = raw::parse(&received);
    assert_eq!(
        response.body,
        "event: delta\ndata: {\"text\":\"Echo: \"}\n\nevent: delta\ndata: {\"text\":\"one \"}\n\nevent: delta\ndata: {\"text\":\"two\"}\n\nevent: done\ndata: {}\n\n"
    );
}

#[tokio::test]
async fn shutdown_lets_stream_in_flight_finish() {
    let state = AppState {
        stream_delay: Duration::from_millis(200),
        ..unsigned_state()
    };
    let server = start_local(state).await;
    let mut stream = raw::connect(server.address).await;
    let request = raw::post(
        "/stream",
        &[("Content-Type", "application/json")],
        &message_body("a b c d"),
    );
    stream.write_all(&request).await.unwrap();
    let mut first = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut first))
        .await
        .unwrap()
        .unwrap();
    assert!(read > 0);

    server.stop.send(()).unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(raw::EXCHANGE_TIMEOUT, stream.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    let mut received = first[..read].to_vec();
    received.extend_from_slice(&rest);
    let response = raw::parse(&received);
    assert_eq!(response.status, 200);
    assert!(
        response
            .body
            .ends_with("event: delta\ndata: {\"text\":\"d\"}\n\nevent: done\ndata: {}\n\n"),
        "{}",
        response.body
    );

    tokio::time::timeout(Duration::from_secs(12), server.task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(server.address)
            .await
            .is_err()
    );
}
