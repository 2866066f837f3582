//! A partner webhook on axum: it verifies each delivery, then replies with a JSON
//! reply on `/` or a stream of server-sent events on `/stream`.
//!
//! The pieces, in the order a request meets them:
//!
//! - [`server`] binds the socket and runs hyper with a header-read timeout and graceful
//!   shutdown;
//! - [`app`](mod@app) holds the routes, the handlers and the request log line;
//! - [`extract`] holds [`VerifiedBody`], the extractor that reads the raw body and
//!   checks its size, its signature and its `Content-Type` before any handler runs;
//! - [`error`] maps every client fault to its status and JSON body in one place;
//! - [`config`] reads the settings from flags and environment variables.
//!
//! Everything the platform defines (signing, payload, error codes, SSE framing) comes
//! from the `webhook_contract` crate, so this example only wires it into axum.

pub mod app;
pub mod config;
pub mod error;
pub mod extract;
pub mod server;

pub use app::{AppState, Clock, app};
pub use config::Config;
pub use error::ApiError;
pub use extract::VerifiedBody;
pub use server::{bind, run, shutdown_signal};
