//! The one error type of the server, and the one place where an error becomes a
//! response.
//!
//! Every variant is a fault of the client, so every response is a 4xx with
//! `{"error":"<code>","message":"..."}` built by the contract crate's [`Rejection`].
//! No request can produce a 5xx.

use axum::http::header::{ALLOW, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use webhook_contract::{PayloadError, Rejection, VerifyError};

use crate::extract::BODY_READ_TIMEOUT;

/// A client error that rejects a request.
#[derive(Debug)]
pub enum ApiError {
    /// The body is larger than `MAX_BODY_BYTES`, declared or as it arrived.
    PayloadTooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// The body did not arrive whole within [`BODY_READ_TIMEOUT`].
    BodyTimeout,
    /// The connection failed or closed before the body was complete.
    BodyIncomplete,
    /// `X-Timestamp` or `X-Signature` is missing, malformed, stale or wrong.
    Verification(VerifyError),
    /// `Content-Type` is not `application/json`.
    UnsupportedMediaType(Rejection),
    /// The body is not a valid event.
    Payload(PayloadError),
    /// The path exists but not for this method.
    MethodNotAllowed {
        /// The method of the request.
        method: Method,
        /// The path of the request.
        path: String,
        /// The methods the path accepts.
        allowed: Allowed,
    },
    /// No route at this path.
    NotFound {
        /// The path of the request.
        path: String,
    },
}

/// The methods a route accepts, for the `Allow` header and the error message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// `/` and `/stream`.
    Post,
    /// `/healthz`.
    GetOrHead,
}

impl Allowed {
    /// Returns the `Allow` header value.
    pub fn header(self) -> &'static str {
        match self {
            Allowed::Post => "POST",
            Allowed::GetOrHead => "GET, HEAD",
        }
    }

    /// Returns the methods as the error message names them.
    pub fn description(self) -> &'static str {
        match self {
            Allowed::Post => "POST",
            Allowed::GetOrHead => "GET or HEAD",
        }
    }
}

impl ApiError {
    /// Returns the contract's rejection: the error code and the message for the client.
    pub fn rejection(&self) -> Rejection {
        match self {
            ApiError::PayloadTooLarge { limit } => Rejection::payload_too_large(*limit),
            ApiError::BodyTimeout => Rejection::request_timeout(BODY_READ_TIMEOUT),
            ApiError::BodyIncomplete => Rejection::incomplete_body(),
            ApiError::Verification(error) => Rejection::from(*error),
            ApiError::UnsupportedMediaType(rejection) => rejection.clone(),
            ApiError::Payload(error) => Rejection::from(error.clone()),
            ApiError::MethodNotAllowed {
                method,
                path,
                allowed,
            } => Rejection::method_not_allowed(method.as_str(), path, allowed.description()),
            ApiError::NotFound { path } => Rejection::not_found(path),
        }
    }
}

impl From<VerifyError> for ApiError {
    fn from(error: VerifyError) -> Self {
        ApiError::Verification(error)
    }
}

impl From<PayloadError> for ApiError {
    fn from(error: PayloadError) -> Self {
        ApiError::Payload(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let rejection = self.rejection();
        // Every code of the contract has a valid 4xx status, so the fallback is never used.
        let status = StatusCode::from_u16(rejection.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = (
            status,
            [(CONTENT_TYPE, "application/json")],
            rejection.to_json(),
        )
            .into_response();

        if let ApiError::MethodNotAllowed { allowed, .. } = self {
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allowed.header()));
        }

        // The request log line reads the code from here.
        response.extensions_mut().insert(rejection.code());
        response
    }
}
