//! Rows a finished login leaves behind (account, grant, code), written
//! straight to the store so the token endpoint can be tested on its own.

use mastodon_oidc::config::ClientConfig;
use mastodon_oidc::crypto::sha256_b64url;
use mastodon_oidc::oidc::claims::subject;
use mastodon_oidc::store::accounts::AccountRow;
use mastodon_oidc::store::codes::CodeRow;
use mastodon_oidc::store::grants::GrantRow;
use mastodon_oidc::store::{self, Store};
use mastodon_oidc::upstream::Identity;

use crate::support::T0;

pub const SECRET: &str = "rp-secret-rp-secret-rp-secret-rp-secret";
pub const REDIRECT: &str = "https://rp.example/cb";
/// RFC 7636 Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub fn client(id: &str) -> ClientConfig {
    toml::from_str(&format!(
        r#"id = "{id}"
name = "RP {id}"
redirect_uris = ["{REDIRECT}", "https://rp.example/other"]
post_logout_redirect_uris = ["https://rp.example/bye"]
secret = "{SECRET}"
"#
    ))
    .expect("client config")
}

pub fn alice() -> Identity {
    Identity {
        server_host: "social.test".into(),
        account_id: "109000000000000001".into(),
        username: "alice".into(),
        handle: "alice@social.test".into(),
        actor_uri: Some("http://social.test/users/alice".into()),
        display_name: Some("Alice".into()),
        avatar: None,
        profile_url: Some("http://social.test/@alice".into()),
        locale: None,
        bot: false,
        locked: false,
        created_at: None,
        role: None,
    }
}

/// A code as `/callback` would issue it; returns (code, grant id, sub).
pub fn code(
    st: &Store,
    client_id: &str,
    scope: &str,
    nonce: Option<&str>,
) -> (String, String, String) {
    let id = alice();
    let sub = subject(&id.server_host, &id.account_id);
    let code = mastodon_oidc::crypto::random_token(32);
    let grant = mastodon_oidc::crypto::random_token(16);
    let (c2, g2, s2) = (code.clone(), grant.clone(), sub.clone());
    let (client_id, scope, nonce) = (
        client_id.to_string(),
        scope.to_string(),
        nonce.map(str::to_string),
    );
    st.write_blocking(move |c| {
        store::accounts::upsert(
            c,
            &AccountRow {
                sub: s2.clone(),
                server_host: id.server_host.clone(),
                account_id: id.account_id.clone(),
                handle: id.handle.clone(),
                profile: store::to_json(&id),
                upstream_token: None,
                created_at: T0,
                updated_at: T0,
            },
        )?;
        store::grants::insert(
            c,
            &GrantRow {
                id: g2.clone(),
                client_id: client_id.clone(),
                sub: s2.clone(),
                scope: scope.clone(),
                auth_time: T0 - 10,
                session_id: None,
                created_at: T0,
                expires_at: T0 + 86_400 * 30,
                revoked_at: None,
                claims: None,
            },
        )?;
        store::codes::insert(
            c,
            &CodeRow {
                hash: sha256_b64url(c2.as_bytes()),
                grant_id: g2,
                client_id,
                redirect_uri: REDIRECT.into(),
                code_challenge: Some(CHALLENGE.into()),
                nonce,
                scope,
                claims: None,
                auth_time: T0 - 10,
                created_at: T0,
                expires_at: T0 + 60,
                redeemed_at: None,
            },
        )
    })
    .expect("seed");
    (code, grant, sub)
}

/// An authorization request as a relying party sends it (PKCE, state `st-1`, nonce `n-1`).
pub fn authorize_url(
    app: &crate::support::TestApp,
    client: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut u = url::Url::parse(&app.url("/authorize")).unwrap();
    u.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    u.query_pairs_mut().extend_pairs(extra.iter().copied());
    u.to_string()
}

/// Redeem a code at `base`/token as client `rp` (client_secret_post); the JSON answer.
pub async fn redeem_at(base: &str, code: &str) -> serde_json::Value {
    token_request(base, code).await.json().await.unwrap()
}

/// The token request for `code` as client `rp`, the response as it came.
pub async fn token_request(base: &str, code: &str) -> reqwest::Response {
    crate::support::http()
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", "rp"),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap()
}

pub async fn redeem(app: &crate::support::TestApp, code: &str) -> serde_json::Value {
    redeem_at(&app.issuer, code).await
}
