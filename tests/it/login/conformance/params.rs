//! Optional authorization parameters: accepted without error (`display`,
//! locales, `acr_values`, unknown ones), honoured (`claims`), or refused the
//! way the suite allows (`request`, `request_uri`).

use openidconnect::core::{CoreAuthDisplay, CoreGenderClaim};
use openidconnect::{
    AccessToken, AuthenticationContextClass, EmptyAdditionalClaims, LanguageTag,
    OAuth2TokenResponse, Scope, UserInfoClaims,
};

use super::suite::{HANDLE, Request, Rp, Suite, basic_flow};
use crate::backend_tests;
use crate::support::browser::{Browser, query};
use crate::support::{TestDb, rp};

backend_tests! {
    oidcc_display_page => display_page,
    oidcc_display_popup => display_popup,
    oidcc_ensure_request_with_unknown_parameter_succeeds => unknown_parameter,
    oidcc_ui_locales => ui_locales,
    oidcc_claims_locales => claims_locales,
    oidcc_ensure_request_with_acr_values_succeeds => acr_values,
    oidcc_claims_essential => claims_essential,
    oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported =>
        request_object_rejected,
    oidcc_ensure_request_object_with_redirect_uri => request_object_with_redirect_uri,
    oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported =>
        request_uri_rejected,
}

/// The basic flow with one more parameter must still succeed.
async fn succeeds_with<F>(db: TestDb, tweak: F)
where
    F: for<'a> FnOnce(Request<'a>) -> Request<'a>,
{
    let mut s = Suite::start(&db).await;
    let rp = s.rp();
    basic_flow(&mut s, &rp, tweak).await;
}

async fn display_page(db: TestDb) {
    succeeds_with(db, |r| r.set_display(CoreAuthDisplay::Page)).await
}

async fn display_popup(db: TestDb) {
    succeeds_with(db, |r| r.set_display(CoreAuthDisplay::Popup)).await
}

async fn unknown_parameter(db: TestDb) {
    succeeds_with(db, |r| r.add_extra_param("extra", "foobar")).await
}

async fn claims_locales(db: TestDb) {
    succeeds_with(db, |r| r.add_claims_locale(LanguageTag::new("de".into()))).await
}

async fn acr_values(db: TestDb) {
    succeeds_with(db, |r| {
        r.add_auth_context_value(AuthenticationContextClass::new("1 2".into()))
    })
    .await
}

async fn ui_locales(db: TestDb) {
    let mut s = Suite::start(&db).await;
    let rp = s.rp();
    let started = Suite::request(&rp, |r| {
        r.add_ui_locale(LanguageTag::new("de".into()))
            .add_ui_locale(LanguageTag::new("fr".into()))
    });
    let page = s.b.get(&started.url).await;
    assert!(page.body.contains("<html lang=\"de\""), "{}", page.body);
    let up = s
        .app
        .submit_handle(&mut s.b, &page.input("request"), HANDLE)
        .await;
    // Mastodon shows its pages in the first language asked for.
    assert_eq!(query(&up.location(), "lang").as_deref(), Some("de"));
    let back = s.through_mastodon(&up).await;
    let loc = s.redirect_back(&back, &started);
    let nonce = started.nonce.clone();
    let res = s.exchange(&rp, &loc, started).await;
    s.verify(&rp, &res, Some(&nonce));
}

async fn userinfo(
    rp: &Rp,
    token: &AccessToken,
) -> UserInfoClaims<EmptyAdditionalClaims, CoreGenderClaim> {
    rp.user_info(token.clone(), None)
        .unwrap()
        .request_async(&rp::http_client)
        .await
        .expect("userinfo")
}

async fn claims_essential(db: TestDb) {
    let mut s = Suite::start(&db).await;
    let rp = s.rp();
    // Asked for the ID token, with scope=openid (and offline_access, to refresh).
    let (claims, res) = basic_flow(&mut s, &rp, |r| {
        r.add_scope(Scope::new("offline_access".into()))
            .add_extra_param("claims", r#"{"id_token":{"name":{"essential":true}}}"#)
    })
    .await;
    assert!(claims.name().is_some(), "name in the ID token");
    assert!(claims.nickname().is_none(), "only what was asked");
    assert!(
        userinfo(&rp, res.access_token()).await.name().is_none(),
        "the ID token's request is not userinfo's"
    );
    // Every refreshed ID token answers the same request.
    let refreshed = rp
        .exchange_refresh_token(res.refresh_token().expect("a refresh token"))
        .unwrap()
        .request_async(&rp::http_client)
        .await
        .expect("refresh");
    assert!(s.verify(&rp, &refreshed, None).name().is_some());
    // Asked for userinfo: there, and not in the ID token.
    s.b = Browser::default();
    let (claims, res) = basic_flow(&mut s, &rp, |r| {
        r.add_extra_param("claims", r#"{"userinfo":{"name":{"essential":true}}}"#)
    })
    .await;
    assert!(claims.name().is_none());
    let info = userinfo(&rp, res.access_token()).await;
    assert!(
        info.name().and_then(|n| n.get(None)).is_some(),
        "name at userinfo"
    );
    assert!(info.preferred_username().is_none());
}

/// An unsigned request object (`alg: none`) with these claims.
fn request_object(claims: serde_json::Value) -> String {
    let b64 = |v: serde_json::Value| mastodon_oidc::crypto::b64url(v.to_string().as_bytes());
    format!(
        "{}.{}.",
        b64(serde_json::json!({"alg": "none"})),
        b64(claims)
    )
}

/// The request is refused with `error`, back at the redirect URI of the
/// query (with state and iss), and nobody is asked to log in.
async fn refused_with(db: TestDb, name: &'static str, value: String, error: &str) {
    let mut s = Suite::start(&db).await;
    let rp = s.rp();
    let started = Suite::request(&rp, |r| r.add_extra_param(name, value));
    let res = s.b.get(&started.url).await;
    let loc = s.redirect_back(&res, &started);
    assert_eq!(query(&loc, "error").as_deref(), Some(error));
    assert!(query(&loc, "code").is_none());
}

async fn request_object_rejected(db: TestDb) {
    let object = request_object(serde_json::json!({
        "response_type": "code", "client_id": "rp", "scope": "openid",
    }));
    refused_with(db, "request", object, "request_not_supported").await
}

async fn request_object_with_redirect_uri(db: TestDb) {
    // The object names another registered URI; unread, it cannot redirect there.
    let object = request_object(serde_json::json!({
        "response_type": "code", "client_id": "rp", "scope": "openid",
        "redirect_uri": "https://rp.example/other",
    }));
    refused_with(db, "request", object, "request_not_supported").await
}

async fn request_uri_rejected(db: TestDb) {
    let uri = "https://rp.example/request.jwt".to_string();
    refused_with(db, "request_uri", uri, "request_uri_not_supported").await
}
