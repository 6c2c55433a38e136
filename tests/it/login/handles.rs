//! `preferred_username` and group rules end to end: a handle's domain is
//! the account's canonical one (the API host's WebFinger subject, confirmed
//! there), so a catch-all WebFinger grants no `*@domain` group to accounts
//! of another server, whatever domain the person typed.

use serde_json::Value;

use super::{mastodon, seed};
use crate::backend_tests;
use crate::fake_mastodon::{ALICE_ID, FakeConfig, FakeMastodon, FakeUser, Profile};
use crate::support::browser::Browser;
use crate::support::{TestApp, TestDb, http};

backend_tests! {
    catch_all_webfinger_grants_no_domain_group => catch_all_grants_nothing,
}

/// WEB_DOMAIN `mastodon.test`, LOCAL_DOMAIN `example.test`, users alice and bob.
fn split_domains() -> FakeConfig {
    FakeConfig::new(Profile::Mastodon44)
        .web_domain("mastodon.test")
        .local_domain("example.test")
        .users(vec![
            FakeUser::new(ALICE_ID, "alice"),
            FakeUser::new("109000000000000002", "bob"),
        ])
}

/// Log in as alice typing `handle`; the userinfo document.
async fn userinfo(db: &TestDb, fake: &FakeMastodon, handle: &str) -> Value {
    let overrides = fake.override_map();
    let app = TestApp::spawn_with(db, move |c| {
        let mut client = seed::client("rp");
        client
            .groups
            .insert("staff".into(), vec!["*@example.test".into()]);
        c.clients = vec![client];
        c.upstream.host_overrides = overrides;
    })
    .await;
    let tokens = mastodon::log_in(&app, fake, &mut Browser::default(), handle).await;
    let at = tokens["access_token"].as_str().expect("access token");
    let ui = http()
        .get(app.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    app.stop().await;
    ui
}

async fn catch_all_grants_nothing(db: TestDb) {
    let fair = FakeMastodon::start(split_domains());
    let ui = userinfo(&db, &fair, "@alice@example.test").await;
    assert_eq!(ui["preferred_username"], "alice@example.test", "{ui}");
    assert_eq!(ui["groups"], serde_json::json!(["staff"]), "{ui}");
    drop(fair);

    // example.test answers every name with bob; alice logs in.
    let forged = FakeMastodon::start(split_domains().webfinger_catch_all("bob"));
    let ui = userinfo(&db, &forged, "@bob@example.test").await;
    assert_eq!(ui["preferred_username"], "alice@mastodon.test", "{ui}");
    assert_eq!(ui["groups"], serde_json::json!([]), "{ui}");
    drop(forged);

    // example.test echoes every name to mastodon.test's (LOCAL_DOMAIN
    // mastodon.test): alice stays alice@mastodon.test.
    let echo = FakeConfig::new(Profile::Mastodon44)
        .web_domain("mastodon.test")
        .webfinger_echo("example.test");
    let echoing = FakeMastodon::start(echo);
    let ui = userinfo(&db, &echoing, "@alice@example.test").await;
    assert_eq!(ui["preferred_username"], "alice@mastodon.test", "{ui}");
    assert_eq!(ui["groups"], serde_json::json!([]), "{ui}");
}
