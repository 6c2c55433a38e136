//! The happy code flow and its variants from the Basic OP plan: client
//! authentication by Basic and by POST, the ID token's signature, no nonce,
//! the profile scope, scope order, a missing response_type, and PKCE.

use openidconnect::core::{
    CoreErrorResponseType, CoreGenderClaim, CoreIdToken, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AuthType, AuthorizationCode, EmptyAdditionalClaims, OAuth2TokenResponse, PkceCodeVerifier,
    RequestTokenError, Scope, TokenResponse, UserInfoClaims,
};

use super::suite::{Suite, basic_flow, header};
use crate::backend_tests;
use crate::fake_mastodon::ALICE_ID;
use crate::login::seed::{self, REDIRECT, SECRET};
use crate::support::browser::{Browser, query};
use crate::support::{TestDb, rp};

backend_tests! {
    oidcc_server => server,
    oidcc_server_client_secret_post => client_secret_post,
    oidcc_response_type_missing => response_type_missing,
    oidcc_idtoken_signature => idtoken_signature,
    oidcc_ensure_request_without_nonce_succeeds_for_code_flow => without_nonce,
    oidcc_scope_profile => scope_profile,
    oidcc_ensure_other_scope_order_succeeds => other_scope_order,
    oidcc_ensure_request_with_valid_pkce_succeeds => valid_pkce,
}

async fn server(db: TestDb) {
    let mut s = Suite::start(&db).await;
    let rp = s.rp();
    let (claims, _) = basic_flow(&mut s, &rp, |r| r).await;
    assert_eq!(
        claims.subject().as_str(),
        mastodon_oidc::oidc::claims::subject("social.test", ALICE_ID)
    );
    assert_eq!(claims.auth_time().unwrap().timestamp(), crate::support::T0);
    // scope=openid alone: no profile claims.
    assert!(claims.preferred_username().is_none() && claims.name().is_none());
}

async fn client_secret_post(db: TestDb) {
    let mut s = Suite::start(&db).await;
    let rp = s.rp().set_auth_type(AuthType::RequestBody);
    basic_flow(&mut s, &rp, |r| r).await;
}

async fn response_type_missing(db: TestDb) {
    let mut s = Suite::start(&db).await;
    let rp = s.rp();
    let started = Suite::request(&rp, |r| r).without("response_type");
    let res = s.b.get(&started.url).await;
    let loc = s.redirect_back(&res, &started);
    let error = query(&loc, "error").unwrap();
    assert!(
        ["invalid_request", "unsupported_response_type"].contains(&error.as_str()),
        "{error}"
    );
    assert!(query(&loc, "code").is_none());
    let description = query(&loc, "error_description").unwrap_or_default();
    assert!(!description.contains(['\r', '\n', '\t']), "{description:?}");
}

async fn idtoken_signature(db: TestDb) {
    let mut s = Suite::start(&db).await;
    let rp = s.rp();
    let (_, res) = basic_flow(&mut s, &rp, |r| r).await;
    let token = res.id_token().unwrap();
    assert_eq!(
        token.signing_alg().unwrap(),
        &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        "RS256 by default"
    );
    assert_eq!(header(&token.to_string())["alg"], "RS256");
    // One changed character of the signature and the library refuses it
    // (the first: every one of its bits counts, unlike the last one's).
    let jwt = token.to_string();
    let at_sig = jwt.rfind('.').unwrap() + 1;
    let first = if jwt[at_sig..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    let forged = format!("{}{first}{}", &jwt[..at_sig], &jwt[at_sig + 1..]);
    let forged: CoreIdToken = forged.parse().unwrap();
    let at = chrono::DateTime::from_timestamp(crate::support::T0, 0).unwrap();
    let verifier = rp.id_token_verifier().set_time_fn(move || at);
    assert!(
        forged
            .claims(&verifier, |_: Option<&openidconnect::Nonce>| Ok(()))
            .is_err()
    );
}

async fn without_nonce(db: TestDb) {
    let mut s = Suite::start(&db).await;
    let rp = s.rp();
    let started = Suite::request(&rp, |r| r).without("nonce");
    assert!(!started.url.contains("nonce="));
    let loc = s.log_in(&started).await;
    let res = s.exchange(&rp, &loc, started).await;
    // `verify` with no nonce insists that the ID token carries none.
    s.verify(&rp, &res, None);
}

async fn scope_profile(db: TestDb) {
    let mut s = Suite::start(&db).await;
    let rp = s.rp();
    let (claims, res) =
        basic_flow(&mut s, &rp, |r| r.add_scope(Scope::new("profile".into()))).await;
    assert_eq!(
        claims.preferred_username().unwrap().as_str(),
        "alice@social.test"
    );
    assert_eq!(
        claims.nickname().unwrap().get(None).unwrap().as_str(),
        "alice"
    );
    assert!(claims.name().is_some() && claims.profile().is_some());
    // UserInfo through the library: the same subject and the same claims.
    let info: UserInfoClaims<EmptyAdditionalClaims, CoreGenderClaim> = rp
        .user_info(res.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&rp::http_client)
        .await
        .expect("userinfo");
    assert_eq!(info.preferred_username(), claims.preferred_username());
    assert_eq!(
        info.name().unwrap().get(None),
        claims.name().unwrap().get(None)
    );
}

async fn other_scope_order(db: TestDb) {
    let mut s = Suite::start(&db).await;
    let rp = s.rp();
    let mut started = Suite::request(&rp, |r| r.add_scope(Scope::new("profile".into())));
    // openid last, and every parameter in the reverse order.
    let mut u = url::Url::parse(&started.url).unwrap();
    let mut pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    pairs.reverse();
    assert_eq!(pairs.last().unwrap().0, "response_type", "{pairs:?}");
    for (k, v) in &mut pairs {
        if k == "scope" {
            *v = "profile openid".into();
        }
    }
    u.query_pairs_mut().clear().extend_pairs(pairs);
    started.url = u.to_string();
    let nonce = started.nonce.clone();
    let loc = s.log_in(&started).await;
    let res = s.exchange(&rp, &loc, started).await;
    let claims = s.verify(&rp, &res, Some(&nonce));
    assert!(claims.preferred_username().is_some(), "profile granted");
}

async fn valid_pkce(db: TestDb) {
    // A legacy client may leave PKCE out; when it sends it, it is enforced.
    let mut legacy = seed::client("legacy");
    legacy.require_pkce = false;
    let mut s = Suite::with_clients(&db, vec![legacy]).await;
    let rp = s.rp_as("legacy", Some(SECRET), REDIRECT);
    basic_flow(&mut s, &rp, |r| r).await;
    s.b = Browser::default();
    let started = Suite::request(&rp, |r| r);
    let loc = s.log_in(&started).await;
    let wrong = rp
        .exchange_code(AuthorizationCode::new(query(&loc, "code").unwrap()))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new("x".repeat(43)))
        .request_async(&rp::http_client)
        .await;
    match wrong {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(e.error(), &CoreErrorResponseType::InvalidGrant)
        }
        other => panic!("a wrong verifier: {other:?}"),
    }
}
