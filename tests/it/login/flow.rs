//! The front channel with a static upstream: authorize → handle page →
//! upstream → callback → code → token, plus single sign-on, prompt=none,
//! POST and form_post, CSRF and the error paths. The conformance modules
//! proper, against the fake Mastodon, are in `conformance/`.

use std::sync::Arc;

use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{AuthorizationCode, CsrfToken, Nonce, PkceCodeChallenge, Scope, TokenResponse};

use super::seed::{self, CHALLENGE, REDIRECT};
use crate::backend_tests;
use crate::support::browser::{Browser, Page, query};
use crate::support::mock_upstream::{HOST, MockUpstream};
use crate::support::{T0, TestApp, TestDb, rp};

backend_tests! {
    oidcc_server_full_flow_with_openidconnect => full_flow,
    login_costs_three_durable_commits => three_commits,
    oidcc_prompt_none_not_logged_in => prompt_none_not_logged_in,
    oidcc_prompt_none_logged_in_and_sso => prompt_none_logged_in,
    oidcc_ensure_registered_redirect_uri => unregistered_redirect_uri,
    oidcc_ensure_post_request_succeeds_and_form_post => post_and_form_post,
    login_form_and_callback_are_bound_to_the_browser => csrf_binding,
    login_errors_explained_in_place => errors_in_place,
    upstream_denial_and_cancel_reach_the_client => denial,
    server_policy_per_client_and_last_server_remembered => policy_and_last_server,
}

async fn policy_and_last_server(db: TestDb) {
    let mock = Arc::new(MockUpstream::default());
    let mut strict = seed::client("strict");
    strict.allowed_servers = vec!["other.test".into()];
    let mut denies = seed::client("denies");
    denies.denied_servers = vec![HOST.into()];
    let app = TestApp::spawn_full(
        &db,
        |c| c.clients = vec![seed::client("rp"), strict, denies],
        Some(mock),
    )
    .await;
    for client in ["strict", "denies"] {
        let mut b = Browser::default();
        let page = b.get(&authorize_url(&app, client, &[])).await;
        let res = b
            .post(
                &app.url("/login"),
                &[
                    ("request", &page.input("request")),
                    ("handle", "@alice@social.test"),
                ],
            )
            .await;
        assert_eq!(res.status, 403, "{client}");
        assert!(
            res.body
                .contains("does not accept accounts from social.test"),
            "{}",
            res.body
        );
    }
    // A session from an allowed client does not open a client that refuses the server.
    let mut b = Browser::default();
    let page = b.get(&authorize_url(&app, "rp", &[])).await;
    log_in(&app, &mut b, &page, "good").await;
    let res = b
        .get(&authorize_url(&app, "denies", &[("prompt", "none")]))
        .await;
    assert_eq!(
        query(&res.location(), "error").as_deref(),
        Some("login_required")
    );
    // The handle page remembers the server this browser used last.
    let page = b
        .get(&authorize_url(&app, "rp", &[("prompt", "login")]))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("value=\"{HOST}\"")),
        "{}",
        page.body
    );
    app.stop().await;
}

async fn spawn(db: &TestDb) -> (TestApp, Arc<MockUpstream>) {
    let mock = Arc::new(MockUpstream::default());
    let app = TestApp::spawn_full(
        db,
        |c| c.clients = vec![seed::client("rp"), seed::client("other")],
        Some(mock.clone()),
    )
    .await;
    (app, mock)
}

use super::seed::authorize_url;

/// From the handle page to the client's redirect: type, go upstream, come back.
async fn log_in(app: &TestApp, b: &mut Browser, page: &Page, code: &str) -> Page {
    let st = submit_handle(app, b, page).await;
    b.get(&app.url(&format!("/callback/{HOST}?code={code}&state={st}")))
        .await
}

/// Type the handle on `page`; returns the `state` sent to the upstream.
async fn submit_handle(app: &TestApp, b: &mut Browser, page: &Page) -> String {
    assert_eq!(page.status, 200, "{}", page.body);
    let up = b
        .post(
            &app.url("/login"),
            &[
                ("request", &page.input("request")),
                ("handle", "@alice@social.test"),
            ],
        )
        .await;
    assert_eq!(up.status, 303, "{}", up.body);
    let to = up.location();
    assert_eq!(to.host_str(), Some("upstream.test"));
    query(&to, "state").unwrap()
}

