//! The `VerifiedBody` extractor: the raw body of a request that passed the size
//! limit, the read timeout and, when a secret is set, signature verification.
//!
//! A handler that takes a [`VerifiedBody`] cannot see an unverified body, and nothing
//! parses the body before the signature over its exact bytes has been checked. The
//! extractor reads the `Payload` itself rather than through `web::Bytes`, because it
//! must stop at the configured limit (actix-web's `PayloadConfig` default of 256 KiB
//! would reject realistic requests) and respond with this project's error bodies.

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use webhook_contract::{Rejection, SIGNATURE_HEADER, SignedForm, TIMESTAMP_HEADER, Verifier};

use crate::Settings;
use crate::error::ApiError;

/// Maximum buffer reserved up front from `Content-Length`. A larger body grows the
/// buffer as it arrives, so a client cannot make the server allocate for bytes it
/// never sends.
const MAX_PREALLOCATION: usize = 1024 * 1024;

/// The raw body of a request that passed every check before parsing.
#[derive(Debug)]
pub struct VerifiedBody(Bytes);

impl VerifiedBody {
    /// Returns the body exactly as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Number of body bytes read, stored in the request extensions for the request log.
#[derive(Clone, Copy, Debug)]
pub struct BodyBytes(pub usize);

impl FromRequest for VerifiedBody {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();

        Box::pin(async move {
            let settings = web::Data::<Settings>::extract(&req).await?;
            let limit = settings.max_body_bytes;

            // A declared length over the limit is rejected before reading anything.
            let declared = declared_length(&req);
            if declared.is_some_and(|length| length > limit as u64) {
                return Err(ApiError::from(Rejection::payload_too_large(limit)).into());
            }

            let read = read_limited(&mut payload, declared, limit);
            let body = match actix_web::rt::time::timeout(settings.body_read_timeout, read).await {
                Ok(body) => body,
                Err(_elapsed) => Err(Rejection::request_timeout(settings.body_read_timeout)),
            };
            let body = body.map_err(ApiError::from)?;
            req.extensions_mut().insert(BodyBytes(body.len()));

            if let Some(verifier) = &settings.verifier {
                verify(verifier, &req, &body, settings.clock.now())?;
            }
            Ok(VerifiedBody(body))
        })
    }
}

/// Returns `Content-Length` as a number; actix-http has already rejected a malformed
/// one with 400 before the request reaches the app.
fn declared_length(req: &HttpRequest) -> Option<u64> {
    let value = req.headers().get(header::CONTENT_LENGTH)?;
    value.to_str().ok()?.parse().ok()
}

/// Reads the whole body, stopping with 413 as soon as it grows past `limit`.
async fn read_limited(
    payload: &mut Payload,
    declared: Option<u64>,
    limit: usize,
) -> Result<Bytes, Rejection> {
    let capacity = declared.map_or(0, |length| {
        usize::try_from(length).map_or(MAX_PREALLOCATION, |length| length.min(MAX_PREALLOCATION))
    });
    let mut body = BytesMut::with_capacity(capacity);

    while let Some(chunk) = payload.next().await {
        // The connection broke or closed before the body was complete. The client
        // will most likely never read this response.
        let chunk = chunk.map_err(|error| {
            tracing::debug!(%error, "request body cut short");
            Rejection::incomplete_body()
        })?;
        if body.len() + chunk.len() > limit {
            return Err(Rejection::payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Checks `X-Timestamp` and `X-Signature` over the raw body, with the clock reading
/// `now`. Every value of each header is passed on, so the verifier receives a
/// repeated header and rejects it.
fn verify(verifier: &Verifier, req: &HttpRequest, body: &[u8], now: u64) -> Result<(), ApiError> {
    let headers = req.headers();
    let timestamps = headers.get_all(TIMESTAMP_HEADER).map(HeaderValue::as_bytes);
    let signatures = headers.get_all(SIGNATURE_HEADER).map(HeaderValue::as_bytes);
    let verified = verifier.verify_at(timestamps, signatures, body, now)?;

    if verified.form == SignedForm::Escaped {
        tracing::debug!(
            secret = ?verified.secret,
            "signature matched the escaped form of the body, as the platform signs non-ASCII text"
        );
    }
    Ok(())
}
