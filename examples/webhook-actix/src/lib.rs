//! A reference partner webhook on actix-web: it verifies each request the platform
//! sends and replies `Echo: <content>`, as JSON on `/` or as server-sent events on
//! `/stream`.
//!
//! The pieces, in the order a request meets them:
//! - [`listener`] binds the socket (dual-stack, with a clear error for a port in use);
//! - [`run`] starts `HttpServer` with the header and keep-alive limits, and stops it
//!   gracefully on [`stop_signal`] (`shutdown`);
//! - [`app`] routes requests and wraps them in the request log (`request_log`);
//! - the `VerifiedBody` extractor (`body`) enforces the body limit and the read
//!   timeout, then checks the signature over the raw bytes;
//! - the handlers (`handlers`) check `Content-Type`, parse and reply;
//! - every client fault becomes one error type (`error`), mapped to a response in one
//!   place.

mod body;
pub mod config;
mod error;
mod handlers;
pub mod listener;
mod request_log;
mod server;
mod shutdown;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, middleware, web};
use webhook_contract::Verifier;

pub use listener::{BindError, BoundListener, Stack, bind};
pub use server::run;
pub use shutdown::stop_signal;

/// How long the whole request body may take to arrive. The platform itself gives up
/// on a call after 8 s.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Server settings the handlers read, shared by every worker.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Checks signatures when `WEBHOOK_SECRET` is set; `None` accepts unsigned requests.
    pub verifier: Option<Verifier>,
    /// Largest body accepted, in bytes; a larger one gets 413.
    pub max_body_bytes: usize,
    /// Pause between streamed `delta` events; zero streams without sleeping.
    pub stream_delay: Duration,
    /// How long the body may take to arrive before the response is 408. The binary
    /// always uses [`BODY_READ_TIMEOUT`]; tests shorten it.
    pub body_read_timeout: Duration,
    /// Clock of the replay window: the system clock in the binary, a fixed time in
    /// tests.
    pub clock: Clock,
}

/// The clock the replay window of signature verification reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    System,
    /// A fixed time, in unix seconds.
    Fixed(u64),
}

impl Clock {
    /// Returns the current time in unix seconds.
    pub fn now(self) -> u64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since_epoch| since_epoch.as_secs()),
            Clock::Fixed(now) => now,
        }
    }
}

/// Builds the application: routes, shared settings and the request log. Used by
/// every worker of [`run`] and by in-process tests through `actix_web::test`.
pub fn app(
    settings: web::Data<Settings>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(settings)
        .wrap(middleware::from_fn(request_log::log_request))
        .service(
            web::resource("/")
                .route(web::post().to(handlers::reply_json))
                .default_service(web::to(handlers::post_only)),
        )
        .service(
            web::resource("/stream")
                .route(web::post().to(handlers::reply_stream))
                .default_service(web::to(handlers::post_only)),
        )
        .service(
            web::resource("/healthz")
                .route(web::get().to(handlers::health))
                .route(web::head().to(handlers::health))
                .default_service(web::to(handlers::get_or_head_only)),
        )
        .default_service(web::to(handlers::not_found))
}
