//! The graceful stop: a future that completes on SIGINT or SIGTERM, which `run` hands
//! to `HttpServer::shutdown_signal`.
//!
//! When the future completes, actix-web 4.18 with actix-server 2.10 stops the graceful
//! way. The server closes the listening socket, so new connections are refused, and
//! closes idle keep-alive connections. Every other connection finishes the request it
//! is serving, including reading the rest of an upload and writing a streamed response
//! to its end, and is then closed. Workers get `shutdown_timeout` (10 s in `run`)
//! before the connections left are dropped.
//!
//! A custom signal future replaces actix-server's own signal handling, which treats
//! SIGINT as a forced stop that drops connections at once.

use std::future::Future;

use tokio::signal::unix::{SignalKind, signal};

/// Returns a future that completes on the first SIGINT or SIGTERM and logs which one
/// arrived.
///
/// The signal handlers are installed before this returns, so a signal sent right after
/// the start line is already caught and does not kill the process.
pub fn stop_signal() -> impl Future<Output = ()> + Send + 'static {
    let handlers = signal(SignalKind::interrupt()).and_then(|interrupt| {
        signal(SignalKind::terminate()).map(|terminate| (interrupt, terminate))
    });

    async move {
        let (mut interrupt, mut terminate) = match handlers {
            Ok(handlers) => handlers,
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGINT and SIGTERM; a signal ends the process at once");
                return std::future::pending().await;
            }
        };

        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::info!(signal = %name, "shutting down");
    }
}
