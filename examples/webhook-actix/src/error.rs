//! The one error type of the server and its mapping to an HTTP response.
//!
//! Every client fault, from an oversized body to an unknown path, becomes an
//! [`ApiError`] wrapping a [`Rejection`] from the contract crate. actix-web turns it
//! into a response through [`ResponseError`], so the status, the JSON body and the
//! `Allow` header of a 405 are decided here and nowhere else. Without this mapping
//! actix-web would respond with its own 400 with a plain-text body for a wrong
//! `Content-Type` or a JSON error, and a 405 with no body at all.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use webhook_contract::{PayloadError, Rejection, VerifyError};

/// A request the server rejects with a 4xx status.
#[derive(Debug)]
pub struct ApiError {
    rejection: Rejection,
    /// Value of the `Allow` header, sent only with a 405.
    allow: Option<&'static str>,
}

impl ApiError {
    /// Rejects the request's method on its path. `allow` is the `Allow` header value
    /// (`GET, HEAD`) and `allowed` the same list as prose for the message (`GET or HEAD`).
    pub fn method_not_allowed(req: &HttpRequest, allow: &'static str, allowed: &str) -> Self {
        let rejection = Rejection::method_not_allowed(req.method().as_str(), req.path(), allowed);
        Self {
            rejection,
            allow: Some(allow),
        }
    }

    /// Returns the rejection, for the request log.
    pub fn rejection(&self) -> &Rejection {
        &self.rejection
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        Self {
            rejection,
            allow: None,
        }
    }
}

impl From<VerifyError> for ApiError {
    fn from(error: VerifyError) -> Self {
        Rejection::from(error).into()
    }
}

impl From<PayloadError> for ApiError {
    fn from(error: PayloadError) -> Self {
        Rejection::from(error).into()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.rejection.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        // Every code of the contract crate carries a valid 4xx status.
        StatusCode::from_u16(self.rejection.status()).unwrap_or(StatusCode::BAD_REQUEST)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header(ContentType::json());
        if let Some(allow) = self.allow {
            response.insert_header((header::ALLOW, allow));
        }
        response.body(self.rejection.to_json())
    }
}
