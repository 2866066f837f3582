//! Responses the purpose-built test receivers share: error bodies from the contract
//! crate, the health check, and the 404 and 405 answers of the example servers.

use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use webhook_contract::Rejection;

/// Returns the rejection's status with its JSON error body.
pub fn rejection(rejection: Rejection) -> Response {
    let status = StatusCode::from_u16(rejection.status()).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        rejection.to_json(),
    )
        .into_response()
}

pub async fn healthz() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

pub async fn not_allowed_post(method: Method, uri: Uri) -> Response {
    not_allowed(method, uri, "POST", "POST")
}

pub async fn not_allowed_get(method: Method, uri: Uri) -> Response {
    not_allowed(method, uri, "GET, HEAD", "GET or HEAD")
}

fn not_allowed(method: Method, uri: Uri, allow: &'static str, allowed: &str) -> Response {
    let mut response = rejection(Rejection::method_not_allowed(
        method.as_str(),
        uri.path(),
        allowed,
    ));
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    response
}

pub async fn not_found(uri: Uri) -> Response {
    rejection(Rejection::not_found(uri.path()))
}
