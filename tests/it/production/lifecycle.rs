//! Stopping and restarting: a graceful stop finishes the requests in
//! flight and refuses new ones; a restart in the middle of a login loses
//! nothing durable, and the person can carry on where they were.

use std::time::Duration;

use crate::backend_tests;
use crate::fake_mastodon::{FakeConfig, FakeMastodon, Profile};
use crate::login::{mastodon, seed};
use crate::support::browser::{Browser, query};
use crate::support::{TestDb, http};

backend_tests! {
    graceful_stop_finishes_requests_in_flight => graceful_stop,
    restart_mid_login_loses_nothing => restart_mid_login,
    a_login_left_too_long_offers_the_way_back => expired_login,
}

async fn expired_login(db: TestDb) {
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let app = mastodon::spawn(&db, &fake).await;
    let mut b = Browser::default();
    let page = b.get(&seed::authorize_url(&app, "rp", &[])).await;
    app.clock
        .advance(app.state.config.tokens.auth_request_ttl_secs + 1);
    let late = app
        .submit_handle(&mut b, &page.input("request"), "@alice@social.test")
        .await;
    assert_eq!(late.status, 400);
    assert!(
        late.body.contains("This login has expired"),
        "{}",
        late.body
    );
    // The way back: the application's own redirect URI with an error it
    // understands, its state and our issuer, so it can start a fresh login.
    let start = late
        .body
        .find("href=\"https://rp.example/cb?")
        .expect("a link back");
    let href = &late.body[start + 6..];
    let href = html_unescape(&href[..href.find('"').unwrap()]);
    let back = url::Url::parse(&href).unwrap();
    assert_eq!(query(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(query(&back, "iss").as_deref(), Some(app.issuer.as_str()));
    assert!(fake.all_calls().is_empty(), "nothing went upstream");
}

fn html_unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&#x2f;", "/")
        .replace("&#x3d;", "=")
}

async fn graceful_stop(db: TestDb) {
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let app = mastodon::spawn(&db, &fake).await;
    // Each answer of the server takes a while: the login is in flight
    // when the stop comes.
    fake.set_delay(Duration::from_millis(400));
    let mut b = Browser::default();
    let page = b.get(&seed::authorize_url(&app, "rp", &[])).await;
    let (url, request) = (app.url("/login"), page.input("request"));
    let in_flight = tokio::spawn(async move {
        b.post(
            &url,
            &[("request", &request), ("handle", "@alice@social.test")],
        )
        .await
    });
    while fake.all_calls().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let base = app.issuer.clone();
    let stopping = tokio::spawn(app.stop());
    let finished = in_flight.await.unwrap();
    assert_eq!(
        finished.status, 303,
        "finished despite the stop: {}",
        finished.body
    );
    stopping.await.unwrap();
    let after = http().get(format!("{base}/healthz")).send().await;
    assert!(after.is_err(), "no longer accepting");
}

async fn restart_mid_login(db: TestDb) {
    let fake = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let first = mastodon::spawn(&db, &fake).await;
    let addr = first.state.config.listen.clone();
    let mut b = Browser::default();
    let page = b.get(&seed::authorize_url(&first, "rp", &[])).await;
    let up = first
        .submit_handle(&mut b, &page.input("request"), "@alice@social.test")
        .await;
    assert_eq!(up.status, 303, "{}", up.body);
    // The person is at their server when the service restarts.
    first.stop().await;
    let to = up.location();
    let approved = b
        .get(&format!(
            "{}{}?{}",
            fake.ip_url(),
            to.path(),
            to.query().unwrap_or("")
        ))
        .await;
    let callback = approved.location();
    let second = mastodon::spawn_at(&db, &fake, &addr).await;
    let back = b.get(callback.as_str()).await;
    assert_eq!(
        back.status, 303,
        "the restarted service finishes it: {}",
        back.body
    );
    let code = query(&back.location(), "code").expect("a code");
    let tokens = seed::redeem(&second, &code).await;
    assert!(tokens["id_token"].is_string(), "{tokens}");
    // The browser session survived too: the next login needs no server trip.
    let calls = fake.all_calls().len();
    let sso = b.get(&seed::authorize_url(&second, "rp", &[])).await;
    assert_eq!(sso.status, 303, "{}", sso.body);
    assert!(query(&sso.location(), "code").is_some());
    assert_eq!(fake.all_calls().len(), calls);
}
