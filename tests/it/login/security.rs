//! The security checklist (section 2b) at the token and userinfo endpoints,
//! with `openidconnect` as the relying party: PKCE downgrade, public clients
//! with `none` and PKCE, refresh tokens only after a decision, no bearer
//! tokens in the query, ES256 and EdDSA clients verified through the JWKS,
//! and a native app's loopback redirect URI on any port (RFC 8252 §7.3).

use openidconnect::core::{CoreErrorResponseType, CoreJwsSigningAlgorithm, CoreTokenResponse};
use openidconnect::{
    AuthorizationCode, OAuth2TokenResponse, PkceCodeVerifier, Scope, TokenResponse,
};

use mastodon_oidc::keys::Algorithm;

use super::conformance::suite::{Rp, Started, Suite, basic_flow, header};
use super::seed::{self, REDIRECT, SECRET};
use crate::backend_tests;
use crate::support::browser::{Browser, query};
use crate::support::receiver::Receiver;
use crate::support::{TestDb, http, rp};

backend_tests! {
    pkce_downgrade_verifier_without_challenge_refused => pkce_downgrade,
    public_client_none_auth_needs_pkce => public_client,
    refresh_tokens_only_with_offline_access_or_client_setting => refresh_policy,
    bearer_token_in_the_query_refused => token_in_query,
    es256_and_eddsa_clients_verified_through_jwks => other_algorithms,
    native_app_loopback_redirect_any_port => loopback_redirect,
}

/// The request without PKCE (what a legacy client sends).
fn without_pkce(started: Started) -> Started {
    let mut s = started
        .without("code_challenge")
        .without("code_challenge_method");
    s.verifier = None;
    s
}

