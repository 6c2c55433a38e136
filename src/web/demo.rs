//! The built-in demo relying party (development mode only): a newcomer who
//! ran `cargo run` logs in with their real Mastodon account and sees the ID
//! token, its verified claims and the userinfo response. It is an ordinary
//! public client with PKCE, talking to this service over HTTP like any other.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::AppState;
use crate::crypto::{b64url, random_token, sha256};
use crate::oidc::clients::{Client, ClientSettings};
use crate::oidc::discovery::endpoint;

pub const CLIENT_ID: &str = "demo";
const COOKIE: &str = "demo_flow";
const SEAL: &str = "demo-flow";

/// The demo client, registered automatically in development mode; it gets
/// ID tokens signed with `alg` (`signing.algorithm`).
pub fn client(issuer: &str, alg: crate::keys::Algorithm) -> Client {
    Client {
        id: CLIENT_ID.into(),
        name: "Demo relying party".into(),
        redirect_uris: vec![endpoint(issuer, "/demo/callback")],
        post_logout_redirect_uris: vec![endpoint(issuer, "/")],
        secret_hash: None,
        public: true,
        scopes: vec!["openid".into(), "profile".into()],
        settings: ClientSettings {
            id_token_signed_response_alg: alg,
            ..ClientSettings::default()
        },
    }
}

#[derive(Serialize, Deserialize)]
struct Flow {
    state: String,
    nonce: String,
    verifier: String,
}

#[derive(Template, Default)]
#[template(path = "demo.html")]
struct Result {
    title: String,
    error: Option<String>,
    name: Option<String>,
    claims: String,
    header: String,
    userinfo: String,
    raw: String,
}

pub async fn start(state: web::Data<AppState>) -> HttpResponse {
    if !state.config.is_development() {
        return HttpResponse::NotFound().finish();
    }
    let flow = Flow {
        state: random_token(16),
        nonce: random_token(16),
        verifier: random_token(32),
    };
    let challenge = b64url(&sha256(flow.verifier.as_bytes()));
    let redirect_uri = state.url("/demo/callback");
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect_uri.as_str()),
        ("scope", "openid profile"),
        ("state", flow.state.as_str()),
        ("nonce", flow.nonce.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap_or_default();
    let sealed = state
        .sealer
        .seal(SEAL, &serde_json::to_vec(&flow).unwrap_or_default());
    let cookie = Cookie::build(COOKIE, b64url(&sealed))
        .path("/demo")
        .http_only(true)
        .secure(state.issuer.starts_with("https://"))
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::minutes(30))
        .finish();
    HttpResponse::SeeOther()
        .insert_header(("Location", format!("{}?{query}", state.url("/authorize"))))
        .cookie(cookie)
        .finish()
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    if !state.config.is_development() {
        return HttpResponse::NotFound().finish();
    }
    let title = state.config.upstream.client_name.clone();
    let page = match finish(&req, &state, &query).await {
        Ok(mut page) => {
            page.title = title;
            page
        }
        Err(message) => Result {
            title,
            error: Some(message),
            ..Default::default()
        },
    };
    let mut res = super::html(page.render());
    let mut gone = Cookie::build(COOKIE, "").path("/demo").finish();
    gone.make_removal();
    let _ = res.add_removal_cookie(&gone);
    res
}

async fn finish(
    req: &HttpRequest,
    state: &AppState,
    q: &CallbackQuery,
) -> std::result::Result<Result, String> {
    let flow: Flow = req
        .cookie(COOKIE)
        .and_then(|c| crate::crypto::decode_base64(c.value()))
        .and_then(|b| state.sealer.open(SEAL, &b).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("This demo login has expired or was started in another browser. Start again.")?;
    if q.state.as_deref() != Some(flow.state.as_str()) {
        return Err("The state does not match the login this browser started.".into());
    }
    if let Some(error) = &q.error {
        return Err(format!(
            "The provider answered {error}: {}",
            q.error_description.as_deref().unwrap_or("no description")
        ));
    }
    let code = q.code.as_deref().ok_or("No code in the answer.")?;
    let http = reqwest::Client::new();
    let redirect_uri = state.url("/demo/callback");
    let token: Value = http
        .post(state.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri.as_str()),
            ("client_id", CLIENT_ID),
            ("code_verifier", flow.verifier.as_str()),
        ])
        .send()
        .await
        .map_err(|e| format!("token request failed: {e}"))?
        .json()
        .await
        .map_err(|e| format!("token response is not JSON: {e}"))?;
    if let Some(err) = token.get("error") {
        return Err(format!("the token endpoint refused the code: {err}"));
    }
    let raw = token["id_token"].as_str().ok_or("no id_token")?.to_string();
    let claims = verify(state, &raw, &flow.nonce)?;
    let access = token["access_token"].as_str().ok_or("no access_token")?;
    let userinfo: Value = http
        .get(state.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .map_err(|e| format!("userinfo request failed: {e}"))?
        .json()
        .await
        .map_err(|e| format!("userinfo is not JSON: {e}"))?;
    let header = jsonwebtoken::decode_header(&raw).map_err(|e| e.to_string())?;
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    Ok(Result {
        name: claims["name"]
            .as_str()
            .or(claims["preferred_username"].as_str())
            .map(String::from),
        claims: pretty(&claims),
        header: pretty(&serde_json::to_value(&header).unwrap_or_default()),
        userinfo: pretty(&userinfo),
        raw,
        ..Default::default()
    })
}

/// Verify like a careful relying party: signature by a published key, the
/// algorithm pinned to the key's, issuer, audience, expiry, nonce.
fn verify(state: &AppState, raw: &str, nonce: &str) -> std::result::Result<Value, String> {
    let header = jsonwebtoken::decode_header(raw).map_err(|e| format!("bad ID token: {e}"))?;
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_slice(&state.keys.snapshot().jwks_json).map_err(|e| e.to_string())?;
    let kid = header.kid.as_deref().ok_or("ID token without kid")?;
    let jwk = jwks
        .find(kid)
        .ok_or("ID token signed by an unpublished key")?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[CLIENT_ID]);
    v.set_issuer(&[&state.issuer]);
    let data = jsonwebtoken::decode::<Value>(raw, &key, &v)
        .map_err(|e| format!("ID token rejected: {e}"))?;
    if data.claims["nonce"].as_str() != Some(nonce) {
        return Err("ID token nonce does not match".into());
    }
    Ok(data.claims)
}
