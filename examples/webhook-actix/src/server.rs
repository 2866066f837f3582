//! Running the server: `HttpServer` with the limits of the contract, the start log
//! line, and the graceful stop (see `shutdown`).

use std::future::Future;
use std::io;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{HttpServer, web};

use crate::listener::BoundListener;
use crate::{Settings, app};

/// Time a client has to send the whole request head. A client that sends half a head
/// is cut off after it.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an idle keep-alive connection stays open.
const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// Time a client has to close its side after the server closes a connection.
const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Seconds that requests and streams in flight get to finish after the stop signal.
/// Connections still open after that are dropped.
const SHUTDOWN_TIMEOUT_SECS: u64 = 10;

/// Starts serving on `listener` and logs the start line. When `shutdown` completes,
/// the server stops accepting and lets requests and streams in flight finish, as the
/// `shutdown` module describes, and then the returned server completes. Call it inside
/// the actix-web runtime.
pub fn run(
    listener: BoundListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<Server> {
    let BoundListener {
        listener,
        address,
        stack,
    } = listener;
    let verifier = settings.verifier.as_ref();
    let verification = if verifier.is_some() { "on" } else { "off" };
    let previous_secret = verifier.is_some_and(|verifier| verifier.has_previous());
    let tolerance_secs = verifier.map(|verifier| verifier.tolerance().as_secs());
    let max_body_bytes = settings.max_body_bytes;
    let stream_delay_ms = settings.stream_delay.as_millis();

    let settings = web::Data::new(settings);
    let server = HttpServer::new(move || app(settings.clone()))
        .client_request_timeout(HEADER_READ_TIMEOUT)
        .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
        .keep_alive(KEEP_ALIVE)
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .shutdown_signal(shutdown)
        .listen(listener)?
        .run();

    tracing::info!(
        %address,
        stack = %stack.as_str(),
        verification = %verification,
        previous_secret,
        tolerance_secs,
        max_body_bytes,
        stream_delay_ms,
        "listening"
    );
    if verification == "off" {
        tracing::warn!(
            "WEBHOOK_SECRET is not set, so unsigned requests are accepted; \
             set WEBHOOK_SECRET before production"
        );
    }
    Ok(server)
}
