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

/// The relying party `rp` of `login::seed` (secret, redirect URI), with the
/// provider's JWKS fetched and its authorization and token endpoints set.
pub type RpClient = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
>;

pub async fn client(app: &super::TestApp) -> RpClient {
    use crate::login::seed::{REDIRECT, SECRET};
    use openidconnect::core::{CoreClient, CoreJsonWebKeySet};
    use openidconnect::{
        AuthUrl, ClientId, ClientSecret, IssuerUrl, JsonWebKeySetUrl, RedirectUrl, TokenUrl,
    };
    let jwks = CoreJsonWebKeySet::fetch_async(
        &JsonWebKeySetUrl::new(app.url("/jwks.json")).unwrap(),
        &http_client,
    )
    .await
    .unwrap();
    CoreClient::new(
        ClientId::new("rp".into()),
        IssuerUrl::new(app.issuer.clone()).unwrap(),
        jwks,
    )
    .set_client_secret(ClientSecret::new(SECRET.into()))
    .set_auth_uri(AuthUrl::new(app.url("/authorize")).unwrap())
    .set_token_uri(TokenUrl::new(app.url("/token")).unwrap())
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap())
}
