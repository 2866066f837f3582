//! The socket and the connection loop.
//!
//! `axum::serve` sets no header-read timeout, and hyper enforces one only when a timer
//! is installed, so a client that sends half a request head would hold its connection
//! forever. [`run`] therefore drives hyper's HTTP/1 connections itself, with a timer,
//! a 10 s header-read timeout and keep-alive, and drains them on shutdown.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{debug, info, warn};

/// How long a client may take to send a request head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long requests and streams in flight may run after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Pending connections the kernel queues before `accept`.
const LISTEN_BACKLOG: i32 = 1024;

/// The address families a listener accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    /// IPv6 and IPv4 on one socket (`::` with `IPV6_V6ONLY` off).
    DualStack,
    /// IPv4 only.
    Ipv4Only,
    /// IPv6 only.
    Ipv6Only,
}

impl Stack {
    /// Returns the name used in the start log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Stack::DualStack => "dual-stack",
            Stack::Ipv4Only => "ipv4-only",
            Stack::Ipv6Only => "ipv6-only",
        }
    }
}

/// The address could not be bound.
#[derive(Debug)]
pub struct BindError {
    /// The address that was tried.
    pub address: SocketAddr,
    /// The operating system's error.
    pub source: io::Error,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let address = self.address;
        match self.source.kind() {
            io::ErrorKind::AddrInUse => write!(
                f,
                "cannot listen on {address}: address already in use; set PORT to a free port"
            ),
            io::ErrorKind::AddrNotAvailable => write!(
                f,
                "cannot listen on {address}: address not available; set HOST to an address of this machine"
            ),
            io::ErrorKind::PermissionDenied => write!(
                f,
                "cannot listen on {address}: permission denied; set PORT to 1024 or above"
            ),
            _ => write!(f, "cannot listen on {address}: {}", self.source),
        }
    }
}

impl std::error::Error for BindError {}

/// Binds `host:port`. The IPv6 wildcard `::` listens dual-stack, and falls back to
/// `0.0.0.0` on a host without IPv6.
pub fn bind(host: IpAddr, port: u16) -> Result<(TcpListener, Stack), BindError> {
    let address = SocketAddr::new(host, port);
    if host != IpAddr::V6(Ipv6Addr::UNSPECIFIED) {
        let stack = if host.is_ipv4() {
            Stack::Ipv4Only
        } else {
            Stack::Ipv6Only
        };
        return listen(address, false).map(|listener| (listener, stack));
    }

    match listen(address, true) {
        Ok(listener) => Ok((listener, Stack::DualStack)),
        Err(error) if is_ipv6_unavailable(&error.source) => {
            warn!(error = %error.source, "IPv6 is not available on this host; listening on IPv4 only");
            let fallback = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
            listen(fallback, false).map(|listener| (listener, Stack::Ipv4Only))
        }
        Err(error) => Err(error),
    }
}

/// Returns whether a failed bind of `::` means the host has no IPv6. A port in use or a
/// privileged port fails on IPv4 too, so those errors are reported as they are.
fn is_ipv6_unavailable(error: &io::Error) -> bool {
    !matches!(
        error.kind(),
        io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
    )
}

fn listen(address: SocketAddr, dual_stack: bool) -> Result<TcpListener, BindError> {
    let open = || -> io::Result<TcpListener> {
        let socket = Socket::new(
            Domain::for_address(address),
            Type::STREAM,
            Some(Protocol::TCP),
        )?;
        if address.is_ipv6() {
            socket.set_only_v6(!dual_stack)?;
        }
        // Lets a restarted server bind while old connections linger in TIME_WAIT; a
        // port with a live listener still fails with "address in use".
        socket.set_reuse_address(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&address.into())?;
        socket.listen(LISTEN_BACKLOG)?;
        TcpListener::from_std(socket.into())
    };
    open().map_err(|source| BindError { address, source })
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets
/// requests and streams in flight finish for up to [`SHUTDOWN_GRACE`], and returns.
pub async fn run(listener: TcpListener, app: Router, shutdown: impl Future<Output = ()>) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);

    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    // Usually a connection reset before it was accepted, or too many
                    // open files; a short pause keeps the loop from spinning.
                    warn!(%error, "failed to accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };

        let service = TowerToHyperService::new(app.clone());
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                debug!(%error, "connection ended with an error");
            }
        });
    }

    // Closing the listener refuses new connections while the open ones drain.
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        warn!(
            grace_secs = SHUTDOWN_GRACE.as_secs(),
            "connections still open after the grace period were closed"
        );
    }
    info!("stopped");
}

/// Installs the handlers for SIGINT and SIGTERM and returns a future that completes
/// when either arrives, logging which one.
///
/// The handlers are installed here rather than when the future is first polled, so a
/// signal sent as soon as the start line appears is never met by the default action,
/// which would kill the process.
pub fn shutdown_signal() -> io::Result<impl Future<Output = ()>> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        info!(signal = %name, "shutting down");
    })
}
