//! RP-initiated logout: exact post_logout_redirect_uri, id_token_hint, state,
//! the confirmation page without a hint, and what a logout ends.

use serde_json::Value;

use super::seed;
use crate::backend_tests;
use crate::support::browser::{Browser, query};
use crate::support::mock_upstream::{HOST, MockUpstream};
use crate::support::{TestApp, TestDb, http};

backend_tests! {
    oidcc_rp_initiated_logout => rp_initiated_logout,
    logout_refuses_unregistered_return_and_forged_hint => logout_refusals,
}

const BYE: &str = "https://rp.example/bye";

async fn spawn(db: &TestDb) -> TestApp {
    TestApp::spawn_full(
        db,
        |c| c.clients = vec![seed::client("rp"), seed::client("other")],
        Some(std::sync::Arc::new(MockUpstream::default())),
    )
    .await
}

/// A full login in `b`; returns the token response.
async fn login(app: &TestApp, b: &mut Browser) -> Value {
    let page = b.get(&seed::authorize_url(app, "rp", &[])).await;
    let up = b
        .post(
            &app.url("/login"),
            &[
                ("request", &page.input("request")),
                ("handle", "alice@social.test"),
            ],
        )
        .await;
    let st = query(&up.location(), "state").unwrap();
    let back = b
        .get(&app.url(&format!("/callback/{HOST}?code=good&state={st}")))
        .await;
    let code = query(&back.location(), "code").unwrap();
    seed::redeem(app, &code).await
}

async fn rp_initiated_logout(db: TestDb) {
    let app = spawn(&db).await;
    let mut b = Browser::default();
    let tokens = login(&app, &mut b).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let mut u = url::Url::parse(&app.url("/logout")).unwrap();
    u.query_pairs_mut().extend_pairs([
        ("id_token_hint", hint),
        ("post_logout_redirect_uri", BYE),
        ("state", "bye-state"),
    ]);
    let res = b.get(u.as_str()).await;
    assert_eq!(res.status, 303);
    assert_eq!(res.location().as_str(), format!("{BYE}?state=bye-state"));
    assert!(
        !b.cookies.contains_key("mo-session"),
        "session cookie removed"
    );
    // The session is over: prompt=none needs a login, and its tokens are revoked.
    let again = b
        .get(&seed::authorize_url(&app, "rp", &[("prompt", "none")]))
        .await;
    assert_eq!(
        query(&again.location(), "error").as_deref(),
        Some("login_required")
    );
    let ui = http()
        .get(app.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ui.status(), 401);
    // Without a hint the person confirms first.
    let mut b = Browser::default();
    login(&app, &mut b).await;
    let page = b.get(&app.url("/logout")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Do you want to log out"));
    assert!(b.cookies.contains_key("mo-session"), "nothing happened yet");
    let done = b.post(&app.url("/logout"), &[("confirm", "1")]).await;
    assert_eq!(done.status, 200);
    assert!(done.body.contains("You are logged out"));
    assert!(!b.cookies.contains_key("mo-session"));
    app.stop().await;
}

async fn logout_refusals(db: TestDb) {
    let app = spawn(&db).await;
    let mut b = Browser::default();
    let tokens = login(&app, &mut b).await;
    let hint = tokens["id_token"].as_str().unwrap();
    for (params, why) in [
        (
            vec![
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", "https://evil.example/"),
            ],
            "unregistered",
        ),
        (
            vec![
                ("client_id", "rp"),
                ("post_logout_redirect_uri", "https://rp.example/bye?x=1"),
            ],
            "not exact",
        ),
        (vec![("post_logout_redirect_uri", BYE)], "no client"),
        (
            vec![("client_id", "other"), ("id_token_hint", hint)],
            "client mismatch",
        ),
    ] {
        let mut u = url::Url::parse(&app.url("/logout")).unwrap();
        u.query_pairs_mut().extend_pairs(params);
        let res = b.get(u.as_str()).await;
        assert_eq!(res.status, 400, "{why}");
        assert!(
            res.headers.get("location").is_none(),
            "{why}: never a redirect"
        );
    }
    // A modified hint is refused.
    let mut forged = hint.to_string();
    forged.pop();
    forged.push(if hint.ends_with('A') { 'B' } else { 'A' });
    let res = b
        .get(&format!("{}?id_token_hint={forged}", app.url("/logout")))
        .await;
    assert_eq!(res.status, 400);
    assert!(
        b.cookies.contains_key("mo-session"),
        "still logged in after refusals"
    );
    app.stop().await;
}
