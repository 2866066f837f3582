//! The request log: one line per request, written by a `from_fn` middleware.
//!
//! The line carries the method, path, status, latency, body size and the `X-App-Id`
//! and `X-Thread-Id` headers, plus the error code for a 4xx. It is `info` for 2xx and
//! `warn` for 4xx. A client fault gets a response and is not an error of the server, so `error`
//! is left for a 5xx, which no request input can cause. For a streamed reply the
//! latency runs until the response head is ready, not until the last event.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderValue;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use webhook_contract::{APP_ID_HEADER, THREAD_ID_HEADER};

use crate::body::BodyBytes;
use crate::error::ApiError;

/// Maximum length of a header value copied into the log.
const MAX_LOGGED_HEADER_CHARS: usize = 64;

/// Runs the request and logs one line about it.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let app_id = loggable(req.headers().get(APP_ID_HEADER));
    let thread_id = loggable(req.headers().get(THREAD_ID_HEADER));

    let res = next.call(req).await?;

    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = res.status().as_u16();
    let body_bytes = res
        .request()
        .extensions()
        .get::<BodyBytes>()
        .map_or(0, |bytes| bytes.0);
    let error_code = res
        .response()
        .error()
        .and_then(|error| error.as_error::<ApiError>())
        .map(|error| error.rejection().code().as_str());

    macro_rules! request_line {
        ($level:ident) => {
            tracing::$level!(
                method = %method,
                path = %path,
                status,
                latency_ms = format_args!("{latency_ms:.3}"),
                body_bytes,
                app_id = %app_id,
                thread_id = %thread_id,
                error_code = error_code.map(tracing::field::display),
                "request"
            )
        };
    }
    match status {
        200..=399 => request_line!(info),
        400..=499 => request_line!(warn),
        _ => request_line!(error),
    }
    Ok(res)
}

/// Returns a header value fit for a log line: visible ASCII only (other bytes become
/// `?`), at most 64 characters, `-` when the header is absent.
fn loggable(value: Option<&HeaderValue>) -> String {
    let Some(value) = value else {
        return "-".to_owned();
    };
    value
        .as_bytes()
        .iter()
        .take(MAX_LOGGED_HEADER_CHARS)
        .map(|&byte| {
            if byte.is_ascii_graphic() {
                char::from(byte)
            } else {
                '?'
            }
        })
        .collect()
}
