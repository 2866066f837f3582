//! Binding the listening socket with socket2, before actix-web takes it over.
//!
//! Binding here instead of through `HttpServer::bind` gives the server three things:
//! `::` listens on IPv6 and IPv4 alike (IPV6_V6ONLY off, which Linux leaves on or off
//! by a system setting), a host without IPv6 falls back to `0.0.0.0`, and a port in
//! use is reported with the address and a hint before any worker starts.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// Pending connections the kernel queues before the server accepts them.
const BACKLOG: i32 = 1024;

/// A bound, listening socket and the address families it serves.
#[derive(Debug)]
pub struct BoundListener {
    /// The socket, ready for `HttpServer::listen`.
    pub listener: TcpListener,
    /// The address as bound, with the real port when port 0 was asked for.
    pub address: SocketAddr,
    /// Address families that reach the socket.
    pub stack: Stack,
}

/// Address families that reach the listening socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    /// `::` with IPV6_V6ONLY off: IPv6 and IPv4 clients alike.
    DualStack,
    /// An IPv4 address, or `0.0.0.0` after a failed attempt at `::`.
    Ipv4Only,
    /// A specific IPv6 address.
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

/// Binding failed; the message names the address and what to do.
#[derive(Debug)]
pub struct BindError {
    address: SocketAddr,
    source: io::Error,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let address = self.address;
        match self.source.kind() {
            io::ErrorKind::AddrInUse => write!(
                f,
                "cannot listen on {address}: address already in use; set PORT to a free port"
            ),
            io::ErrorKind::PermissionDenied => write!(
                f,
                "cannot listen on {address}: permission denied; set PORT to 1024 or above"
            ),
            io::ErrorKind::AddrNotAvailable => write!(
                f,
                "cannot listen on {address}: address not available; set HOST to an address of this machine"
            ),
            _ => write!(f, "cannot listen on {address}: {}", self.source),
        }
    }
}

impl std::error::Error for BindError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Binds `host:port`. For `::` it listens dual-stack, or on `0.0.0.0` when the host
/// has no IPv6.
pub fn bind(host: IpAddr, port: u16) -> Result<BoundListener, BindError> {
    let address = SocketAddr::new(host, port);
    match listen(address) {
        Err(error) if host.is_unspecified() && host.is_ipv6() && ipv6_unavailable(&error) => {
            let fallback = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
            listen(fallback).map_err(|source| BindError {
                address: fallback,
                source,
            })
        }
        result => result.map_err(|source| BindError { address, source }),
    }
}

fn listen(address: SocketAddr) -> io::Result<BoundListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;

    let stack = match address.ip() {
        IpAddr::V6(ip) if ip.is_unspecified() => {
            socket.set_only_v6(false)?;
            Stack::DualStack
        }
        IpAddr::V6(_) => Stack::Ipv6Only,
        IpAddr::V4(_) => Stack::Ipv4Only,
    };
    // Lets a restarted server bind while old connections sit in TIME_WAIT. On Linux it
    // does not let two listeners share the port, so a port in use is still reported.
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;

    let listener = TcpListener::from(socket);
    let address = listener.local_addr()?;
    Ok(BoundListener {
        listener,
        address,
        stack,
    })
}

/// Returns whether `error` from binding `::` may mean that this host has no IPv6 (the
/// socket cannot be created, or `::` is not available), as opposed to a port problem
/// that `0.0.0.0` would hit too.
fn ipv6_unavailable(error: &io::Error) -> bool {
    !matches!(
        error.kind(),
        io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
    )
}
