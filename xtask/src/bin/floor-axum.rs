//! The axum floor of `cargo xtask bench`: the least an axum server does for a webhook
//! request. It reads the whole body of `POST /` and returns a fixed JSON reply, with no
//! verification, no parsing and no logging, so that `webhook-axum` can be compared with
//! the cost of axum itself.
//!
//! Run: `cargo run --release -p xtask --features floors --bin floor-axum` with `PORT`
//! set (and `HOST`, default `127.0.0.1`). Like `webhook-axum` it serves on tokio's
//! multi-threaded runtime with one worker per core.

use std::net::IpAddr;

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::post;

/// About as long as the examples' reply to the bench's requests.
const FIXED_REPLY: &str =
    r#"{"reply":"Echo: Where is my order 1234? It was due yesterday, can you check?"}"#;

async fn reply(_body: Bytes) -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], FIXED_REPLY)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (host, port) = address_from_env()?;
    let listener = tokio::net::TcpListener::bind((host, port)).await?;
    axum::serve(listener, Router::new().route("/", post(reply))).await
}

/// Reads `HOST` (default `127.0.0.1`) and `PORT` (required).
fn address_from_env() -> std::io::Result<(IpAddr, u16)> {
    let invalid = |message: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, message);
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());
    let host: IpAddr = host.parse().map_err(|_| {
        invalid(format!(
            "invalid value '{host}' for HOST: expected an IP address"
        ))
    })?;
    let port = std::env::var("PORT").unwrap_or_default();
    let port: u16 = port.parse().map_err(|_| {
        invalid(format!(
            "invalid value '{port}' for PORT: expected a port number from 0 to 65535"
        ))
    })?;
    Ok((host, port))
}
