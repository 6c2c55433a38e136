//! A real relying-party library (`openidconnect`) discovers the provider (its
//! metadata and JWKS) and, with only what discovery gave it, verifies ID
//! tokens the service signed: one from `/token` after a whole login, and one
//! of every algorithm.

use openidconnect::core::{
    CoreClient, CoreIdToken, CoreIdTokenVerifier, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AccessTokenHash, ClientId, ClientSecret, IssuerUrl, JsonWebKey, Nonce, RedirectUrl,
};

use mastodon_oidc::keys::Algorithm;
use mastodon_oidc::oidc::id_token::{self, IdTokenInput};

use crate::backend_tests;
use crate::fake_mastodon::{ALICE_ID, FakeConfig, FakeMastodon, Profile};
use crate::login::{mastodon, seed};
use crate::support::browser::Browser;
use crate::support::{T0, TestApp, TestDb, http, rp};

backend_tests! {
    openidconnect_verifies_service_signed_tokens => verifies_signed_tokens,
    openidconnect_verifies_an_id_token_from_a_login => verifies_token_from_login,
    openidconnect_discovers_the_provider => discovers_provider,
}

async fn discover(app: &TestApp) -> CoreProviderMetadata {
    CoreProviderMetadata::discover_async(
        IssuerUrl::new(app.issuer.clone()).unwrap(),
        &rp::http_client,
    )
    .await
    .expect("openidconnect discovery")
}

/// Log in as alice at the fake Mastodon; the relying party, built from
/// discovery alone, verifies the ID token `/token` returned.
async fn verifies_token_from_login(db: TestDb) {
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let app = mastodon::spawn(&db, &fake).await;
    let client = CoreClient::from_provider_metadata(
        discover(&app).await,
        ClientId::new("rp".into()),
        Some(ClientSecret::new(seed::SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(seed::REDIRECT.into()).unwrap());
    let tokens = mastodon::log_in(&app, &fake, &mut Browser::default(), "@alice@social.test").await;
    let raw = tokens["id_token"]
        .as_str()
        .expect("an ID token from /token");
    let id_token: CoreIdToken = raw.parse().unwrap();
    // The service's clock is fixed; verify at that time.
    let at = chrono::DateTime::from_timestamp(T0 + 5, 0).unwrap();
    let verifier = client.id_token_verifier().set_time_fn(move || at);
    let claims = id_token
        .claims(&verifier, &Nonce::new("n-1".into()))
        .expect("openidconnect verifies the ID token");
    assert_eq!(
        claims.subject().as_str(),
        mastodon_oidc::oidc::claims::subject("social.test", ALICE_ID)
    );
    assert_eq!(claims.issuer().as_str(), app.issuer);
    // Its at_hash binds the access token issued with it.
    let expected = AccessTokenHash::from_token(
        &AccessToken::new(tokens["access_token"].as_str().unwrap().into()),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
    // Another nonce: refused.
    assert!(
        id_token
            .claims(&verifier, &Nonce::new("other".into()))
            .is_err()
    );
    app.stop().await;
}

async fn discovers_provider(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    // Provider-metadata discovery checks that `issuer` equals the URL it asked, and fetches the JWKS.
    let meta = discover(&app).await;
    assert_eq!(meta.issuer().as_str(), app.issuer);
    assert_eq!(
        meta.authorization_endpoint().as_str(),
        app.url("/authorize")
    );
    assert_eq!(meta.token_endpoint().unwrap().as_str(), app.url("/token"));
    assert_eq!(
        meta.userinfo_endpoint().unwrap().as_str(),
        app.url("/userinfo")
    );
    assert!(meta.jwks().keys().len() >= 3, "one key per algorithm");
    let kids: Vec<String> = meta
        .jwks()
        .keys()
        .iter()
        .filter_map(|k| k.key_id().map(|k| k.as_str().to_string()))
        .collect();
    for kid in app.state.keys.snapshot().kids() {
        assert!(kids.contains(&kid), "{kid} published");
    }
    // Every advertised endpoint answers (none is advertised before it works).
    let doc: serde_json::Value = http()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "end_session_endpoint",
    ] {
        let url = doc[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} advertised"));
        let res = http().post(url).send().await.unwrap();
        assert_ne!(res.status(), 404, "{key} {url}");
        assert_ne!(res.status(), 405, "{key} {url}");
    }
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert!(
        doc["prompt_values_supported"]
            .as_array()
            .unwrap()
            .contains(&"create".into()),
        "sign-up is on by default"
    );
    app.stop().await;
}

const ACCESS_TOKEN: &str = "an-opaque-access-token";

fn id_token(app: &TestApp, alg: Algorithm, iss: &str, nonce: &str) -> CoreIdToken {
    let mut user = serde_json::Map::new();
    user.insert("sub".into(), "opaque-sub".into());
    let input = IdTokenInput {
        issuer: iss,
        client_id: "rp-client",
        alg,
        now: T0,
        ttl_secs: 600,
        auth_time: T0 - 5,
        nonce: Some(nonce),
        access_token: Some(ACCESS_TOKEN),
    };
    id_token::mint(&app.state.keys, &input, user)
        .expect("sign")
        .parse()
        .expect("parses as an ID token")
}

async fn verifies_signed_tokens(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    // Issuer and keys as discovery gave them to the relying party.
    let meta = discover(&app).await;
    // The token's clock is the service's fixed clock; verify at that time.
    let at = chrono::DateTime::from_timestamp(T0 + 60, 0).unwrap();
    let verifier = CoreIdTokenVerifier::new_confidential_client(
        ClientId::new("rp-client".into()),
        ClientSecret::new("unused".into()),
        meta.issuer().clone(),
        meta.jwks().clone(),
    )
    .set_allowed_algs([
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::EdDsa,
    ])
    .set_time_fn(move || at);
    let nonce = Nonce::new("n-0S6_WzA2Mj".into());
    for alg in Algorithm::ALL {
        let token = id_token(&app, alg, &app.issuer, nonce.secret());
        let claims = token
            .claims(&verifier, &nonce)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(claims.subject().as_str(), "opaque-sub");
        assert_eq!(claims.auth_time().map(|t| t.timestamp()), Some(T0 - 5));
        // at_hash as the relying-party library computes it for this algorithm.
        let expected = AccessTokenHash::from_token(
            &AccessToken::new(ACCESS_TOKEN.into()),
            token.signing_alg().unwrap(),
            token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&expected), "{alg}");
        // The same key, another issuer: refused.
        let foreign = id_token(&app, alg, "https://evil.example", nonce.secret());
        assert!(
            foreign.claims(&verifier, &nonce).is_err(),
            "{alg}: foreign iss accepted"
        );
        // A wrong nonce: refused.
        assert!(
            token
                .claims(&verifier, &Nonce::new("other".into()))
                .is_err(),
            "{alg}: wrong nonce accepted"
        );
    }
    app.stop().await;
}
