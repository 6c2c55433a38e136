//! An issuer with a path (`https://example.org/login`): the routes answer
//! below that path and at `/` (behind a proxy that strips it), and our own
//! root-relative links, redirects and cookie paths get the prefix, so a
//! browser stays below the issuer either way. Without a path: untouched.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};

use crate::app::AppState;

pub async fn prefix(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    let base = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.base_path.clone())
        .unwrap_or_default();
    let mut res = next.call(req).await?;
    if base.is_empty() {
        return Ok(res.map_into_left_body());
    }
    let headers = res.headers_mut();
    if let Some(to) = headers.get(header::LOCATION).and_then(|v| v.to_str().ok())
        && let Some(v) = prefixed(to, &base)
        && let Ok(v) = HeaderValue::from_str(&v)
    {
        headers.insert(header::LOCATION, v);
    }
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .map(|v| {
            v.to_str()
                .ok()
                .map(|c| cookie_path(c, &base))
                .and_then(|c| HeaderValue::from_str(&c).ok())
                .unwrap_or_else(|| v.clone())
        })
        .collect();
    headers.remove(header::SET_COOKIE);
    for c in cookies {
        headers.append(header::SET_COOKIE, c);
    }
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if !html {
        return Ok(res.map_into_left_body());
    }
    let (req, res) = res.into_parts();
    let (res, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|_| actix_web::error::ErrorInternalServerError("page body"))?;
    let page = rewrite_links(&String::from_utf8_lossy(&bytes), &base);
    Ok(ServiceResponse::new(req, res.set_body(BoxBody::new(page))).map_into_right_body())
}

/// `/x` → `{base}/x`; absolute and protocol-relative URLs stay.
fn prefixed(url: &str, base: &str) -> Option<String> {
    (url.starts_with('/') && !url.starts_with("//")).then(|| format!("{base}{url}"))
}

/// Root-relative `href`, `src`, `action` and `formaction` values of our
/// templates. Attribute values people control are escaped (`"` → `&#34;`),
/// so only template markup matches.
fn rewrite_links(page: &str, base: &str) -> String {
    let mut out = page.to_string();
    // `action="/` also covers `formaction="/`.
    for attr in ["href", "src", "action"] {
        let needle = format!("{attr}=\"/");
        let mut rewritten = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(&needle) {
            // Just past `="/`.
            let end = i + needle.len();
            rewritten.push_str(&rest[..end - 1]);
            // Protocol-relative (`//host/…`) is not ours.
            if !rest[end..].starts_with('/') {
                rewritten.push_str(base);
            }
            rewritten.push('/');
            rest = &rest[end..];
        }
        rewritten.push_str(rest);
        out = rewritten;
    }
    out
}

/// `Path=/demo` → `Path={base}/demo`; `Path=/` covers the prefix already
/// (and `__Host-` cookies require it).
fn cookie_path(cookie: &str, base: &str) -> String {
    cookie
        .split("; ")
        .map(|part| match part.strip_prefix("Path=") {
            Some(p) if p != "/" => format!("Path={}", prefixed(p, base).unwrap_or(p.into())),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_relative_links_get_the_prefix() {
        let page = r#"<link href="/static/site.css"><form action="/login"><button formaction="/signup"></button></form><a href="https://rp.example/cb">x</a><a href="//cdn.example/x">y</a>"#;
        assert_eq!(
            rewrite_links(page, "/oidc"),
            r#"<link href="/oidc/static/site.css"><form action="/oidc/login"><button formaction="/oidc/signup"></button></form><a href="https://rp.example/cb">x</a><a href="//cdn.example/x">y</a>"#
        );
        assert_eq!(
            prefixed("/signup/pending", "/oidc").as_deref(),
            Some("/oidc/signup/pending")
        );
        assert_eq!(prefixed("https://rp.example/cb?code=1", "/oidc"), None);
        assert_eq!(
            cookie_path("demo_flow=v; HttpOnly; Path=/demo; Max-Age=60", "/oidc"),
            "demo_flow=v; HttpOnly; Path=/oidc/demo; Max-Age=60"
        );
        assert_eq!(
            cookie_path("__Host-session=v; Path=/; Secure", "/oidc"),
            "__Host-session=v; Path=/; Secure"
        );
    }
}
