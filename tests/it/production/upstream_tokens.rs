//! The upstream token is revoked a little after the login, not at once:
//! Mastodon hands the same token to concurrent logins of one person, and
//! revoking it at once can fail the one still reading the account. With
//! `keep_upstream_tokens` it is never revoked but stored, sealed, with the
//! account.

use std::time::Duration;

use mastodon_oidc::crypto::Sealer;
use mastodon_oidc::mastodon::oauth::TOKEN_SEAL;
use mastodon_oidc::oidc::claims::subject;
use mastodon_oidc::store::accounts;

use crate::backend_tests;
use crate::fake_mastodon::{ALICE_ID, FakeConfig, FakeMastodon, Profile};
use crate::login::{mastodon, seed};
use crate::support::browser::Browser;
use crate::support::{TestApp, TestDb};

backend_tests! {
    upstream_token_is_revoked_after_the_delay => revoked_later,
    concurrent_logins_of_one_person_all_succeed => concurrent_logins,
    kept_upstream_token_is_sealed_with_the_account => kept_sealed,
}

async fn spawn(db: &TestDb, fake: &FakeMastodon, delay: u64) -> TestApp {
    spawn_keeping(db, fake, delay, false).await
}

async fn spawn_keeping(db: &TestDb, fake: &FakeMastodon, delay: u64, keep: bool) -> TestApp {
    let overrides = fake.override_map();
    TestApp::spawn_with(db, move |c| {
        c.clients = vec![seed::client("rp")];
        c.upstream.host_overrides = overrides;
        c.upstream.revoke_delay_secs = delay;
        c.upstream.keep_upstream_tokens = keep;
    })
    .await
}

/// The account row's sealed upstream token.
async fn stored_token(app: &TestApp) -> Option<Vec<u8>> {
    let sub = subject("social.test", ALICE_ID);
    let row = app
        .state
        .store
        .run(move |c| accounts::get(c, &sub))
        .await
        .expect("store")
        .expect("account row");
    row.upstream_token
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
    assert_eq!(stored_token(&app).await, None, "not kept by default");
}

async fn kept_sealed(db: TestDb) {
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    // No delay: a revocation would have been sent before the callback answered.
    let app = spawn_keeping(&db, &fake, 0, true).await;
    let tokens = mastodon::log_in(&app, &fake, &mut Browser::default(), "@alice@social.test").await;
    assert!(tokens["id_token"].is_string());
    assert_eq!(fake.count("POST", "/oauth/revoke"), 0);
    let issued: Vec<String> = fake
        .tokens()
        .into_iter()
        .filter(|t| t.user_id.is_some() && !t.revoked)
        .map(|t| t.token)
        .collect();
    assert_eq!(issued.len(), 1, "one live user token");
    let sealed = stored_token(&app).await.expect("kept with the account");
    let plain = issued[0].as_bytes();
    assert!(!sealed.windows(plain.len()).any(|w| w == plain), "sealed");
    let opened = Sealer::for_tests()
        .open(TOKEN_SEAL, &sealed)
        .expect("unseals");
    assert_eq!(opened, plain);
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
