//! [`VerifiedBody`]: the extractor that runs between the network and the handlers.
//!
//! It consumes the request body, so a handler that takes it can never see bytes that
//! skipped a check. The checks run in the contract's order, and the first failure
//! answers the request:
//!
//! 1. a `Content-Length` above the limit is rejected before the body is read;
//! 2. the body is read whole, stopping as soon as it grows past the limit or when
//!    [`BODY_READ_TIMEOUT`] runs out;
//! 3. with a secret configured, `X-Timestamp` and `X-Signature` are checked over the
//!    raw bytes (or their escaped form, which is what the platform signs);
//! 4. `Content-Type` must be `application/json`.
//!
//! Nothing parses the body before step 3, so an unsigned caller learns nothing about
//! the parser.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tracing::debug;
use webhook_contract::{SIGNATURE_HEADER, SignedForm, TIMESTAMP_HEADER, check_content_type};

use crate::app::AppState;
use crate::error::ApiError;

/// How long a client may take to send the whole body. The platform itself gives up
/// after 8 s, so a slower body is not a delivery.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The raw body of a POST that passed the size limit, the read timeout, the signature
/// check and the `Content-Type` check, byte for byte as received.
#[derive(Debug)]
pub struct VerifiedBody(pub Bytes);

impl FromRequest<AppState> for VerifiedBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let limit = state.max_body_bytes;

        if declared_length(&parts.headers).is_some_and(|length| length > limit as u64) {
            return Err(ApiError::PayloadTooLarge { limit });
        }

        let body = read_body(body, limit).await?;

        if let Some(verifier) = &state.verifier {
            let timestamps = parts.headers.get_all(TIMESTAMP_HEADER).iter();
            let signatures = parts.headers.get_all(SIGNATURE_HEADER).iter();
            let verified = verifier.verify_at(
                timestamps.map(HeaderValue::as_bytes),
                signatures.map(HeaderValue::as_bytes),
                &body,
                state.clock.now(),
            )?;
            if verified.form == SignedForm::Escaped {
                debug!(
                    secret = ?verified.secret,
                    "signature matched the escaped form of the body, as the platform signs non-ASCII text"
                );
            }
        }

        check_content_type(parts.headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes))
            .map_err(ApiError::UnsupportedMediaType)?;

        Ok(Self(body))
    }
}

/// Returns the `Content-Length` value, or `None` when it is absent or not a number
/// (hyper rejects an invalid one before the request gets here).
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Reads the whole body, at most `limit` bytes, within [`BODY_READ_TIMEOUT`].
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let reading = Limited::new(body, limit).collect();
    let collected = tokio::time::timeout(BODY_READ_TIMEOUT, reading)
        .await
        .map_err(|_elapsed| ApiError::BodyTimeout)?;

    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(ApiError::PayloadTooLarge { limit }),
        Err(error) => {
            debug!(%error, "request body failed before it was complete");
            Err(ApiError::BodyIncomplete)
        }
    }
}
