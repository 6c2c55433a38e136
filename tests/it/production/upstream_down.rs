//! A dead or slow Mastodon server costs only the logins to that server: a
//! dead one trips its circuit breaker and then fails fast without a request,
//! a slow one times out, and logins to other servers go on meanwhile.

use std::time::Duration;

use crate::backend_tests;
use crate::fake_mastodon::{FakeConfig, FakeMastodon, Profile};
use crate::login::{mastodon, seed};
use crate::support::browser::{Browser, Page};
use crate::support::{TestApp, TestDb};

backend_tests! {
    dead_server_trips_its_breaker_and_spares_others => dead_server,
    slow_server_times_out_and_spares_others => slow_server,
}

async fn spawn(db: &TestDb, fakes: &[&FakeMastodon], breaker_failures: u32) -> TestApp {
    let overrides: Vec<(String, String)> = fakes.iter().flat_map(|f| f.override_map()).collect();
    TestApp::spawn_with(db, move |c| {
        c.clients = vec![seed::client("rp")];
        c.upstream.host_overrides = overrides.into_iter().collect();
        c.upstream.breaker_failures = breaker_failures;
        c.upstream.breaker_open_secs = 1;
        c.upstream.request_timeout_secs = 2;
    })
    .await
}

async fn attempt(app: &TestApp, b: &mut Browser, handle: &str) -> Page {
    let page = b.get(&seed::authorize_url(app, "rp", &[])).await;
    app.submit_handle(b, &page.input("request"), handle).await
}

async fn dead_server(db: TestDb) {
    let dead = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let other = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44).web_domain("other.test"));
    let app = spawn(&db, &[&dead, &other], 2).await;
    dead.set_unreachable(true);
    let mut b = Browser::default();
    let first = attempt(&app, &mut b, "@alice@social.test").await;
    assert_eq!(first.status, 502, "{}", first.body);
    assert!(
        first.body.contains("could not be reached"),
        "{}",
        first.body
    );
    // At most two failures reach the network; then the circuit is open.
    let mut paused = None;
    for _ in 0..2 {
        let p = attempt(&app, &mut b, "@alice@social.test").await;
        assert_eq!(p.status, 502, "{}", p.body);
        if p.body.contains("paused for a moment") {
            paused = Some(p);
            break;
        }
    }
    let paused = paused.expect("the breaker opened after two failures");
    assert!(
        paused.body.contains(r#"value="@alice@social.test""#),
        "typed handle kept"
    );
    let text = app.metrics().await;
    assert!(
        text.contains(
            r#"mastodon_oidc_upstream_calls_total{outcome="connect",server="social.test"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"mastodon_oidc_upstream_calls_total{outcome="circuit_open",server="social.test"}"#
        ),
        "{text}"
    );
    // Another server is not affected.
    let mut b2 = Browser::default();
    let tokens = mastodon::log_in(&app, &other, &mut b2, "@alice@other.test").await;
    assert!(tokens["id_token"].is_string(), "{tokens}");
    // Back up: after the pause one probe goes through and closes the circuit.
    dead.set_unreachable(false);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let back = attempt(&app, &mut b, "@alice@social.test").await;
    assert_eq!(back.status, 303, "{}", back.body);
}

async fn slow_server(db: TestDb) {
    let slow = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44));
    let other = FakeMastodon::start(FakeConfig::new(Profile::Mastodon44).web_domain("other.test"));
    let app = spawn(&db, &[&slow, &other], 5).await;
    slow.set_delay(Duration::from_secs(4));
    let (url, authorize) = (app.url("/login"), seed::authorize_url(&app, "rp", &[]));
    let hanging = tokio::spawn(async move {
        let mut b = Browser::default();
        let page = b.get(&authorize).await;
        b.post(
            &url,
            &[
                ("request", &page.input("request")),
                ("handle", "@alice@social.test"),
            ],
        )
        .await
    });
    // A whole login to the other server completes while that one hangs.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut b = Browser::default();
    let tokens = mastodon::log_in(&app, &other, &mut b, "@alice@other.test").await;
    assert!(tokens["id_token"].is_string(), "{tokens}");
    assert!(!hanging.is_finished(), "the slow login is still waiting");
    let timed_out = hanging.await.unwrap();
    assert_eq!(timed_out.status, 502, "{}", timed_out.body);
    assert!(
        timed_out.body.contains("did not answer in time"),
        "{}",
        timed_out.body
    );
    assert!(app.metrics().await.contains(
        r#"mastodon_oidc_upstream_calls_total{outcome="timeout",server="social.test"} 1"#
    ));
}
