//! The upstream fails at the callback: the person reads a clear page (never
//! a 500, never the server's body or status) whose way back tells the
//! relying party `temporarily_unavailable`, with its `state` and our `iss`.

use super::{mastodon, seed};
use crate::backend_tests;
use crate::fake_mastodon::{FakeConfig, FakeMastodon, Profile};
use crate::support::TestApp;
use crate::support::TestDb;
use crate::support::browser::{Browser, Page, query};

backend_tests! {
    server_error_at_the_code_exchange => exchange_fails,
    truncated_or_empty_account => bad_accounts,
}

/// A login up to the server's redirect back; `break_it` runs before the callback.
async fn callback_after(app: &TestApp, fake: &FakeMastodon, break_it: impl FnOnce()) -> Page {
    let mut b = Browser::default();
    let page = b.get(&seed::authorize_url(app, "rp", &[])).await;
    let up = app
        .submit_handle(&mut b, &page.input("request"), "@alice@social.test")
        .await;
    assert_eq!(up.status, 303, "{}", up.body);
    let approved = b.get(&fake.at_ip(&up.location())).await;
    assert_eq!(approved.status, 302, "{}", approved.body);
    break_it();
    b.get(approved.location().as_str()).await
}

/// A 502 page with `words` and a way back carrying `temporarily_unavailable`.
fn assert_unavailable(app: &TestApp, page: &Page, words: &str) {
    assert_eq!(page.status, 502, "{}", page.body);
    assert!(page.body.contains(words), "{}", page.body);
    let back = page
        .hrefs()
        .into_iter()
        .find(|h| h.starts_with(seed::REDIRECT))
        .unwrap_or_else(|| panic!("no way back in {}", page.body));
    let back = url::Url::parse(&back).expect("back link");
    assert_eq!(
        query(&back, "error").as_deref(),
        Some("temporarily_unavailable")
    );
    assert_eq!(query(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(query(&back, "iss").as_deref(), Some(app.issuer.as_str()));
    assert!(query(&back, "code").is_none());
}

async fn exchange_fails(db: TestDb) {
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let app = mastodon::spawn(&db, &fake).await;
    let page = callback_after(&app, &fake, || {
        let body = "<html><h1>503 Service Unavailable</h1></html>";
        fake.force_response("POST", "/oauth/token", 503, "text/html", body, Some(1));
    })
    .await;
    assert_unavailable(&app, &page, "answered with an error");
    assert!(!page.body.contains("503"), "{}", page.body);
}

async fn bad_accounts(db: TestDb) {
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let app = mastodon::spawn(&db, &fake).await;
    let path = "/api/v1/accounts/verify_credentials";
    for (body, words) in [
        (r#"{"id":"1090000000000","usern"#, "something unexpected"),
        ("{}", "unusable account"),
    ] {
        let page = callback_after(&app, &fake, || {
            fake.force_response("GET", path, 200, "application/json", body, Some(1));
        })
        .await;
        assert_unavailable(&app, &page, words);
        assert!(!page.body.contains("usern"), "{}", page.body);
    }
}
