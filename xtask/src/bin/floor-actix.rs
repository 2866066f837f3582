//! The actix-web floor of `cargo xtask bench`: the least an actix-web server does for a
//! webhook request. It reads the whole body of `POST /` and returns a fixed JSON reply,
//! with no verification, no parsing and no logging, so that `webhook-actix` can be
//! compared with the cost of actix-web itself.
//!
//! Run: `cargo run --release -p xtask --features floors --bin floor-actix` with `PORT`
//! set (and `HOST`, default `127.0.0.1`). Like `webhook-actix` it starts actix-web's
//! default number of workers, one per core.

use std::net::IpAddr;

use actix_web::{App, HttpResponse, HttpServer, web};

/// About as long as the examples' reply to the bench's requests.
const FIXED_REPLY: &str =
    r#"{"reply":"Echo: Where is my order 1234? It was due yesterday, can you check?"}"#;

async fn reply(_body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(FIXED_REPLY)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let (host, port) = address_from_env()?;
    HttpServer::new(|| App::new().route("/", web::post().to(reply)))
        .bind((host, port))?
        .run()
        .await
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
