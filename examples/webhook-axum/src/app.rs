//! The router: routes, handlers and the request log line.
//!
//! | request | response |
//! |---|---|
//! | `POST /` | `{"reply":"Echo: <content>"}` |
//! | `POST /stream` | the same reply as server-sent events |
//! | `GET` or `HEAD /healthz` | `{"status":"ok"}` |
//! | another method on those paths | 405 with `Allow` |
//! | any other path | 404 |
//!
//! An event other than `message_received` gets 204 on both POST routes, so a new
//! platform event never breaks a deployed webhook.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{StreamExt, stream};
use http_body_util::BodyExt;
use tracing::{debug, error, info, warn};
use webhook_contract::{
    APP_ID_HEADER, ErrorCode, Event, JsonReply, SseEvent, THREAD_ID_HEADER, Verifier, parse_event,
    reply_chunks,
};

use crate::error::{Allowed, ApiError};
use crate::extract::VerifiedBody;

/// State shared by every handler.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Checks signatures; `None` when no secret is configured, and then every request
    /// is accepted unsigned.
    pub verifier: Option<Arc<Verifier>>,
    /// Largest accepted body, in bytes.
    pub max_body_bytes: usize,
    /// Pause between two events of a streamed reply.
    pub stream_delay: Duration,
    /// The clock that `X-Timestamp` is compared with.
    pub clock: Clock,
}

/// The source of "now" for the replay window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    System,
    /// A fixed unix time in seconds, so tests can replay signed vectors.
    Fixed(u64),
}

impl Clock {
    /// Returns the current unix time in seconds.
    pub fn now(self) -> u64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since_epoch| since_epoch.as_secs()),
            Clock::Fixed(now) => now,
        }
    }
}

/// Builds the router with every route, the fallbacks and the request log.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", post(json_reply).fallback(post_only))
        .route("/stream", post(stream_reply).fallback(post_only))
        .route("/healthz", get(health).fallback(get_or_head_only))
        .fallback(not_found)
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn json_reply(VerifiedBody(body): VerifiedBody) -> Result<Response, ApiError> {
    let Some(reply) = reply_text(&body)? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let json = JsonReply::new(reply).to_json();
    Ok(([(CONTENT_TYPE, "application/json")], json).into_response())
}

async fn stream_reply(
    State(state): State<AppState>,
    VerifiedBody(body): VerifiedBody,
) -> Result<Response, ApiError> {
    let Some(reply) = reply_text(&body)? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };

    // Each event is framed whole here and becomes one body chunk, which hyper writes
    // and flushes on its own, because a browser loses an event split across reads.
    let frames: Vec<Bytes> = reply_chunks(&reply)
        .map(|chunk| SseEvent::Delta(chunk.to_owned()))
        .chain([SseEvent::Done])
        .map(|event| Bytes::from(event.to_frame()))
        .collect();
    let delay = state.stream_delay;
    let events =
        stream::iter(frames.into_iter().enumerate()).then(move |(index, frame)| async move {
            if index > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok::<_, Infallible>(frame)
        });

    let headers = [
        (CONTENT_TYPE, "text/event-stream"),
        (CACHE_CONTROL, "no-cache"),
        (HeaderName::from_static("x-accel-buffering"), "no"),
    ];
    Ok((headers, Body::from_stream(events)).into_response())
}

/// Parses a verified body and returns the reply text, or `None` for an event that
/// gets no reply.
fn reply_text(body: &[u8]) -> Result<Option<String>, ApiError> {
    match parse_event(body)? {
        Event::MessageReceived(received) => {
            let content = received.message.content;
            debug!(%content, "message text");
            Ok(Some(format!("Echo: {content}")))
        }
        Event::Other(other) => {
            info!(event = %other.event, "acknowledged an event that gets no reply");
            Ok(None)
        }
    }
}

async fn health() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], r#"{"status":"ok"}"#)
}

async fn post_only(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method,
        path: uri.path().to_owned(),
        allowed: Allowed::Post,
    }
}

async fn get_or_head_only(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method,
        path: uri.path().to_owned(),
        allowed: Allowed::GetOrHead,
    }
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound {
        path: uri.path().to_owned(),
    }
}

/// Longest `X-App-Id` or `X-Thread-Id` value written to the log.
const MAX_LOGGED_ID_CHARS: usize = 64;

/// Writes one line per request when its response head is ready. For a streamed reply
/// that is before the stream ends, so `latency_ms` is the time to the first byte.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let app_id = header_for_log(request.headers(), APP_ID_HEADER);
    let thread_id = header_for_log(request.headers(), THREAD_ID_HEADER);

    // Count the body bytes as they are read, by the extractor or by anything else.
    let body_bytes = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&body_bytes);
    let request = request.map(|body| {
        Body::new(body.map_frame(move |frame| {
            if let Some(data) = frame.data_ref() {
                counter.fetch_add(data.len() as u64, Ordering::Relaxed);
            }
            frame
        }))
    });

    let response = next.run(request).await;

    let status = response.status().as_u16();
    let latency_ms = (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
    let body_bytes = body_bytes.load(Ordering::Relaxed);
    let error_code = response
        .extensions()
        .get::<ErrorCode>()
        .map_or("-", |code| code.as_str());
    match status {
        400..=499 => warn!(
            %method, %path, status, latency_ms, body_bytes, %app_id, %thread_id, error_code = %error_code,
            "request"
        ),
        500.. => error!(
            %method, %path, status, latency_ms, body_bytes, %app_id, %thread_id, "request"
        ),
        _ => info!(
            %method, %path, status, latency_ms, body_bytes, %app_id, %thread_id, "request"
        ),
    }
    response
}

/// Returns a header value fit for a log line: visible ASCII only (other bytes become
/// `?`), at most [`MAX_LOGGED_ID_CHARS`] characters, `-` when absent or empty.
fn header_for_log(headers: &HeaderMap, name: &str) -> String {
    let value = headers.get(name).map_or(&[][..], |value| value.as_bytes());
    if value.is_empty() {
        return "-".to_owned();
    }
    value
        .iter()
        .take(MAX_LOGGED_ID_CHARS)
        .map(|&byte| {
            if byte.is_ascii_graphic() {
                char::from(byte)
            } else {
                '?'
            }
        })
        .collect()
}
