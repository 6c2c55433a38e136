//! Transport and page headers: HSTS and `__Host-` cookies (Secure, HttpOnly,
//! SameSite=Lax, Path=/, no Domain) on an https issuer and neither on plain
//! http; every page people see (handle, error, logout, form_post, sign-up)
//! forbids framing (CSP `frame-ancestors 'none'` and `X-Frame-Options`).

use std::sync::Arc;

use super::seed::{self, authorize_url};
use crate::backend_tests;
use crate::fake_mastodon::{FakeConfig, Profile};
use crate::support::browser::{Browser, Page, query};
use crate::support::mock_upstream::{HOST, MockUpstream};
use crate::support::{TestApp, TestDb, http};

backend_tests! {
    https_issuer_sends_hsts_and_host_cookies => https_issuer,
    plain_http_development_sends_no_hsts => plain_http,
    login_and_logout_pages_forbid_framing => login_pages_framing,
    signup_pages_forbid_framing => signup_pages_framing,
}

const HSTS: &str = "max-age=63072000";

async fn spawn(db: &TestDb, https: bool) -> TestApp {
    let clients = |c: &mut mastodon_oidc::config::Config| c.clients = vec![seed::client("rp")];
    let mock: Arc<MockUpstream> = Arc::default();
    if https {
        TestApp::spawn_https(db, clients, Some(mock)).await
    } else {
        TestApp::spawn_full(db, clients, Some(mock)).await
    }
}

/// The attributes of the `Set-Cookie` for `name`, lower-cased, name=value first.
fn set_cookie(page: &Page, name: &str) -> Vec<String> {
    let raw = page
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no cookie {name} in {:?}", page.headers));
    raw.split(';')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

fn has(attrs: &[String], want: &str) -> bool {
    attrs.iter().any(|a| a == want)
}

fn assert_host_cookie(page: &Page, name: &str) {
    let attrs = set_cookie(page, name);
    for want in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(has(&attrs, want), "{name}: {want} in {attrs:?}");
    }
    assert!(
        !attrs.iter().any(|a| a.starts_with("domain=")),
        "{name}: __Host- forbids Domain"
    );
}

/// The three answers of a login through the mock upstream: the handle page,
/// the redirect upstream and the callback's answer.
async fn log_in(app: &TestApp, b: &mut Browser, extra: &[(&str, &str)]) -> [Page; 3] {
    let page = b.get(&authorize_url(app, "rp", extra)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let up = app
        .submit_handle(b, &page.input("request"), "@alice@social.test")
        .await;
    let st = query(&up.location(), "state").unwrap();
    let back = b
        .get(&app.url(&format!("/callback/{HOST}?code=good&state={st}")))
        .await;
    [page, up, back]
}

/// The HSTS header of a plain GET or POST.
async fn hsts_of(rb: reqwest::RequestBuilder) -> Option<String> {
    let res = rb.send().await.unwrap();
    res.headers()
        .get("strict-transport-security")
        .map(|v| v.to_str().unwrap().to_string())
}

async fn https_issuer(db: TestDb) {
    let app = spawn(&db, true).await;
    assert!(app.issuer.starts_with("https://"));
    let mut b = Browser::default();
    let [page, up, back] = log_in(&app, &mut b, &[]).await;
    for (what, p) in [
        ("handle page", &page),
        ("upstream", &up),
        ("callback", &back),
    ] {
        assert_eq!(p.headers["strict-transport-security"], HSTS, "{what}");
    }
    assert_host_cookie(&page, "__Host-flow");
    assert_host_cookie(&up, "__Host-last-server");
    assert_host_cookie(&back, "__Host-session");
    assert!(
        set_cookie(&back, "__Host-session")
            .iter()
            .any(|a| a.starts_with("max-age=")),
        "the session outlives the browser session"
    );
    // Every response, JSON, errors and unknown paths included.
    for rb in [
        http().get(app.url("/.well-known/openid-configuration")),
        http().post(app.url("/token")),
        http().get(app.url("/healthz")),
        http().get(app.url("/no-such-page")),
    ] {
        assert_eq!(hsts_of(rb).await.as_deref(), Some(HSTS));
    }
    app.stop().await;
}

async fn plain_http(db: TestDb) {
    let app = spawn(&db, false).await;
    let mut b = Browser::default();
    let [page, _, back] = log_in(&app, &mut b, &[]).await;
    assert!(page.headers.get("strict-transport-security").is_none());
    assert!(
        hsts_of(http().get(app.url("/.well-known/openid-configuration")))
            .await
            .is_none()
    );
    // Browsers refuse __Host- and Secure without TLS: plain names, still
    // HttpOnly and SameSite=Lax.
    let attrs = set_cookie(&back, "mo-session");
    assert!(
        has(&attrs, "httponly") && has(&attrs, "samesite=lax"),
        "{attrs:?}"
    );
    assert!(!has(&attrs, "secure"), "{attrs:?}");
    app.stop().await;
}

fn assert_no_framing(what: &str, page: &Page) {
    assert_eq!(page.headers["x-frame-options"], "DENY", "{what}");
    assert_eq!(page.headers["x-content-type-options"], "nosniff", "{what}");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    for want in ["frame-ancestors 'none'", "default-src 'none'"] {
        assert!(csp.contains(want), "{what}: {want} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
}

async fn login_pages_framing(db: TestDb) {
    let app = spawn(&db, false).await;
    let mut b = Browser::default();
    let unknown = b.get(&authorize_url(&app, "nobody", &[])).await;
    assert_eq!(unknown.status, 400);
    assert_no_framing("error page", &unknown);
    let [page, _, form_post] = log_in(&app, &mut b, &[("response_mode", "form_post")]).await;
    assert_no_framing("handle page", &page);
    assert_eq!(form_post.status, 200);
    assert_no_framing("form_post page", &form_post);
    let confirm = b.get(&app.url("/logout")).await;
    assert!(confirm.body.contains("Do you want to log out"));
    assert_no_framing("logout confirmation", &confirm);
    let done = b
        .post(
            &app.url("/logout"),
            &[("confirm", "1"), ("csrf", &confirm.input("csrf"))],
        )
        .await;
    assert!(done.body.contains("You are logged out"));
    assert_no_framing("logged-out page", &done);
    app.stop().await;
}

async fn signup_pages_framing(db: TestDb) {
    let (app, _fake) =
        crate::signup::spawn(&db, FakeConfig::new(Profile::Mastodon44), |_| {}).await;
    let mut b = Browser::default();
    let chooser = b
        .get(&authorize_url(&app, "rp", &[("prompt", "create")]))
        .await;
    assert_no_framing("server chooser", &chooser);
    let form = crate::signup::pick(&app, &mut b, &chooser, "social.test").await;
    assert!(form.body.contains("name=\"username\""), "{}", form.body);
    assert_no_framing("sign-up form", &form);
    let done = crate::signup::submit(&app, &mut b, &form, &[]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let pending = b.get(&app.url("/signup/pending")).await;
    assert_no_framing("check your e-mail", &pending);
    app.stop().await;
}
