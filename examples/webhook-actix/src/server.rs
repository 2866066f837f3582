//! Running the server: `HttpServer` with the limits of the contract, the start log
//! line, and the graceful stop (see `shutdown`).

use std::future::Future;
use std::io;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{HttpServer, middleware, web};

use crate::listener::BoundListener;
use crate::shutdown::{InFlight, stop_gracefully, track_in_flight};
use crate::{Settings, app};

/// Time a client has to send the whole request head. A client that sends half a head
/// is cut off after it.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an idle keep-alive connection stays open.
const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// Time a client has to close its side after the server closes a connection.
const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Starts serving on `listener` and logs the start line. When `shutdown` completes,
/// the server stops accepting and lets requests in flight finish; the returned server
/// completes after that. Call it inside the actix-web runtime.
pub fn run(
    listener: BoundListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + 'static,
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
    let in_flight = InFlight::default();
    let tracked = web::Data::new(in_flight.clone());
    let server = HttpServer::new(move || {
        app(settings.clone())
            .app_data(tracked.clone())
            .wrap(middleware::from_fn(track_in_flight))
    })
    .client_request_timeout(HEADER_READ_TIMEOUT)
    .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
    .keep_alive(KEEP_ALIVE)
    .disable_signals()
    .listen(listener)?
    .run();
    actix_web::rt::spawn(stop_gracefully(server.handle(), in_flight, shutdown));

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
