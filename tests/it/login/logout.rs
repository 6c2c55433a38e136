//! RP-initiated logout: exact post_logout_redirect_uri, id_token_hint, state,
//! the confirmation page (without a hint of this session's person) and its
//! CSRF token, and what a logout ends.

use serde_json::Value;

use mastodon_oidc::oidc::id_token::{self, IdTokenInput};

use super::seed;
use crate::backend_tests;
use crate::support::browser::{Browser, query};
use crate::support::mock_upstream::{HOST, MockUpstream};
use crate::support::{T0, TestApp, TestDb, http};

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&mastodon_oidc::crypto::decode_base64(payload).unwrap()).unwrap()
}

backend_tests! {
    oidcc_rp_initiated_logout => rp_initiated_logout,
    logout_refuses_unregistered_return_and_forged_hint => logout_refusals,
    logout_asks_unless_the_hint_names_this_sessions_person => foreign_hints_ask,
    logout_confirmation_is_csrf_protected => confirmation_csrf,
}

const BYE: &str = "https://rp.example/bye";

async fn spawn(db: &TestDb) -> TestApp {
    TestApp::spawn_full(
        db,
        |c| {
            let mut pw = seed::client("pw");
            pw.subject_type = mastodon_oidc::config::SubjectType::Pairwise;
            c.clients = vec![seed::client("rp"), seed::client("other"), pw]
        },
        Some(std::sync::Arc::new(MockUpstream::default())),
    )
    .await
}

/// A full login in `b`; returns the token response.
async fn login(app: &TestApp, b: &mut Browser) -> Value {
    login_to(app, b, "rp").await
}

async fn login_to(app: &TestApp, b: &mut Browser, client: &str) -> Value {
    let page = b.get(&seed::authorize_url(app, client, &[])).await;
    // A live session answers at once.
    let back = if page.status == 303 {
        page
    } else {
        let up = app
            .submit_handle(b, &page.input("request"), "alice@social.test")
            .await;
        let st = query(&up.location(), "state").unwrap();
        b.get(&app.url(&format!("/callback/{HOST}?code=good&state={st}")))
            .await
    };
    let code = query(&back.location(), "code").unwrap();
    redeem_as(app, client, &code).await
}

async fn redeem_as(app: &TestApp, client: &str, code: &str) -> Value {
    http()
        .post(app.url("/token"))
        .basic_auth(client, Some(seed::SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", seed::REDIRECT),
            ("code_verifier", seed::VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Whether `b` still has a session: prompt=none answers with a code.
async fn logged_in(app: &TestApp, b: &mut Browser) -> bool {
    let res = b
        .get(&seed::authorize_url(app, "rp", &[("prompt", "none")]))
        .await;
    query(&res.location(), "code").is_some()
}

/// A genuine ID token of this issuer for `client`, about `sub`, long expired.
fn minted_hint(app: &TestApp, client: &str, sub: &str) -> String {
    let mut user = serde_json::Map::new();
    user.insert("sub".into(), sub.into());
    let input = IdTokenInput {
        issuer: &app.issuer,
        client_id: client,
        alg: mastodon_oidc::keys::Algorithm::RS256,
        now: T0 - 86_400,
        ttl_secs: 60,
        auth_time: T0 - 86_400,
        nonce: None,
        access_token: None,
    };
    id_token::mint(&app.state.keys, &input, user).unwrap()
}

fn logout_url(app: &TestApp, hint: &str) -> String {
    let mut u = url::Url::parse(&app.url("/logout")).unwrap();
    u.query_pairs_mut().extend_pairs([
        ("id_token_hint", hint),
        ("post_logout_redirect_uri", BYE),
        ("state", "s"),
    ]);
    u.to_string()
}

async fn foreign_hints_ask(db: TestDb) {
    let app = spawn(&db).await;
    let mut b = Browser::default();
    let public = login(&app, &mut b).await;
    let sub = claims(public["id_token"].as_str().unwrap())["sub"]
        .as_str()
        .unwrap()
        .to_string();
    // Genuine tokens that do not name this session's person, as their
    // client sees them: someone else, and the public sub under a pairwise
    // client. Both only get the question.
    for (aud, hint) in [
        ("rp", minted_hint(&app, "rp", "somebody-else")),
        ("pw", minted_hint(&app, "pw", &sub)),
    ] {
        let page = b.get(&logout_url(&app, &hint)).await;
        assert_eq!(page.status, 200, "{aud}: {}", page.body);
        assert!(page.body.contains("Do you want to log out"));
        // The POST needs no hint to check the return address.
        assert_eq!(page.input("client_id"), aud);
        assert!(logged_in(&app, &mut b).await, "{aud}: nothing happened");
    }
    // This person's hint, even expired, from the pairwise client: at once.
    let pairwise = login_to(&app, &mut b, "pw").await;
    let pw_sub = claims(pairwise["id_token"].as_str().unwrap())["sub"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(pw_sub, sub);
    let res = b
        .get(&logout_url(&app, &minted_hint(&app, "pw", &pw_sub)))
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(res.location().as_str(), format!("{BYE}?state=s"));
    assert!(!logged_in(&app, &mut b).await);
    app.stop().await;
}

async fn confirmation_csrf(db: TestDb) {
    let app = spawn(&db).await;
    let mut b = Browser::default();
    login(&app, &mut b).await;
    let mut other = Browser::default();
    login(&app, &mut other).await;
    let theirs = other.get(&app.url("/logout")).await.input("csrf");
    let mine = b.get(&app.url("/logout")).await.input("csrf");
    assert_ne!(theirs, mine, "bound to the session");
    for forged in [
        vec![("confirm", "1")],
        vec![("confirm", "1"), ("csrf", &theirs)],
    ] {
        let res = b.post(&app.url("/logout"), &forged).await;
        assert_eq!(res.status, 403, "{forged:?}");
        assert!(logged_in(&app, &mut b).await, "{forged:?}: still logged in");
    }
    let done = b
        .post(&app.url("/logout"), &[("confirm", "1"), ("csrf", &mine)])
        .await;
    assert_eq!(done.status, 200);
    assert!(!logged_in(&app, &mut b).await);
    assert!(
        logged_in(&app, &mut other).await,
        "the other browser is untouched"
    );
    app.stop().await;
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
    let csrf = page.input("csrf");
    let done = b
        .post(&app.url("/logout"), &[("confirm", "1"), ("csrf", &csrf)])
        .await;
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
