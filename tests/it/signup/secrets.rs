//! The password goes to Mastodon and nowhere else: not into any table (the
//! pending sign-up included), not into any log line at any level, not into
//! a page.

use mastodon_oidc::crypto::random_token;

use super::{choose, confirm, spawn, submit};
use crate::backend_tests;
use crate::fake_mastodon::{FakeConfig, Profile};
use crate::support::browser::Browser;
use crate::support::{TestDb, dump, logs};

backend_tests! {
    the_password_is_never_logged_or_stored => never_kept,
}

fn hex(s: &str) -> [String; 2] {
    let lower: String = s.bytes().map(|b| format!("{b:02x}")).collect();
    [lower.clone(), lower.to_uppercase()]
}

async fn never_kept(db: TestDb) {
    logs::capture();
    let password = format!("pw-{}", random_token(12));
    let (app, fake) = spawn(&db, FakeConfig::new(Profile::Mastodon44), |_| {}).await;
    let mut b = Browser::default();
    let form = choose(&app, &mut b, &[], "social.test").await;
    // A rejected attempt (the page comes back) and an accepted one.
    let rejected = submit(
        &app,
        &mut b,
        &form,
        &[("username", "alice"), ("password", &password)],
    )
    .await;
    assert_eq!(rejected.status, 422);
    assert!(
        !rejected.body.contains(&password),
        "not in the re-shown form"
    );
    let done = submit(&app, &mut b, &rejected, &[("password", &password)]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        fake.last("POST", "/api/v1/accounts")
            .unwrap()
            .body_param("password"),
        Some(password.as_str()),
        "it did reach the server"
    );
    let pending = b.get(&app.url("/signup/pending")).await;
    assert!(!pending.body.contains(&password));
    let sqlite = match &db {
        TestDb::Sqlite(_, url) => Some(url.trim_start_matches("sqlite://").to_string()),
        TestDb::Postgres(_) => None,
    };
    let check_storage = |when: &str| {
        let (tables, text) = dump::everything(&app.state.store, sqlite.as_deref());
        assert!(tables.iter().any(|t| t == "signups"), "{tables:?}");
        assert!(
            text.contains("carol@example.org"),
            "the dump sees the pending sign-up ({when})"
        );
        assert!(!text.contains(&password), "password stored ({when})");
        for h in hex(&password) {
            assert!(!text.contains(&h), "password stored as bytes ({when})");
        }
    };
    check_storage("pending");
    let back = b.get(confirm(&fake, "carol").await.as_str()).await;
    assert_eq!(back.status, 303);
    let (_, after) = dump::everything(&app.state.store, sqlite.as_deref());
    assert!(!after.contains(&password));
    assert!(
        after.contains("carol@social.test"),
        "the account row exists"
    );
    let logged = logs::text();
    assert!(
        logged.contains("account created"),
        "the capture works: it saw the sign-up"
    );
    assert!(!logged.contains(&password), "password logged");
    for h in hex(&password) {
        assert!(!logged.contains(&h));
    }
    app.stop().await;
}