async fn full_flow(db: TestDb) {
    let (app, _) = spawn(&db).await;
    let client = rp::client(&app).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let mut b = Browser::default();
    let page = b.get(url.as_str()).await;
    assert!(
        page.body.contains("RP rp"),
        "the page names the application"
    );
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let back = log_in(&app, &mut b, &page, "good").await;
    assert_eq!(back.status, 303, "{}", back.body);
    let loc = back.location();
    assert!(loc.as_str().starts_with(REDIRECT));
    assert_eq!(
        query(&loc, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(
        query(&loc, "iss").as_deref(),
        Some(app.issuer.as_str()),
        "RFC 9207"
    );
    let res = client
        .exchange_code(AuthorizationCode::new(query(&loc, "code").unwrap()))
        .set_pkce_verifier(verifier)
        .request_async(&rp::http_client)
        .await
        .expect("token response");
    let at = chrono::DateTime::from_timestamp(T0 + 5, 0).unwrap();
    let claims = res
        .id_token()
        .unwrap()
        .claims(&client.id_token_verifier().set_time_fn(move || at), &nonce)
        .expect("a valid ID token");
    assert_eq!(
        claims.preferred_username().unwrap().as_str(),
        "alice@social.test"
    );
    assert_eq!(claims.auth_time().unwrap().timestamp(), T0);
    // A plain-http issuer: the session cookie without the __Host- prefix
    // (its attributes, on https too, are checked in `headers.rs`).
    assert!(b.cookies.contains_key("mo-session"));
    app.stop().await;
}

async fn three_commits(db: TestDb) {
    let (app, _) = spawn(&db).await;
    let mut b = Browser::default();
    let before = app.state.store.commits();
    let page = b.get(&authorize_url(&app, "rp", &[])).await;
    let back = log_in(&app, &mut b, &page, "good").await;
    let code = query(&back.location(), "code").unwrap();
    assert!(seed::redeem(&app, &code).await["access_token"].is_string());
    assert_eq!(
        app.state.store.commits() - before,
        3,
        "auth request, callback, token"
    );
    app.stop().await;
}

async fn prompt_none_not_logged_in(db: TestDb) {
    let (app, _) = spawn(&db).await;
    let mut b = Browser::default();
    let res = b
        .get(&authorize_url(&app, "rp", &[("prompt", "none")]))
        .await;
    assert_eq!(res.status, 303);
    let loc = res.location();
    assert_eq!(query(&loc, "error").as_deref(), Some("login_required"));
    assert_eq!(query(&loc, "state").as_deref(), Some("st-1"));
    assert_eq!(query(&loc, "iss").as_deref(), Some(app.issuer.as_str()));
    app.stop().await;
}

async fn prompt_none_logged_in(db: TestDb) {
    let (app, mock) = spawn(&db).await;
    let mut b = Browser::default();
    let page = b.get(&authorize_url(&app, "rp", &[])).await;
    log_in(&app, &mut b, &page, "good").await;
    // Same browser, another client and prompt=none: no trip upstream.
    for (client, extra) in [("other", vec![("prompt", "none")]), ("rp", vec![])] {
        let res = b.get(&authorize_url(&app, client, &extra)).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let loc = res.location();
        assert!(query(&loc, "code").is_some(), "{loc}");
        assert_eq!(query(&loc, "iss").as_deref(), Some(app.issuer.as_str()));
    }
    assert_eq!(
        mock.begun.lock().unwrap().len(),
        1,
        "one upstream login only"
    );
    // An id_token_hint for someone else: no silent login.
    let res = b
        .get(&authorize_url(
            &app,
            "rp",
            &[("prompt", "none"), ("id_token_hint", "e30.e30.sig")],
        ))
        .await;
    assert_eq!(
        query(&res.location(), "error").as_deref(),
        Some("login_required")
    );
    app.stop().await;
}

async fn unregistered_redirect_uri(db: TestDb) {
    let (app, _) = spawn(&db).await;
    let mut b = Browser::default();
    let url = authorize_url(&app, "rp", &[]).replace("rp.example%2Fcb", "evil.example%2Fcb");
    let res = b.get(&url).await;
    assert_eq!(res.status, 400);
    assert!(res.headers.get("location").is_none(), "never a redirect");
    assert!(res.body.contains("not registered"));
    let res = b.get(&authorize_url(&app, "nobody", &[])).await;
    assert_eq!(res.status, 400);
    assert!(res.headers.get("location").is_none());
    app.stop().await;
}

async fn post_and_form_post(db: TestDb) {
    let (app, _) = spawn(&db).await;
    let mut b = Browser::default();
    let form = [
        ("response_type", "code"),
        ("client_id", "rp"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "st-2"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("response_mode", "form_post"),
    ];
    let page = b.post(&app.url("/authorize"), &form).await;
    assert_eq!(page.status, 200);
    let back = log_in(&app, &mut b, &page, "good").await;
    assert_eq!(back.status, 200, "form_post answers with a page");
    assert!(
        back.body
            .contains(&format!("action=\"{}\"", REDIRECT.replace('/', "&#x2f;")))
            || back.body.contains(&format!("action=\"{REDIRECT}\"")),
        "{}",
        back.body
    );
    assert_eq!(back.input("state"), "st-2");
    assert!(!back.input("code").is_empty());
    assert_eq!(back.input("iss"), app.issuer);
    app.stop().await;
}

async fn csrf_binding(db: TestDb) {
    let (app, _) = spawn(&db).await;
    let mut b = Browser::default();
    let page = b.get(&authorize_url(&app, "rp", &[])).await;
    // Another browser (no flow cookie) posting the same form is refused.
    let mut other = Browser::default();
    let res = other
        .post(
            &app.url("/login"),
            &[
                ("request", &page.input("request")),
                ("handle", "@alice@social.test"),
            ],
        )
        .await;
    assert_eq!(res.status, 403);
    // A tampered request blob is refused.
    let res = b
        .post(&app.url("/login"), &[("request", "AAAA"), ("handle", "x")])
        .await;
    assert_eq!(res.status, 400);
    // The callback in another browser is refused, and the right one still works.
    let st = submit_handle(&app, &mut b, &page).await;
    let cb = app.url(&format!("/callback/{HOST}?code=good&state={st}"));
    assert_eq!(other.get(&cb).await.status, 403);
    // The wrong server path is refused (mix-up defence).
    let wrong = app.url(&format!("/callback/evil.test?code=good&state={st}"));
    assert_eq!(b.get(&wrong).await.status, 400);
    assert_eq!(b.get(&cb).await.status, 303);
    // A replayed callback cannot finish the login twice.
    let again = b.get(&cb).await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains("start again") || again.body.contains("already"));
    app.stop().await;
}

async fn errors_in_place(db: TestDb) {
    let (app, _) = spawn(&db).await;
    let mut b = Browser::default();
    let page = b.get(&authorize_url(&app, "rp", &[])).await;
    let request = page.input("request");
    for (typed, status, text) in [
        ("@nobody@nowhere.test", 400, "No account"),
        ("slow.test", 502, "did not answer"),
        ("busy.test", 429, "7 minute"),
        ("", 400, "Type your handle"),
    ] {
        let res = b
            .post(
                &app.url("/login"),
                &[("request", &request), ("handle", typed)],
            )
            .await;
        assert_eq!(res.status, status, "{typed}: {}", res.body);
        assert!(res.body.contains(text), "{typed}: {}", res.body);
        assert!(res.body.contains("role=\"alert\""));
        assert_eq!(res.input("handle"), typed, "the typed value is kept");
        if status == 429 {
            assert_eq!(res.headers["retry-after"], "420");
        }
    }
    app.stop().await;
}

async fn denial(db: TestDb) {
    let (app, _) = spawn(&db).await;
    let mut b = Browser::default();
    let page = b.get(&authorize_url(&app, "rp", &[])).await;
    let res = b
        .post(
            &app.url("/login"),
            &[("request", &page.input("request")), ("cancel", "1")],
        )
        .await;
    assert_eq!(
        query(&res.location(), "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query(&res.location(), "state").as_deref(), Some("st-1"));
    let page = b.get(&authorize_url(&app, "rp", &[])).await;
    let st = submit_handle(&app, &mut b, &page).await;
    let res = b
        .get(&app.url(&format!("/callback/{HOST}?error=access_denied&state={st}")))
        .await;
    assert_eq!(
        query(&res.location(), "error").as_deref(),
        Some("access_denied")
    );
    // A refused account: a page for the person with a way back to the client.
    let page = b.get(&authorize_url(&app, "rp", &[])).await;
    let refused = log_in(&app, &mut b, &page, "suspended").await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("suspended"));
    assert!(refused.body.contains("error=access_denied"));
    app.stop().await;
}
