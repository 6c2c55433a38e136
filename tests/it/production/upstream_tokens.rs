//! The upstream token is revoked a little after the login, not at once:
//! Mastodon hands the same token to concurrent logins of one person, and
//! revoking it at once can fail the one still reading the account.

use std::time::Duration;

use crate::backend_tests;
use crate::fake_mastodon::{FakeConfig, FakeMastodon, Profile};
use crate::login::{mastodon, seed};
use crate::support::browser::Browser;
use crate::support::{TestApp, TestDb};

backend_tests! {
    upstream_token_is_revoked_after_the_delay => revoked_later,
    concurrent_logins_of_one_person_all_succeed => concurrent_logins,
}

async fn spawn(db: &TestDb, fake: &FakeMastodon, delay: u64) -> TestApp {
    let overrides = fake.override_map();
    TestApp::spawn_with(db, move |c| {
        c.clients = vec![seed::client("rp")];
        c.upstream.host_overrides = overrides;
        c.upstream.revoke_delay_secs = delay;
    })
    .await
}

fn user_tokens(fake: &FakeMastodon) -> Vec<bool> {
    fake.tokens()
        .into_iter()
        .filter(|t| t.user_id.is_some())
        .map(|t| t.revoked)
        .collect()
}

async fn revoked_later(db: TestDb) {
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let app = spawn(&db, &fake, 1).await;
    let mut b = Browser::default();
    let tokens = mastodon::log_in(&app, &fake, &mut b, "@alice@social.test").await;
    assert!(tokens["id_token"].is_string());
    assert_eq!(
        user_tokens(&fake),
        [false],
        "still live right after the login"
    );
    let mut revoked = false;
    for _ in 0..50 {
        if user_tokens(&fake) == [true] {
            revoked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(revoked, "revoked after the delay");
    assert_eq!(fake.count("POST", "/oauth/revoke"), 1);
}

async fn concurrent_logins(db: TestDb) {
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let app = std::sync::Arc::new(spawn(&db, &fake, 30).await);
    // The first login registers the app; then many at once.
    mastodon::log_in(&app, &fake, &mut Browser::default(), "@alice@social.test").await;
    let fake = std::sync::Arc::new(fake);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (app, fake) = (app.clone(), fake.clone());
        tasks.push(tokio::spawn(async move {
            let mut b = Browser::default();
            mastodon::log_in(&app, &fake, &mut b, "@alice@social.test").await
        }));
    }
    for t in tasks {
        let tokens = t.await.expect("every login succeeds");
        assert!(tokens["id_token"].is_string(), "{tokens}");
    }
    assert_eq!(fake.count("POST", "/oauth/revoke"), 0, "none revoked yet");
}
