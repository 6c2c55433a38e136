//! `/jwks.json` and the discovery documents, served from bytes prepared in
//! advance (JWKS: when keys change; discovery: at start-up), with caching
//! headers and conditional requests.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::app::AppState;

/// Relying parties re-fetch at most this often; configuration requires
/// `signing.publish_before_use_secs` to cover it.
pub const JWKS_MAX_AGE: u32 = 300;
const DISCOVERY_MAX_AGE: u32 = 3600;

pub async fn jwks(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let snap = state.keys.snapshot();
    cached_json(&req, snap.jwks_json.clone(), &snap.etag, JWKS_MAX_AGE)
}

pub async fn discovery(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    cached_json(
        &req,
        state.discovery.json.clone(),
        &state.discovery.etag,
        DISCOVERY_MAX_AGE,
    )
}

fn cached_json(req: &HttpRequest, body: bytes::Bytes, etag: &str, max_age: u32) -> HttpResponse {
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = if not_modified {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok()
            .content_type("application/json")
            .body(body)
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    // Metadata and keys are public: browsers' relying parties may read them (RFC 9700 §2.6).
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}
