//! Rendering protocol answers at the HTTP boundary, in one place: JSON with
//! `Cache-Control: no-store` (RFC 6749 §5.1), OAuth errors with the right
//! status, and the Bearer / Basic challenges.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use super::error::{ErrorCode, OAuthError};

/// A JSON answer that must never be cached (tokens, userinfo, introspection).
pub fn no_store_json(value: &serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .content_type("application/json")
        .body(value.to_string())
}

/// An OAuth error as JSON (token, revocation, introspection endpoints).
/// `basic` adds the challenge RFC 6749 §5.2 requires after failed Basic auth.
pub fn oauth_error(err: &OAuthError, basic: bool) -> HttpResponse {
    let status = StatusCode::from_u16(err.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut res = HttpResponse::build(status);
    res.insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"));
    if err.code == ErrorCode::InvalidClient && basic {
        res.insert_header(("WWW-Authenticate", "Basic realm=\"mastodon-oidc\""));
    }
    res.content_type("application/json")
        .body(err.to_json().to_string())
}

/// A protected-resource error (RFC 6750 §3): 401 with a Bearer challenge.
pub fn bearer_error(err: &OAuthError) -> HttpResponse {
    let status = match err.code {
        ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNAUTHORIZED,
    };
    HttpResponse::build(status)
        .insert_header(("WWW-Authenticate", err.bearer_challenge()))
        .insert_header(("Cache-Control", "no-store"))
        .content_type("application/json")
        .body(err.to_json().to_string())
}

/// Send the browser back to a validated redirect URI with `params`: a 303
/// with the parameters added to the URI's own query (RFC 9700 §4.12: never
/// 307), or a form_post page.
pub fn to_client(
    redirect_uri: &str,
    mode: super::authorize::ResponseMode,
    params: &[(&str, String)],
) -> HttpResponse {
    match mode {
        super::authorize::ResponseMode::FormPost => {
            crate::web::pages::form_post(redirect_uri, params)
        }
        super::authorize::ResponseMode::Query => {
            let Ok(mut url) = url::Url::parse(redirect_uri) else {
                return HttpResponse::BadRequest().finish();
            };
            url.query_pairs_mut()
                .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
            HttpResponse::SeeOther()
                .insert_header(("Location", url.to_string()))
                .insert_header(("Cache-Control", "no-store"))
                .finish()
        }
    }
}

/// An error back to the client, with `state` and `iss` (RFC 9207).
pub fn error_to_client(
    redirect_uri: &str,
    mode: super::authorize::ResponseMode,
    state: Option<&str>,
    issuer: &str,
    err: &OAuthError,
) -> HttpResponse {
    let params = err.redirect_params(state, issuer);
    to_client(redirect_uri, mode, &params)
}

/// The error redirect as a link a person can follow from a page (query
/// mode), for when the page must explain first.
pub fn error_link(
    redirect_uri: &str,
    err: &OAuthError,
    state: Option<&str>,
    issuer: &str,
) -> Option<String> {
    let mut url = url::Url::parse(redirect_uri).ok()?;
    let params = err.redirect_params(state, issuer);
    url.query_pairs_mut()
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
    Some(url.to_string())
}
