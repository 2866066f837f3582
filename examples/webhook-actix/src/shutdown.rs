//! The graceful stop: wait for SIGINT or SIGTERM, stop accepting, let requests and
//! streams in flight finish for up to 10 s, then stop the server.
//!
//! actix-server has its own signal handling, but it drops connections at once on
//! SIGINT, and in actix-server 2.6 its graceful stop can end a worker before the
//! worker's requests have finished: when the accept thread closes its connection
//! channel first, the worker returns, and the system stops 300 ms later (fixed upstream
//! in <https://github.com/actix/actix-net/pull/945>, in releases that need Rust 1.88
//! while this workspace supports 1.85). So this server counts requests in flight itself,
//! pauses accepting on a signal, waits until the count is zero, and only then stops
//! the server, closing the idle keep-alive connections that are left.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use bytes::Bytes;
use tokio::signal::unix::{SignalKind, signal};

/// How long requests and streams in flight may take to finish after a signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How often the stop checks whether requests are still in flight.
const DRAIN_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Completes on the first SIGINT or SIGTERM and logs which one arrived.
pub async fn stop_signal() {
    let (mut interrupt, mut terminate) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(%error, "cannot listen for SIGINT and SIGTERM; a signal ends the process at once");
            return std::future::pending().await;
        }
    };

    let name = tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    };
    tracing::info!(signal = name, "shutting down");
}

/// Number of requests whose response has not been sent in full yet.
#[derive(Clone, Debug, Default)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(&self) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.clone())
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Counts one request as in flight until it is dropped with its response body.
#[derive(Debug)]
struct InFlightGuard(InFlight);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        (self.0).0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Middleware that counts a request as in flight from its head until the last byte of
/// its response, streamed bodies included.
pub async fn track_in_flight(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let guard = req
        .app_data::<web::Data<InFlight>>()
        .map(|in_flight| in_flight.enter());
    let res = next.call(req).await?;
    Ok(res.map_body(move |_, body| GuardedBody {
        body: body.boxed(),
        _guard: guard,
    }))
}

/// A response body that keeps its request counted until the body is dropped.
struct GuardedBody {
    body: BoxBody,
    _guard: Option<InFlightGuard>,
}

impl MessageBody for GuardedBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

/// Waits for `signal`, pauses accepting, waits (at most 10 s) until nothing is in
/// flight, then stops the server.
pub async fn stop_gracefully(
    handle: ServerHandle,
    in_flight: InFlight,
    signal: impl std::future::Future<Output = ()>,
) {
    signal.await;
    handle.pause().await;

    let deadline = Instant::now() + SHUTDOWN_GRACE;
    while in_flight.count() > 0 && Instant::now() < deadline {
        actix_web::rt::time::sleep(DRAIN_POLL_INTERVAL).await;
    }
    let unfinished = in_flight.count();
    if unfinished > 0 {
        tracing::warn!(
            unfinished,
            "requests still in flight after the grace period are cut off"
        );
    }

    // Everything in flight has finished, so the connections left are idle.
    handle.stop(false).await;
}
