//! Per-IP limits on /authorize, the handle form and /token, and the
//! per-server limit on first contact: 429 with `Retry-After`, a page for
//! people and JSON for clients, refilled as time passes.

use mastodon_oidc::config::Config;
use mastodon_oidc::ratelimit::Limit;

use crate::backend_tests;
use crate::fake_mastodon::{FakeConfig, FakeMastodon, Profile};
use crate::login::seed;
use crate::support::browser::Browser;
use crate::support::{TestApp, TestDb, http};

backend_tests! {
    authorize_is_limited_per_ip_with_a_page => authorize_limit,
    token_is_limited_with_json => token_limit,
    handle_form_limit_keeps_the_typed_handle => handle_form_limit,
    login_hint_counts_against_the_handle_form_limit => login_hint_limit,
    first_contact_is_paced_per_server => first_contact_limit,
}

async fn spawn(db: &TestDb, tweak: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn_with(db, |c| {
        c.clients = vec![seed::client("rp")];
        tweak(c);
    })
    .await
}

async fn metric(app: &TestApp, needle: &str) -> bool {
    app.metrics().await.contains(needle)
}

async fn authorize_limit(db: TestDb) {
    let proxy = "127.0.0.1".parse().unwrap();
    let app = spawn(&db, |c| {
        c.limits.authorize = Limit::new(60, 2);
        c.limits.trusted_proxies = vec![proxy];
    })
    .await;
    let url = seed::authorize_url(&app, "rp", &[]);
    let from = |ip: &'static str| {
        let url = url.clone();
        async move {
            http()
                .get(&url)
                .header("x-forwarded-for", ip)
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..2 {
        assert_eq!(from("203.0.113.1").await.status(), 200);
    }
    let refused = from("203.0.113.1").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert!(
        refused.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(refused.text().await.unwrap().contains("Too many attempts"));
    // Another client behind the same proxy has its own bucket.
    assert_eq!(from("203.0.113.2").await.status(), 200);
    // A forged left-most entry does not buy a fresh bucket.
    assert_eq!(from("198.51.100.9, 203.0.113.1").await.status(), 429);
    app.clock.advance(1);
    assert_eq!(from("203.0.113.1").await.status(), 200, "refilled");
    assert!(
        metric(
            &app,
            r#"mastodon_oidc_rate_limited_total{limit="authorize"} 2"#
        )
        .await
    );
}

async fn token_limit(db: TestDb) {
    let app = spawn(&db, |c| c.limits.token = Limit::new(30, 2)).await;
    for _ in 0..2 {
        let (code, _, _) = seed::code(&app.state.store, "rp", "openid", None);
        assert!(seed::redeem(&app, &code).await["id_token"].is_string());
    }
    let (code, _, _) = seed::code(&app.state.store, "rp", "openid", None);
    let res = seed::token_request(&app.issuer, &code).await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "2");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    // The refused request spent nothing: the code still works later.
    app.clock.advance(2);
    assert!(seed::redeem(&app, &code).await["id_token"].is_string());
}

async fn handle_form_limit(db: TestDb) {
    let app = spawn(&db, |c| c.limits.handle_form = Limit::new(6, 1)).await;
    let mut b = Browser::default();
    let page = b.get(&seed::authorize_url(&app, "rp", &[])).await;
    let request = page.input("request");
    // The first submission reaches the upstream (nothing answers: a clear error).
    let first = app
        .submit_handle(&mut b, &request, "@bob@nowhere.invalid")
        .await;
    assert_ne!(first.status, 429);
    let second = app
        .submit_handle(&mut b, &request, "@bob@nowhere.invalid")
        .await;
    assert_eq!(second.status, 429);
    assert_eq!(second.headers["retry-after"], "10");
    assert!(
        second.body.contains("Too many login attempts"),
        "{}",
        second.body
    );
    assert!(
        second.body.contains(r#"value="@bob@nowhere.invalid""#),
        "the typed handle is kept: {}",
        second.body
    );
    assert!(
        !second.input("request").is_empty(),
        "the form can be sent again"
    );
}

async fn login_hint_limit(db: TestDb) {
    let app = spawn(&db, |c| c.limits.handle_form = Limit::new(6, 1)).await;
    let mut b = Browser::default();
    let hinted = seed::authorize_url(&app, "rp", &[("login_hint", "@bob@nowhere.invalid")]);
    // The hint is looked up like a typed handle (nothing answers there)…
    let first = b.get(&hinted).await;
    assert_ne!(first.status, 429, "{}", first.body);
    // …and spends the same bucket: the next hint, or the form, waits.
    let second = b.get(&hinted).await;
    assert_eq!(second.status, 429, "{}", second.body);
    assert_eq!(second.headers["retry-after"], "10");
    assert!(second.body.contains(r#"value="@bob@nowhere.invalid""#));
    let typed = app
        .submit_handle(&mut b, &second.input("request"), "@bob@nowhere.invalid")
        .await;
    assert_eq!(typed.status, 429);
    assert!(
        metric(
            &app,
            r#"mastodon_oidc_rate_limited_total{limit="handle_form"} 2"#
        )
        .await
    );
}

async fn first_contact_limit(db: TestDb) {
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let overrides = fake.override_map();
    let app = spawn(&db, move |c| {
        // Two contacts at once, then one a minute.
        c.limits.first_contact_per_server = Limit::new(1, 2);
        c.upstream.host_overrides = overrides;
    })
    .await;
    // The instance API fails once: discovery, a first contact, fails.
    fake.force_response(
        "GET",
        "/api/v2/instance",
        503,
        "text/html",
        "<h1>down</h1>",
        Some(1),
    );
    let mut b = Browser::default();
    let page = b.get(&seed::authorize_url(&app, "rp", &[])).await;
    let down = submit(&app, &mut b, &page.input("request")).await;
    assert_eq!(down.status, 502, "{}", down.body);
    assert_eq!(fake.count("GET", "/api/v2/instance"), 1);
    // The server is back: discovery is our second contact, registration
    // would be the third this minute, so it waits.
    let paced = submit(&app, &mut b, &down.input("request")).await;
    assert_eq!(paced.status, 429, "{}", paced.body);
    assert!(paced.headers.contains_key("retry-after"));
    assert_eq!(fake.count("GET", "/api/v2/instance"), 2);
    assert_eq!(
        fake.count("POST", "/api/v1/apps"),
        0,
        "the registration was not sent"
    );
    assert!(
        metric(
            &app,
            r#"mastodon_oidc_rate_limited_total{limit="first_contact"} 1"#
        )
        .await
    );
    app.clock.advance(60);
    let ok = submit(&app, &mut b, &paced.input("request")).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
}

async fn submit(app: &TestApp, b: &mut Browser, request: &str) -> crate::support::browser::Page {
    app.submit_handle(b, request, "@alice@social.test").await
}
