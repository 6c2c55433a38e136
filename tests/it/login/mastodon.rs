//! The whole login against the fake Mastodon over real loopback HTTP, in
//! every server profile and on both backends: relying party → handle page →
//! the server's OAuth → callback → tokens → userinfo.

use serde_json::Value;

use super::seed;
use crate::backend_tests;
use crate::fake_mastodon::{ALICE_ID, FakeConfig, FakeMastodon, FakeUser, Profile};
use crate::support::browser::{Browser, query};
use crate::support::{TestApp, TestDb, http};

backend_tests! {
    mastodon_42_login => login_42,
    mastodon_43_login => login_43,
    mastodon_44_login => login_44,
    gotosocial_login => login_gts,
    known_server_login_costs_three_commits => three_commits_with_real_upstream,
}

async fn login_42(db: TestDb) {
    whole_login(db, Profile::Mastodon42).await
}
async fn login_43(db: TestDb) {
    whole_login(db, Profile::Mastodon43).await
}
async fn login_44(db: TestDb) {
    whole_login(db, Profile::Mastodon44).await
}
async fn login_gts(db: TestDb) {
    whole_login(db, Profile::GoToSocial).await
}

pub async fn spawn(db: &TestDb, fake: &FakeMastodon) -> TestApp {
    spawn_at(db, fake, "127.0.0.1:0").await
}

/// On a given address (a restart keeps its issuer).
pub async fn spawn_at(db: &TestDb, fake: &FakeMastodon, addr: &str) -> TestApp {
    let overrides = fake.override_map();
    TestApp::spawn_at(db, addr, move |c| {
        c.clients = vec![seed::client("rp")];
        c.upstream.host_overrides = overrides;
    })
    .await
}

/// One login; returns the token response.
pub async fn log_in(app: &TestApp, fake: &FakeMastodon, b: &mut Browser, handle: &str) -> Value {
    let page = b.get(&seed::authorize_url(app, "rp", &[])).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let up = b
        .post(
            &app.url("/login"),
            &[("request", &page.input("request")), ("handle", handle)],
        )
        .await;
    assert_eq!(up.status, 303, "{}", up.body);
    let to = up.location();
    assert_eq!(to.host_str(), Some(fake.web_domain().as_str()), "{to}");
    // The fake answers on its loopback port; the browser would resolve the name.
    let at_fake = fake.at_ip(&to);
    let approved = b.get(&at_fake).await;
    assert_eq!(approved.status, 302, "{}", approved.body);
    let callback = approved.location();
    assert_eq!(callback.path(), format!("/callback/{}", fake.web_domain()));
    let back = b.get(callback.as_str()).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let code = query(&back.location(), "code").expect("a code");
    seed::redeem(app, &code).await
}

async fn whole_login(db: TestDb, profile: Profile) {
    let alice = FakeUser::new(ALICE_ID, "alice").with_role("Admin");
    let fake = FakeMastodon::start(FakeConfig::new(profile).users(vec![alice]));
    let app = spawn(&db, &fake).await;
    let mut b = Browser::default();
    let tokens = log_in(&app, &fake, &mut b, "@alice@social.test").await;
    let at = tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{profile:?}: {tokens}"));
    let ui: Value = http()
        .get(app.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ui["preferred_username"], "alice@social.test",
        "{profile:?}: {ui}"
    );
    assert_eq!(ui["fediverse_server"], "social.test");
    assert_eq!(
        ui["sub"],
        mastodon_oidc::oidc::claims::subject("social.test", ALICE_ID),
        "sub from host and account id"
    );
    // The account's profile as the server reported it, role included.
    let sub = mastodon_oidc::oidc::claims::subject("social.test", ALICE_ID);
    let row = app
        .state
        .store
        .run(move |c| mastodon_oidc::store::accounts::get(c, &sub))
        .await
        .unwrap()
        .expect("account row");
    let stored: Value = serde_json::from_str(&row.profile).unwrap();
    assert_eq!(stored["role"], "Admin", "{profile:?}: {stored}");
    // A second login (fresh browser) reuses the app registered the first time.
    let mut b2 = Browser::default();
    log_in(&app, &fake, &mut b2, "social.test").await;
    assert_eq!(
        fake.count("POST", "/api/v1/apps"),
        1,
        "{profile:?}: one registration per server"
    );
    app.stop().await;
}

async fn three_commits_with_real_upstream(db: TestDb) {
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let app = spawn(&db, &fake).await;
    let mut b = Browser::default();
    log_in(&app, &fake, &mut b, "@alice@social.test").await;
    let before = app.state.store.commits();
    let mut b2 = Browser::default();
    let tokens = log_in(&app, &fake, &mut b2, "@alice@social.test").await;
    assert!(tokens["id_token"].is_string());
    assert!(
        app.state.store.commits() - before <= 3,
        "{} commits",
        app.state.store.commits() - before
    );
    app.stop().await;
}
