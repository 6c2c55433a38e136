//! Pages and small endpoints for people and operators. Pages are
//! server-rendered and work without JavaScript.

pub mod demo;
pub mod health;
pub mod home;
pub mod login;
pub mod observe;
pub mod pages;
pub mod prefix;
pub mod signup;
pub mod throttle;

use actix_web::HttpResponse;

/// Headers every page carries: no framing, no inline script or style, no caching.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self' https: http:; frame-ancestors 'none'; base-uri 'none'";

/// `Strict-Transport-Security` on every response of an https issuer (RFC
/// 6797): two years. No `includeSubDomains`: the service owns its own host,
/// not the names below it, where the operator may run other things (an
/// issuer at the apex would pin all of them); a proxy can add it.
pub const HSTS: &str = "max-age=63072000";

/// Tell the client when to come back (RFC 9110 §10.2.3).
pub fn retry_after(res: &mut HttpResponse, secs: u64) {
    res.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from(secs),
    );
}

/// An HTML page with the strict headers, or a plain 500 if rendering failed.
pub fn html(rendered: Result<String, askama::Error>) -> HttpResponse {
    match rendered {
        Ok(body) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header(("Content-Security-Policy", CSP))
            .insert_header(("X-Frame-Options", "DENY"))
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .insert_header(("Referrer-Policy", "no-referrer"))
            .insert_header(("Cache-Control", "no-store"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
