//! Request handlers: the JSON reply, the streamed reply, the health check, and the
//! 404 and 405 responses.
//!
//! The two POST handlers take a [`VerifiedBody`], so by the time they run the body
//! has passed the size limit, the read timeout and signature verification. They then
//! check `Content-Type` and parse, in that order, and reply `Echo: <content>`.

use std::convert::Infallible;
use std::time::Duration;

use actix_web::http::header::{self, CacheControl, CacheDirective, ContentType};
use actix_web::{HttpRequest, HttpResponse, mime, web};
use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use webhook_contract::{
    Event, JsonReply, MessageReceived, OtherEvent, Rejection, SseEvent, check_content_type,
    parse_event, reply_chunks,
};

use crate::Settings;
use crate::body::VerifiedBody;
use crate::error::ApiError;

/// `POST /`: replies to a message with JSON.
pub async fn reply_json(req: HttpRequest, body: VerifiedBody) -> Result<HttpResponse, ApiError> {
    let received = match parse(&req, &body)? {
        Event::MessageReceived(received) => received,
        Event::Other(other) => return Ok(acknowledge(&other)),
    };

    let reply = JsonReply::new(echo(&received)).to_json();
    Ok(HttpResponse::Ok()
        .insert_header(ContentType::json())
        .body(reply))
}

/// `POST /stream`: replies to a message with server-sent events, one `delta` per word of
/// the reply and then `done`.
pub async fn reply_stream(
    req: HttpRequest,
    body: VerifiedBody,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, ApiError> {
    let received = match parse(&req, &body)? {
        Event::MessageReceived(received) => received,
        Event::Other(other) => return Ok(acknowledge(&other)),
    };

    // No Compress middleware wraps this app: a compressor would buffer the events.
    let events = sse_events(&echo(&received), settings.stream_delay);
    Ok(HttpResponse::Ok()
        .insert_header(ContentType(mime::TEXT_EVENT_STREAM))
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(events))
}

/// `GET /healthz` and `HEAD /healthz`. actix-http drops the body of a HEAD response
/// and keeps its `Content-Length`.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(ContentType::json())
        .body(r#"{"status":"ok"}"#)
}

/// Any method other than POST on `/` or `/stream`.
pub async fn post_only(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::method_not_allowed(&req, "POST", "POST"))
}

/// Any method other than GET or HEAD on `/healthz`.
pub async fn get_or_head_only(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::method_not_allowed(
        &req,
        "GET, HEAD",
        "GET or HEAD",
    ))
}

/// Any path without a route, whatever the method.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(Rejection::not_found(req.path()).into())
}

/// Checks `Content-Type`, then parses the verified body.
fn parse(req: &HttpRequest, body: &VerifiedBody) -> Result<Event, ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE);
    check_content_type(content_type.map(|value| value.as_bytes()))?;
    Ok(parse_event(body.as_bytes())?)
}

/// Builds the reply text. The message text is logged only at `debug`.
fn echo(received: &MessageReceived) -> String {
    let content = &received.message.content;
    tracing::debug!(content = %content, "message received");
    format!("Echo: {content}")
}

/// Answers an event this server does not handle with 204, so that a new platform
/// event never fails a deployed webhook.
fn acknowledge(other: &OtherEvent) -> HttpResponse {
    tracing::info!(event = %other.event, "event acknowledged without a reply");
    HttpResponse::NoContent().finish()
}

/// Frames the reply as `delta` events, then `done`, each event `delay` after the one
/// before. Each event is one `Bytes` chunk, which actix-http writes out as soon as the
/// stream yields it.
fn sse_events(
    reply: &str,
    delay: Duration,
) -> impl Stream<Item = Result<Bytes, Infallible>> + use<> {
    let frames: Vec<Bytes> = reply_chunks(reply)
        .map(|chunk| SseEvent::Delta(chunk.to_owned()))
        .chain([SseEvent::Done])
        .map(|event| Bytes::from(event.to_frame()))
        .collect();

    stream::iter(frames.into_iter().enumerate()).then(move |(index, frame)| async move {
        if index > 0 && !delay.is_zero() {
            actix_web::rt::time::sleep(delay).await;
        }
        Ok(frame)
    })
}