/// The error code of a refused token request.
async fn refused(rp: &Rp, code: String, verifier: Option<&str>) -> CoreErrorResponseType {
    let mut req = rp.exchange_code(AuthorizationCode::new(code)).unwrap();
    if let Some(v) = verifier {
        req = req.set_pkce_verifier(PkceCodeVerifier::new(v.into()));
    }
    match req.request_async(&rp::http_client).await {
        Err(openidconnect::RequestTokenError::ServerResponse(e)) => e.error().clone(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn legacy() -> mastodon_oidc::config::ClientConfig {
    let mut c = seed::client("legacy");
    c.require_pkce = false;
    c
}

async fn pkce_downgrade(db: TestDb) {
    let mut s = Suite::with_clients(&db, vec![legacy()]).await;
    let rp = s.rp_as("legacy", Some(SECRET), REDIRECT);
    let started = without_pkce(Suite::request(&rp, |r| r));
    assert!(!started.url.contains("code_challenge"));
    let loc = s.log_in(&started).await;
    // A verifier for a code that had no challenge (RFC 9700 §4.8.2).
    let code = query(&loc, "code").unwrap();
    let verifier = "v".repeat(43);
    assert_eq!(
        refused(&rp, code, Some(&verifier)).await,
        CoreErrorResponseType::InvalidGrant
    );
    // Without PKCE at all, this legacy client (nonce sent) still logs in.
    s.b = Browser::default();
    let started = without_pkce(Suite::request(&rp, |r| r));
    let loc = s.log_in(&started).await;
    let nonce = started.nonce.clone();
    let res = s.exchange(&rp, &loc, started).await;
    s.verify(&rp, &res, Some(&nonce));
}

async fn public_client(db: TestDb) {
    let mut spa = seed::client("spa");
    spa.public = true;
    spa.secret = None;
    let mut s = Suite::with_clients(&db, vec![spa]).await;
    let rp = s.rp_as("spa", None, REDIRECT);
    // client_id in the body, no secret, PKCE: tokens.
    basic_flow(&mut s, &rp, |r| r).await;
    // No verifier at the token endpoint: refused.
    s.b = Browser::default();
    let started = Suite::request(&rp, |r| r);
    let loc = s.log_in(&started).await;
    assert_eq!(
        refused(&rp, query(&loc, "code").unwrap(), None).await,
        CoreErrorResponseType::InvalidGrant
    );
    // And no challenge at all is refused before anyone logs in.
    let started = without_pkce(Suite::request(&rp, |r| r));
    let res = s.b.get(&started.url).await;
    let loc = s.redirect_back(&res, &started);
    assert_eq!(query(&loc, "error").as_deref(), Some("invalid_request"));
    // A public client cannot pretend to authenticate.
    let res = http()
        .post(s.app.url("/token"))
        .basic_auth("spa", Some("guess"))
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

async fn tokens_for(s: &mut Suite, rp: &Rp, scope: Option<&str>) -> CoreTokenResponse {
    s.b = Browser::default();
    let (_, res) = basic_flow(s, rp, |r| match scope {
        Some(sc) => r.add_scope(Scope::new(sc.into())),
        None => r,
    })
    .await;
    res
}

async fn refresh_policy(db: TestDb) {
    let mut always = seed::client("always");
    always.refresh_tokens = true;
    let mut s = Suite::with_clients(&db, vec![seed::client("rp"), always]).await;
    let rp = s.rp();
    assert!(
        tokens_for(&mut s, &rp, None)
            .await
            .refresh_token()
            .is_none()
    );
    let offline = tokens_for(&mut s, &rp, Some("offline_access")).await;
    assert!(
        offline.refresh_token().is_some(),
        "offline_access asks for one"
    );
    let always = s.rp_as("always", Some(SECRET), REDIRECT);
    assert!(
        tokens_for(&mut s, &always, None)
            .await
            .refresh_token()
            .is_some(),
        "the client setting decides"
    );
}

async fn token_in_query(db: TestDb) {
    let mut s = Suite::start(&db).await;
    let rp = s.rp();
    let (_, res) = basic_flow(&mut s, &rp, |r| r).await;
    let at = res.access_token().secret();
    let url = format!("{}?access_token={at}", s.app.url("/userinfo"));
    for req in [http().get(&url), http().post(&url)] {
        let res = req.send().await.unwrap();
        assert_eq!(
            res.status(),
            401,
            "OAuth 2.1: no bearer tokens in the query"
        );
        assert!(res.headers().contains_key("www-authenticate"));
    }
    // The same token in the header works.
    let ok = http()
        .get(s.app.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

async fn other_algorithms(db: TestDb) {
    let client = |id: &str, alg: Algorithm| {
        let mut c = seed::client(id);
        c.id_token_signed_response_alg = Some(alg);
        c
    };
    let mut s = Suite::with_clients(
        &db,
        vec![
            client("es", Algorithm::ES256),
            client("ed", Algorithm::EdDSA),
        ],
    )
    .await;
    for (id, alg, name) in [
        ("es", CoreJwsSigningAlgorithm::EcdsaP256Sha256, "ES256"),
        ("ed", CoreJwsSigningAlgorithm::EdDsa, "EdDSA"),
    ] {
        s.b = Browser::default();
        let rp = s.rp_as(id, Some(SECRET), REDIRECT);
        // `verify` checks the signature with the discovered JWKS and the kid.
        let (_, res) = basic_flow(&mut s, &rp, |r| r).await;
        let token = res.id_token().unwrap();
        assert_eq!(token.signing_alg().unwrap(), &alg, "{id}");
        assert_eq!(header(&token.to_string())["alg"], name);
    }
}

async fn loopback_redirect(db: TestDb) {
    // Registered without a port; the app listens wherever the OS let it.
    let receiver = Receiver::start("/cb").await;
    assert!(receiver.url.starts_with("http://127.0.0.1:"));
    let mut native = seed::client("native");
    native.public = true;
    native.secret = None;
    native.redirect_uris = vec!["http://127.0.0.1/cb".into()];
    let mut s = Suite::with_clients(&db, vec![native]).await;
    let rp = s.rp_as("native", None, &receiver.url);
    let started = Suite::request(&rp, |r| r);
    let page = s.b.get(&started.url).await;
    let up = s
        .app
        .submit_handle(
            &mut s.b,
            &page.input("request"),
            super::conformance::suite::HANDLE,
        )
        .await;
    let back = s.through_mastodon(&up).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let loc = back.location();
    assert!(
        loc.as_str().starts_with(&format!("{}?", receiver.url)),
        "{loc}"
    );
    s.b.get(loc.as_str()).await;
    let got = receiver.received().await;
    let at_app = url::Url::parse(&format!("http://127.0.0.1{}", got.target)).unwrap();
    assert_eq!(at_app.path(), "/cb");
    assert_eq!(
        query(&at_app, "state").as_deref(),
        Some(started.state.secret().as_str())
    );
    let nonce = started.nonce.clone();
    let res = s
        .redeem(&rp, query(&at_app, "code").unwrap(), started)
        .await;
    s.verify(&rp, &res, Some(&nonce));
    // localhost is a name, not a loopback address: exact match only.
    let mut u = url::Url::parse(&Suite::request(&rp, |r| r).url).unwrap();
    let other: Vec<(String, String)> = u
        .query_pairs()
        .into_owned()
        .map(|(k, v)| match k.as_str() {
            "redirect_uri" => (k, v.replace("127.0.0.1", "localhost")),
            _ => (k, v),
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(other);
    let res = s.b.get(u.as_str()).await;
    assert_eq!(res.status, 400, "an error page, never a redirect");
}
