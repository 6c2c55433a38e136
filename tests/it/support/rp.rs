//! The `openidconnect` crate as a relying party: the HTTP adapter it needs
//! (the crate is built without its own reqwest, which would be a second copy).

use openidconnect::{HttpRequest, HttpResponse};

/// openidconnect's `AsyncHttpClient` for any `Fn(HttpRequest) -> Future`; no
/// redirects are followed, as an RP library must see them itself.
pub async fn http_client(req: HttpRequest) -> Result<HttpResponse, std::io::Error> {
    let io = |e: reqwest::Error| std::io::Error::other(e.to_string());
    let (parts, body) = req.into_parts();
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes())
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut rb = super::http()
        .request(method, parts.uri.to_string())
        .body(body);
    for (name, value) in &parts.headers {
        rb = rb.header(name.as_str(), value.as_bytes());
    }
    let res = rb.send().await.map_err(io)?;
    let mut out = openidconnect::http::Response::builder().status(res.status().as_u16());
    for (name, value) in res.headers() {
        out = out.header(name.as_str(), value.as_bytes());
    }
    let bytes = res.bytes().await.map_err(io)?;
    out.body(bytes.to_vec())
        .map_err(|e| std::io::Error::other(e.to_string()))
}
