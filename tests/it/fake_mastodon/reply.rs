//! Response builders shared by the handlers: JSON with Rails' content type,
//! Doorkeeper error bodies and the Mastodon API `{"error": …}` shape.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::{Value, json};

pub fn json(status: u16, body: Value) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

pub fn ok(body: Value) -> HttpResponse {
    json(200, body)
}

/// Mastodon API error: `{"error": "<message>"}`.
pub fn api_error(status: u16, message: &str) -> HttpResponse {
    json(status, json!({ "error": message }))
}

/// OAuth error body as Doorkeeper renders it.
pub fn oauth_error(status: u16, error: &str, description: &str) -> HttpResponse {
    let mut r = json(
        status,
        json!({ "error": error, "error_description": description }),
    );
    if status == 401 {
        let v = format!(
            "Bearer realm=\"Doorkeeper\", error=\"{error}\", error_description=\"{description}\""
        );
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&v) {
            r.headers_mut()
                .insert(actix_web::http::header::WWW_AUTHENTICATE, v);
        }
    }
    r
}

/// 401 for a missing/unknown/revoked bearer token on an API endpoint.
pub fn invalid_token(revoked: bool) -> HttpResponse {
    let msg = if revoked {
        "The access token was revoked"
    } else {
        "The access token is invalid"
    };
    let mut r = api_error(401, msg);
    let v = format!(
        "Bearer realm=\"Doorkeeper\", error=\"invalid_token\", error_description=\"{msg}\""
    );
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&v) {
        r.headers_mut()
            .insert(actix_web::http::header::WWW_AUTHENTICATE, v);
    }
    r
}

pub fn empty(status: u16) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK)).finish()
}

pub fn redirect(status: u16, location: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND))
        .insert_header(("Location", location))
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<html><body>You are being <a href=\"{location}\">redirected</a>.</body></html>"
        ))
}

pub fn not_found() -> HttpResponse {
    api_error(404, "Record not found")
}

pub const INVALID_GRANT: &str = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.";
pub const INVALID_CLIENT: &str = "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.";
pub const INVALID_SCOPE: &str = "The requested scope is invalid, unknown, or malformed.";
pub const UNSUPPORTED_GRANT: &str =
    "The authorization grant type is not supported by the authorization server.";
pub const OUTSIDE_SCOPES: &str = "This action is outside the authorized scopes";
pub const LOGIN_DISABLED: &str = "Your login is currently disabled";

pub fn missing_param(param: &str) -> HttpResponse {
    oauth_error(
        400,
        "invalid_request",
        &format!("Missing required parameter: {param}."),
    )
}
