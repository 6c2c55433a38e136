//! Who may sign up where: discovery advertises `create` exactly when sign-up
//! is on; a client or the whole service without sign-up refuses
//! `prompt=create` (invalid_request, OpenID Connect Prompt Create §4.1);
//! sign-up limited to listed servers; every form bound to its browser.

use serde_json::Value;

use super::{choose, pick, sign_up, spawn, submit};
use crate::backend_tests;
use crate::fake_mastodon::{FakeConfig, Profile};
use crate::login::seed;
use crate::support::browser::{Browser, query};
use crate::support::{TestDb, http};

backend_tests! {
    discovery_advertises_create_exactly_when_enabled => discovery,
    prompt_create_is_refused_where_signup_is_off => refused,
    signup_can_be_limited_to_listed_servers => listed_servers,
    signup_forms_are_bound_to_the_browser => csrf,
}

async fn prompts(app: &crate::support::TestApp) -> Vec<Value> {
    let doc: Value = http()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    doc["prompt_values_supported"].as_array().unwrap().clone()
}

async fn discovery(db: TestDb) {
    let (on, _f) = spawn(&db, FakeConfig::new(Profile::Mastodon44), |_| {}).await;
    assert!(prompts(&on).await.contains(&"create".into()));
    on.stop().await;
    let (off, _f) = spawn(&db, FakeConfig::new(Profile::Mastodon44), |c| {
        c.upstream.signup_enabled = false
    })
    .await;
    let p = prompts(&off).await;
    assert!(!p.contains(&"create".into()), "{p:?}");
    assert!(p.contains(&"login".into()));
    off.stop().await;
}

/// `prompt=create` for `client` is answered with invalid_request at the
/// client, and its handle page offers no sign-up.
async fn refuses(app: &crate::support::TestApp, client: &str) {
    let mut b = Browser::default();
    let res = b
        .get(&seed::authorize_url(app, client, &[("prompt", "create")]))
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let loc = res.location();
    assert!(loc.as_str().starts_with(seed::REDIRECT), "{loc}");
    assert_eq!(query(&loc, "error").as_deref(), Some("invalid_request"));
    assert_eq!(query(&loc, "state").as_deref(), Some("st-1"));
    assert_eq!(query(&loc, "iss").as_deref(), Some(app.issuer.as_str()));
    let login = b.get(&seed::authorize_url(app, client, &[])).await;
    assert!(!login.body.contains("Create an account"), "{}", login.body);
    let direct = b
        .post(&app.url("/signup"), &[("request", &login.input("request"))])
        .await;
    assert_eq!(direct.status, 403, "{}", direct.body);
}

async fn refused(db: TestDb) {
    let mut quiet = seed::client("quiet");
    quiet.signup = false;
    let (app, fake) = spawn(&db, FakeConfig::new(Profile::Mastodon44), move |c| {
        c.clients.push(quiet)
    })
    .await;
    refuses(&app, "quiet").await;
    // The other client still may.
    let mut b = Browser::default();
    assert_eq!(choose(&app, &mut b, &[], "social.test").await.status, 200);
    app.stop().await;
    let (off, _f) = spawn(&db, FakeConfig::new(Profile::Mastodon44), |c| {
        c.upstream.signup_enabled = false
    })
    .await;
    refuses(&off, "rp").await;
    assert_eq!(fake.count("POST", "/api/v1/accounts"), 0);
    off.stop().await;
}

async fn listed_servers(db: TestDb) {
    let (app, fake) = spawn(&db, FakeConfig::new(Profile::Mastodon44), |c| {
        c.upstream.signup_servers = vec!["social.test".into()];
    })
    .await;
    let mut b = Browser::default();
    let chooser = b
        .get(&seed::authorize_url(&app, "rp", &[("prompt", "create")]))
        .await;
    assert!(
        chooser.body.contains(
            "type=\"radio\" id=\"server-1\" name=\"server\" value=\"social.test\" checked"
        ),
        "{}",
        chooser.body
    );
    let other = pick(&app, &mut b, &chooser, "elsewhere.test").await;
    assert_eq!(other.status, 403, "{}", other.body);
    assert!(
        other
            .body
            .contains("Sign-up on that server is not offered here")
    );
    assert!(fake.all_calls().is_empty(), "refused before any request");
    let form = pick(&app, &mut b, &chooser, "social.test").await;
    assert_eq!(form.status, 200, "{}", form.body);
    app.stop().await;
    // A client that takes accounts from other servers only.
    let mut strict = seed::client("rp");
    strict.allowed_servers = vec!["other.test".into()];
    let (app, _fake) = spawn(&db, FakeConfig::new(Profile::Mastodon44), move |c| {
        c.clients = vec![strict]
    })
    .await;
    let mut b = Browser::default();
    let page = choose(&app, &mut b, &[], "social.test").await;
    assert_eq!(page.status, 403);
    assert!(
        page.body
            .contains("does not accept accounts from social.test"),
        "{}",
        page.body
    );
    app.stop().await;
}

async fn csrf(db: TestDb) {
    let (app, fake) = spawn(&db, FakeConfig::new(Profile::Mastodon44), |_| {}).await;
    let mut b = Browser::default();
    let form = choose(&app, &mut b, &[], "social.test").await;
    // The chooser and the form from another browser (no flow cookie) are refused.
    let mut other = Browser::default();
    let res = pick(&app, &mut other, &form, "social.test").await;
    assert_eq!(res.status, 403);
    let res = submit(&app, &mut other, &form, &[]).await;
    assert_eq!(res.status, 403, "{}", res.body);
    assert_eq!(fake.count("POST", "/api/v1/accounts"), 0);
    // The pending pages' forms need the token of this browser's sign-up.
    let pending = sign_up(&app, &mut b, &[]).await;
    let token = pending.input("csrf");
    for path in ["/signup/resend", "/signup/cancel"] {
        let res = b.post(&app.url(path), &[("csrf", "forged")]).await;
        assert_eq!(res.status, 403, "{path}");
        let res = b.post(&app.url(path), &[]).await;
        assert_eq!(res.status, 403, "{path} without a token");
        // A token is worthless without the cookie it was made for.
        let res = other.post(&app.url(path), &[("csrf", &token)]).await;
        assert_eq!(res.status, 404, "{path} elsewhere");
    }
    assert_eq!(fake.count("POST", "/api/v1/emails/confirmations"), 0);
    assert_eq!(
        b.get(&app.url("/signup/pending")).await.status,
        200,
        "still pending"
    );
    app.stop().await;
}
